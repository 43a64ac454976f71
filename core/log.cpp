#include "core/log.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>  // program_invocation_short_name (glibc, _GNU_SOURCE)
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace muxlab::core {

namespace {
std::atomic<bool> g_verbose{false};
}

const char* errno_name(int err) {
  const char* name = ::strerrorname_np(err);
  return name != nullptr ? name : "E?";
}

void die_errno(const char* format, ...) {
  const int err = errno;
  char message[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  std::fprintf(stderr, "%s: %s: %s (%s)\n", program_invocation_short_name, message, errno_name(err),
               std::strerror(err));
  std::exit(1);
}

void die(const char* format, ...) {
  char message[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(message, sizeof message, format, args);
  va_end(args);
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, message);
  std::exit(1);
}

void set_verbose(bool on) { g_verbose.store(on, std::memory_order_relaxed); }
bool verbose() { return g_verbose.load(std::memory_order_relaxed); }

void log_line(const char* format, ...) {
  char line[512];
  va_list args;
  va_start(args, format);
  int n = std::vsnprintf(line, sizeof line - 1, format, args);
  va_end(args);
  if (n < 0) return;
  std::size_t len = static_cast<std::size_t>(n) < sizeof line - 1 ? static_cast<std::size_t>(n)
                                                                  : sizeof line - 2;
  line[len++] = '\n';
  // One write(2) per line, so lines from several threads never interleave.
  ssize_t ignored = ::write(STDERR_FILENO, line, len);
  (void)ignored;
}

}  // namespace muxlab::core

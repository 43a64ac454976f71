#include "core/signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "core/log.hpp"

namespace muxlab::core {

namespace {

// Lock-free atomics are safe in a handler, and threaded-server's workers read the
// flag too (a volatile sig_atomic_t would be a data race there).
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
std::atomic<bool> g_stopping{false};  // the handler has begun: a second signal does nothing
int g_pipe[2] = {-1, -1};
void (*g_also_on_stop)() = nullptr;   // set before the handlers are installed, read-only after

// Only async-signal-safe calls in here (signal-safety(7)): write, and whatever
// g_also_on_stop does.
void on_stop_signal(int) {
  const int saved_errno = errno;  // a handler must not disturb the errno the main code reads
  if (!g_stopping.exchange(true)) {
    if (g_also_on_stop != nullptr) g_also_on_stop();
    g_stop.store(true);
    char byte = 's';
    ssize_t ignored = ::write(g_pipe[1], &byte, 1);  // nonblocking: a full pipe is still "readable"
    (void)ignored;
  }
  errno = saved_errno;
}

}  // namespace

void install_signal_handlers(void (*also_on_stop)()) {
  // A send() to a peer that has gone raises SIGPIPE, whose default action kills the
  // process. Every send() also passes MSG_NOSIGNAL; the ignore covers writev()/write()
  // in code that cannot (libevent).
  ::signal(SIGPIPE, SIG_IGN);
  if (::pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) < 0) die_errno("pipe2");
  g_also_on_stop = also_on_stop;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  if (::sigaction(SIGINT, &sa, nullptr) < 0 || ::sigaction(SIGTERM, &sa, nullptr) < 0) die_errno("sigaction");
}

bool stop_requested() { return g_stop.load(); }
int stop_fd() { return g_pipe[0]; }

}  // namespace muxlab::core

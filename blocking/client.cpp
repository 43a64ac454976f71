// echo-client - the blocking client, counterpart of tmc.py.
//
// Connects, sends MESSAGE and a '\n', half-closes (shutdown SHUT_WR: "I have no
// more to say", while still reading), then reads until EOF, printing the size of
// every recv(). Against `blocking-server --repeat 10000` the one reply arrives in
// many pieces of changing size: TCP delivers a byte stream, not the server's
// send() calls, which is why a client reads in a loop until EOF.
//
// Usage:   echo-client HOST PORT MESSAGE [--bufsize B] [--quiet]
// Course:  docs/01-the-pair.md.
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.hpp"
#include "core/options.hpp"

using muxlab::core::Fd;

namespace {

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr, "echo-client: %s\nusage: echo-client HOST PORT MESSAGE [--bufsize B] [--quiet]\n", message);
  std::exit(2);
}

// Tries every address getaddrinfo() gives for host (IPv6 and IPv4 alike).
Fd connect_to(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host, port, &hints, &found); rc != 0) {
    std::fprintf(stderr, "echo-client: cannot resolve %s: %s\n", host, ::gai_strerror(rc));
    std::exit(1);
  }
  int last_errno = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd && ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    last_errno = errno;
  }
  ::freeaddrinfo(found);
  std::fprintf(stderr, "echo-client: cannot connect to %s port %s: %s\n", host, port, std::strerror(last_errno));
  std::exit(1);
}

// send() may take only part of what it is given; loop until all of it is out
// (this is what Python's sendall() does for you).
bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t k = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(k));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<const char*> positional;
  std::uint64_t bufsize = 1'000'000;  // as much as tmc.py asks of each recv()
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help") {
      std::printf(
          "usage: echo-client HOST PORT MESSAGE [--bufsize B] [--quiet]\n"
          "Sends MESSAGE and a newline, half-closes, and reads the reply until EOF,\n"
          "printing the size of every recv() and then a summary of the chunks.\n\n"
          "  --bufsize B   bytes asked of each recv() (default 1000000)\n"
          "  --quiet       print only the summary\n");
      return 0;
    } else if (arg == "--bufsize") {
      if (i + 1 >= argc || !muxlab::core::parse_number(argv[++i], 1, 1ull << 30, bufsize))
        usage("--bufsize needs a number from 1 to 1073741824");
    } else if (arg == "--quiet") {
      quiet = true;
    } else if (arg.starts_with("--")) {
      usage(("unknown option '" + std::string(arg) + "'").c_str());
    } else {
      positional.push_back(argv[i]);
    }
  }
  if (positional.size() != 3) usage("expected HOST PORT MESSAGE");

  Fd fd = connect_to(positional[0], positional[1]);
  std::string request = std::string(positional[2]) + "\n";
  if (!send_all(fd.get(), request)) {
    std::fprintf(stderr, "echo-client: send: %s\n", std::strerror(errno));
    return 1;
  }
  // Half-close: the server sees EOF after our line, and we can still read.
  ::shutdown(fd.get(), SHUT_WR);

  std::vector<char> buffer(bufsize);
  std::vector<std::size_t> chunks;
  for (;;) {
    ssize_t k = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) {
      std::fprintf(stderr, "echo-client: recv: %s\n", std::strerror(errno));
      return 1;
    }
    if (k == 0) break;  // EOF: the server has sent everything and closed
    chunks.push_back(static_cast<std::size_t>(k));
    if (!quiet) std::printf("received %zd bytes\n", k);
  }

  std::size_t total = 0;
  for (auto c : chunks) total += c;
  std::vector<std::size_t> sorted = chunks;
  std::sort(sorted.begin(), sorted.end());
  if (sorted.empty()) {
    std::printf("chunks 0, total 0 bytes\n");
  } else {
    std::printf("chunks %zu, min %zu, median %zu, max %zu, total %zu bytes\n", sorted.size(), sorted.front(),
                sorted[sorted.size() / 2], sorted.back(), total);
  }
  return 0;
}

// floor-server - the least an echo can cost: blocking sockets, a thread per
// connection, read() then write the same bytes back, nothing else.
//
// It is no muxlab model and keeps none of the protocol's promises (no framing,
// no --repeat, no bounded memory, no graceful stop: SIGTERM simply ends it). It
// exists so that echo-bench can state every figure as a ratio to what this
// machine's loopback does with no server logic at all: BM_PingPong/floor and
// BM_Bulk/floor. A line echo is a byte echo, so it serves both framings.
//
// Usage:   floor-server [--host ADDR] [--port N]   (other server flags are ignored)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "core/options.hpp"
#include "core/socket.hpp"

using namespace muxlab::core;

namespace {

void echo(Fd client) {
  int on = 1;  // as every muxlab server does, so the floor is a fair one
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  char buffer[64 * 1024];
  for (;;) {
    ssize_t n = ::read(client.get(), buffer, sizeof buffer);
    if (n == 0) return;  // EOF: the client is done
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (ssize_t off = 0; off < n;) {  // write it all back, as writen() does
      ssize_t k = ::send(client.get(), buffer + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
      if (k < 0 && errno == EINTR) continue;
      if (k < 0) return;
      off += k;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  std::uint64_t port = 2000;
  for (int i = 1; i + 1 < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--host") host = argv[++i];
    else if (flag == "--port" && !parse_number(argv[++i], 0, 65535, port)) return 2;
  }
  ::signal(SIGPIPE, SIG_IGN);
  Fd listener = listen_on_or_die(host, static_cast<std::uint16_t>(port), /*nonblocking=*/false);
  announce_listening(listener.get());
  for (;;) {
    Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client) std::thread(echo, std::move(client)).detach();
    else if (errno == EMFILE || errno == ENFILE) ::poll(nullptr, 0, 10);  // out of descriptors: never spin
  }
}

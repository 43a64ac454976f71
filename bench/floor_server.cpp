// floor-server - the least an echo can cost: blocking sockets, a thread per
// connection, read() then write the same bytes back, nothing else.
//
// It is no muxlab model and keeps none of the protocol's promises (no framing,
// no --repeat, no bounded memory, no drain: SIGINT/SIGTERM end it at once). It
// exists so that echo-bench can state every figure as a ratio to what this
// machine's loopback does with no server logic at all: BM_PingPong/floor and
// BM_Bulk/floor. A line echo is a byte echo, so it serves both framings.
//
// Usage:   floor-server [--host ADDR] [--port N]   (the other server flags are accepted and ignored)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

#include "core/options.hpp"
#include "core/signals.hpp"
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
  // The common parser, so that the floor takes the same command line as every
  // server (a bad flag exits 2); only --host and --port matter here.
  const ServerOptions options = parse_server_options(
      argc, argv, "floor-server", "The benchmark's floor: a plain blocking echo, one thread per connection.");
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM make stop_fd() readable
  // Nonblocking, so that a connection poll() reported and its client reset
  // before accept() cannot block it (UNP 16.6); the accepted sockets block.
  Fd listener = listen_on_or_die(options, /*nonblocking=*/true);
  announce_listening(listener.get());
  // The signal may land in any thread, echo threads too: the main thread waits
  // for a connection or the stop, whichever comes first, so it never misses it.
  pollfd watched[2] = {{listener.get(), POLLIN, 0}, {stop_fd(), POLLIN, 0}};
  while (!stop_requested()) {
    if (::poll(watched, 2, -1) < 0 || (watched[0].revents & POLLIN) == 0) continue;  // EINTR, or the stop
    Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));  // blocking, unlike the listener
    if (client) std::thread(echo, std::move(client)).detach();
    else if (errno == EMFILE || errno == ENFILE) ::poll(nullptr, 0, 10);  // out of descriptors: never spin
  }
  return 0;  // the echo threads end with the process
}

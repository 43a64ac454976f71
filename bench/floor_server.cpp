// floor-server - the least an echo can cost: blocking sockets, a thread per
// connection, read() then write the same bytes back, nothing else.
//
// It is no muxlab model and keeps none of the protocol's promises (no framing,
// no --repeat, no bounded memory, no drain: SIGTERM ends it at once). It
// exists so that echo-bench can state every figure as a ratio to what this
// machine's loopback does with no server logic at all: BM_PingPong/floor and
// BM_Bulk/floor. A line echo is a byte echo, so it serves both framings.
//
// Usage:   floor-server [--host ADDR] [--port N]   (the other server flags are accepted and ignored)
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
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
  install_signal_handlers();  // SIGPIPE ignored; SIGTERM shuts the listener (below)
  Fd listener = listen_on_or_die(options, /*nonblocking=*/false);
  shut_on_stop(listener.get(), -1);  // a stop makes accept() fail at once
  announce_listening(listener.get());
  while (!stop_requested()) {
    Fd client(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client) std::thread(echo, std::move(client)).detach();
    else if (errno == EMFILE || errno == ENFILE) ::poll(nullptr, 0, 10);  // out of descriptors: never spin
  }
  return 0;  // the echo threads end with the process
}

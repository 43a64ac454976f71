// blocking-server - the iterative server: one client at a time, blocking calls.
//
// The model: accept() a connection, serve it to the end with blocking recv() and
// send(), close it, accept the next. This is tms.py grown into a real server:
// the same shape, but it loops over partial sends, answers the tail end, and
// survives its clients.
//
// What it teaches: the socket calls in their plainest form, and why a client must
// loop on recv() (run echo-client against it with --repeat 10000).
//
// Its limit: while one client is served, every other waits in the listen
// backlog, and a client that connects and sends nothing stalls everybody. One
// thread per client (threaded_server.cpp) or one thread watching every socket
// (../select/server.cpp onwards) are the ways out.
//
// Usage:   blocking-server [--port 2000] [--repeat R] [--stats] [--verbose] ...
// Course:  docs/01-the-pair.md.  Compare with threaded_server.cpp.
#include <poll.h>

#include <cstdio>

#include "blocking/serve_client.hpp"
#include "core/log.hpp"
#include "core/options.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

int main(int argc, char** argv) {
  const ServerOptions options = parse_server_options(
      argc, argv, "blocking-server", "The iterative echo server: one client at a time, blocking calls.");
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM request a stop
  set_stop_drain(options.drain);
  Fd listener = listen_on_or_die(options, /*nonblocking=*/false);
  announce_listening(listener.get());

  Stats stats;
  while (!stop_requested()) {
    // Let the stop handler shut the listener: a stop that lands just before
    // accept() then makes it fail at once instead of blocking for ever.
    shut_on_stop(listener.get(), -1);
    if (stop_requested()) break;
    Accepted accepted = accept_client(listener.get(), /*nonblocking=*/false, stats);
    switch (accepted.status) {
      case AcceptStatus::accepted:
        break;
      case AcceptStatus::listener_closed:
        continue;  // shut by the stop handler: the loop condition ends it
      case AcceptStatus::out_of_descriptors:
        // With one client at a time this needs a tiny RLIMIT_NOFILE. There is
        // no connection of ours whose close would free a descriptor, so wait a
        // little (never spin) and try again.
        ::poll(nullptr, 0, 100);
        continue;
      default:
        continue;  // EINTR, ECONNABORTED: try again
    }
    stats.peak_connections = 1;
    // From here a stop also shuts this client's read side, so a recv() blocked
    // on it returns, and the reply owed is finished within the drain time.
    shut_on_stop(listener.get(), accepted.fd.get());
    muxlab::blocking::serve_client(accepted.fd.get(), options, stats);
    shut_on_stop(listener.get(), -1);  // before the descriptor is closed and its number reused
    vlog("fd %d: closed", accepted.fd.get());
    accepted.fd.reset();
  }
  if (options.stats) stats.print(stderr);
  return 0;
}

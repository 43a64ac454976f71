// blocking-server - the iterative server: one client at a time, blocking calls.
//
// The model: socket(), bind() and listen() once; then accept() a connection,
// serve it to the end with blocking recv() and send(), close() it, accept() the
// next. This is tms.py grown into a real server: the same calls in the same
// order, but it loops over partial sends, answers the tail end, closes
// gracefully, and survives its clients.
//
// What it teaches: the socket calls in their plainest form, and why a client
// must loop on recv() (run echo-client against it with --repeat 10000).
//
// Its limit: while one client is served, every other waits in the listen
// backlog (--backlog), and a client that connects and sends nothing stalls
// everybody. One thread per client (threaded_server.cpp, which serves each
// client with serve_client() below) or one thread watching every socket
// (../select/server.cpp onwards) are the ways out.
//
// Usage:   blocking-server [--port 2000] [--repeat R] [--backlog N] [--stats] [--verbose] ...
// Course:  docs/01-the-pair.md.  Compare with threaded_server.cpp.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <string>

#include "blocking/serve_client.hpp"
#include "blocking/stop.hpp"
#include "core/log.hpp"
#include "core/options.hpp"
#include "core/session.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;
namespace blocking = muxlab::blocking;

namespace muxlab::blocking {

namespace {

enum class Sent { all, client_gone, out_of_time };

// The send() loop, Stevens' writen(): a blocking send() may take only part of
// what it is offered (a signal came, or a stop's timeout ran out, stop.hpp), so
// go on from where it stopped until everything owed is out.
Sent send_owed(int fd, EchoSession& session, Stats& stats, Drain& drain) {
  for (auto out = session.send_window(); !out.empty(); out = session.send_window()) {
    ssize_t k = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);  // EPIPE, not SIGPIPE, if the client has gone
    if (k >= 0) {
      stats.count_send(out.size(), static_cast<std::size_t>(k));
      vlog("fd %d: send %zd of %zu", fd, k, out.size());
      session.on_sent(static_cast<std::size_t>(k));
    } else if (errno != EINTR && errno != EAGAIN) {
      ++stats.resets;
      vlog("fd %d: send: %s", fd, errno_name(errno));
      return Sent::client_gone;  // EPIPE, ECONNRESET
    }
    if (drain.out_of_time()) return Sent::out_of_time;  // a client that reads too slowly is cut off
  }
  return Sent::all;
}

// The graceful close (SPEC §1): shutdown(SHUT_WR) sends our FIN after the last
// reply; then read and throw away what the client still sends, until its EOF.
// A close() with unread input makes the kernel send a reset, which destroys the
// replies the client has not read yet. Not for ever: until --linger-ms, or the
// end of the drain at a stop. poll() waits on that deadline (a receive timeout
// would restart with every byte a trickling client sends), a tick at a time so
// that a stop meanwhile is seen.
void close_gracefully(int fd, const ServerOptions& options, Stats& stats, Drain& drain) {
  ::shutdown(fd, SHUT_WR);
  const auto linger_end = Clock::now() + options.linger;
  char discard[16 * 1024];
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(drain.cap(linger_end) - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min(left, kStopTick).count())) <= 0) continue;  // a tick, or EINTR
    ssize_t k = ::recv(fd, discard, sizeof discard, 0);
    if (k > 0) stats.count_recv(static_cast<std::size_t>(k));
    else if (k == 0 || (errno != EINTR && errno != EAGAIN)) return;  // EOF (or an error): nothing can be lost now
  }
  ++stats.linger_timeouts;
  // Out of time. What has arrived already is still read away: fewer resets.
  while (::recv(fd, discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
}

}  // namespace

// The recv() loop. Everything owed is sent before the next recv(): a server
// blocked in recv() with a reply unsent would wait for a client that waits for
// that reply. A client that sends a lot and never reads still deadlocks a
// blocking server: it blocks in send() once the client's buffers are full, and
// the client blocks in send() once ours are.
void serve_client(int fd, const ServerOptions& options, Stats& stats, bool refused) {
  vlog("fd %d: connected from %s%s", fd, peer_address(fd).c_str(), refused ? ": server full" : "");
  EchoSession session(options.limits);
  if (refused) session.refuse(kServerFull);  // threaded-server, past --max-clients
  Drain drain(options);
  bool client_eof = false;
  while (!session.finished()) {
    if (drain.stopping()) session.stop_input();  // a stop: read no more, finish what is owed
    const Sent sent = send_owed(fd, session, stats, drain);
    if (sent == Sent::client_gone) return;
    if (sent == Sent::out_of_time) break;
    auto window = session.recv_window();
    if (window.empty()) continue;  // input closed: the loop ends once all is sent
    ssize_t k = ::recv(fd, window.data(), window.size(), 0);  // blocks until some bytes came
    if (k > 0) {
      stats.count_recv(static_cast<std::size_t>(k));
      vlog("fd %d: recv %zd", fd, k);
      session.on_received(static_cast<std::size_t>(k));
    } else if (k == 0) {
      stats.count_recv(0);
      vlog("fd %d: recv 0 (EOF)", fd);
      client_eof = true;
      session.on_peer_eof();  // the tail end: a last fragment is still a line
    } else if (errno != EINTR && errno != EAGAIN) {  // EINTR: a signal; EAGAIN: a stop's timeout
      ++stats.resets;
      vlog("fd %d: recv: %s", fd, errno_name(errno));
      return;  // ECONNRESET, ETIMEDOUT: this client only
    }
  }
  // After the client's EOF nothing more can arrive, and close() sends a plain FIN.
  if (!client_eof) close_gracefully(fd, options, stats, drain);
}

}  // namespace muxlab::blocking

// threaded-server is built from this file too, for serve_client() above, with a
// main() of its own: MUXLAB_SERVE_CLIENT_ONLY leaves out what follows.
#ifndef MUXLAB_SERVE_CLIENT_ONLY

namespace {

// From a socket to a server, in three calls: socket(), bind() to the address
// and port, listen(). getaddrinfo() turns --host into that address, IPv4 or
// IPv6. (Every other server gets the same from core's listen_on_or_die().)
int open_listener(const ServerOptions& options) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // whichever --host names
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(options.port);
  if (int rc = ::getaddrinfo(options.host.c_str(), port.c_str(), &hints, &found); rc != 0)
    die("cannot resolve %s: %s", options.host.c_str(), ::gai_strerror(rc));
  int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket");
  // Without it, a restarted server could not bind while its last connections wait out TIME_WAIT.
  int on = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) die_errno("setsockopt SO_REUSEADDR");
  if (options.send_buffer > 0) {  // --sndbuf: inherited by every accepted socket (docs/03-send-is-not-sendall.md)
    int size = static_cast<int>(options.send_buffer);
    if (::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0) die_errno("setsockopt SO_SNDBUF");
  }
  if (::bind(fd, found->ai_addr, found->ai_addrlen) < 0) die_errno("bind %s:%u", options.host.c_str(), options.port);
  ::freeaddrinfo(found);
  // The kernel completes connections by itself and queues up to --backlog of
  // them for accept(): that is where clients wait while we serve another.
  if (::listen(fd, options.backlog) < 0) die_errno("listen");
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  const ServerOptions options = parse_server_options(
      argc, argv, "blocking-server", "The iterative echo server: one client at a time, blocking calls.");
  const int listener = open_listener(options);
  blocking::install_stop_handlers(listener);  // SIGPIPE ignored; SIGINT/SIGTERM stop (stop.hpp)
  announce_listening(listener);

  Stats stats;
  while (!stop_requested()) {
    // accept4() is accept() with flags: CLOEXEC, so that no program we might exec inherits the socket.
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      // EINTR (a signal), EINVAL (a stop shut the listener), ECONNABORTED (the
      // client gave up while it waited): back to the loop's test. Out of
      // descriptors or memory, the client stays in the backlog: with one client
      // at a time no close of ours will free one, so wait a moment (never spin)
      // and try again.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        ++stats.accept_paused;
        ::poll(nullptr, 0, 100);
      }
      continue;
    }
    ++stats.connections;
    stats.peak_connections = 1;
    int on = 1;  // small replies leave at once, not when Nagle's algorithm has batched them
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    blocking::set_current_client(client);  // a stop now bounds its blocking calls too
    blocking::serve_client(client, options, stats);
    blocking::set_current_client(-1);  // before close(): accept() may reuse the number
    vlog("fd %d: closed", client);
    ::close(client);
  }
  ::close(listener);
  if (options.stats) stats.print(stderr);
  return 0;
}

#endif  // MUXLAB_SERVE_CLIENT_ONLY

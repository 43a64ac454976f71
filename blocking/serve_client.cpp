// serve_client.cpp - the blocking way to serve one connection.
//
// Send everything owed, then block in recv() for more, until the session is
// finished. The order matters: a blocking server that only reads while it still
// owes output could fill the client's receive buffer and its own, and the two
// would wait on each other for ever. Sending first keeps that from happening with
// any client that reads its replies (tmc.py does); a client that sends a lot and
// never reads still deadlocks a blocking server, which is one of the lessons
// of this model (docs/ chapter 3).
#include "blocking/serve_client.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>

#include "core/log.hpp"
#include "core/socket.hpp"
#include "core/session.hpp"
#include "core/signals.hpp"

namespace muxlab::blocking {

using namespace muxlab::core;

namespace {

// The writen() loop: a blocking send() can still take fewer bytes than offered
// (a signal arrived midway), so keep going from where it stopped.
bool send_owed(int fd, EchoSession& session, Stats& stats) {
  for (auto out = session.send_window(); !out.empty(); out = session.send_window()) {
    ssize_t k = ::send(fd, out.data(), out.size(), MSG_NOSIGNAL);  // EPIPE, not SIGPIPE
    if (k >= 0) {
      stats.count_send(out.size(), static_cast<std::size_t>(k));
      vlog("fd %d: send %zd of %zu", fd, k, out.size());
      session.on_sent(static_cast<std::size_t>(k));
    } else if (errno == EINTR) {
      if (stop_requested()) session.stop_input();
    } else {
      ++stats.resets;
      vlog("fd %d: send: %s", fd, errno_name(errno));
      return false;  // EPIPE, ECONNRESET: the client is gone
    }
  }
  return true;
}

// Graceful close: our FIN goes after the last reply; then read and throw away
// until the client's EOF, or until `linger` has passed, so that closing with
// unread input does not make the kernel send a reset that destroys replies not
// yet read. The limit is a deadline, checked with poll() before each recv(): a
// receive timeout (SO_RCVTIMEO) would restart with every byte, and a client
// trickling bytes could hold us for ever.
void close_gracefully(int fd, std::chrono::milliseconds linger, Stats& stats) {
  ::shutdown(fd, SHUT_WR);
  const auto deadline = std::chrono::steady_clock::now() + linger;
  char discard[16 * 1024];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    const int ready = left.count() > 0 ? ::poll(&p, 1, static_cast<int>(left.count())) : 0;
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) {
      ++stats.linger_timeouts;
      return;  // the client never sent its EOF: close now
    }
    ssize_t k = ::recv(fd, discard, sizeof discard, 0);
    if (k > 0 || (k < 0 && errno == EINTR)) continue;
    return;  // EOF, or an error: close now
  }
}

}  // namespace

void serve_client(int fd, const ServerOptions& options, Stats& stats, bool refused) {
  vlog("fd %d: connected from %s%s", fd, peer_address(fd).c_str(), refused ? ": server full" : "");
  EchoSession session(options.limits);
  if (refused) session.refuse(kServerFull);
  bool peer_eof = false;
  while (!session.finished()) {
    if (stop_requested()) session.stop_input();  // shutting down: finish what is owed
    if (!send_owed(fd, session, stats)) return;  // the client is gone: the caller closes
    auto window = session.recv_window();
    if (window.empty()) continue;  // input closed: the loop ends once all is sent
    ssize_t k = ::recv(fd, window.data(), window.size(), 0);
    if (k > 0) {
      stats.count_recv(static_cast<std::size_t>(k));
      vlog("fd %d: recv %zd", fd, k);
      session.on_received(static_cast<std::size_t>(k));
    } else if (k == 0) {
      stats.count_recv(0);
      vlog("fd %d: recv 0 (EOF)", fd);
      // On a stop, the signal handler shut our read side: that EOF is not the client's.
      if (stop_requested()) {
        session.stop_input();
      } else {
        peer_eof = true;
        session.on_peer_eof();  // the tail end: a last fragment is still a line
      }
    } else if (errno != EINTR) {
      ++stats.resets;
      vlog("fd %d: recv: %s", fd, errno_name(errno));
      return;  // ECONNRESET, ETIMEDOUT: this client only
    }
  }
  if (!peer_eof) close_gracefully(fd, options.linger, stats);
}

}  // namespace muxlab::blocking

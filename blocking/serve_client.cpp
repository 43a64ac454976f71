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

#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

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
// until the client's EOF (or `linger` passes), so that closing with unread input
// does not make the kernel send a reset that destroys replies not yet read.
void close_gracefully(int fd, std::chrono::milliseconds linger, Stats& stats) {
  ::shutdown(fd, SHUT_WR);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(linger.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((linger.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char discard[16 * 1024];
  for (;;) {
    ssize_t k = ::recv(fd, discard, sizeof discard, 0);
    if (k > 0) continue;
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++stats.linger_timeouts;
    return;  // EOF, the timeout, or an error: close now
  }
}

}  // namespace

void serve_client(Fd client, const ServerOptions& options, Stats& stats, bool refused) {
  const int fd = client.get();
  vlog("fd %d: connected from %s%s", fd, peer_address(fd).c_str(), refused ? ": server full" : "");
  EchoSession session(options.limits);
  if (refused) session.refuse(kServerFull);
  bool peer_eof = false;
  while (!session.finished()) {
    if (stop_requested()) session.stop_input();  // shutting down: finish what is owed
    if (!send_owed(fd, session, stats)) return;  // closes the socket
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
  vlog("fd %d: closed", fd);
}

}  // namespace muxlab::blocking

#include "core/io.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "core/log.hpp"
#include "core/mistake.hpp"

namespace muxlab::core {

Connection::Connection(Fd socket, const Limits& limits) : fd(std::move(socket)), session(limits) {}

void on_received(Connection& c, std::size_t n, Stats& stats) {
  stats.count_recv(n);
  vlog("fd %d: recv %zu", c.fd.get(), n);
  c.session.on_received(n);
}

void on_peer_eof(Connection& c, Stats& stats) {
  stats.count_recv(0);
  vlog("fd %d: recv 0 (EOF)", c.fd.get());
  c.peer_eof = true;
  c.session.on_peer_eof();  // the tail fragment, if any, becomes the last line
}

void on_sent(Connection& c, std::size_t offered, std::size_t n, Stats& stats) {
  stats.count_send(offered, n);
  vlog("fd %d: send %zu of %zu", c.fd.get(), n, offered);
  c.session.on_sent(n);  // what send() took, never what was offered: the rest stays owed
}

void on_error(Connection& c, Stats& stats, const char* call) {
  ++stats.resets;
  vlog("fd %d: %s: %s", c.fd.get(), call, errno_name(errno));
}

IoStatus half_close_if_finished(Connection& c, std::chrono::milliseconds linger) {
  if (!c.session.finished()) return IoStatus::paused;
  ::shutdown(c.fd.get(), SHUT_WR);
  if (c.peer_eof) return IoStatus::closed;  // both sides done: nothing can be lost now
  vlog("fd %d: half-closed, lingering for the client's EOF", c.fd.get());
  c.closing = true;
  c.linger_deadline = Clock::now() + linger;
  return IoStatus::paused;
}

IoStatus discard_input(Connection& c, Stats& stats) {
  char discard[16 * 1024];
  for (std::size_t total = 0; total < kTurnBudget;) {
    ssize_t k = ::recv(c.fd.get(), discard, sizeof discard, 0);
    if (k > 0) {
      stats.count_recv(static_cast<std::size_t>(k));
      total += static_cast<std::size_t>(k);
    } else if (k == 0) {
      return IoStatus::closed;  // the client's EOF: the close is now clean
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ++stats.eagain;
      return IoStatus::drained;
    } else if (errno != EINTR) {
      on_error(c, stats, "recv");
      return IoStatus::closed;
    }
  }
  return IoStatus::budget_spent;
}

IoStatus pump_input(Connection& c, Stats& stats) {
  if (c.closing) return discard_input(c, stats);
  for (std::size_t total = 0; total < kTurnBudget;) {
    auto window = c.session.recv_window();
    if (window.empty()) return IoStatus::paused;  // back-pressure, or input closed
    ssize_t k = ::recv(c.fd.get(), window.data(), window.size(), 0);
    if (k > 0) {
      on_received(c, static_cast<std::size_t>(k), stats);
      total += static_cast<std::size_t>(k);
      // epoll(7): for a stream socket, a read shorter than asked means the kernel's
      // buffer is empty; another recv() would only return EAGAIN.
      if (static_cast<std::size_t>(k) < window.size()) return IoStatus::drained;
    } else if (k == 0) {
      on_peer_eof(c, stats);
      return IoStatus::paused;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ++stats.eagain;
      c.session.on_nothing_received();  // the window's buffer goes back until data arrives
      return IoStatus::drained;
    } else if (errno != EINTR) {
      on_error(c, stats, "recv");  // ECONNRESET, ETIMEDOUT, ...
      return IoStatus::closed;
    }
  }
  return IoStatus::budget_spent;
}

IoStatus pump_output(Connection& c, Stats& stats, std::chrono::milliseconds linger) {
  if (c.closing) return IoStatus::paused;
  for (std::size_t total = 0; total < kTurnBudget;) {
    auto window = c.session.send_window();
    if (window.empty()) break;
    // MSG_NOSIGNAL: a peer that has gone gives EPIPE here instead of killing us with SIGPIPE.
    ssize_t k = ::send(c.fd.get(), window.data(), window.size(), MSG_NOSIGNAL);
    if (k >= 0) {
      if constexpr (kMistake == Mistake::send_not_sendall) {
        // BROKEN (poll-send-not-sendall): takes send() for a sendall(), and tells
        // the session the whole window went. The part the kernel did not take
        // (its buffer was full: a slow reader, a small --sndbuf) is thrown away,
        // and the client's reply has a hole. Correct: the session advances by
        // what send() returned, the rest stays owed (the line below).
        on_sent(c, window.size(), window.size(), stats);
      } else {
        on_sent(c, window.size(), static_cast<std::size_t>(k), stats);
      }
      total += static_cast<std::size_t>(k);
      if (static_cast<std::size_t>(k) < window.size()) return IoStatus::drained;  // socket buffer full
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      ++stats.eagain;
      if constexpr (kMistake == Mistake::blocking_send) {
        // BROKEN (select-blocking-send): waits right here until the socket has
        // room, as a send() on a blocking socket does (UNP's tcpservselect01
        // writes so), instead of going back to the loop. A client that never
        // reads never makes room: the loop stops in this wait, and every other
        // client with it. Correct: return, and let the readiness call say when
        // there is room again (the line below).
        pollfd room{c.fd.get(), POLLOUT, 0};
        ::poll(&room, 1, -1);
        continue;
      }
      return IoStatus::drained;
    } else if (errno != EINTR) {
      on_error(c, stats, "send");  // EPIPE, ECONNRESET: this client only
      return IoStatus::closed;
    }
  }
  if (c.session.wants_write()) return IoStatus::budget_spent;
  return half_close_if_finished(c, linger);
}

bool linger_expired(const Connection& c, Clock::time_point now) {
  return c.closing && now >= c.linger_deadline;
}

}  // namespace muxlab::core

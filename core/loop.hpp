// loop.hpp - what a single-threaded readiness loop does besides waiting.
//
// select, poll, epoll and the busy poller differ in how they learn which sockets
// are ready. How they accept and how they stop is the same, and so is what the
// readiness models do with a ready socket: it lives here, written once.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/io.hpp"
#include "core/log.hpp"
#include "core/options.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

namespace muxlab::core {

struct Served {
  bool keep;  // false: the connection is over, close it
  bool more;  // the turn budget ran out with work left (edge-triggered loops must come back)
};

// One ready connection's turn: read if `readable`, then write whatever is owed
// (at once, without waiting for writability: usually the socket has room, and
// that saves a wakeup per reply).
Served serve_ready(Connection& c, bool readable, Stats& stats, const ServerOptions& options);

// A stop request for one connection: read no more, send what is owed.
Served begin_stop(Connection& c, Stats& stats, const ServerOptions& options);

// Admission, the same in every server. Past max_clients a new connection is
// served all the same, refused: its session answers only "error: server full"
// and it closes like any other (half-close, linger), so the client reads the
// whole message; it holds a descriptor, so it counts as open until then. `open`
// is how many connections the server held before this one.
// admit() goes before the server takes the connection in (what a readiness
// model watches for depends on it: a refused one wants to write, not read), and
// returns whether it refused; count_admitted() goes after, once it holds it.
bool admit(EchoSession& session, int fd, std::size_t open, std::size_t max_clients);
void count_admitted(bool refused, int fd, std::size_t open, Stats& stats);

enum class AcceptOutcome {
  drained,             // the backlog is empty
  out_of_descriptors,  // EMFILE & co.: stop watching the listener until a connection closes
  listener_closed,
};

// Accepts every pending connection (nonblocking) and offers each to
// adopt(Connection&), which moves it into the model's own table and returns
// true, or returns false, leaving it, when the model cannot watch it (select: a
// descriptor past FD_SETSIZE; epoll: EPOLL_CTL_ADD failed); such a connection
// is told "error: server full" and closed at once (reject_client).
// `open` is how many connections the model holds; past max_clients they are
// admitted refused (admit() above). Each connection is counted once, after
// adopt() has decided.
template <typename Adopt>
AcceptOutcome accept_pending(int listen_fd, std::size_t open, std::size_t max_clients, const Limits& limits,
                             Stats& stats, Adopt&& adopt) {
  for (;;) {
    Accepted a = accept_client(listen_fd, /*nonblocking=*/true, stats);
    switch (a.status) {
      case AcceptStatus::accepted: {
        Connection c(std::move(a.fd), limits);
        const int fd = c.fd.get();
        const bool refused = admit(c.session, fd, open, max_clients);
        if (!adopt(c)) {
          ++stats.rejected;
          reject_client(std::move(c.fd), stats);
          continue;
        }
        count_admitted(refused, fd, open++, stats);
        continue;
      }
      case AcceptStatus::interrupted:
        continue;
      case AcceptStatus::none_pending:
        return AcceptOutcome::drained;
      case AcceptStatus::out_of_descriptors:
        return AcceptOutcome::out_of_descriptors;
      case AcceptStatus::listener_closed:
        return AcceptOutcome::listener_closed;
    }
  }
}

// stop_all() and close_expired_lingers() are for loops that keep their
// connections in a vector and remove connection i with close_at(i) by moving
// the last one into its slot: walking backwards keeps that safe (what moves
// into slot i has been visited already).

// A stop request: every connection reads no more and sends what it owes.
template <typename CloseAt>
void stop_all(std::vector<Connection>& conns, Stats& stats, const ServerOptions& options, CloseAt&& close_at) {
  for (std::size_t i = conns.size(); i-- > 0;)
    if (!begin_stop(conns[i], stats, options).keep) close_at(i);
}

// Closes the connections whose client never sent its EOF after our half-close.
template <typename CloseAt>
void close_expired_lingers(std::vector<Connection>& conns, Clock::time_point now, Stats& stats,
                           CloseAt&& close_at) {
  for (std::size_t i = conns.size(); i-- > 0;) {
    if (!linger_expired(conns[i], now)) continue;
    ++stats.linger_timeouts;
    close_at(i);
  }
}

// How long the readiness call may wait: for ever (-1) unless something is on a
// clock: the drain after a stop, connections lingering after our half-close
// (checked every tick), or accepting paused for want of descriptors.
int wait_timeout_ms(bool any_closing, bool accept_paused, std::optional<Clock::time_point> drain_deadline);

// The tick at which lingering connections are checked and a paused accept retried.
inline constexpr std::chrono::milliseconds kTick{100};

}  // namespace muxlab::core

// io.hpp - reading into and writing from a session on a nonblocking socket.
//
// Every single-threaded model (busy poll, select, poll, epoll) moves bytes the same
// way; only how it learns that a socket is ready differs. That shared part lives
// here, so each model's server.cpp is about its readiness call and nothing else.
//
// A connection's life:
//   open      recv() into the session, send() from it
//   finished  the session owes nothing more and reads nothing more
//   closing   we half-closed (shutdown SHUT_WR): our FIN follows the last reply.
//             We keep reading and throwing away until the client's EOF, or until
//             the linger deadline, so that a close with unread input does not send
//             a reset that could destroy replies the client has not read yet.
//   closed    the caller closes the descriptor
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "core/fd.hpp"
#include "core/session.hpp"
#include "core/stats.hpp"

namespace muxlab::core {

using Clock = std::chrono::steady_clock;

// Per wakeup, one connection stops moving bytes in a direction once this much
// has gone (checked between calls, so one last recv()/send() may take it past),
// so that a client with a huge reply owed cannot starve the others (Redis caps
// writes per event the same way).
inline constexpr std::size_t kTurnBudget = 64 * 1024;

struct Connection {
  Connection(Fd socket, const Limits& limits);

  Fd fd;
  EchoSession session;
  bool peer_eof = false;  // recv() returned 0
  bool closing = false;   // half-closed by us: reading to EOF, until linger_deadline
  Clock::time_point linger_deadline{};
};

enum class IoStatus {
  drained,       // EAGAIN, or a short recv()/send(): the socket has nothing more for now
  paused,        // the session wants nothing in this direction now
  budget_spent,  // stopped at kTurnBudget with more to do: come back next turn
  closed,        // the connection is over (error, or the end of closing): close it
};

// recv() until drained, paused or the budget is spent. EOF goes to the session.
IoStatus pump_input(Connection& c, Stats& stats);
// send() until drained, paused or the budget is spent. Once the session is
// finished, half-closes and starts `linger` (or reports closed if the peer's EOF
// was already seen).
IoStatus pump_output(Connection& c, Stats& stats, std::chrono::milliseconds linger);

// What the readiness call should watch for this connection.
inline bool wants_input(const Connection& c) { return c.closing || c.session.wants_read(); }
inline bool wants_output(const Connection& c) { return !c.closing && c.session.wants_write(); }

// Server shutdown: read no more, send what is owed (then close as usual).
inline void stop_reading(Connection& c) { c.session.stop_input(); }

bool linger_expired(const Connection& c, Clock::time_point now);

}  // namespace muxlab::core

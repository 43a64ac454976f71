// io.hpp - reading into and writing from a session on a nonblocking socket.
//
// What a recv() or send() result means for a connection (count it, log it, tell
// the session) is written once, here: on_received(), on_peer_eof(), on_sent(),
// on_error(). The calls themselves appear twice. nonblocking/server.cpp makes
// one recv() and one send() per connection and turn in its own text, since
// EAGAIN and the partial send are its lesson. pump_input() and pump_output()
// loop the same calls for the readiness models (select, poll, epoll), which,
// once told a socket is ready, read and write until EAGAIN or a budget.
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

// One result of recv() or send(), applied to the connection and counted.
void on_received(Connection& c, std::size_t n, Stats& stats);  // recv() returned n > 0
void on_peer_eof(Connection& c, Stats& stats);                 // recv() returned 0: the client's EOF
void on_sent(Connection& c, std::size_t offered, std::size_t n, Stats& stats);  // send() took n of offered
// recv() or send() failed with errno (ECONNRESET, EPIPE, ...): counted and
// logged. It ends this connection only; the caller closes it.
void on_error(Connection& c, Stats& stats, const char* call);

// Once the session is finished: shutdown(SHUT_WR), so that our FIN follows the
// last reply, then `closed` if the client's EOF came already, or `paused`,
// closing, until it comes or `linger` passes. `paused` too if not finished yet.
IoStatus half_close_if_finished(Connection& c, std::chrono::milliseconds linger);
// While closing: read and throw away what the client still sends, until EAGAIN,
// the budget, or its EOF (then `closed`).
IoStatus discard_input(Connection& c, Stats& stats);

// recv() until drained, paused or the budget is spent. EOF goes to the session.
IoStatus pump_input(Connection& c, Stats& stats);
// send() until drained, paused or the budget is spent, then
// half_close_if_finished().
IoStatus pump_output(Connection& c, Stats& stats, std::chrono::milliseconds linger);

// What the readiness call should watch for this connection.
inline bool wants_input(const Connection& c) { return c.closing || c.session.wants_read(); }
inline bool wants_output(const Connection& c) { return !c.closing && c.session.wants_write(); }

// Server shutdown: read no more, send what is owed (then close as usual).
inline void stop_reading(Connection& c) { c.session.stop_input(); }

bool linger_expired(const Connection& c, Clock::time_point now);

}  // namespace muxlab::core

// nonblocking-server - O_NONBLOCK sockets polled in a busy loop, with no
// readiness call at all.
//
// The model: every socket is nonblocking, so no call ever waits. One loop tries
// recv() and send() on every connection in turn, then accept() on the listener,
// and starts over at once. A call with nothing to do fails with EAGAIN, which
// costs a system call and tells us nothing we could not have been told.
// (Matloff's tutorial, the chapter on nonblocking sockets.)
//
// What it teaches: O_NONBLOCK and its two answers, in try_recv() and
// try_send(): a recv() with nothing to read fails with EAGAIN instead of
// waiting, and a send() takes only what fits in the socket's buffer, maybe part
// of what it is offered. And why readiness APIs exist: with nothing to do this
// server still spins. It burns a whole core while idle, and every turn makes one
// recv() per idle connection, so the cost of a turn grows with the connections,
// not with the work.
//
// Its limits: 100% of a CPU when idle (--idle-sleep-us trades that for
// latency: sleep after a turn that found nothing); O(connections) system calls
// a turn. Read it as the problem that select, poll and epoll solve.
//
// Usage:   nonblocking-server [--port 2000] [--idle-sleep-us N] [--stats] [--verbose] ...
// Course:  docs/08-nonblocking.md.  Compare with ../select/server.cpp (after).
#include <sys/socket.h>
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "core/io.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/mistake.hpp"
#include "core/options.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

namespace {

// Everything the loop keeps between two turns.
struct Server {
  Server(const ServerOptions& o, std::uint64_t sleep_us) : options(o), idle_sleep_us(sleep_us) {}

  const ServerOptions& options;
  Stats stats;
  Fd listener;                                      // closed once a stop is requested
  std::vector<Connection> conns;                    // in no order: a closed one is swapped with the last
  const std::uint64_t idle_sleep_us;                // --idle-sleep-us: the nap after an idle turn (0: spin)
  std::uint64_t closed = 0;                         // connections closed so far (see work_done())
  std::size_t max_clients = 0;                      // --max-clients, or what RLIMIT_NOFILE allows
  bool accept_paused = false;                       // out of descriptors: accept() not tried
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
  Clock::time_point next_tick{};                    // lingering sweep, paused accept retried
};

// Swap-and-pop: O(1), and the order of connections does not matter.
void close_conn(Server& s, std::size_t i) {
  vlog("fd %d: closed", s.conns[i].fd.get());
  if (i + 1 != s.conns.size()) s.conns[i] = std::move(s.conns.back());
  s.conns.pop_back();  // the Fd closes the socket
  ++s.closed;
  s.accept_paused = false;  // a descriptor is free again
}

// accept4() on the nonblocking listener until it fails with EAGAIN (counted):
// on most turns nobody is waiting, and that is the only answer.
void accept_clients(Server& s) {
  AcceptOutcome outcome = accept_pending(s.listener.get(), s.conns.size(), s.max_clients, s.options.limits, s.stats,
                                         [&s](Connection& c) {
    s.conns.push_back(std::move(c));
    return true;
  });
  if (outcome == AcceptOutcome::out_of_descriptors) {
    vlog("accept: out of descriptors, pausing until a connection closes");
    s.accept_paused = true;  // the connection stays in the backlog: trying again at once would fail again
  }
}

// A stop request (SIGINT/SIGTERM, seen by stop_requested()): accept no more,
// finish what is owed within --drain-ms.
void begin_shutdown(Server& s) {
  vlog("stop requested: draining %zu connections", s.conns.size());
  s.listener.reset();
  stop_all(s.conns, s.stats, s.options, [&s](std::size_t i) { close_conn(s, i); });
  s.drain_deadline = Clock::now() + s.options.drain;
}

// One recv(), whether or not anything has arrived: with no readiness call,
// asking is the only way to know, and for an idle client the answer is EAGAIN.
// False: the connection is over.
bool try_recv(Server& s, Connection& c) {
  const auto window = c.session.recv_window();
  if (window.empty()) return true;  // replies owed up to --max-pending, or input closed: not asked
  const ssize_t k = ::recv(c.fd.get(), window.data(), window.size(), 0);
  if (k > 0) {
    on_received(c, static_cast<std::size_t>(k), s.stats);
  } else if (k == 0) {
    on_peer_eof(c, s.stats);  // the client's EOF: answer the tail end, send what is owed, then close
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    ++s.stats.eagain;                  // nothing has arrived: ask again next turn
    c.session.on_nothing_received();  // an idle session gives its buffer back
  } else if (errno != EINTR) {
    on_error(c, s.stats, "recv");  // ECONNRESET, ETIMEDOUT, ...: this client only
    return false;
  }
  return true;
}

// One send() of what the session owes next. The kernel takes what fits in the
// socket's send buffer: all of it, part of it (a partial send, counted in
// partial_sends), or nothing (EAGAIN). The session advances by what was taken
// and offers the rest again next turn. False: the connection is over.
bool try_send(Server& s, Connection& c) {
  const auto window = c.session.send_window();
  if (window.empty()) return true;  // nothing owed
  // MSG_NOSIGNAL: a client that has gone gives EPIPE here instead of killing us with SIGPIPE.
  const ssize_t k = ::send(c.fd.get(), window.data(), window.size(), MSG_NOSIGNAL);
  if (k >= 0) {
    on_sent(c, window.size(), static_cast<std::size_t>(k), s.stats);
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    ++s.stats.eagain;  // the buffer is full: the client reads slower than we reply
  } else if (errno != EINTR) {
    on_error(c, s.stats, "send");  // EPIPE, ECONNRESET: this client only
    return false;
  }
  return true;
}

// One connection's turn: one recv() and one send() at most, then our half-close
// once all is said. What a call could not do waits for the next turn, which is
// never far. (select, poll and epoll share core/io.cpp's pump_input() and
// pump_output() instead: the same calls in a loop, to EAGAIN or a budget, since
// their next wakeup may be far.) False: close it.
bool serve_turn(Server& s, Connection& c) {
  if (c.closing) return discard_input(c, s.stats) != IoStatus::closed;  // reading to the client's EOF
  return try_recv(s, c) && try_send(s, c) && half_close_if_finished(c, s.options.linger) != IoStatus::closed;
}

// Tries every connection: no readiness call says which ones have something to
// do. Walking backwards keeps swap-and-pop safe: what moves into slot i has
// already been served.
void serve_connections(Server& s) {
  for (std::size_t i = s.conns.size(); i-- > 0;)
    if (!serve_turn(s, s.conns[i])) close_conn(s, i);
}

// Once per kTick: close connections whose client never sent its EOF after our
// half-close, and give a paused accept another try.
void on_tick(Server& s, Clock::time_point now) {
  close_expired_lingers(s.conns, now, s.stats, [&s](std::size_t i) { close_conn(s, i); });
  s.accept_paused = false;
  s.next_tick = now + kTick;
}

bool running(const Server& s) {
  return !s.drain_deadline || (!s.conns.empty() && Clock::now() < *s.drain_deadline);
}

// What only a turn that did something changes: a connection accepted or
// closed, a recv() or send() that moved bytes (or saw EOF). EAGAIN is not work.
std::uint64_t work_done(const Server& s) {
  return s.stats.connections + s.stats.recv_calls + s.stats.send_calls + s.closed;
}

void sleep_us(std::uint64_t us) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(us / 1'000'000);
  ts.tv_nsec = static_cast<long>(us % 1'000'000 * 1000);
  ::nanosleep(&ts, nullptr);  // EINTR (a stop signal) just ends the nap early
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t idle_sleep_us = 0;
  const ExtraFlag extra[] = {
      {"--idle-sleep-us", "N", "after a turn that found nothing to do, sleep N microseconds (default 0: spin)",
       [&idle_sleep_us](std::string_view v) { return parse_number(v, 0, 1'000'000, idle_sleep_us); }},
  };
  ServerOptions options = parse_server_options(
      argc, argv, program_name("nonblocking-server"),
      program_summary("The busy-polling echo server: O_NONBLOCK sockets, no readiness call."), extra);
  if constexpr (kMistake == Mistake::no_backpressure) {
    // BROKEN (nonblocking-no-backpressure): no bound on the replies owed to a
    // client (--max-pending is ignored), so try_recv() always finds room and
    // reads on while they wait. A client that sends and never reads makes the
    // server hold everything it sent: memory grows without bound, where TCP
    // would have pushed that client back. Correct: keep the bound. (Half the
    // largest size_t, not all of it: the session adds --max-line to it.)
    options.limits.max_pending = std::numeric_limits<std::size_t>::max() / 2;
  }
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM set stop_requested()
  Server s(options, idle_sleep_us);
  s.listener = listen_on_or_die(options, /*nonblocking=*/true);
  s.max_clients = options.max_clients != 0 ? options.max_clients : descriptors_available();
  announce_listening(s.listener.get());

  while (running(s)) {
    ++s.stats.wakeups;  // here: one turn of the loop
    // The readiness models watch the self-pipe, because they sleep in their
    // readiness call and a signal must wake them. This loop never sleeps long
    // (a nap is cut short by the signal): the flag is enough.
    if (stop_requested() && !s.drain_deadline) begin_shutdown(s);
    const std::uint64_t work_before = work_done(s);
    serve_connections(s);
    if (s.listener && !s.accept_paused) accept_clients(s);
    if (const auto now = Clock::now(); now >= s.next_tick) on_tick(s, now);
    if (work_done(s) == work_before) {
      // Nothing happened, and the next turn starts at once all the same: this is
      // where a busy poller burns its core. Sleeping saves the CPU and delays
      // whatever arrives meanwhile by up to the sleep.
      ++s.stats.idle_turns;
      if (s.idle_sleep_us > 0) sleep_us(s.idle_sleep_us);
    }
  }
  if (options.stats) s.stats.print(stderr);
  return 0;
}

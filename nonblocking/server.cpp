// nonblocking-server - O_NONBLOCK sockets polled in a busy loop, with no
// readiness call at all.
//
// The model: every socket is nonblocking, so no call ever waits. One loop tries
// accept() on the listener, then recv() and send() on every connection in turn,
// and starts over at once. A call with nothing to do fails with EAGAIN, which
// costs a system call and tells us nothing we could not have been told.
// (Matloff's tutorial, the chapter on nonblocking sockets.)
//
// What it teaches: O_NONBLOCK and EAGAIN on their own - and why readiness APIs
// exist. With nothing to do this server still spins: it burns a whole core
// while idle, and every turn makes one recv() per idle connection, so the cost
// of a turn grows with the connections, not with the work.
//
// Its limits: 100% of a CPU when idle (--idle-sleep-us trades that for
// latency: sleep after a turn that found nothing); O(connections) system calls
// a turn. Read it as the problem that select, poll and epoll solve.
//
// Usage:   nonblocking-server [--port 2000] [--idle-sleep-us N] [--stats] [--verbose] ...
// Course:  docs/08-nonblocking.md.  Compare with ../poll/server.cpp.
#include <time.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "core/io.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/options.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

namespace {

struct Server {
  ServerOptions options;
  std::uint64_t idle_sleep_us = 0;  // 0: spin
  Stats stats;
  Fd listener;
  std::vector<Connection> conns;  // served in this order; removal swaps with the last
  std::uint64_t closed = 0;       // connections closed so far (a turn that closes one did work)
  bool accept_paused = false;     // out of descriptors: stop trying accept() for a while
  Clock::time_point accept_retry{};
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
};

void close_conn(Server& s, std::size_t i) {
  vlog("fd %d: closed", s.conns[i].fd.get());
  if (i + 1 != s.conns.size()) s.conns[i] = std::move(s.conns.back());  // order does not matter
  s.conns.pop_back();  // ~Fd closes the socket
  ++s.closed;
  s.accept_paused = false;  // a descriptor is free again
}

void accept_clients(Server& s) {
  if (!s.listener || (s.accept_paused && Clock::now() < s.accept_retry)) return;
  s.accept_paused = false;
  // accept4() on a nonblocking listener: EAGAIN when nobody is waiting (counted).
  const AcceptOutcome outcome =
      accept_pending(s.listener.get(), s.conns.size(), s.options.max_clients, s.options.limits, s.stats,
                     [&s](Connection& c) {
                       s.conns.push_back(std::move(c));
                       return true;
                     });
  if (outcome == AcceptOutcome::out_of_descriptors) {
    // EMFILE leaves the connection in the backlog: trying again at once would
    // fail again. Wait for a close or a tick instead.
    vlog("accept: out of descriptors, pausing until a connection closes");
    s.accept_paused = true;
    s.accept_retry = Clock::now() + kTick;
  }
}

// One pass over every connection. With no readiness call we cannot know who is
// readable, so each one that wants input is simply tried: recv() says EAGAIN
// (counted in --stats) when there is nothing. Whatever is owed is sent.
void serve_all(Server& s) {
  for (std::size_t i = 0; i < s.conns.size();) {
    Connection& c = s.conns[i];
    const Served served = serve_ready(c, /*readable=*/wants_input(c), s.stats, s.options);
    if (served.keep) ++i;  // budget spent (served.more): the next turn is never far
    else close_conn(s, i);  // the last one moved to i: visit it next
  }
}

// SIGINT/SIGTERM: accept no more, finish what each client is owed, within the drain time.
void begin_shutdown(Server& s) {
  vlog("stop requested: draining %zu connections", s.conns.size());
  s.listener.reset();
  s.drain_deadline = Clock::now() + s.options.drain;
  stop_all(s.conns, s.stats, s.options, [&s](std::size_t i) { close_conn(s, i); });
}

// Something that only happens when a turn did work: a connection accepted or
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

bool running(const Server& s) {
  return !s.drain_deadline || (!s.conns.empty() && Clock::now() < *s.drain_deadline);
}

}  // namespace

int main(int argc, char** argv) {
  Server s;
  const ExtraFlag extra[] = {
      {"--idle-sleep-us", "N", "after a turn that found nothing to do, sleep N microseconds (default 0: spin)",
       [&s](std::string_view v) { return parse_number(v, 0, 1'000'000, s.idle_sleep_us); }},
  };
  s.options = parse_server_options(argc, argv, "nonblocking-server",
                                   "The busy-polling echo server: O_NONBLOCK sockets, no readiness call.", extra);
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM set stop_requested()
  s.listener = listen_on_or_die(s.options, /*nonblocking=*/true);
  if (s.options.max_clients == 0) s.options.max_clients = descriptors_available();
  announce_listening(s.listener.get());

  Clock::time_point next_sweep = Clock::now() + kTick;
  while (running(s)) {
    ++s.stats.wakeups;  // here: one turn of the loop
    if (stop_requested() && !s.drain_deadline) begin_shutdown(s);
    const std::uint64_t before = work_done(s);
    accept_clients(s);
    serve_all(s);
    const Clock::time_point now = Clock::now();
    if (now >= next_sweep) {
      close_expired_lingers(s.conns, now, s.stats, [&s](std::size_t i) { close_conn(s, i); });
      next_sweep = now + kTick;
    }
    if (work_done(s) == before) {
      // Nothing happened, and the next turn starts at once all the same: this is
      // where a busy poller burns its core. Sleeping saves the CPU and delays
      // whatever arrives meanwhile by up to the sleep.
      ++s.stats.idle_turns;
      if (s.idle_sleep_us > 0) sleep_us(s.idle_sleep_us);
    }
  }
  if (s.options.stats) s.stats.print(stderr);
  return 0;
}

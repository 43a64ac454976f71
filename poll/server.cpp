// poll-server - one thread watches every socket with poll(2).
//
// The model: the same loop as select-server, with select()'s three bitmaps
// replaced by one array of struct pollfd, an entry per watched descriptor:
// {fd, events we ask about, revents the kernel answers}. The thread sleeps in
// poll() until some entries are ready, then serves exactly those.
//
// What it teaches: readiness without FD_SETSIZE. An entry names its descriptor,
// so any fd the process may open can be watched, and the request (events) and
// the answer (revents) are separate fields: nothing to rebuild from scratch.
//
// Its limits:
//   - O(n) per call: the whole array is copied into the kernel, every entry is
//     polled, revents are copied back, and we walk the array again, on every
//     wakeup, however few sockets are ready. 10,000 idle clients make one busy
//     client slow, just as with select; only the 1024 ceiling is gone.
//   - RLIMIT_NOFILE (ulimit -n) is now the ceiling on clients.
//
// Usage:   poll-server [--port 2000] [--repeat R] [--max-clients N] [--stats] [--verbose] ...
// Course:  docs/10-poll.md.  Compare with ../select/server.cpp (before) and
//          ../epoll/server.cpp (after); `diff select/server.cpp poll/server.cpp` is the lesson.
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <optional>
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

constexpr std::size_t kStopEntry = 0;      // pollfds[0]: the self-pipe
constexpr std::size_t kListenerEntry = 1;  // pollfds[1]: the listener
constexpr std::size_t kFirstConn = 2;      // pollfds[kFirstConn + i] <-> conns[i]

// Everything the loop keeps between two poll() calls. The pollfd array is kept:
// poll() writes only revents, so events stay as we left them.
struct Server {
  explicit Server(const ServerOptions& o) : options(o) {}

  const ServerOptions& options;
  Stats stats;
  Fd listener;                                      // closed once a stop is requested
  std::vector<Connection> conns;                    // in no order: a closed one is swapped with the last
  std::vector<pollfd> pollfds;                      // in step with conns, after the two fixed entries
  std::size_t max_clients = 0;                      // --max-clients, or what RLIMIT_NOFILE allows
  bool accept_paused = false;                       // out of descriptors: listener not watched
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
  Clock::time_point next_tick{};                    // lingering sweep, paused accept retried
};

// Brings each entry's events up to date and says whether any connection is
// lingering. Unlike select's sets, nothing is rebuilt: only events change,
// and revents is the kernel's to fill. poll() skips an entry whose fd is
// negative: the listener's holds -1 while accepting is paused and once the
// listener is closed. (muduo's PollPoller stores -fd-1, to read the number
// back from the entry; ours is in s.listener.)
void watch(Server& s, bool& any_closing) {
  s.pollfds[kListenerEntry].fd = s.listener && !s.accept_paused ? s.listener.get() : -1;
  any_closing = false;
  for (std::size_t i = 0; i < s.conns.size(); ++i) {
    const Connection& c = s.conns[i];
    s.pollfds[kFirstConn + i].events =
        static_cast<short>((wants_input(c) ? POLLIN : 0) | (wants_output(c) ? POLLOUT : 0));
    any_closing = any_closing || c.closing;
  }
}

// Swap-and-pop in both arrays at once: O(1), no search, and slot i of one
// still matches slot kFirstConn + i of the other.
void close_conn(Server& s, std::size_t i) {
  vlog("fd %d: closed", s.conns[i].fd.get());
  if (i + 1 != s.conns.size()) {
    s.conns[i] = std::move(s.conns.back());
    s.pollfds[kFirstConn + i] = s.pollfds.back();
  }
  s.conns.pop_back();  // the Fd closes the socket
  s.pollfds.pop_back();
  s.accept_paused = false;  // a descriptor is free again
}

void accept_clients(Server& s) {
  AcceptOutcome outcome = accept_pending(s.listener.get(), s.conns.size(), s.max_clients, s.options.limits, s.stats,
                                         [&s](Connection& c) {
    s.pollfds.push_back({c.fd.get(), POLLIN, 0});  // events are set from the session before each poll()
    s.conns.push_back(std::move(c));
    return true;
  });
  if (outcome == AcceptOutcome::out_of_descriptors) {
    vlog("accept: out of descriptors, pausing until a connection closes");
    s.accept_paused = true;  // watching the listener now would wake us at once, for ever
  }
}

// A stop request (SIGINT/SIGTERM arrived through the self-pipe): accept no more,
// finish what is owed within --drain-ms.
void begin_shutdown(Server& s) {
  char drain[64];
  while (::read(stop_fd(), drain, sizeof drain) > 0) {
  }
  vlog("stop requested: draining %zu connections", s.conns.size());
  s.listener.reset();
  stop_all(s.conns, s.stats, s.options, [&s](std::size_t i) { close_conn(s, i); });
  s.drain_deadline = Clock::now() + s.options.drain;
}

// Serves every connection poll() reported. Walking backwards keeps
// swap-and-pop safe: what moves into slot i has already been served.
void serve_connections(Server& s) {
  for (std::size_t i = s.conns.size(); i-- > 0;) {
    const short revents = s.pollfds[kFirstConn + i].revents;
    // POLLHUP and POLLERR come even unasked. Closing at once could lose the
    // tail end or a reset's error; reading instead lets recv() say which (EOF:
    // answer the tail and send what is owed; an error: close).
    const bool in = (revents & (POLLIN | POLLHUP | POLLERR)) != 0;
    if (!in && (revents & POLLOUT) == 0) continue;
    if (!serve_ready(s.conns[i], in, s.stats, s.options).keep) close_conn(s, i);
  }
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

}  // namespace

int main(int argc, char** argv) {
  const ServerOptions options = parse_server_options(
      argc, argv, program_name("poll-server"), program_summary("An echo server that waits for readiness with poll(2)."));
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM write to the self-pipe
  Server s(options);
  s.listener = listen_on_or_die(options, /*nonblocking=*/true);
  s.max_clients = options.max_clients != 0 ? options.max_clients : descriptors_available();
  s.pollfds = {{stop_fd(), POLLIN, 0}, {s.listener.get(), POLLIN, 0}};
  announce_listening(s.listener.get());

  while (running(s)) {
    bool any_closing = false;
    watch(s, any_closing);
    const int ms = wait_timeout_ms(any_closing, s.accept_paused, s.drain_deadline);
    // The kernel copies in and polls all n entries, ready or not: O(n) per call.
    int n = ::poll(s.pollfds.data(), s.pollfds.size(), ms);
    ++s.stats.wakeups;
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal (SIGTERM): nothing happened, wait again
      die_errno("poll");
    }
    if (s.pollfds[kStopEntry].revents != 0) begin_shutdown(s);
    serve_connections(s);
    if (s.listener && (s.pollfds[kListenerEntry].revents & POLLIN) != 0) accept_clients(s);
    if (const auto now = Clock::now(); now >= s.next_tick) on_tick(s, now);
  }
  if (options.stats) s.stats.print(stderr);
  return 0;
}

// select-server - one thread watches every socket with select(2).
//
// The model: every socket is nonblocking, and instead of trying each one in turn
// (../nonblocking/server.cpp burns a core doing that) the thread sleeps in one
// select() call until the kernel says which sockets are ready, then serves
// exactly those. One thread, many clients, no busy loop.
//
// What it teaches: readiness. select() does no I/O; it only says "a recv() or
// send() on this descriptor would not block now". The bytes still move with the
// busy poller's recv() and send(), looped in core/io.cpp; the model is the waiting.
//
// Its limits:
//   - FD_SETSIZE: an fd_set is a fixed bitmap of 1024 bits, so no descriptor
//     >= 1024 may go in one (FD_SET past the end writes over the stack). This
//     server serves at most what fits below it, and answers the rest
//     "error: server full".
//   - O(maxfd) per call: the sets are rebuilt, copied into the kernel, walked bit
//     by bit up to maxfd, copied back, and walked again here, on every wakeup,
//     however few sockets are ready. 1000 idle clients make one busy client slow.
//
// Usage:   select-server [--port 2000] [--repeat R] [--max-clients N] [--stats] [--verbose] ...
// Course:  docs/09-select.md.  Compare with ../nonblocking/server.cpp (before) and
//          ../poll/server.cpp (after); `diff select/server.cpp poll/server.cpp` is the lesson.
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <utility>
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

// Everything the loop keeps between two select() calls. No fd_set is kept:
// they are rebuilt on every turn (see watch()).
struct Server {
  explicit Server(const ServerOptions& o) : options(o) {}

  const ServerOptions& options;
  Stats stats;
  Fd listener;                                      // closed once a stop is requested
  std::vector<Connection> conns;                    // in no order: a closed one is swapped with the last
  std::size_t max_clients = 0;                      // --max-clients, at most what fits below FD_SETSIZE
  bool accept_paused = false;                       // out of descriptors: listener not watched
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
  Clock::time_point next_tick{};                    // lingering sweep, paused accept retried
};

// Fills both sets from scratch and returns the highest descriptor in them.
// select() overwrites its sets: they go in as "watch these" and come back as
// "these are ready" (value-result arguments), so they must be refilled before
// every call anyway. Redis (ae_select.c) keeps master copies and memcpy()s
// them; here interest changes with almost every reply, so rebuilding from the
// sessions costs the same and cannot go stale.
int watch(const Server& s, fd_set& readable, fd_set& writable, bool& any_closing) {
  if constexpr (kMistake == Mistake::no_rebuild) {
    // BROKEN (select-no-rebuild): refills the sets only when a client has come or
    // gone, as if they still said "watch these". select() overwrote them with
    // "these were ready": a socket that was quiet on the last turn is watched no
    // more, and its client goes deaf (the self-pipe too: SIGTERM goes unheard).
    // Correct: fill them from scratch before every call, as below.
    static std::size_t filled_for = SIZE_MAX;  // the number of connections they were filled for
    if (std::exchange(filled_for, s.conns.size()) == s.conns.size()) return FD_SETSIZE - 1;  // as select() left them
  }
  FD_ZERO(&readable);
  FD_ZERO(&writable);
  int maxfd = stop_fd();
  FD_SET(stop_fd(), &readable);  // the self-pipe: a signal wakes us
  if (s.listener && !s.accept_paused) {
    FD_SET(s.listener.get(), &readable);
    maxfd = std::max(maxfd, s.listener.get());
  }
  any_closing = false;
  for (const Connection& c : s.conns) {
    const int fd = c.fd.get();  // < FD_SETSIZE: checked at accept
    if (wants_input(c)) FD_SET(fd, &readable);
    if (wants_output(c)) FD_SET(fd, &writable);
    maxfd = std::max(maxfd, fd);
    any_closing = any_closing || c.closing;
  }
  return maxfd;
}

// Swap-and-pop: O(1), and the order of connections does not matter.
void close_conn(Server& s, std::size_t i) {
  vlog("fd %d: closed", s.conns[i].fd.get());
  if (i + 1 != s.conns.size()) s.conns[i] = std::move(s.conns.back());
  s.conns.pop_back();  // the Fd closes the socket
  s.accept_paused = false;  // a descriptor is free again
}

void accept_clients(Server& s) {
  AcceptOutcome outcome = accept_pending(s.listener.get(), s.conns.size(), s.max_clients, s.options.limits, s.stats,
                                         [&s](Connection& c) {
    // Past max_clients a connection is still taken in, to be told "server full",
    // and descriptors inherited from the parent count too: either can bring a
    // descriptor to FD_SETSIZE, and FD_SET would then write past the end of the
    // bitmap. Declined, it is told "server full" at once.
    // BROKEN (select-fd-setsize) leaves this check out: the first FD_SET past the
    // end corrupts the stack (see docs/16-what-goes-wrong.md for what catches it).
    if (kMistake != Mistake::fd_setsize && c.fd.get() >= FD_SETSIZE) return false;
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

// Serves every connection select() reported. Walking backwards keeps
// swap-and-pop safe: what moves into slot i has already been served.
void serve_connections(Server& s, const fd_set& readable, const fd_set& writable) {
  for (std::size_t i = s.conns.size(); i-- > 0;) {
    const int fd = s.conns[i].fd.get();
    const bool in = FD_ISSET(fd, &readable);  // also set on EOF and on errors: recv() tells which
    if (!in && !FD_ISSET(fd, &writable)) continue;
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
      argc, argv, program_name("select-server"),
      program_summary("An echo server that waits for readiness with select(2)."));
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM write to the self-pipe
  Server s(options);
  s.listener = listen_on_or_die(options, /*nonblocking=*/true);
  if (s.listener.get() >= FD_SETSIZE || stop_fd() >= FD_SETSIZE)  // started with 1000+ descriptors open
    die("descriptor %d is past FD_SETSIZE (%d): select() cannot watch it", std::max(s.listener.get(), stop_fd()),
        FD_SETSIZE);
  s.max_clients = descriptors_available(FD_SETSIZE);
  if (options.max_clients != 0) s.max_clients = std::min(options.max_clients, s.max_clients);
  announce_listening(s.listener.get());

  fd_set readable, writable;  // value-result: "watch these" going in, "these are ready" coming out
  while (running(s)) {
    bool any_closing = false;
    const int maxfd = watch(s, readable, writable, any_closing);
    const int ms = wait_timeout_ms(any_closing, s.accept_paused, s.drain_deadline);
    timeval timeout{ms / 1000, (ms % 1000) * 1000};  // select() may change it: rebuilt every turn too
    // The kernel scans descriptors 0..maxfd of all three sets: O(maxfd), ready or not.
    int n = ::select(maxfd + 1, &readable, &writable, nullptr, ms < 0 ? nullptr : &timeout);
    ++s.stats.wakeups;
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal (SIGTERM): the sets are void, rebuild
      die_errno("select");
    }
    if (FD_ISSET(stop_fd(), &readable)) begin_shutdown(s);
    serve_connections(s, readable, writable);
    if (s.listener && FD_ISSET(s.listener.get(), &readable)) accept_clients(s);
    if (const auto now = Clock::now(); now >= s.next_tick) on_tick(s, now);
  }
  if (options.stats) s.stats.print(stderr);
  return 0;
}

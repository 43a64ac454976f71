// epoll-server - epoll(7): the kernel keeps the watch list and hands back only
// the sockets that are ready.
//
// The model: one thread, one epoll instance. Each socket is registered once
// (EPOLL_CTL_ADD) and stays registered; epoll_wait() returns just the ready
// ones: a wakeup costs O(ready), not O(watched) as with select and poll.
//
// What it teaches: the two ways epoll reports readiness.
//   level-triggered (default)  "this socket is readable" for as long as it is.
//                              Watch only what the connection can act on now,
//                              or the same event comes back on every wait.
//   edge-triggered (--edge)    "this socket has become readable": news, given
//                              once. Read to EAGAIN before waiting again, and
//                              remember the work left over yourself (the last
//                              section of this file).
//
// Its limits: Linux only; an epoll_ctl() per change of interest (level), or
// bookkeeping the kernel no longer does for you (edge); one thread, one core.
//
// Usage:   epoll-server [--port 2000] [--edge] [--repeat R] [--stats] [--verbose] ...
// Course:  docs/12-epoll.md.  Compare with ../poll/server.cpp (before);
//          `diff poll/server.cpp epoll/server.cpp` is the lesson.
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <memory>
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

constexpr int kMaxEvents = 256;  // events taken per epoll_wait(); the rest wait for the next
constexpr std::uint32_t kEdgeEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;  // --edge: for good

// A connection and what epoll watches for it, in the slot of its descriptor.
struct Client {
  Client(Connection c, std::uint32_t e) : conn(std::move(c)), events(e) {}
  Connection conn;
  std::uint32_t events;        // the events epoll watches for it now (level: changes; edge: kEdgeEvents)
  bool input_pending = false;  // edge: input was reported and not yet read to EAGAIN
  bool hangup_seen = false;    // edge: EPOLLRDHUP/HUP/ERR came: read on until EOF or the error
  bool on_ready_list = false;  // edge: has work left over, served before the next wait
};

// Everything the loop keeps between two epoll_wait() calls. The watch list is
// not here: the kernel keeps it, in the epoll instance.
struct Server {
  Server(const ServerOptions& o, bool edge_triggered) : options(o), edge(edge_triggered) {}

  const ServerOptions& options;
  Stats stats;
  Fd listener;                                      // closed once a stop is requested
  std::vector<std::unique_ptr<Client>> clients;     // indexed by fd: event.data.fd finds one, reset() removes it
  std::size_t open = 0;                             // clients in the table
  Fd epoll;                                         // the epoll instance
  bool any_closing = false;                         // a client may linger after our half-close: on_tick looks
  const bool edge;                                  // --edge
  std::vector<int> ready, turn;                     // edge: the ready list, and the copy being served
  std::size_t max_clients = 0;                      // --max-clients, or what RLIMIT_NOFILE allows
  bool accept_paused = false;                       // out of descriptors: listener not watched
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
  Clock::time_point next_tick{};                    // lingering sweep, paused accept retried
};

// --edge: the last section of this file.
void on_edge_event(Server& s, int fd, Client& cl, std::uint32_t events);
void requeue(Server& s, int fd, Client& cl, Served served);
void serve_ready_list(Server& s);

// epoll_ctl() with the descriptor itself as the event's data: epoll_wait()
// hands it back with every event, and clients[fd] is its client.
bool control(const Server& s, int op, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  return ::epoll_ctl(s.epoll.get(), op, fd, &ev) == 0;
}

// The client on descriptor fd, or nullptr (closed, or not a client).
Client* client_at(Server& s, int fd) {
  const auto slot = static_cast<std::size_t>(fd);
  return slot < s.clients.size() ? s.clients[slot].get() : nullptr;
}

// Level-triggered: only what the client can act on now. EPOLLOUT with nothing
// to send, or EPOLLIN while back-pressured, would end every wait at once: a spin.
std::uint32_t level_events(const Connection& c) {
  if constexpr (kMistake == Mistake::always_out) {
    // BROKEN (epoll-always-out): EPOLLOUT watched always, with or without
    // something to send. A socket with room in its send buffer is writable, so
    // every epoll_wait() returns at once: an idle client costs a whole core.
    return (wants_input(c) ? std::uint32_t{EPOLLIN} : 0u) | EPOLLOUT;
  }
  return (wants_input(c) ? std::uint32_t{EPOLLIN} : 0u) | (wants_output(c) ? std::uint32_t{EPOLLOUT} : 0u);
}

// Brings what epoll watches for a client up to date after its turn. Unlike
// select's sets and poll's array, the kernel keeps the list between waits, so
// only a change costs a call: EPOLL_CTL_MOD when the mask differs, as libuv's
// uv__io_start() does (muduo calls EPOLL_CTL_MOD on every update).
bool watch(Server& s, Client& cl) {
  const std::uint32_t want = level_events(cl.conn);
  if (want == cl.events) return true;
  if (!control(s, EPOLL_CTL_MOD, cl.conn.fd.get(), want)) return false;
  cl.events = want;
  return true;
}

// Out of descriptors (EMFILE), the connection stays in the backlog and the
// listener stays readable: watched, it would end every wait at once. So its
// mask is 0 until a connection closes or the next tick.
void set_accepting(Server& s, bool on) {
  if (!s.listener || s.accept_paused == !on) return;  // closed, or already so
  if (!control(s, EPOLL_CTL_MOD, s.listener.get(), on ? std::uint32_t{EPOLLIN} : 0u))
    die_errno("epoll_ctl listener");
  s.accept_paused = !on;
}

// epoll(7), Q&A: close() takes a descriptor out of an epoll set only once no
// duplicate of it (dup, fork, SCM_RIGHTS) remains open. Say what we mean
// instead of relying on that: remove it first, then close it.
void close_conn(Server& s, int fd) {
  vlog("fd %d: closed", fd);
  ::epoll_ctl(s.epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
  s.clients[static_cast<std::size_t>(fd)].reset();  // the Fd closes the socket
  --s.open;
  set_accepting(s, true);  // a descriptor is free again
}

void accept_clients(Server& s) {
  AcceptOutcome outcome = accept_pending(s.listener.get(), s.open, s.max_clients, s.options.limits, s.stats,
                                         [&s](Connection& c) {
    // Level: what it can act on now (refused, "server full", it wants to write, not read).
    const std::uint32_t events = s.edge ? kEdgeEvents : level_events(c);
    // ENOSPC: past /proc/sys/fs/epoll/max_user_watches. Declined, it is told "server full".
    if (!control(s, EPOLL_CTL_ADD, c.fd.get(), events)) return false;
    const auto slot = static_cast<std::size_t>(c.fd.get());
    if (slot >= s.clients.size()) s.clients.resize(slot + 1);
    s.clients[slot] = std::make_unique<Client>(std::move(c), events);
    ++s.open;
    return true;
  });
  if (outcome == AcceptOutcome::out_of_descriptors) {
    vlog("accept: out of descriptors, pausing until a connection closes");
    set_accepting(s, false);  // watching the listener now would wake us at once, for ever
  }
}

// After a client's turn: close it, or bring what epoll watches for it up to date.
void settle(Server& s, int fd, Served served) {
  if (!served.keep) return close_conn(s, fd);
  Client& cl = *client_at(s, fd);
  if constexpr (kMistake == Mistake::close_no_linger) {
    // BROKEN (epoll-close-no-linger): closes as soon as the last reply is handed
    // to the kernel, without waiting for the client's EOF. A socket closed with
    // input unread answers with a reset (RFC 1122, 4.2.2.13), and the reset
    // destroys the replies still on their way or unread at the client. Correct:
    // linger, reading and discarding until the client's EOF (the code below,
    // discard_input() in core/io.cpp).
    if (cl.conn.closing) return close_conn(s, fd);
  }
  s.any_closing = s.any_closing || cl.conn.closing;
  if (s.edge) return requeue(s, fd, cl, served);
  if (!watch(s, cl)) {  // ENOMEM: this client only
    on_error(cl.conn, s.stats, "epoll_ctl");
    close_conn(s, fd);
  }
}

// A stop request (SIGINT/SIGTERM arrived through the self-pipe): accept no more,
// finish what is owed within --drain-ms.
void begin_shutdown(Server& s) {
  char drain[64];
  while (::read(stop_fd(), drain, sizeof drain) > 0) {
  }
  vlog("stop requested: draining %zu connections", s.open);
  ::epoll_ctl(s.epoll.get(), EPOLL_CTL_DEL, s.listener.get(), nullptr);  // before close(), as in close_conn()
  s.listener.reset();
  for (std::size_t fd = 0; fd < s.clients.size(); ++fd)
    if (s.clients[fd]) settle(s, static_cast<int>(fd), begin_stop(s.clients[fd]->conn, s.stats, s.options));
  s.drain_deadline = Clock::now() + s.options.drain;
}

// Whether epoll_wait() reported descriptor fd (the self-pipe, the listener).
bool reported(const epoll_event* events, int n, int fd) {
  return std::any_of(events, events + n, [fd](const epoll_event& e) { return e.data.fd == fd; });
}

// Serves every client epoll_wait() reported, and no other: O(ready).
void serve_connections(Server& s, const epoll_event* events, int n) {
  for (int i = 0; i < n; ++i) {
    const int fd = events[i].data.fd;
    Client* cl = client_at(s, fd);
    if (cl == nullptr) continue;  // the listener, the self-pipe, or closed by an earlier event of this batch
    if (s.edge) {
      on_edge_event(s, fd, *cl, events[i].events);
      continue;
    }
    // EPOLLHUP and EPOLLERR come even unasked. Closing at once could lose the
    // tail end or a reset's error; reading instead lets recv() say which (EOF:
    // answer the tail and send what is owed; an error: close).
    const bool in = (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0;
    settle(s, fd, serve_ready(cl->conn, in, s.stats, s.options));
  }
  if (s.edge) serve_ready_list(s);
}

// Closes clients that never sent their EOF after our half-close. A scan of the
// whole table, so only while some client may linger.
void close_expired_lingers(Server& s, Clock::time_point now) {
  s.any_closing = false;
  for (std::size_t fd = 0; fd < s.clients.size(); ++fd) {
    const Client* cl = s.clients[fd].get();
    if (cl == nullptr || !cl->conn.closing) continue;
    if (!linger_expired(cl->conn, now)) {
      s.any_closing = true;  // still lingering: look again next tick
      continue;
    }
    ++s.stats.linger_timeouts;
    close_conn(s, static_cast<int>(fd));
  }
}

// Once per kTick: close connections whose client never sent its EOF after our
// half-close, and give a paused accept another try.
void on_tick(Server& s, Clock::time_point now) {
  if (s.any_closing) close_expired_lingers(s, now);
  set_accepting(s, true);
  s.next_tick = now + kTick;
}

bool running(const Server& s) {
  return !s.drain_deadline || (s.open != 0 && Clock::now() < *s.drain_deadline);
}

// --- Edge-triggered (--edge) --------------------------------------------------
// A client is registered once, with kEdgeEvents, and its mask never changes: no
// epoll_ctl() per change of interest. In return an event is news, given once,
// and what the level kept saying the server must now remember itself: that
// input is waiting (input_pending), and which clients have work left over (the
// ready list).

// An edge-triggered turn. serve_ready() would do, but it cannot tell us whether
// input was read to EAGAIN, and that is what edge-triggering needs: epoll(7),
// Q&A: "You must consider it ready until the next (nonblocking) read/write
// yields EAGAIN"; on a stream socket a short read says the same, and
// pump_input() reports both as `drained`. Unless the client's FIN came with
// the data: EPOLLRDHUP was that edge, and the EOF behind the short read is owed.
Served serve_edge(Server& s, Client& cl) {
  Connection& c = cl.conn;
  bool more = false;
  if (cl.input_pending && wants_input(c)) {
    const IoStatus in = pump_input(c, s.stats);
    if (in == IoStatus::closed) return {false, false};
    // Read to the bottom: the next input will bring a new edge.
    if ((in == IoStatus::drained && !cl.hangup_seen) || c.peer_eof) cl.input_pending = false;
    if constexpr (kMistake == Mistake::no_drain) {
      // BROKEN (epoll-edge-no-drain): one turn of reading per event, as if the
      // event said "there are bytes" rather than "bytes have come". When the turn
      // stops short of EAGAIN (its budget spent, or --max-pending reached), the
      // rest is old news: no new edge comes for it, and the client waits for
      // replies to bytes that lie unread. Correct: the line above.
      cl.input_pending = false;
    }
    more = in == IoStatus::budget_spent;
  }
  const IoStatus out = pump_output(c, s.stats, s.options.linger);
  if (out == IoStatus::closed) return {false, false};
  return {true, more || out == IoStatus::budget_spent};  // drained output: EPOLLOUT comes when there is room
}

// Remembers what the event said, then serves the client, unless it waits on
// the ready list already. Hang-up and error count as input, as in the level path.
void on_edge_event(Server& s, int fd, Client& cl, std::uint32_t events) {
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) cl.input_pending = true;
  if ((events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) cl.hangup_seen = true;
  if (cl.on_ready_list) return;  // its turn comes with the ready list: one turn per wakeup
  settle(s, fd, serve_edge(s, cl));
}

// After an edge-triggered turn (settle()): no new event comes for work we
// already know of: the budget ran out, or input came while we could not read it
// (back-pressure, maybe released by what was just sent; a lingering close owed
// the EOF). Such a client goes on the ready list.
void requeue(Server& s, int fd, Client& cl, Served served) {
  if (cl.on_ready_list || !(served.more || (cl.input_pending && wants_input(cl.conn)))) return;
  vlog("fd %d: work left over: on the ready list", fd);
  cl.on_ready_list = true;
  s.ready.push_back(fd);
}

// Clients with work left over, each one more budgeted turn, after everyone the
// last epoll_wait() reported. Draining one client to the end instead would
// starve the others: epoll(7), "Possible pitfalls and ways to avoid them",
// Starvation, whose remedy is this ready list. While it is not empty,
// epoll_wait() only looks for news (timeout 0).
void serve_ready_list(Server& s) {
  s.turn.swap(s.ready);
  for (int fd : s.turn) {
    Client* cl = client_at(s, fd);
    if (cl == nullptr || !cl->on_ready_list) continue;  // closed since (and maybe the fd reused)
    cl->on_ready_list = false;
    settle(s, fd, serve_edge(s, *cl));
  }
  s.turn.clear();
}

}  // namespace

int main(int argc, char** argv) {
  bool edge = false;
  const ExtraFlag extra[] = {
      {"--edge", nullptr, "edge-triggered (EPOLLET) instead of level-triggered",
       [&edge](std::string_view) { return edge = true; }},
  };
  const ServerOptions options = parse_server_options(
      argc, argv, program_name("epoll-server"),
      program_summary("The epoll(7) echo server: level-triggered, or edge-triggered with --edge."), extra);
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM write to the self-pipe
  Server s(options, edge);
  s.listener = listen_on_or_die(options, /*nonblocking=*/true);
  s.epoll = Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!s.epoll) die_errno("epoll_create1");
  s.max_clients = options.max_clients != 0 ? options.max_clients : descriptors_available();
  // The self-pipe and the listener are level-triggered in both modes: the pipe
  // is read at the stop, and accept_pending() drains the backlog anyway.
  if (!control(s, EPOLL_CTL_ADD, stop_fd(), EPOLLIN) || !control(s, EPOLL_CTL_ADD, s.listener.get(), EPOLLIN))
    die_errno("epoll_ctl");
  announce_listening(s.listener.get());

  epoll_event events[kMaxEvents];
  while (running(s)) {
    int ms = wait_timeout_ms(s.any_closing, s.accept_paused, s.drain_deadline);
    if (!s.ready.empty()) ms = 0;  // edge, work left over: look for news, never sleep
    // The kernel copies out only the ready entries: O(ready) per call, however many are watched.
    int n = ::epoll_wait(s.epoll.get(), events, kMaxEvents, ms);
    ++s.stats.wakeups;
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal (SIGTERM, the drain timer): nothing happened, wait again
      die_errno("epoll_wait");
    }
    if (reported(events, n, stop_fd())) begin_shutdown(s);
    serve_connections(s, events, n);
    if (s.listener && reported(events, n, s.listener.get())) accept_clients(s);
    if (const auto now = Clock::now(); now >= s.next_tick) on_tick(s, now);
  }
  if (options.stats) s.stats.print(stderr);
  return 0;
}

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
//                              remember the work left over yourself.
//
// Its limits: Linux only; an epoll_ctl() per change of interest (level), or
// bookkeeping the kernel no longer does for you (edge); one thread, one core.
//
// Usage:   epoll-server [--port 2000] [--edge] [--repeat R] [--stats] [--verbose] ...
// Course:  docs/12-epoll.md.  Compare with ../poll/server.cpp.
#include <sys/epoll.h>

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
#include "core/options.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

namespace {

constexpr int kMaxEvents = 256;  // events taken per epoll_wait(); the rest wait for the next

struct Client {
  explicit Client(Connection c) : conn(std::move(c)) {}
  Connection conn;
  std::uint32_t registered = 0;  // the events epoll watches for it now (level: changes; edge: fixed)
  bool input_pending = false;    // edge: input was reported and not yet read to EAGAIN
  bool hangup_seen = false;      // edge: EPOLLRDHUP/HUP/ERR came: read on until EOF or the error
  bool on_ready_list = false;    // edge: has work left over, served before the next wait
};

struct Server {
  ServerOptions options;
  bool edge = false;
  Stats stats;
  Fd epoll, listener;
  std::vector<std::unique_ptr<Client>> clients;  // indexed by fd: event.data.fd finds it, reset() removes it
  std::size_t open = 0;                          // clients in use
  std::vector<int> ready, turn;                  // edge: the ready list, and the copy being served
  bool any_closing = false;                      // some client lingers after our half-close
  bool accept_paused = false;                    // out of descriptors: listener not watched
  Clock::time_point next_tick{};                 // lingering sweep, paused accept retried
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
};

// epoll_ctl() with the descriptor itself as the event's data.
bool watch(Server& s, int op, int fd, std::uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  return ::epoll_ctl(s.epoll.get(), op, fd, &ev) == 0;
}

// The client on descriptor fd, or nullptr (closed, or never one).
Client* client_at(Server& s, int fd) {
  const auto slot = static_cast<std::size_t>(fd);
  return slot < s.clients.size() ? s.clients[slot].get() : nullptr;
}

// Out of descriptors (EMFILE), the connection stays in the backlog and the
// listener stays readable: watched, it would wake us at once, for ever. So it is
// not watched until a client closes (a descriptor is free) or the next tick.
void set_accepting(Server& s, bool on) {
  if (!s.listener || s.accept_paused == !on) return;  // closed, or already so
  if (!watch(s, EPOLL_CTL_MOD, s.listener.get(), on ? std::uint32_t{EPOLLIN} : 0u))  // pending: reported at once
    die_errno("epoll_ctl listener");
  s.accept_paused = !on;
}

void close_conn(Server& s, int fd) {
  // epoll(7), Q&A: close() takes a descriptor out of an epoll set only once no
  // duplicate of it (dup, fork, SCM_RIGHTS) remains open. Say what we mean
  // instead of relying on that: remove it first, then close it.
  ::epoll_ctl(s.epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
  vlog("fd %d: closed", fd);
  s.clients[static_cast<std::size_t>(fd)].reset();  // ~Fd closes the socket
  --s.open;
  set_accepting(s, true);
}

// Level: watch only what the client can act on now. EPOLLOUT with nothing to
// send, or EPOLLIN while back-pressured, would end every wait at once: a spin.
std::uint32_t level_interest(const Connection& c) {
  return (wants_input(c) ? std::uint32_t{EPOLLIN} : 0u) | (wants_output(c) ? std::uint32_t{EPOLLOUT} : 0u);
}

// After a client's turn: close it, or bring epoll's view of it up to date.
void settle(Server& s, int fd, Served served) {
  if (!served.keep) return close_conn(s, fd);
  Client& cl = *client_at(s, fd);
  if (cl.conn.closing) s.any_closing = true;
  if (!s.edge) {
    const std::uint32_t want = level_interest(cl.conn);
    if (want != cl.registered) {  // epoll_ctl() only on a change (Redis merges masks, muduo keeps index_)
      if (!watch(s, EPOLL_CTL_MOD, fd, want)) return close_conn(s, fd);  // ENOMEM: this client only
      cl.registered = want;
    }
    return;  // work left over is reported again: the level still holds
  }
  // Edge: no new event comes for work we already know of: the budget ran out,
  // or input came while we could not read it (back-pressure, maybe released by
  // what was just sent; a lingering close owed the EOF). Serve it again first.
  if (!cl.on_ready_list && (served.more || (cl.input_pending && wants_input(cl.conn)))) {
    vlog("fd %d: work left over: on the ready list", fd);
    cl.on_ready_list = true;
    s.ready.push_back(fd);
  }
}

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
    more = in == IoStatus::budget_spent;
  }
  const IoStatus out = pump_output(c, s.stats, s.options.linger);
  if (out == IoStatus::closed) return {false, false};
  return {true, more || out == IoStatus::budget_spent};  // drained output: EPOLLOUT comes when there is room
}

void on_client_event(Server& s, const epoll_event& ev) {
  const int fd = ev.data.fd;
  if (client_at(s, fd) == nullptr) return;  // closed by an earlier event of this batch (epoll(7) pitfalls)
  Client& cl = *client_at(s, fd);
  // Hang-up and error count as readable: recv() then returns EOF or the error,
  // and every reply owed (or the tail end) is still sent. Never close on HUP alone.
  const bool readable = (ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  if (!s.edge) return settle(s, fd, serve_ready(cl.conn, readable, s.stats, s.options));
  if (readable) cl.input_pending = true;
  if ((ev.events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) cl.hangup_seen = true;
  if (cl.on_ready_list) return;  // its turn comes with the ready list: one turn per wakeup
  settle(s, fd, serve_edge(s, cl));
}

// Edge: clients with work left over, each one more budgeted turn, after
// everyone the last epoll_wait() reported. Draining one client to the end
// instead would starve the others: epoll(7), "Possible pitfalls and ways to
// avoid them", Starvation, whose remedy is this ready list.
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

// Registers a new client with epoll and gives it its slot. False, leaving c, if
// epoll cannot take it (ENOSPC: past max_user_watches): accept_pending() then
// tells it "server full".
bool adopt(Server& s, Connection& c) {
  const int n = c.fd.get();
  // Edge: registered once for everything and never changed; the ready list
  // and input_pending keep what a changing mask would. Level: what it wants now
  // (a refused client, "server full", wants to write, not read).
  const std::uint32_t events = s.edge ? std::uint32_t{EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET} : level_interest(c);
  if (!watch(s, EPOLL_CTL_ADD, n, events)) return false;
  auto cl = std::make_unique<Client>(std::move(c));
  cl->registered = events;
  const auto slot = static_cast<std::size_t>(n);
  if (slot >= s.clients.size()) s.clients.resize(slot + 1);
  s.clients[slot] = std::move(cl);
  ++s.open;
  return true;
}

void accept_clients(Server& s) {
  const AcceptOutcome outcome = accept_pending(s.listener.get(), s.open, s.options.max_clients, s.options.limits,
                                               s.stats, [&s](Connection& c) { return adopt(s, c); });
  if (outcome == AcceptOutcome::out_of_descriptors) {
    vlog("accept: out of descriptors, pausing until a connection closes");
    set_accepting(s, false);
  }
}

// SIGINT/SIGTERM: accept no more, finish what each client is owed, within the drain time.
void begin_shutdown(Server& s) {
  vlog("stop requested: draining %zu connections", s.open);
  ::epoll_ctl(s.epoll.get(), EPOLL_CTL_DEL, stop_fd(), nullptr);  // stays readable: stop watching it
  ::epoll_ctl(s.epoll.get(), EPOLL_CTL_DEL, s.listener.get(), nullptr);
  s.listener.reset();
  s.accept_paused = false;
  s.drain_deadline = Clock::now() + s.options.drain;
  for (std::size_t fd = 0; fd < s.clients.size(); ++fd)
    if (s.clients[fd]) settle(s, static_cast<int>(fd), begin_stop(s.clients[fd]->conn, s.stats, s.options));
}

// Once per kTick: give a paused accept another try, and close clients that
// never sent their EOF after our half-close (a scan of the whole table, so
// only while some client lingers).
void on_tick(Server& s, Clock::time_point now) {
  s.next_tick = now + kTick;
  set_accepting(s, true);
  if (!s.any_closing) return;
  s.any_closing = false;
  for (std::size_t fd = 0; fd < s.clients.size(); ++fd) {
    Client* cl = s.clients[fd].get();
    if (cl == nullptr || !cl->conn.closing) continue;
    if (linger_expired(cl->conn, now)) {
      ++s.stats.linger_timeouts;
      close_conn(s, static_cast<int>(fd));
    } else {
      s.any_closing = true;
    }
  }
}

bool running(const Server& s) {
  return !s.drain_deadline || (s.open != 0 && Clock::now() < *s.drain_deadline);
}

}  // namespace

int main(int argc, char** argv) {
  Server s;
  const ExtraFlag extra[] = {
      {"--edge", nullptr, "edge-triggered (EPOLLET) instead of level-triggered",
       [&s](std::string_view) { return s.edge = true; }},
  };
  s.options = parse_server_options(argc, argv, "epoll-server",
                                   "The epoll(7) echo server: level-triggered, or edge-triggered with --edge.", extra);
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM make stop_fd() readable
  s.listener = listen_on_or_die(s.options, /*nonblocking=*/true);
  s.epoll = Fd(::epoll_create1(EPOLL_CLOEXEC));
  if (!s.epoll) die_errno("epoll_create1");
  if (s.options.max_clients == 0) s.options.max_clients = descriptors_available();
  // The listener and the self-pipe stay level-triggered in both modes:
  // accept_pending() drains the backlog anyway, and the pipe is read by nobody.
  if (!watch(s, EPOLL_CTL_ADD, s.listener.get(), EPOLLIN) || !watch(s, EPOLL_CTL_ADD, stop_fd(), EPOLLIN))
    die_errno("epoll_ctl");
  announce_listening(s.listener.get());

  epoll_event events[kMaxEvents];
  while (running(s)) {
    // With work on the ready list, only look for news (timeout 0), never sleep.
    const int timeout =
        s.ready.empty() ? wait_timeout_ms(s.any_closing, s.accept_paused, s.drain_deadline) : 0;
    const int n = ::epoll_wait(s.epoll.get(), events, kMaxEvents, timeout);
    ++s.stats.wakeups;
    if (n < 0) {
      if (errno == EINTR) continue;  // a signal: if it was a stop, the self-pipe says so next
      die_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == stop_fd()) begin_shutdown(s);
      else if (fd == s.listener.get()) accept_clients(s);
      else on_client_event(s, events[i]);
    }
    serve_ready_list(s);
    if (const auto now = Clock::now(); now >= s.next_tick) on_tick(s, now);
  }
  if (s.options.stats) s.stats.print(stderr);
  return 0;
}

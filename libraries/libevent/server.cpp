// libevent-server - the same echo server on libevent 2.1 bufferevents.
//
// The model: the reference a user would reach for. libevent owns the loop and
// the I/O. An evconnlistener accepts; each connection is a bufferevent, which
// reads the socket into an input evbuffer whenever it is readable, writes its
// output evbuffer out whenever the socket is writable, and calls us back after
// each. We only move bytes between those evbuffers and the same
// core::EchoSession that every other model drives, so the protocol is the
// same, byte for byte (SPEC §1).
//
// What it teaches: what a readiness library hides (the readiness call, EAGAIN,
// partial writes, interest changes) and what it cannot hide. Back-pressure is
// still ours: libevent reads whenever the socket has data, so reading is turned
// off (bufferevent_disable) while the session owes --max-pending bytes, and on
// again once the output drains. And the output evbuffer is given at most
// kOutputHigh bytes at a time, refilled from the write callback (its low
// watermark), so a reply of payload x R is never built whole.
//
// --backend select|poll|epoll picks libevent's backend (default epoll), so that
// it can be compared model for model with ../select, ../poll and ../epoll.
//
// Its limits: every byte is copied once more each way than in ../epoll
// (socket -> evbuffer -> session -> evbuffer -> socket). libevent 2.1 reads at
// most 4 KiB (after a FIONREAD ioctl) and writes at most 16 KiB per readiness
// event, and asks the kernel to watch for writability before every reply
// instead of trying the send first. These are its defaults, kept as a user
// would find them. With --backend select, libevent puts descriptors in fd_sets
// with the checked FD_SET of a _FORTIFY_SOURCE build (Debian's), which aborts
// at FD_SETSIZE: such connections get "error: server full", as in select-server.
//
// Usage:   libevent-server [--backend epoll] [--port 2000] [--repeat R] [--stats] ...
// Course:  docs/15-libraries.md.  Notes: README.md, for what each --stats
//          counter means here.  Compare with ../epoll/server.cpp.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/select.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <list>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/options.hpp"
#include "core/session.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

namespace {

// The output evbuffer is refilled from the session up to kOutputHigh; the write
// callback fires (and refills) once libevent has written it down to kOutputLow.
// Refilling before it runs dry keeps libevent from unwatching and rewatching
// writability between two refills of a long reply.
constexpr std::size_t kOutputHigh = 64 * 1024;
constexpr std::size_t kOutputLow = kOutputHigh / 2;

struct Server;

struct Conn {
  Conn(Server& s, bufferevent* b, const Limits& limits) : server(s), bev(b), session(limits) {}
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Server& server;
  bufferevent* bev;             // owns the socket (BEV_OPT_CLOSE_ON_FREE)
  EchoSession session;
  bool peer_eof = false;        // libevent read 0: BEV_EVENT_EOF
  bool closing = false;         // half-closed by us: throwing input away until EOF or `linger` fires
  event* linger = nullptr;      // the --linger-ms timer, once closing
  std::list<Conn>::iterator self;
};

struct Server {
  explicit Server(const ServerOptions& o) : options(o) {}

  const ServerOptions& options;
  Stats stats;
  event_base* base = nullptr;
  evconnlistener* listener = nullptr;  // freed (the socket closed) once a stop is requested
  event* stop_event = nullptr;         // the core's self-pipe: SIGINT/SIGTERM
  event* accept_retry = nullptr;       // re-enables a listener paused for want of descriptors
  event* drain_timer = nullptr;        // --drain-ms after a stop
  std::list<Conn> conns;               // a list: a Conn never moves, libevent holds pointers to it
  std::size_t max_clients = std::numeric_limits<std::size_t>::max();
  bool select_backend = false;
  bool accept_paused = false;
  bool stopping = false;
  bool done = false;
};

int fd_of(const Conn& c) { return bufferevent_getfd(c.bev); }

timeval to_timeval(std::chrono::milliseconds ms) {
  return {static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
}

// --- counting what libevent does --------------------------------------------
// libevent makes the recv() and send() calls, out of our sight. Each one shows
// up here as bytes added to the input evbuffer (one readv) or drained from the
// output one (one writev). Our own evbuffer_remove() and evbuffer_add() show up
// as the other direction and are not counted.

void count_reads(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  if (info->n_added == 0) return;
  auto& c = *static_cast<Conn*>(arg);
  c.server.stats.count_recv(info->n_added);
  vlog("fd %d: recv %zu", fd_of(c), info->n_added);
}

void count_writes(evbuffer*, const evbuffer_cb_info* info, void* arg) {
  if (info->n_deleted == 0) return;
  auto& c = *static_cast<Conn*>(arg);
  // libevent offers writev() what is queued, up to its single-write maximum.
  const auto most = static_cast<std::size_t>(bufferevent_get_max_single_write(c.bev));
  const std::size_t offered = std::min(info->orig_size, most);
  c.server.stats.count_send(offered, info->n_deleted);
  vlog("fd %d: send %zu of %zu", fd_of(c), info->n_deleted, offered);
}

Conn::~Conn() {
  // The evbuffers outlive this Conn until libevent finalizes the bufferevent.
  evbuffer_remove_cb(bufferevent_get_input(bev), count_reads, this);
  evbuffer_remove_cb(bufferevent_get_output(bev), count_writes, this);
  bufferevent_free(bev);  // closes the socket
  if (linger != nullptr) event_free(linger);
}

// --- one connection ---------------------------------------------------------

void resume_accepting(Server& s) {
  s.accept_paused = false;
  evtimer_del(s.accept_retry);
  if (s.listener != nullptr) evconnlistener_enable(s.listener);
}

void close_conn(Conn& c) {
  Server& s = c.server;
  vlog("fd %d: closed", fd_of(c));
  s.conns.erase(c.self);  // ~Conn: bufferevent_free, legal inside its own callbacks
  if (s.accept_paused) resume_accepting(s);  // a descriptor is free again
  if (s.stopping && s.conns.empty()) s.done = true;
}

void on_linger_timeout(evutil_socket_t, short, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  ++c.server.stats.linger_timeouts;
  vlog("fd %d: no EOF from the client within --linger-ms", fd_of(c));
  close_conn(c);
}

// Everything owed has left the output evbuffer (libevent wrote it), so our FIN
// goes after the last reply. Then, as in core/io.cpp, read and throw away until
// the client's EOF or --linger-ms, so that unread input does not turn our close
// into a reset that destroys replies the client has not read yet.
void start_closing(Conn& c) {
  ::shutdown(fd_of(c), SHUT_WR);
  if (c.peer_eof) return close_conn(c);  // both sides done: nothing can be lost now
  vlog("fd %d: half-closed, lingering for the client's EOF", fd_of(c));
  c.closing = true;
  evbuffer* in = bufferevent_get_input(c.bev);
  evbuffer_drain(in, evbuffer_get_length(in));
  c.linger = evtimer_new(c.server.base, on_linger_timeout, &c);
  const timeval linger = to_timeval(c.server.options.linger);
  evtimer_add(c.linger, &linger);
  bufferevent_enable(c.bev, EV_READ);
}

// Moves what libevent has read into the session, as far as the session takes
// it: evbuffer_remove() is this server's recv().
void feed_session(Conn& c, evbuffer* in) {
  while (evbuffer_get_length(in) > 0 && c.session.wants_read()) {
    const auto window = c.session.recv_window();
    const int n = evbuffer_remove(in, window.data(), window.size());
    if (n <= 0) break;
    c.session.on_received(static_cast<std::size_t>(n));
  }
  if (c.session.input_closed()) {
    evbuffer_drain(in, evbuffer_get_length(in));  // line too long, or a stop: read nothing more
  } else if (c.peer_eof && evbuffer_get_length(in) == 0) {
    c.session.on_peer_eof();  // the tail end: a last fragment is still a line
  }
}

// Gives the output evbuffer what the session owes, up to kOutputHigh: the reply
// is generated as the socket drains, never whole. False if libevent is out of memory.
bool fill_output(Conn& c) {
  evbuffer* out = bufferevent_get_output(c.bev);
  for (std::size_t queued = evbuffer_get_length(out); queued < kOutputHigh;) {
    const auto window = c.session.send_window();
    if (window.empty()) break;
    const std::size_t n = std::min(window.size(), kOutputHigh - queued);
    if (evbuffer_add(out, window.data(), n) != 0) return false;
    c.session.on_sent(n);
    queued += n;
  }
  return true;
}

// After every callback: move bytes both ways, close once all is sent, and decide
// whether libevent may read. That last part is the back-pressure: while the
// session owes --max-pending bytes (or reads no more), the bytes stay in the
// kernel and TCP pushes back on the client.
void pump(Conn& c) {
  evbuffer* in = bufferevent_get_input(c.bev);
  do {
    feed_session(c, in);
    if (!fill_output(c)) {
      ++c.server.stats.resets;
      vlog("fd %d: evbuffer_add: out of memory", fd_of(c));
      return close_conn(c);
    }
  } while (evbuffer_get_length(in) > 0 && c.session.wants_read());  // the refill made room
  if (c.session.finished() && evbuffer_get_length(bufferevent_get_output(c.bev)) == 0) return start_closing(c);
  const bool read = !c.peer_eof && c.session.wants_read();
  if (read != ((bufferevent_get_enabled(c.bev) & EV_READ) != 0)) {
    if (read) bufferevent_enable(c.bev, EV_READ);
    else bufferevent_disable(c.bev, EV_READ);
  }
}

void on_readable(bufferevent* bev, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  if (c.closing) {  // after our half-close: whatever still comes is thrown away
    evbuffer* in = bufferevent_get_input(bev);
    evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  pump(c);
}

// The output evbuffer is down to kOutputLow: refill it, or close once all is out.
void on_writable(bufferevent*, void* arg) { pump(*static_cast<Conn*>(arg)); }

void on_event(bufferevent*, short what, void* arg) {
  auto& c = *static_cast<Conn*>(arg);
  if ((what & BEV_EVENT_EOF) != 0) {  // libevent stops reading by itself
    c.server.stats.count_recv(0);
    vlog("fd %d: recv 0 (EOF)", fd_of(c));
    c.peer_eof = true;
    if (c.closing) return close_conn(c);  // the client's EOF after ours: a clean close
    return pump(c);                       // answer the tail end, send what is owed, then close
  }
  // BEV_EVENT_ERROR: ECONNRESET, EPIPE, ... end this client only.
  ++c.server.stats.resets;
  vlog("fd %d: %s: %s", fd_of(c), (what & BEV_EVENT_READING) != 0 ? "recv" : "send",
       errno_name(EVUTIL_SOCKET_ERROR()));
  close_conn(c);
}

// --- accepting and stopping --------------------------------------------------

// Makes the connection a bufferevent and starts serving it (past --max-clients,
// refused: core's admit()); false, leaving `fd` open, if libevent cannot.
bool adopt(Server& s, Fd& fd) {
  bufferevent* bev = bufferevent_socket_new(s.base, fd.get(), BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) return false;
  fd.release();  // the bufferevent owns it now
  const std::size_t before = s.conns.size();
  Conn& c = s.conns.emplace_back(s, bev, s.options.limits);
  c.self = std::prev(s.conns.end());
  evbuffer_add_cb(bufferevent_get_input(bev), count_reads, &c);
  evbuffer_add_cb(bufferevent_get_output(bev), count_writes, &c);
  bufferevent_setcb(bev, on_readable, on_writable, on_event, &c);
  bufferevent_setwatermark(bev, EV_WRITE, kOutputLow, 0);
  const bool refused = admit(c.session, fd_of(c), before, s.max_clients);
  count_admitted(refused, fd_of(c), before, s.stats);
  bufferevent_enable(bev, EV_READ);  // writing is on from the start: libevent writes while output is queued
  if (refused) pump(c);  // "server full" goes out now: nothing else would start it
  return true;
}

// evconnlistener has accept4()ed a nonblocking, close-on-exec socket. It is
// counted as core's accept_pending() counts: once, when its fate is known.
void on_accept(evconnlistener*, evutil_socket_t fd, sockaddr*, int, void* arg) {
  auto& s = *static_cast<Server*>(arg);
  Fd client(fd);
  ++s.stats.connections;
  // Small replies should leave at once, not wait for Nagle (as core::accept_client does).
  int on = 1;
  ::setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  // libevent's select backend would abort on a descriptor past FD_SETSIZE, and
  // bufferevent_socket_new() can fail: either way, "server full" at once.
  if ((s.select_backend && fd >= FD_SETSIZE) || !adopt(s, client)) {
    ++s.stats.rejected;
    reject_client(std::move(client), s.stats);
  }
}

// accept() failed with something other than EAGAIN, EINTR or ECONNABORTED
// (libevent retries those): EMFILE and friends. The connection stays queued, so
// the listener would be reported readable again at once, for ever. Pause it
// until a connection closes, or kTick passes.
void on_accept_error(evconnlistener* listener, void* arg) {
  auto& s = *static_cast<Server*>(arg);
  vlog("accept: %s: pausing", errno_name(EVUTIL_SOCKET_ERROR()));
  ++s.stats.accept_paused;
  s.accept_paused = true;
  evconnlistener_disable(listener);
  const timeval tick = to_timeval(kTick);
  evtimer_add(s.accept_retry, &tick);
}

void on_accept_retry(evutil_socket_t, short, void* arg) { resume_accepting(*static_cast<Server*>(arg)); }

void on_drain_timeout(evutil_socket_t, short, void* arg) {
  auto& s = *static_cast<Server*>(arg);
  vlog("drain time over: closing %zu connections", s.conns.size());
  s.done = true;
}

// SIGINT/SIGTERM (through the core's self-pipe): accept no more, finish what is
// owed within --drain-ms.
void on_stop(evutil_socket_t, short, void* arg) {
  auto& s = *static_cast<Server*>(arg);
  vlog("stop requested: draining %zu connections", s.conns.size());
  s.stopping = true;
  evconnlistener_free(s.listener);  // closes the listening socket: new clients are refused
  s.listener = nullptr;
  evtimer_del(s.accept_retry);
  const timeval drain = to_timeval(s.options.drain);
  evtimer_add(s.drain_timer, &drain);
  for (auto it = s.conns.begin(); it != s.conns.end();) {
    Conn& c = *it++;  // pump() may close c, never another connection
    if (c.closing) continue;
    c.session.stop_input();
    pump(c);
  }
  if (s.conns.empty()) s.done = true;
}

// --- setup --------------------------------------------------------------------

// A base with exactly the asked backend: libevent would otherwise take the best
// it has, and the environment (EVENT_NOEPOLL, ...) could change that silently.
event_base* new_base_or_die(const std::string& backend) {
  event_config* config = event_config_new();
  if (config == nullptr) die_errno("event_config_new");
  for (const char* method : {"select", "poll", "epoll"})
    if (backend != method) event_config_avoid_method(config, method);
  event_config_set_flag(config, EVENT_BASE_FLAG_IGNORE_ENV);
  event_base* base = event_base_new_with_config(config);
  event_config_free(config);
  if (base == nullptr || backend != event_base_get_method(base)) die("libevent has no %s backend here", backend.c_str());
  vlog("libevent %s, backend %s", event_get_version(), event_base_get_method(base));
  return base;
}

void start_listening(Server& s) {
  Fd fd = listen_on_or_die(s.options, /*nonblocking=*/true);
  announce_listening(fd.get());
  // Backlog 0: the socket is listening already (listen_on_or_die).
  s.listener = evconnlistener_new(s.base, on_accept, &s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd.get());
  if (s.listener == nullptr) die_errno("evconnlistener_new");
  fd.release();  // the listener owns it now
  evconnlistener_set_error_cb(s.listener, on_accept_error);
}

}  // namespace

int main(int argc, char** argv) {
  std::string backend = "epoll";
  const ExtraFlag extra[] = {
      {"--backend", "B", "libevent backend: select | poll | epoll (default epoll)",
       [&backend](std::string_view v) {
         backend = std::string(v);
         return v == "select" || v == "poll" || v == "epoll";
       }},
  };
  const ServerOptions options = parse_server_options(
      argc, argv, "libevent-server", "The echo server on libevent bufferevents (the reference).", extra);
  install_signal_handlers();  // SIGPIPE ignored (libevent writes with writev, no MSG_NOSIGNAL)
  Server s(options);
  s.base = new_base_or_die(backend);
  s.select_backend = backend == "select";
  if (options.max_clients != 0) s.max_clients = options.max_clients;
  s.stop_event = event_new(s.base, stop_fd(), EV_READ, on_stop, &s);
  s.accept_retry = evtimer_new(s.base, on_accept_retry, &s);
  s.drain_timer = evtimer_new(s.base, on_drain_timeout, &s);
  if (s.stop_event == nullptr || s.accept_retry == nullptr || s.drain_timer == nullptr) die_errno("event_new");
  event_add(s.stop_event, nullptr);
  start_listening(s);

  // EVLOOP_ONCE: wait for readiness once, run every callback it made due, return.
  // Looping here instead of in event_base_dispatch() lets us count the turns.
  while (!s.done) {
    const int rc = event_base_loop(s.base, EVLOOP_ONCE);
    if (rc < 0) die_errno("event_base_loop");
    if (rc > 0) break;  // nothing left to wait for
    ++s.stats.wakeups;
  }

  s.conns.clear();  // past the drain time: whoever is left is cut off
  if (s.listener != nullptr) evconnlistener_free(s.listener);
  event_free(s.stop_event);
  event_free(s.accept_retry);
  event_free(s.drain_timer);
  event_base_free(s.base);
  if (options.stats) s.stats.print(stderr);
  return 0;
}

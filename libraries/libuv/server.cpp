// libuv-server - the same echo server on libuv, the event loop under Node.js.
//
// The model: libuv owns the loop (epoll underneath, level-triggered) and every
// socket. uv_listen() calls back for each new connection; each connection is a
// uv_tcp_t. Reading is a mode: between uv_read_start() and uv_read_stop() libuv
// reads whenever the socket is readable, first asking us for a buffer (the
// alloc callback), then handing over what landed in it (the read callback).
// Writing is a request: uv_write() takes bytes that libuv writes as the socket
// drains, and calls back once all are out. We only move bytes between those
// callbacks and the same core::EchoSession that every other model drives, so
// the protocol is the same, byte for byte (SPEC §1).
//
// What it teaches: what a library with buffers in its interface does with
// yours. The alloc callback hands libuv the session's own read window, so
// libuv reads straight into it (no copy, unlike libevent's evbuffers), and an
// idle connection holds no buffer: one is taken per read and given back once
// its bytes are sent. Back-pressure is still ours: uv_read_stop() while the
// session owes --max-pending bytes, and also while a uv_write() request is in
// flight, because that request points into the session's buffer, which the
// next read could move.
//
// Its limits: libuv decides what it does not say. A uv_write() request whose
// bytes left at once still finishes on the next loop turn, and that turn takes
// writability watching off with an epoll_ctl() whether or not it was on: one
// epoll_ctl per reply. So replies go out with uv_try_write() (one write(), no
// request), and only what the socket does not take becomes a request. Out of
// descriptors (EMFILE), libuv accepts and closes every waiting connection by
// itself (a spare descriptor it keeps for that): its clients see a close, not
// "server full". Every handle closes asynchronously: uv_close() returns at
// once, and the memory may go only in its close callback.
//
// Usage:   libuv-server [--port 2000] [--repeat R] [--stats] [--verbose] ...
// Course:  docs/15-libraries.md.  Notes: README.md, for what each --stats
//          counter means here.  Compare with ../libevent/server.cpp and ../asio/server.cpp.
#include <uv.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <span>

#include "core/fd.hpp"
#include "core/io.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/options.hpp"
#include "core/session.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

namespace {

struct Server;

struct Conn {
  Conn(Server& s, const Limits& limits) : server(s), session(limits) {}

  Server& server;
  uv_tcp_t tcp;                  // tcp.data points back here
  EchoSession session;
  uv_timer_t* linger = nullptr;  // the --linger-ms timer, once closing (allocated then: idle connections hold none)
  bool reading = false;          // between uv_read_start() and uv_read_stop()
  bool writing = false;          // a uv_write() request is in flight, from the session's send window
  bool peer_eof = false;         // libuv read UV_EOF
  bool closing = false;          // half-closing: whatever is read from now on is thrown away
};

// A uv_write() request and the size of the window it carries (libuv's callback
// reports only success or an error).
struct WriteRequest {
  uv_write_t req;
  std::size_t size;
};

struct Server {
  explicit Server(const ServerOptions& o) : options(o) {}

  const ServerOptions& options;
  Stats stats;
  uv_loop_t loop;
  uv_tcp_t listener;                  // closed once a stop is requested
  uv_poll_t stop_watch;               // the core's self-pipe: SIGINT/SIGTERM
  uv_timer_t drain_timer;             // --drain-ms after a stop
  std::size_t open = 0;               // connections not yet closed, refused ones included
  std::size_t max_clients = 0;
  std::array<char, 16 * 1024> discard;  // where lingering connections read what they throw away
  bool stopping = false;
  bool done = false;
};

// libuv's handles are C structs that share their first members: a uv_tcp_t is
// a uv_stream_t is a uv_handle_t, and the casts say so.
template <typename Handle>
uv_handle_t* handle(Handle* h) {
  return reinterpret_cast<uv_handle_t*>(h);
}
uv_stream_t* stream(Conn& c) { return reinterpret_cast<uv_stream_t*>(&c.tcp); }
Conn& conn_of(const void* h) { return *static_cast<Conn*>(static_cast<const uv_handle_t*>(h)->data); }

int fd_of(const Conn& c) {
  uv_os_fd_t fd = -1;
  uv_fileno(reinterpret_cast<const uv_handle_t*>(&c.tcp), &fd);
  return fd;
}

uv_buf_t to_buf(std::span<const std::byte> window) {
  // libuv's buffers are not const: uv_write() and uv_try_write() only read them.
  return uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(window.data())),
                     static_cast<unsigned>(window.size()));
}

void pump(Conn& c);

// --- closing ------------------------------------------------------------------

void on_closed(uv_handle_t* h) {
  Conn* c = &conn_of(h);
  Server& s = c->server;
  delete c;
  --s.open;
  if (s.stopping && s.open == 0) s.done = true;
}

void close_conn(Conn& c) {
  vlog("fd %d: closed", fd_of(c));
  if (c.linger != nullptr) uv_close(handle(c.linger), [](uv_handle_t* t) { delete reinterpret_cast<uv_timer_t*>(t); });
  uv_close(handle(&c.tcp), on_closed);  // cancels what is in flight (callbacks see UV_ECANCELED), then on_closed
}

// A reset or other hard error ends this connection only; the server goes on.
void connection_error(Conn& c, const char* call, int err) {
  ++c.server.stats.resets;
  vlog("fd %d: %s: %s", fd_of(c), call, uv_err_name(err));
  close_conn(c);
}

void on_linger_timeout(uv_timer_t* timer) {
  Conn& c = *static_cast<Conn*>(timer->data);
  ++c.server.stats.linger_timeouts;
  vlog("fd %d: no EOF from the client within --linger-ms", fd_of(c));
  close_conn(c);
}

void set_reading(Conn& c, bool on);

// libuv has shut our side (SHUT_WR) after the last byte written. As in
// core/io.cpp, read and throw away until the client's EOF or --linger-ms, so
// that unread input does not turn our close into a reset that destroys replies
// the client has not read yet.
void on_shutdown(uv_shutdown_t* req, int status) {
  const std::unique_ptr<uv_shutdown_t> done(req);
  if (status == UV_ECANCELED) return;  // closed meanwhile
  Conn& c = *static_cast<Conn*>(req->data);
  if (status < 0) return connection_error(c, "shutdown", status);
  if (c.peer_eof) return close_conn(c);  // both sides done: nothing can be lost now
  vlog("fd %d: half-closed, lingering for the client's EOF", fd_of(c));
  c.linger = new uv_timer_t;
  c.linger->data = &c;
  uv_timer_init(&c.server.loop, c.linger);
  uv_timer_start(c.linger, on_linger_timeout, static_cast<std::uint64_t>(c.server.options.linger.count()), 0);
  set_reading(c, true);
}

// Everything owed is out and nothing is in flight: uv_shutdown() half-closes
// once libuv's write queue is empty (it is).
void start_closing(Conn& c) {
  c.closing = true;
  set_reading(c, false);
  auto* req = new uv_shutdown_t;
  req->data = &c;
  if (const int rc = uv_shutdown(req, stream(c), on_shutdown); rc < 0) {
    delete req;
    connection_error(c, "shutdown", rc);
  }
}

// --- reading ------------------------------------------------------------------

// libuv asks for a buffer before each read() (suggesting 64 KiB). It gets the
// session's read window, whose size adapts to the traffic (16 to 256 KiB):
// libuv reads straight into the session, and the buffer is the session's to
// give back once drained. An empty window cannot come: reading stops first.
void on_alloc(uv_handle_t* h, std::size_t /*suggested_size*/, uv_buf_t* buf) {
  Conn& c = conn_of(h);
  if (c.closing) {
    *buf = uv_buf_init(c.server.discard.data(), static_cast<unsigned>(c.server.discard.size()));
    return;
  }
  const auto window = c.session.recv_window();
  *buf = uv_buf_init(reinterpret_cast<char*>(window.data()), static_cast<unsigned>(window.size()));
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) {
  Conn& c = conn_of(s);
  Stats& stats = c.server.stats;
  if (nread > 0) {
    const auto n = static_cast<std::size_t>(nread);
    stats.count_recv(n);
    if (c.closing) return;  // after our half-close: thrown away
    vlog("fd %d: recv %zu", fd_of(c), n);
    c.session.on_received(n);
  } else if (nread == 0) {  // read() found nothing (EAGAIN): the window's buffer goes back
    ++stats.eagain;
    if (!c.closing) c.session.on_nothing_received();
    return;
  } else if (nread == UV_EOF) {  // libuv stops reading by itself
    stats.count_recv(0);
    vlog("fd %d: recv 0 (EOF)", fd_of(c));
    c.reading = false;
    if (c.closing) return close_conn(c);  // the client's EOF after ours: a clean close
    c.peer_eof = true;
    c.session.on_peer_eof();  // the tail end: a last fragment is still a line
  } else {
    return connection_error(c, "recv", static_cast<int>(nread));  // ECONNRESET, ...
  }
  pump(c);
}

// Reading is on while the session takes input and nothing is in flight. Off, the
// bytes stay in the kernel and TCP pushes back on the client.
void set_reading(Conn& c, bool on) {
  if (on == c.reading) return;
  c.reading = on;
  if (on) uv_read_start(stream(c), on_alloc, on_read);
  else uv_read_stop(stream(c));
}

// --- writing ------------------------------------------------------------------

void on_written(uv_write_t* req, int status) {
  const std::unique_ptr<WriteRequest> done(reinterpret_cast<WriteRequest*>(req));
  if (status == UV_ECANCELED) return;  // closed meanwhile
  Conn& c = *static_cast<Conn*>(req->data);
  c.writing = false;
  if (status < 0) return connection_error(c, "send", status);  // EPIPE, ECONNRESET: this client only
  // One request, however many write() calls libuv needed for it (it does not say).
  c.server.stats.count_send(done->size, done->size);
  vlog("fd %d: send %zu (uv_write)", fd_of(c), done->size);
  c.session.on_sent(done->size);
  pump(c);
}

// Hands the window to libuv, which writes it as the socket drains. Reading
// waits for it (pump): the request points into the session's buffer. False if
// the connection had to be closed.
bool queue_write(Conn& c, std::span<const std::byte> window) {
  auto* w = new WriteRequest{{}, window.size()};
  w->req.data = &c;
  const uv_buf_t buf = to_buf(window);  // uv_write() copies the uv_buf_t, not the bytes
  if (const int rc = uv_write(&w->req, stream(c), &buf, 1, on_written); rc < 0) {
    delete w;
    connection_error(c, "send", rc);
    return false;
  }
  c.writing = true;
  return true;
}

// uv_try_write() first: one write() at once, as epoll-server's send(), and no
// request for libuv to finish on a later turn. What the socket does not take
// now, or what is left past kTurnBudget (so that one huge reply cannot starve
// the other connections), goes into a uv_write() request. False if closed.
bool send_owed(Conn& c) {
  Stats& stats = c.server.stats;
  for (std::size_t total = 0;;) {
    const auto window = c.session.send_window();
    if (window.empty()) return true;
    if (total >= kTurnBudget) return queue_write(c, window);
    const uv_buf_t buf = to_buf(window);
    const int k = uv_try_write(stream(c), &buf, 1);
    if (k == UV_EAGAIN) {  // the socket buffer is full
      ++stats.eagain;
      return queue_write(c, window);
    }
    if (k < 0) {
      connection_error(c, "send", k);  // EPIPE, ECONNRESET: this client only
      return false;
    }
    const auto sent = static_cast<std::size_t>(k);
    stats.count_send(window.size(), sent);
    vlog("fd %d: send %zu of %zu", fd_of(c), sent, window.size());
    c.session.on_sent(sent);
    total += sent;
    if (sent < window.size()) return queue_write(c, c.session.send_window());  // the rest of it
  }
}

// After every callback: send what is owed, close once all is out, and decide
// whether libuv may read.
void pump(Conn& c) {
  if (!c.writing && !send_owed(c)) return;
  if (c.writing) return set_reading(c, false);
  if (c.session.finished()) return start_closing(c);
  set_reading(c, !c.peer_eof && c.session.wants_read());
}

// --- accepting and stopping -----------------------------------------------------

// libuv has accept4()ed a connection. Past --max-clients the session answers
// only "error: server full" and the connection closes like any other.
void on_connection(uv_stream_t* listener, int status) {
  Server& s = *static_cast<Server*>(listener->data);
  if (status < 0) {  // only if libuv's spare descriptor is gone too (README.md)
    vlog("accept: %s", uv_err_name(status));
    return;
  }
  auto* c = new Conn(s, s.options.limits);
  uv_tcp_init(&s.loop, &c->tcp);
  c->tcp.data = c;
  ++s.open;
  if (const int rc = uv_accept(listener, stream(*c)); rc < 0) {
    vlog("uv_accept: %s", uv_err_name(rc));
    return uv_close(handle(&c->tcp), on_closed);
  }
  ++s.stats.connections;
  uv_tcp_nodelay(&c->tcp, 1);  // small replies leave at once, not after Nagle's wait (as every server)
  const std::size_t before = s.open - 1;  // s.open counts this one already (on_closed uncounts it)
  count_admitted(admit(c->session, fd_of(*c), before, s.max_clients), fd_of(*c), before, s.stats);
  pump(*c);  // starts reading, or sends "server full"
}

// A client connection among libuv's handles (the listener's data is the Server).
Conn* client_of(uv_handle_t* h) {
  if (h->type != UV_TCP || uv_is_closing(h)) return nullptr;
  auto* s = static_cast<Server*>(h->loop->data);
  return h == handle(&s->listener) ? nullptr : &conn_of(h);
}

void on_drain_timeout(uv_timer_t* timer) {
  auto& s = *static_cast<Server*>(timer->data);
  vlog("drain time over: closing %zu connections", s.open);
  s.done = true;
}

// SIGINT/SIGTERM (through the core's self-pipe): accept no more, finish what is
// owed within --drain-ms. uv_walk() visits every handle of the loop.
void begin_shutdown(uv_poll_t* watch, int, int) {
  auto& s = *static_cast<Server*>(watch->data);
  vlog("stop requested: draining %zu connections", s.open);
  s.stopping = true;
  uv_poll_stop(watch);                      // the pipe stays readable: stop watching it
  uv_close(handle(&s.listener), nullptr);  // closes the listening socket: new clients are refused
  uv_timer_start(&s.drain_timer, on_drain_timeout, static_cast<std::uint64_t>(s.options.drain.count()), 0);
  uv_walk(
      &s.loop,
      [](uv_handle_t* h, void*) {
        Conn* c = client_of(h);
        if (c == nullptr || c->closing) return;
        c->session.stop_input();  // safe with a write in flight: the window stays valid
        pump(*c);
      },
      nullptr);
  if (s.open == 0) s.done = true;
}

// --- setup ------------------------------------------------------------------------

void start_listening(Server& s) {
  Fd fd = listen_on_or_die(s.options, /*nonblocking=*/true);
  uv_tcp_init(&s.loop, &s.listener);
  s.listener.data = &s;
  if (const int rc = uv_tcp_open(&s.listener, fd.get()); rc < 0) die("uv_tcp_open: %s", uv_strerror(rc));
  const int listen_fd = fd.release();  // the handle owns it now
  // listen(2) again, with the same backlog: libuv's way of starting to accept.
  if (const int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s.listener), s.options.backlog, on_connection); rc < 0)
    die("uv_listen: %s", uv_strerror(rc));
  announce_listening(listen_fd);
}

// Past the drain time, or once all is done: close every handle still open, let
// libuv run their close callbacks, and free the loop.
void close_everything(Server& s) {
  uv_walk(
      &s.loop,
      [](uv_handle_t* h, void*) {
        if (Conn* c = client_of(h)) close_conn(*c);  // whoever is left is cut off
      },
      nullptr);
  for (uv_handle_t* h : {handle(&s.listener), handle(&s.stop_watch), handle(&s.drain_timer)})
    if (!uv_is_closing(h)) uv_close(h, nullptr);
  uv_run(&s.loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&s.loop) != 0) vlog("uv_loop_close: handles still open");
}

}  // namespace

int main(int argc, char** argv) {
  const ServerOptions options =
      parse_server_options(argc, argv, "libuv-server", "The echo server on libuv (uv_read_start / uv_write).");
  install_signal_handlers();  // SIGPIPE ignored (libuv writes with write(), no MSG_NOSIGNAL)
  Server s(options);
  if (const int rc = uv_loop_init(&s.loop); rc < 0) die("uv_loop_init: %s", uv_strerror(rc));
  s.loop.data = &s;
  vlog("libuv %s", uv_version_string());
  start_listening(s);
  // One descriptor kept spare for "server full", counting libuv's own (its
  // epoll instance, and the spare it keeps for EMFILE).
  s.max_clients = options.max_clients != 0 ? options.max_clients : descriptors_available();
  uv_poll_init(&s.loop, &s.stop_watch, stop_fd());
  s.stop_watch.data = &s;
  uv_poll_start(&s.stop_watch, UV_READABLE, begin_shutdown);
  uv_timer_init(&s.loop, &s.drain_timer);
  s.drain_timer.data = &s;

  // UV_RUN_ONCE: wait for I/O once, run every callback it made due, return.
  // Looping here instead of in uv_run(UV_RUN_DEFAULT) lets us count the turns.
  while (!s.done && uv_run(&s.loop, UV_RUN_ONCE) != 0) ++s.stats.wakeups;

  close_everything(s);
  if (options.stats) s.stats.print(stderr);
  return 0;
}

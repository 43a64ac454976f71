// asio-server - the same echo server on Boost.Asio, one io_context.
//
// The model: asynchronous operations. Each connection starts one operation at a
// time, async_read_some() into a buffer or async_write() of one, and Asio calls
// its handler once the operation is complete (epoll underneath, edge-triggered,
// each socket registered once). A connection is a chain of such operations:
// read, write the reply, read again. We only move bytes between those handlers
// and the same core::EchoSession that every other model drives, so the
// protocol is the same, byte for byte (SPEC §1).
//
// What it teaches: the proactor's contract. An operation owns its buffer until
// its handler runs, and the connection must outlive every operation in flight
// (a shared_ptr in each handler, as in Asio's own echo example). Back-pressure
// comes for free from the chain: no read is in flight while a reply is owed,
// so the bytes stay in the kernel and TCP pushes back on the client.
//
// Its limits: a read is given its buffer when it starts, so a connection
// waiting for its next message holds one: an idle connection costs a read
// window (about 4 KiB of it resident) where the other servers hold none. And
// Asio tries every operation the moment it starts (a "speculative" recv() or
// send()): the read started right after a reply usually finds nothing yet, a
// failed recv() on many messages. README.md measures both, and the way around
// them (async_wait first) with what it costs instead. Asio hides the EAGAINs
// and its own epoll_wait() calls.
//
// Usage:   asio-server [--port 2000] [--repeat R] [--stats] [--verbose] ...
// Course:  docs/15-libraries.md.  Notes: README.md, for what each --stats
//          counter means here.  Compare with ../libevent/server.cpp and ../libuv/server.cpp.
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/version.hpp>
#include <boost/asio/write.hpp>
#include <boost/version.hpp>
#include <cstdio>
#include <limits>
#include <list>
#include <memory>

#include "core/fd.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/options.hpp"
#include "core/session.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

struct Server;

// One connection. The server's list holds one shared_ptr to it and every
// operation in flight another, in its handler: a Conn lives until the last of
// them completes, even once closed (closing the socket completes them, with
// operation_aborted).
struct Conn : std::enable_shared_from_this<Conn> {
  Conn(Server& s, tcp::socket sock, const Limits& limits) : server(s), socket(std::move(sock)), session(limits) {}

  Server& server;
  tcp::socket socket;
  EchoSession session;
  std::unique_ptr<asio::steady_timer> linger;  // the --linger-ms timer, once closing (idle connections hold none)
  std::list<std::shared_ptr<Conn>>::iterator self;
  bool reading = false;   // an async_read_some() is in flight, into the session's read window
  bool writing = false;   // an async_write() is in flight, from the session's send window
  bool peer_eof = false;  // a read ended with asio::error::eof
  bool closing = false;   // half-closed by us: reading to EOF and throwing it away
};

struct Server {
  explicit Server(const ServerOptions& o) : options(o) {}

  const ServerOptions& options;
  Stats stats;
  asio::io_context io{1};                         // first member, so destroyed last; 1: one thread runs it
  tcp::acceptor listener{io};                      // closed once a stop is requested
  asio::posix::stream_descriptor stop_watch{io};   // the core's self-pipe: SIGINT/SIGTERM
  asio::steady_timer accept_retry{io};             // resumes accepting paused for want of descriptors
  asio::steady_timer drain_timer{io};              // --drain-ms after a stop
  std::list<std::shared_ptr<Conn>> conns;          // open connections, refused ones included
  std::size_t max_clients = 0;
  std::array<char, 16 * 1024> discard;  // where lingering connections read what they throw away
  bool accept_paused = false;
  bool stopping = false;
  bool done = false;
};

int fd_of(Conn& c) { return c.socket.native_handle(); }

void pump(Conn& c);
void accept_clients(Server& s);

// --- closing ------------------------------------------------------------------

void resume_accepting(Server& s) {
  s.accept_paused = false;
  s.accept_retry.cancel();
  accept_clients(s);
}

// Closing the socket completes whatever is in flight with operation_aborted;
// those handlers find the socket closed and do nothing more.
void close_conn(Conn& c) {
  Server& s = c.server;
  vlog("fd %d: closed", fd_of(c));
  error_code ignored;
  c.socket.close(ignored);
  if (c.linger) c.linger->cancel();
  s.conns.erase(c.self);  // the handlers in flight still hold it
  if (s.accept_paused && !s.stopping) resume_accepting(s);  // a descriptor is free again
  if (s.stopping && s.conns.empty()) s.done = true;
}

// A reset or other hard error ends this connection only; the server goes on.
void connection_error(Conn& c, const char* call, const error_code& ec) {
  ++c.server.stats.resets;
  vlog("fd %d: %s: %s", fd_of(c), call, ec.message().c_str());
  close_conn(c);
}

void discard_input(Conn& c);

void on_discarded(Conn& c, const error_code& ec, std::size_t n) {
  if (!c.socket.is_open()) return;  // closed meanwhile
  if (n > 0) c.server.stats.count_recv(n);
  if (ec == asio::error::eof) {
    c.server.stats.count_recv(0);
    return close_conn(c);  // the client's EOF after ours: a clean close
  }
  if (ec) return connection_error(c, "recv", ec);
  discard_input(c);
}

// After our half-close: read and throw away until the client's EOF or an
// error; the linger timer ends the wait.
void discard_input(Conn& c) {
  c.socket.async_read_some(asio::buffer(c.server.discard), [self = c.shared_from_this()](
                                                               const error_code& ec, std::size_t n) {
    on_discarded(*self, ec, n);
  });
}

void on_linger_timeout(Conn& c, const error_code& ec) {
  if (ec || !c.socket.is_open()) return;  // cancelled: closed meanwhile
  ++c.server.stats.linger_timeouts;
  vlog("fd %d: no EOF from the client within --linger-ms", fd_of(c));
  close_conn(c);
}

// Everything owed has been written: our FIN goes after the last reply. Then, as
// in core/io.cpp, read and throw away until the client's EOF or --linger-ms, so
// that unread input does not turn our close into a reset that destroys replies
// the client has not read yet.
void start_closing(Conn& c) {
  error_code failed;
  c.socket.shutdown(tcp::socket::shutdown_send, failed);
  if (failed) return connection_error(c, "shutdown", failed);
  if (c.peer_eof) return close_conn(c);  // both sides done: nothing can be lost now
  vlog("fd %d: half-closed, lingering for the client's EOF", fd_of(c));
  c.closing = true;
  c.linger = std::make_unique<asio::steady_timer>(c.server.io, c.server.options.linger);
  c.linger->async_wait([self = c.shared_from_this()](const error_code& ec) { on_linger_timeout(*self, ec); });
  discard_input(c);
}

// --- reading ------------------------------------------------------------------

// A read has ended: give the session what came, then carry on. A stop request
// cancels the reads in flight and lands here too.
void on_read(Conn& c, const error_code& ec, std::size_t n) {
  c.reading = false;
  if (!c.socket.is_open()) return;  // closed meanwhile
  Stats& stats = c.server.stats;
  if (n > 0) {
    stats.count_recv(n);
    vlog("fd %d: recv %zu", fd_of(c), n);
    c.session.on_received(n);
  }
  if (ec == asio::error::eof) {
    stats.count_recv(0);
    vlog("fd %d: recv 0 (EOF)", fd_of(c));
    c.peer_eof = true;
    c.session.on_peer_eof();  // the tail end: a last fragment is still a line
  } else if (ec && ec != asio::error::operation_aborted) {
    return connection_error(c, "recv", ec);  // ECONNRESET, ...
  }
  if (c.server.stopping) c.session.stop_input();
  pump(c);
}

// A read into the session's read window (its size adapts to the traffic: 16 to
// 256 KiB). The window is the operation's until on_read(): nothing else may
// feed the session meanwhile.
void start_read(Conn& c) {
  c.reading = true;
  const auto window = c.session.recv_window();
  c.socket.async_read_some(asio::buffer(window.data(), window.size()),
                           [self = c.shared_from_this()](const error_code& ec, std::size_t n) {
                             on_read(*self, ec, n);
                           });
}

// --- writing ------------------------------------------------------------------

// async_write() is async_write_some() (one send()) in a loop until the window is
// out. Before each call it asks its completion condition how much to offer,
// saying how much has gone so far; it does not ask after the call that ends
// the window. So each question after the first follows a send() that took less
// than offered: a partial send, which --stats can count here. The condition
// offers all that is left (transfer_all() would offer 64 KiB at a time).
std::size_t offer_the_rest(Stats& stats, const error_code& ec, std::size_t sent) {
  if (ec) return 0;
  if (sent > 0) {
    ++stats.send_calls;
    ++stats.partial_sends;
  }
  return std::numeric_limits<std::size_t>::max();
}

void on_written(Conn& c, const error_code& ec, std::size_t n) {
  c.writing = false;
  if (!c.socket.is_open()) return;  // closed meanwhile
  if (ec) return connection_error(c, "send", ec);  // EPIPE, ECONNRESET: this client only
  ++c.server.stats.send_calls;  // the send() that ended the window
  c.server.stats.bytes_out += n;
  vlog("fd %d: send %zu", fd_of(c), n);
  c.session.on_sent(n);
  pump(c);
}

void start_write(Conn& c, std::span<const std::byte> window) {
  c.writing = true;
  Stats& stats = c.server.stats;
  asio::async_write(
      c.socket, asio::buffer(window.data(), window.size()),
      [&stats](const error_code& ec, std::size_t sent) { return offer_the_rest(stats, ec, sent); },
      [self = c.shared_from_this()](const error_code& ec, std::size_t n) { on_written(*self, ec, n); });
}

// After every handler: write what is owed, else close once all is done, else
// read. One operation at a time: while a reply is owed nothing is read (the
// back-pressure), and the window of a write or a read stays put until its end.
void pump(Conn& c) {
  if (c.writing || c.reading || c.closing) return;
  if (const auto window = c.session.send_window(); !window.empty()) return start_write(c, window);
  if (c.session.finished()) return start_closing(c);
  if (!c.peer_eof && c.session.wants_read()) start_read(c);
}

// --- accepting and stopping -------------------------------------------------------

// Past --max-clients the session answers only "error: server full" and the
// connection closes like any other.
void adopt(Server& s, tcp::socket socket) {
  ++s.stats.connections;
  error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);  // small replies leave at once (as every server)
  auto c = std::make_shared<Conn>(s, std::move(socket), s.options.limits);
  const std::size_t before = s.conns.size();
  count_admitted(admit(c->session, fd_of(*c), before, s.max_clients), fd_of(*c), before, s.stats);
  c->self = s.conns.insert(s.conns.end(), c);
  pump(*c);  // starts reading, or sends "server full"
}

bool out_of_descriptors(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == error_code(ENFILE, boost::system::system_category()) ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

// One accept at a time, the next started by the handler of the last.
void accept_clients(Server& s) {
  s.listener.async_accept([&s](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !s.listener.is_open()) return;  // a stop closed the listener
    if (out_of_descriptors(ec)) {
      // EMFILE & co.: the connection stays in the backlog, and accepting again
      // at once would fail again at once. Pause until a connection closes, or kTick.
      vlog("accept: %s: pausing", ec.message().c_str());
      ++s.stats.accept_paused;
      s.accept_paused = true;
      s.accept_retry.expires_after(kTick);
      s.accept_retry.async_wait([&s](const error_code& e) {
        if (!e && s.accept_paused) resume_accepting(s);
      });
      return;
    }
    if (ec) vlog("accept: %s", ec.message().c_str());  // Asio retries ECONNABORTED itself: rare
    else adopt(s, std::move(socket));
    accept_clients(s);
  });
}

// SIGINT/SIGTERM (through the core's self-pipe): accept no more, finish what is
// owed within --drain-ms.
void begin_shutdown(Server& s) {
  vlog("stop requested: draining %zu connections", s.conns.size());
  s.stopping = true;
  error_code ignored;
  s.listener.close(ignored);  // new clients are refused
  s.accept_retry.cancel();
  s.drain_timer.expires_after(s.options.drain);
  s.drain_timer.async_wait([&s](const error_code& ec) {
    if (ec) return;
    vlog("drain time over: closing %zu connections", s.conns.size());
    s.done = true;
  });
  for (auto it = s.conns.begin(); it != s.conns.end();) {
    Conn& c = **it++;  // pump() may close c, never another connection
    if (c.closing) continue;
    if (c.reading) {
      c.socket.cancel(ignored);  // on_read() stops it: its window is the read's until then
    } else {
      c.session.stop_input();  // safe with a write in flight: its window stays valid
      pump(c);
    }
  }
  if (s.conns.empty()) s.done = true;
}

// --- setup --------------------------------------------------------------------------

tcp protocol_of(int fd) {
  sockaddr_storage address{};
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
}

void start_listening(Server& s) {
  Fd fd = listen_on_or_die(s.options, /*nonblocking=*/true);
  announce_listening(fd.get());
  error_code ec;
  s.listener.assign(protocol_of(fd.get()), fd.get(), ec);
  if (ec) die("assign the listener: %s", ec.message().c_str());
  fd.release();  // the acceptor owns it now
  accept_clients(s);
}

void watch_for_stop(Server& s) {
  error_code ec;
  s.stop_watch.assign(::dup(stop_fd()), ec);  // a duplicate: Asio closes what it holds
  if (ec) die("assign the stop pipe: %s", ec.message().c_str());
  s.stop_watch.async_wait(asio::posix::stream_descriptor::wait_read, [&s](const error_code& e) {
    if (!e) begin_shutdown(s);
  });
}

}  // namespace

int main(int argc, char** argv) {
  const ServerOptions options = parse_server_options(
      argc, argv, "asio-server", "The echo server on Boost.Asio (async_read_some / async_write).");
  install_signal_handlers();  // SIGPIPE ignored (Asio sends with MSG_NOSIGNAL too)
  Server s(options);
  vlog("Boost.Asio %d.%d.%d (Boost %s)", BOOST_ASIO_VERSION / 100000, BOOST_ASIO_VERSION / 100 % 1000,
       BOOST_ASIO_VERSION % 100, BOOST_LIB_VERSION);
  watch_for_stop(s);
  start_listening(s);
  // One descriptor kept spare for "server full", counting Asio's own (its
  // epoll instance, an eventfd to wake it, a timerfd).
  s.max_clients = options.max_clients != 0 ? options.max_clients : descriptors_available();

  // run_one(): run one handler (waiting for one if none is ready). Looping here
  // instead of in run() lets us count them and stop at the drain's end.
  while (!s.done && s.io.run_one() > 0) ++s.stats.wakeups;

  if (options.stats) s.stats.print(stderr);
  return 0;  // ~Server: the io_context destroys the handlers left, and with them the connections
}

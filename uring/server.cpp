// uring-server - io_uring(7): the kernel does the I/O and reports it done.
//
// The model: one thread, one ring. Instead of asking "which sockets are
// ready?" and then calling recv() and send() itself, the server hands the
// kernel whole operations (accept, receive, send) and later reads back their
// results. Two rings shared with the kernel carry them: the submission queue
// (SQEs, ours to fill) and the completion queue (CQEs, the kernel's). One
// io_uring_enter() per loop turn submits every SQE queued since the last one
// and waits for completions: with many busy clients that is one system call
// for many messages.
//
// What it teaches: completions instead of readiness, and who owns a buffer
// while an operation is in flight.
//   - A multishot accept is submitted once and completes again and again
//     (IORING_CQE_F_MORE says "still armed"). Each connection has one recv in
//     flight at a time, re-armed after each completion: a multishot recv would
//     fill buffer after buffer for a client that sends and never reads (up to
//     32 of them before a cancel can land), where a single one takes one.
//   - Receives land in a provided-buffer ring shared by every connection: the
//     kernel picks a buffer only when data arrives, so an idle connection holds
//     none. A buffer is the kernel's until a completion names it (its id is in
//     the CQE's flags), ours until we give it back to the ring; then the kernel
//     may fill it again. If the ring is empty, the recv ends with ENOBUFS (no
//     byte lost: the data waits in the socket) and is re-armed once a buffer
//     is back.
//   - A send is submitted straight from the session's send_window(): until its
//     completion the kernel may still read those bytes, so the session is
//     frozen. Nothing moves its buffers meanwhile; what arrives waits in its
//     ring buffers, and one send at a time keeps the replies in order.
//
// Its limits: Linux only, and recent: provided-buffer rings and multishot
// accept need 5.19, IORING_SETUP_DEFER_TASKRUN 6.1 (older kernels get
// COOP_TASKRUN), the wait for a batch of completions 6.12 (older kernels
// wait for one). io_uring has been a large attack surface: some
// platforms turn it off (sysctl kernel.io_uring_disabled, Android, ChromeOS)
// and container runtimes' default seccomp profiles block io_uring_setup().
// Then uring-server says why in one line and exits 1. One thread, one core.
//
// Usage:   uring-server [--port 2000] [--buffers N] [--sqpoll] [--repeat R] [--stats] [--verbose] ...
// Course:  docs/14-io-uring.md.  Compare with ../epoll/server.cpp.
#include <liburing.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
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

constexpr unsigned kQueueDepth = 4096;             // SQEs; the CQ ring gets twice as many
constexpr unsigned kDefaultBuffers = 256;          // --buffers: ring entries, a power of two
constexpr unsigned kBufferSize = 64 * 1024;        // each provided buffer
constexpr auto kBatchWait = std::chrono::microseconds(20);  // longest wait for a batch
constexpr unsigned kMinBatch = 16;                 // turns smaller than this wait for one completion
constexpr unsigned kMaxBatch = 64;                 // completions waited for at most
constexpr unsigned kFeatMinTimeout = 1U << 15;     // IORING_FEAT_MIN_TIMEOUT, newer than liburing 2.3
constexpr unsigned kBufferGroup = 0;               // the ring's id, named by every recv SQE
constexpr std::uint16_t kNoBuffer = 0xffff;        // ids are 16 bits: at most 32768 buffers
// Ring buffers a connection may hold, received but not yet taken by its
// session (which owes replies first, or is frozen by a send); then no recv is
// armed for it (one in flight is cancelled), so that a client that never reads
// cannot take the ring from everyone else. Counted in buffers, not bytes: a receive takes a whole buffer
// however few bytes land in it. Four let a bulk sender's next reads land while
// its send is in flight.
constexpr std::size_t kHoldLimit = 4;

// Every SQE carries a user_data that comes back in its CQE: what the operation
// was, and on which descriptor.
enum class Op : std::uint32_t { accept, stop, recv, send, cancel };
std::uint64_t tag(Op op, int fd) {
  return std::uint64_t{static_cast<std::uint32_t>(op)} << 32 | static_cast<std::uint32_t>(fd);
}
Op op_of(std::uint64_t data) { return static_cast<Op>(data >> 32); }
int fd_of(std::uint64_t data) { return static_cast<int>(data & 0xffffffffu); }

struct Client {
  Client() : conn(Fd(), Limits{}) {}  // an unused slot: no socket
  explicit Client(Connection c) : conn(std::move(c)) {}
  Connection conn;
  std::uint32_t sending = 0;          // bytes offered by the send in flight (0: none): the session is frozen
  std::uint16_t held = kNoBuffer;     // the oldest ring buffer it holds (received, not yet in the session)
  bool recv_armed : 1 = false;        // a recv is in flight
  bool cancelling : 1 = false;        // and its cancel too (back-pressure)
  bool starved : 1 = false;           // ENOBUFS: re-armed when a buffer is free
  bool eof_held : 1 = false;          // the client's EOF came after the held bytes
  bool retiring : 1 = false;          // closed by us: the descriptor goes once nothing is in flight
};

// A buffer lent to us by a completion, while a connection holds it.
struct Lent {
  std::uint32_t offset = 0, length = 0;  // the bytes not yet given to the session
  std::uint16_t next = kNoBuffer;        // the connection's next held buffer
};

// Everything the loop keeps between two io_uring_enter() calls. Most of the
// model's state is in the kernel: the operations in flight, the rings.
struct Server {
  Server(const ServerOptions& o, unsigned ring_entries, bool sq_thread)
      : options(o), buffer_count(ring_entries), sqpoll(sq_thread) {}

  const ServerOptions& options;
  Stats stats;
  Fd listener;                                      // closed once a stop is requested
  std::vector<Client> clients;                      // indexed by fd, which every CQE names
  std::size_t open = 0;                             // clients in use
  io_uring ring{};                                  // the submission and completion queues
  io_uring_buf_ring* buffer_ring = nullptr;         // the provided buffers' ring, shared with the kernel
  std::byte* buffers = nullptr;                     // buffer_count x kBufferSize
  std::vector<Lent> lent;                           // per buffer id
  std::size_t held_buffers = 0;                     // lent out to connections now (the rest are the kernel's)
  std::vector<int> starved;                         // fds waiting for a free buffer (ENOBUFS)
  bool accepting = false;                           // the multishot accept is armed
  bool any_closing = false;                         // a client may linger after our half-close: on_tick looks
  const unsigned buffer_count;                      // --buffers
  const bool sqpoll;                                // --sqpoll
  bool batch_wait = false;                          // the kernel can wait for a batch (Linux 6.12)
  bool ring_registered = false;                     // io_uring_enter() names the ring by its index
  unsigned last_batch = 1;                          // completions the last turn reaped
  std::size_t max_clients = 0;                      // --max-clients, or what RLIMIT_NOFILE allows
  bool accept_paused = false;                       // out of descriptors: accept re-armed on the tick
  std::optional<Clock::time_point> drain_deadline;  // set by a stop request
  Clock::time_point next_tick{};                    // lingering sweep, paused accept retried
};

// One line naming why io_uring cannot be used here, exit 1. "io_uring
// unavailable" is what the tests look for to report a skip.
[[noreturn]] void die_unavailable(const char* call, int err) {
  const char* cause = "";
  if (err == ENOSYS) {
    cause = "this kernel has no io_uring, or a seccomp filter hides it";
  } else if (err == EPERM || err == EACCES) {
    int disabled = 0;
    std::ifstream("/proc/sys/kernel/io_uring_disabled") >> disabled;
    cause = disabled == 2   ? "disabled by sysctl kernel.io_uring_disabled = 2"
            : disabled == 1 ? "sysctl kernel.io_uring_disabled = 1 and this user is not in kernel.io_uring_group"
                            : "denied by a seccomp filter or a security module (container runtimes' default)";
  } else if (err == EINVAL) {
    cause = "this kernel lacks a feature it needs (provided-buffer rings and multishot accept: Linux 5.19)";
  } else if (err == ENOMEM) {
    cause = "RLIMIT_MEMLOCK too small for the rings (kernels before 5.12 charge them to it)";
  }
  die("io_uring unavailable: %s: %s (%s): %s", call, errno_name(err), std::strerror(err), cause);
}

// The ring. DEFER_TASKRUN (6.1) runs the kernel's completion work only when
// we wait, in our own io_uring_enter(), instead of interrupting the thread
// whenever a packet arrives; SINGLE_ISSUER promises that only this thread
// submits. --sqpoll: a kernel thread polls the submission queue instead.
void set_up_ring(Server& s) {
  io_uring_params params{};
  params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER;
  params.cq_entries = 2 * kQueueDepth;
  if (s.sqpoll) {
    params.flags |= IORING_SETUP_SQPOLL;
    params.sq_thread_idle = static_cast<unsigned>(kTick.count());  // ms of polling before the thread sleeps
  } else {
    params.flags |= IORING_SETUP_DEFER_TASKRUN;
  }
  int rc = io_uring_queue_init_params(kQueueDepth, &s.ring, &params);
  if (rc == -EINVAL && !s.sqpoll) {  // before 6.1: no DEFER_TASKRUN
    params.flags = IORING_SETUP_CQSIZE | IORING_SETUP_COOP_TASKRUN;
    rc = io_uring_queue_init_params(kQueueDepth, &s.ring, &params);
  }
  if (rc < 0) die_unavailable("io_uring_setup", -rc);
  s.batch_wait = (params.features & kFeatMinTimeout) != 0;
  // io_uring_enter() on a registered ring index skips looking the ring's fd up each time.
  s.ring_registered = io_uring_register_ring_fd(&s.ring) == 1;
}

// The provided-buffer ring: an array of {address, length, id} entries that
// we map and register (liburing 2.3 has no io_uring_setup_buf_ring), and the
// buffers it points to, touched now (MAP_POPULATE) so that their memory is a
// cost paid at start, not one that grows with the connections.
void set_up_buffers(Server& s) {
  const std::size_t ring_bytes = s.buffer_count * sizeof(io_uring_buf);
  void* ring = ::mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* data = ::mmap(nullptr, s.buffer_count * kBufferSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (ring == MAP_FAILED || data == MAP_FAILED) die_errno("mmap buffer ring");
  s.buffer_ring = static_cast<io_uring_buf_ring*>(ring);
  s.buffers = static_cast<std::byte*>(data);
  io_uring_buf_ring_init(s.buffer_ring);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uintptr_t>(ring);
  reg.ring_entries = s.buffer_count;
  reg.bgid = kBufferGroup;
  if (int rc = io_uring_register_buf_ring(&s.ring, &reg, 0); rc < 0)
    die_unavailable("io_uring_register_buf_ring", -rc);
  const int mask = io_uring_buf_ring_mask(s.buffer_count);
  for (unsigned id = 0; id < s.buffer_count; ++id)
    io_uring_buf_ring_add(s.buffer_ring, s.buffers + id * kBufferSize, kBufferSize, static_cast<std::uint16_t>(id),
                          mask, static_cast<int>(id));
  io_uring_buf_ring_advance(s.buffer_ring, static_cast<int>(s.buffer_count));  // the kernel sees them from here
  s.lent.resize(s.buffer_count);
}

// A session's receive buffer now lives from a recv's completion to its send's,
// a loop turn later, so a turn's worth of them are alive at once and freed
// together. glibc raises its thresholds as a process frees large blocks (up to
// 32 MiB for mmap, twice that for trimming), but only after it has freed one
// that came from mmap. Until then it hands the heap back to the kernel every
// turn and faults it in again the next (a third of the CPU in ping-pong with
// 100 clients), and serves every buffer of 128 KiB or more (a long line) with
// mmap and munmap. Start where that tuning would end.
void tune_malloc() {
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

// Buffer `id` is the kernel's again: it may fill it with the next receive.
void give_back(Server& s, std::uint16_t id) {
  io_uring_buf_ring_add(s.buffer_ring, s.buffers + std::size_t{id} * kBufferSize, kBufferSize, id,
                        io_uring_buf_ring_mask(s.buffer_count), 0);
  io_uring_buf_ring_advance(s.buffer_ring, 1);
  --s.held_buffers;
}

// liburing's own step before io_uring_enter(): publish the SQEs queued since
// the last call (the kernel reads up to the ring's tail) and count them.
// liburing 2.3 does not export it, and the batched wait below calls
// io_uring_enter2() itself.
unsigned publish_submissions(io_uring& ring) {
  io_uring_sq& sq = ring.sq;
  if (sq.sqe_head != sq.sqe_tail) {
    sq.sqe_head = sq.sqe_tail;
    __atomic_store_n(sq.ktail, sq.sqe_tail, __ATOMIC_RELEASE);
  }
  return sq.sqe_tail - __atomic_load_n(sq.khead, __ATOMIC_ACQUIRE);
}

// One io_uring_enter(): submits every SQE queued since the last call, then
// waits for completions, or `ms` (-1: no limit).
//
// How many to wait for decides the system calls per message. A turn's sends
// usually complete inside the call that submits them, so a wait for one
// completion ends at once on their CQEs, before any client's next message is
// in: two calls a turn. Since Linux 6.12 (IORING_FEAT_MIN_TIMEOUT) the kernel
// can wait for a batch, but not for long: for as many completions as the last
// turn brought, at most kBatchWait, then for whatever is there. Small turns
// (few busy clients) wait for one, so that a lone client never waits for
// company. liburing 2.3 predates the batch wait: the call is made here.
int submit_and_wait(Server& s, int ms) {
  s.stats.sqes_submitted += io_uring_sq_ready(&s.ring);
  const bool batch = s.batch_wait && !s.sqpoll && s.last_batch >= kMinBatch;
  if (!batch) {
    if (ms < 0) return io_uring_submit_and_wait(&s.ring, 1);
    io_uring_cqe* cqe = nullptr;
    __kernel_timespec ts{ms / 1000, (ms % 1000) * 1'000'000L};
    return io_uring_submit_and_wait_timeout(&s.ring, &cqe, 1, &ts, nullptr);
  }
  // Without a timeout the kernel would end the wait after min_wait_usec even with nothing in.
  __kernel_timespec ts = ms < 0 ? __kernel_timespec{3600, 0} : __kernel_timespec{ms / 1000, (ms % 1000) * 1'000'000L};
  io_uring_getevents_arg arg{};
  arg.pad = static_cast<std::uint32_t>(kBatchWait.count());  // min_wait_usec since 6.12
  arg.ts = reinterpret_cast<std::uintptr_t>(&ts);
  const unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG |
                         (s.ring_registered ? IORING_ENTER_REGISTERED_RING : 0u);
  return io_uring_enter2(s.ring.enter_ring_fd, publish_submissions(s.ring), std::min(s.last_batch, kMaxBatch), flags,
                         reinterpret_cast<sigset_t*>(&arg), sizeof arg);  // -errno on failure, as liburing's calls
}

// A free SQE. The queue holds kQueueDepth; if a turn queues more, the ones so
// far go to the kernel now (one more io_uring_enter).
io_uring_sqe* get_sqe(Server& s) {
  io_uring_sqe* sqe = io_uring_get_sqe(&s.ring);
  while (sqe == nullptr) {
    s.stats.sqes_submitted += io_uring_sq_ready(&s.ring);
    io_uring_submit(&s.ring);
    ++s.stats.wakeups;
    sqe = io_uring_get_sqe(&s.ring);
  }
  return sqe;
}

Client* client_at(Server& s, int fd) {
  const auto slot = static_cast<std::size_t>(fd);
  return slot < s.clients.size() && s.clients[slot].conn.fd ? &s.clients[slot] : nullptr;
}

// The clients live in one array, a slot per possible descriptor, reserved now
// (address space only, until used): no allocation per connection, so an idle
// one costs its slot and no heap holes open between the sessions' buffers.
// (Were it ever moved, nothing would break: what the kernel reads is on the
// sessions' heap, not in the slots.)
void reserve_clients(Server& s) {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  s.clients.reserve(std::min<rlim_t>(limit.rlim_cur, rlim_t{1} << 20));
}

void arm_accept(Server& s) {
  io_uring_sqe* sqe = get_sqe(s);
  io_uring_prep_multishot_accept(sqe, s.listener.get(), nullptr, nullptr, SOCK_CLOEXEC);
  io_uring_sqe_set_data64(sqe, tag(Op::accept, s.listener.get()));
  s.accepting = true;
}

// One receive: it completes when data arrives, into a buffer the kernel takes
// from the ring then (IOSQE_BUFFER_SELECT from group kBufferGroup), up to
// kBufferSize bytes. Re-armed by settle() while the session wants input.
void arm_recv(Server& s, int fd, Client& cl) {
  io_uring_sqe* sqe = get_sqe(s);
  io_uring_prep_recv(sqe, fd, nullptr, kBufferSize, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = kBufferGroup;
  io_uring_sqe_set_data64(sqe, tag(Op::recv, fd));
  cl.recv_armed = true;
}

// Cancels the requests matching `target` (one user_data, or with
// IORING_ASYNC_CANCEL_ALL every request on the fd); each then ends with a
// last CQE (-ECANCELED). The cancel's own CQE says nothing we need.
void cancel(Server& s, int fd, std::uint64_t target, bool all_of_fd) {
  io_uring_sqe* sqe = get_sqe(s);
  if (all_of_fd) io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  else io_uring_prep_cancel64(sqe, target, 0);
  io_uring_sqe_set_data64(sqe, tag(Op::cancel, fd));
}

// The next owed bytes, straight from the session (at most kTurnBudget, so
// that one huge reply cannot hold the loop): the kernel reads them when it
// runs the send, so they must stay put until its completion.
void submit_send(Server& s, int fd, Client& cl) {
  auto window = cl.conn.session.send_window();
  if (window.empty()) return;
  window = window.first(std::min(window.size(), kTurnBudget));
  io_uring_sqe* sqe = get_sqe(s);
  io_uring_prep_send(sqe, fd, window.data(), window.size(), MSG_NOSIGNAL);  // no SIGPIPE from a peer gone
  io_uring_sqe_set_data64(sqe, tag(Op::send, fd));
  cl.sending = static_cast<std::uint32_t>(window.size());
}

// The client's EOF reaches the session once the bytes before it have.
void apply_eof(Server& s, Client& cl) {
  if (!cl.eof_held) return;
  cl.eof_held = false;
  on_peer_eof(cl.conn, s.stats);  // the tail fragment, if any, becomes the last line
}

// Gives the session the bytes held in ring buffers (oldest first), a
// recv_window() at a time, as recv() would have, and each emptied buffer back
// to the ring; but only while it owes nothing. Fed faster than it sends, its
// buffer would grow and be reallocated, and the copying would cost more than
// the system calls saved. Once its input is closed (line too long, a stop),
// the rest is dropped: a readiness server would not read it.
void feed_held(Server& s, Client& cl) {
  EchoSession& session = cl.conn.session;
  while (cl.held != kNoBuffer) {
    if (!session.input_closed() && session.wants_write()) return;  // the replies owed go first
    const auto window = session.recv_window();
    if (window.empty() && !session.input_closed()) return;  // back-pressure: the rest waits here
    std::size_t fed = 0;
    while (cl.held != kNoBuffer) {
      Lent& lent = s.lent[cl.held];
      if (!session.input_closed()) {
        const std::size_t n = std::min<std::size_t>(window.size() - fed, lent.length);
        std::memcpy(window.data() + fed, s.buffers + std::size_t{cl.held} * kBufferSize + lent.offset, n);
        fed += n;
        lent.offset += static_cast<std::uint32_t>(n);
        lent.length -= static_cast<std::uint32_t>(n);
        if (lent.length > 0) break;  // the window is full
      }
      const std::uint16_t id = cl.held;
      cl.held = lent.next;
      give_back(s, id);
    }
    session.on_received(fed);
  }
  apply_eof(s, cl);
}

std::size_t buffers_held_by(const Server& s, const Client& cl) {
  std::size_t count = 0;
  for (std::uint16_t id = cl.held; id != kNoBuffer; id = s.lent[id].next) ++count;
  return count;
}

void close_conn(Server& s, int fd);

// After any completion for a client: move it on as far as it can go now, and
// bring its operations in the ring up to date with what it wants.
void settle(Server& s, int fd) {
  Client& cl = *client_at(s, fd);
  Connection& c = cl.conn;
  if (!cl.retiring && cl.sending == 0 && !c.closing) {  // not frozen: the session may change
    if (s.drain_deadline) stop_reading(c);              // a stop: read no more, send what is owed
    feed_held(s, cl);
    if (c.session.wants_write()) {
      submit_send(s, fd, cl);
    } else if (half_close_if_finished(c, s.options.linger) == IoStatus::closed) {
      return close_conn(s, fd);  // the client's EOF came first: nothing can be lost now
    }
    s.any_closing = s.any_closing || c.closing;
  }
  const bool want = !cl.retiring && !cl.eof_held && !cl.starved && wants_input(c) && buffers_held_by(s, cl) < kHoldLimit;
  if (want && !cl.recv_armed) {
    arm_recv(s, fd, cl);
  } else if (!want && cl.recv_armed && !cl.cancelling && !cl.retiring) {
    vlog("fd %d: back-pressure: recv cancelled", fd);
    cancel(s, fd, tag(Op::recv, fd), false);  // what lands before it is kept
    cl.cancelling = true;
  }
  if (cl.retiring && !cl.recv_armed && cl.sending == 0) {
    vlog("fd %d: closed", fd);
    s.clients[static_cast<std::size_t>(fd)] = Client();  // closes the socket
    --s.open;
    if (s.accept_paused && s.listener) {  // a descriptor is free again
      s.accept_paused = false;
      arm_accept(s);
    }
  }
}

// Closing a socket the kernel still works on would not end its requests (they
// hold their own reference to it), and the session must outlive a send that
// reads from it: cancel what is in flight, and close once the last CQE is in.
void close_conn(Server& s, int fd) {
  Client& cl = *client_at(s, fd);
  if (cl.retiring) return;
  cl.retiring = true;
  while (cl.held != kNoBuffer) {
    const std::uint16_t id = cl.held;
    cl.held = s.lent[id].next;
    give_back(s, id);
  }
  if (cl.recv_armed || cl.sending != 0) cancel(s, fd, 0, /*all_of_fd=*/true);
  settle(s, fd);
}

void adopt(Server& s, Fd fd) {
  const int n = fd.get();
  ++s.stats.connections;
  int on = 1;  // small replies leave at once, not when Nagle's algorithm lets them
  ::setsockopt(n, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  const auto slot = static_cast<std::size_t>(n);
  if (slot >= s.clients.size()) s.clients.resize(slot + 1);
  Client& cl = s.clients[slot] = Client(Connection(std::move(fd), s.options.limits));
  count_admitted(admit(cl.conn.session, n, s.open, s.max_clients), n, s.open, s.stats);
  ++s.open;
  settle(s, n);
}

// A completion of the multishot accept: a new connection, or why not.
void accept_clients(Server& s, const io_uring_cqe& cqe) {
  if ((cqe.flags & IORING_CQE_F_MORE) == 0) s.accepting = false;  // it ended: re-armed below or later
  if (cqe.res >= 0) {
    if (s.listener) adopt(s, Fd(cqe.res));
    else ::close(cqe.res);  // accepted just before the stop's cancel took effect
  } else if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOBUFS || cqe.res == -ENOMEM) {
    // The connection stays in the backlog. Re-armed now, the accept would fail
    // again at once, for ever: wait for a connection to close, or the tick.
    ++s.stats.accept_paused;
    vlog("accept: out of descriptors (%s), pausing until a connection closes", errno_name(-cqe.res));
    s.accept_paused = true;
  } else if (cqe.res == -EINVAL && s.listener) {
    die_unavailable("multishot accept", EINVAL);  // before Linux 5.19
  } else if (cqe.res != -ECANCELED) {
    vlog("accept: %s", errno_name(-cqe.res));  // ECONNABORTED and the like: this client only
  }
  if (!s.accepting && !s.accept_paused && s.listener) arm_accept(s);
}

// A completion of a connection's recv: it ended (settle() arms the next).
void on_recv(Server& s, const io_uring_cqe& cqe) {
  const int fd = fd_of(cqe.user_data);
  Client& cl = *client_at(s, fd);
  cl.recv_armed = cl.cancelling = false;
  if (cqe.res > 0) {
    const auto id = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
    s.stats.count_recv(static_cast<std::size_t>(cqe.res));
    vlog("fd %d: recv %d (buffer %u)", fd, cqe.res, unsigned{id});
    ++s.held_buffers;
    s.lent[id] = {0, static_cast<std::uint32_t>(cqe.res), kNoBuffer};
    if (cl.retiring || cl.conn.closing) {
      give_back(s, id);  // closing: read and thrown away
    } else {
      std::uint16_t* last = &cl.held;  // append: the bytes keep their order
      while (*last != kNoBuffer) last = &s.lent[*last].next;
      *last = id;
    }
  } else if (cqe.res == 0) {
    if (cl.conn.closing) {  // the client's EOF after ours: a clean close
      s.stats.count_recv(0);
      return close_conn(s, fd);
    }
    cl.eof_held = true;  // given to the session after the bytes held before it
  } else if (cqe.res == -ENOBUFS) {
    // The ring is empty: the data stays in the socket. Re-armed once a buffer is back.
    ++s.stats.enobufs;
    vlog("fd %d: ENOBUFS: no free buffer, waiting for one", fd);
    cl.starved = true;
    s.starved.push_back(fd);
  } else if (cqe.res != -ECANCELED) {
    errno = -cqe.res;  // ECONNRESET, ETIMEDOUT, ...: this client only
    on_error(cl.conn, s.stats, "recv");
    return close_conn(s, fd);
  }
  settle(s, fd);
}

// A completion of a connection's send: a short one is re-submitted from where
// it stopped (settle() asks the session for the rest).
void on_send(Server& s, const io_uring_cqe& cqe) {
  const int fd = fd_of(cqe.user_data);
  Client& cl = *client_at(s, fd);
  const std::size_t offered = std::exchange(cl.sending, 0);
  if (cqe.res >= 0) {
    on_sent(cl.conn, offered, static_cast<std::size_t>(cqe.res), s.stats);  // the session may change again
  } else {
    cl.conn.session.on_sent(0);  // a cancel: nothing was taken
    if (cqe.res != -ECANCELED) {
      errno = -cqe.res;  // EPIPE, ECONNRESET: this client only
      on_error(cl.conn, s.stats, "send");
      return close_conn(s, fd);
    }
  }
  settle(s, fd);
}

// After the turn's completions, buffers are back: re-arm the receives that
// found the ring empty, one per free buffer (an empty ring would only fail them again).
void serve_starved(Server& s) {
  for (std::size_t free = s.buffer_count - s.held_buffers; free > 0 && !s.starved.empty();) {
    const int fd = s.starved.back();
    s.starved.pop_back();
    Client* cl = client_at(s, fd);
    if (cl == nullptr || !cl->starved) continue;  // closed since
    cl->starved = false;
    settle(s, fd);
    --free;
  }
}

// SIGINT/SIGTERM: accept no more, finish what each client is owed, within the drain time.
void begin_shutdown(Server& s) {
  char drain[64];
  while (::read(stop_fd(), drain, sizeof drain) > 0) {
  }
  vlog("stop requested: draining %zu connections", s.open);
  if (s.accepting) cancel(s, s.listener.get(), tag(Op::accept, s.listener.get()), false);
  s.listener.reset();  // the accept's own reference keeps the socket until the cancel ends it
  s.accept_paused = false;
  s.drain_deadline = Clock::now() + s.options.drain;
  for (std::size_t fd = 0; fd < s.clients.size(); ++fd)
    if (client_at(s, static_cast<int>(fd)) != nullptr) settle(s, static_cast<int>(fd));
}

// Every CQE the kernel has posted since the last turn: what each operation
// came to. user_data says which operation, and on which descriptor.
void serve_completions(Server& s) {
  unsigned head = 0, seen = 0;
  io_uring_cqe* cqe = nullptr;
  io_uring_for_each_cqe(&s.ring, head, cqe) {
    ++seen;
    switch (op_of(cqe->user_data)) {
      case Op::stop: begin_shutdown(s); break;
      case Op::accept: accept_clients(s, *cqe); break;
      case Op::recv: on_recv(s, *cqe); break;
      case Op::send: on_send(s, *cqe); break;
      case Op::cancel: break;  // its target's own last CQE is what counts
    }
  }
  io_uring_cq_advance(&s.ring, seen);  // the kernel may reuse those slots now
  s.stats.cqes_reaped += seen;
  s.last_batch = std::max(seen, 1u);
}

// Closes clients that never sent their EOF after our half-close. A scan of the
// whole table, so only while some client may linger.
void close_expired_lingers(Server& s, Clock::time_point now) {
  s.any_closing = false;
  for (std::size_t fd = 0; fd < s.clients.size(); ++fd) {
    const Client* cl = client_at(s, static_cast<int>(fd));
    if (cl == nullptr || !cl->conn.closing || cl->retiring) continue;
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
  if (s.accept_paused && s.listener) {
    s.accept_paused = false;
    arm_accept(s);
  }
  s.next_tick = now + kTick;
}

bool running(const Server& s) {
  return !s.drain_deadline || (s.open != 0 && Clock::now() < *s.drain_deadline);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned buffers = kDefaultBuffers;
  bool sqpoll = false;
  const ExtraFlag extra[] = {
      {"--buffers", "N", "provided buffers in the ring, a power of two (default 256), 64 KiB each",
       [&buffers](std::string_view v) {
         std::uint64_t n = 0;
         if (!parse_number(v, 1, 32768, n) || (n & (n - 1)) != 0) return false;
         buffers = static_cast<unsigned>(n);
         return true;
       }},
      {"--sqpoll", nullptr, "a kernel thread polls the submission queue (IORING_SETUP_SQPOLL): a busy CPU",
       [&sqpoll](std::string_view) { return sqpoll = true; }},
  };
  const ServerOptions options = parse_server_options(
      argc, argv, "uring-server", "The io_uring(7) echo server: completions, a multishot accept, provided buffers.",
      extra);
  install_signal_handlers();  // SIGPIPE ignored; SIGINT/SIGTERM write to the self-pipe
  Server s(options, buffers, sqpoll);
  set_up_ring(s);
  set_up_buffers(s);
  tune_malloc();
  s.listener = listen_on_or_die(options, /*nonblocking=*/false);  // io_uring waits for us: no O_NONBLOCK needed
  s.max_clients = options.max_clients != 0 ? options.max_clients : descriptors_available();
  reserve_clients(s);
  arm_accept(s);
  // The self-pipe, watched through the ring: a one-shot poll that completes at a stop request.
  io_uring_sqe* sqe = get_sqe(s);
  io_uring_prep_poll_add(sqe, stop_fd(), POLLIN);
  io_uring_sqe_set_data64(sqe, tag(Op::stop, stop_fd()));
  announce_listening(s.listener.get());

  while (running(s)) {
    const int ms = wait_timeout_ms(s.any_closing, s.accept_paused, s.drain_deadline);
    // One system call per turn, however many operations go in and come out.
    const int rc = submit_and_wait(s, ms);
    ++s.stats.wakeups;
    // EINTR: a signal (the stop request shows in the ring next). ETIME: ms
    // passed. EAGAIN/EBUSY: the kernel is short of memory, or still flushing
    // completions that overflowed the queue: reap, and try again.
    if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN && rc != -EBUSY) {
      errno = -rc;
      die_errno("io_uring_enter");
    }
    serve_completions(s);
    serve_starved(s);
    if (const auto now = Clock::now(); now >= s.next_tick) on_tick(s, now);
  }
  io_uring_queue_exit(&s.ring);  // cancels what is still in flight before the sessions go
  if (options.stats) s.stats.print(stderr);
  return 0;
}

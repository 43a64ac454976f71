#include "bench/load.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>

namespace muxlab::bench {

using harness::ms_until;

namespace {

constexpr std::size_t kConnectBatch = 256;                 // connects in flight: well below SOMAXCONN (4096)
constexpr std::size_t kPingsInFlight = 32;                 // 2-byte echoes in flight while opening
constexpr std::size_t kSourceAddresses = 64;               // loopback sources idle connections come from
constexpr std::size_t kRotations = 16;                     // distinct ping-pong messages
constexpr std::chrono::seconds kStallLimit{10};            // no progress this long fails a run
constexpr std::size_t kMaxChunksRecorded = std::size_t{1} << 20;
constexpr std::size_t kBulkPeriod = 65521;                 // prime: never aligned with a buffer size
constexpr std::size_t kBulkSend = 256 * 1024;
constexpr std::size_t kBulkRecv = 1024 * 1024;

[[noreturn]] void fail(const std::string& what) { throw LoadError(what); }
[[noreturn]] void fail_errno(const char* call) { fail(std::string(call) + ": " + std::strerror(errno)); }

Fd new_epoll() {
  Fd ep(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep) fail_errno("epoll_create1");
  return ep;
}

void watch(int ep, int op, int fd, std::uint32_t events, std::uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  if (::epoll_ctl(ep, op, fd, &ev) < 0) fail_errno("epoll_ctl");
}

int wait_events(int ep, epoll_event* events, int max, int timeout_ms) {
  int n = ::epoll_wait(ep, events, max, timeout_ms);
  if (n < 0 && errno != EINTR) fail_errno("epoll_wait");
  return n < 0 ? 0 : n;
}

std::string show_byte(char c) {
  char text[24];
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) std::snprintf(text, sizeof text, "'%c' (0x%02x)", c, u);
  else std::snprintf(text, sizeof text, "0x%02x", u);
  return text;
}

// Where `got` first differs from `want` (n bytes, known to differ), counted from `offset`.
std::string first_difference(const char* got, const char* want, std::size_t n, std::uint64_t offset) {
  std::size_t i = 0;
  while (i + 1 < n && got[i] == want[i]) ++i;
  return "byte " + std::to_string(offset + i) + " was " + show_byte(got[i]) + ", expected " + show_byte(want[i]);
}

// A connection's readable bytes, for an error message (a server that rejects
// says why: "error: server full").
std::string peek_text(int fd, std::string_view already) {
  std::string text(already);
  char more[128];
  ssize_t k = ::recv(fd, more, sizeof more, MSG_DONTWAIT);
  if (k > 0) text.append(more, static_cast<std::size_t>(k));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

}  // namespace

// ---- LatencyHistogram ------------------------------------------------------

std::size_t LatencyHistogram::bucket_of(std::uint64_t ns) {
  constexpr std::uint64_t kDirect = std::uint64_t{1} << (kSubBits + 1);
  if (ns < kDirect) return static_cast<std::size_t>(ns);
  const int shift = static_cast<int>(std::bit_width(ns)) - (kSubBits + 1);  // keeps the top kSubBits+1 bits
  const std::size_t index = (static_cast<std::size_t>(shift) << kSubBits) + static_cast<std::size_t>(ns >> shift);
  return std::min(index, kBuckets - 1);
}

double LatencyHistogram::bucket_value(std::size_t bucket) {
  constexpr std::size_t kDirect = std::size_t{1} << (kSubBits + 1);
  if (bucket < kDirect) return static_cast<double>(bucket);
  const std::size_t shift = (bucket >> kSubBits) - 1;
  const std::size_t mantissa = (bucket & ((std::size_t{1} << kSubBits) - 1)) | (std::size_t{1} << kSubBits);
  // The middle of the bucket's range [mantissa, mantissa + 1) << shift.
  return (static_cast<double>(mantissa) + 0.5) * static_cast<double>(std::uint64_t{1} << shift);
}

void LatencyHistogram::record(std::uint64_t ns) {
  ++buckets_[bucket_of(ns)];
  ++count_;
}

double LatencyHistogram::percentile_us(double p) const {
  if (count_ == 0) return 0;
  const auto rank = static_cast<std::uint64_t>(p / 100.0 * static_cast<double>(count_ - 1));
  std::uint64_t seen = 0;
  for (std::size_t b = 0; b < kBuckets; ++b) {
    seen += buckets_[b];
    if (seen > rank) return bucket_value(b) / 1000.0;
  }
  return bucket_value(kBuckets - 1) / 1000.0;
}

// ---- open_connections ----------------------------------------------------------

namespace {

// One batch of connections on their way to being proved served.
class Opening {
 public:
  Opening(int epoll, std::vector<Fd>& conns, std::size_t first) : epoll_(epoll), conns_(conns), first_(first) {}

  // The connect() of connection `i` of the batch finished: check it, queue its echo.
  void on_connected(std::size_t i) {
    const int fd = conns_[first_ + i].get();
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) fail("connection " + std::to_string(first_ + i) + ": connect: " + std::strerror(err));
    connected_[i] = true;
    watch(epoll_, EPOLL_CTL_MOD, fd, 0, i);  // nothing until its turn to ping (but a hangup, always reported)
    waiting_.push_back(i);
    ping_waiting();
  }

  // Bytes of connection i's echo arrived, or it hung up; true once the echo is whole.
  bool on_echo(std::size_t i) {
    static constexpr std::string_view kPing = "p\n";
    const int fd = conns_[first_ + i].get();
    char got[2];
    ssize_t k = ::recv(fd, got, kPing.size() - echoed_[i], 0);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) return false;
    if (k < 0) fail_errno("recv");
    const std::string_view part(got, static_cast<std::size_t>(k));
    if (k == 0) fail("connection " + std::to_string(first_ + i) + " closed by the server before its echo");
    if (part != kPing.substr(echoed_[i], part.size()))
      fail("connection " + std::to_string(first_ + i) + ": unexpected answer to a 2-byte echo: '" +
           peek_text(fd, part) + "'");
    echoed_[i] = static_cast<std::uint8_t>(echoed_[i] + part.size());
    if (echoed_[i] < kPing.size()) return false;
    watch(epoll_, EPOLL_CTL_DEL, fd, 0, 0);
    --in_flight_;
    ping_waiting();
    return true;
  }

  bool connected(std::size_t i) const { return connected_[i]; }

 private:
  void ping_waiting() {
    static constexpr std::string_view kPing = "p\n";
    while (in_flight_ < kPingsInFlight && !waiting_.empty()) {
      const std::size_t i = waiting_.back();
      waiting_.pop_back();
      const int fd = conns_[first_ + i].get();
      // Two bytes into an empty socket buffer: one send() takes them.
      if (::send(fd, kPing.data(), kPing.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(kPing.size()))
        fail_errno("send");
      ++in_flight_;
      watch(epoll_, EPOLL_CTL_MOD, fd, EPOLLIN, i);
    }
  }

  int epoll_;
  std::vector<Fd>& conns_;
  std::size_t first_;
  std::array<std::uint8_t, kConnectBatch> echoed_{};
  std::array<bool, kConnectBatch> connected_{};
  std::vector<std::size_t> waiting_;  // connected, their echo not sent yet
  std::size_t in_flight_ = 0;
};

}  // namespace

std::vector<Fd> open_connections(const Address& to, std::size_t count, const OpenLimits& limits) {
  const bool spread = to.is_ipv4_loopback();
  const auto started = Clock::now();
  Fd ep = new_epoll();
  std::vector<Fd> conns;
  conns.reserve(count);
  while (conns.size() < count) {
    const std::size_t first = conns.size();
    const std::size_t batch = std::min(kConnectBatch, count - first);
    for (std::size_t i = 0; i < batch; ++i) {
      const Address source = harness::loopback_source((first + i) % kSourceAddresses);
      conns.push_back(harness::start_connect(to, spread ? &source : nullptr));
      watch(ep.get(), EPOLL_CTL_ADD, conns.back().get(), EPOLLOUT, i);
    }
    Opening opening(ep.get(), conns, first);
    for (std::size_t done = 0; done < batch;) {
      epoll_event events[kConnectBatch];
      int n = wait_events(ep.get(), events, static_cast<int>(kConnectBatch), ms_until(limits.deadline));
      if (n == 0 && Clock::now() >= limits.deadline)
        fail("opening connection " + std::to_string(first + done) + " of " + std::to_string(count) + ": timed out");
      for (int e = 0; e < n; ++e) {
        const std::size_t i = events[e].data.u64;
        if (!opening.connected(i)) opening.on_connected(i);
        else if (opening.on_echo(i)) ++done;
      }
    }
    const auto now = Clock::now();
    const double per_connection = seconds_between(started, now) / static_cast<double>(conns.size());
    const double rest = per_connection * static_cast<double>(count - conns.size());
    if (limits.give_up_early && rest > seconds_between(now, limits.deadline)) {
      char what[200];
      std::snprintf(what, sizeof what, "%zu of %zu connections open after %.1f s: the rest would take %.0f s more",
                    conns.size(), count, seconds_between(started, now), rest);
      throw BudgetExceeded(what);
    }
  }
  return conns;
}

// ---- PingPong --------------------------------------------------------------

PingPong::PingPong(std::vector<Fd>& connections, std::size_t message_bytes)
    : epoll_(new_epoll()),
      message_bytes_(message_bytes),
      messages_pattern_(kRotations * message_bytes),
      inbox_(connections.size() * message_bytes) {
  if (message_bytes < 2) fail("a message needs a payload byte and its '\\n'");
  for (std::size_t r = 0; r < kRotations; ++r) {
    char* m = messages_pattern_.data() + r * message_bytes;
    for (std::size_t i = 0; i + 1 < message_bytes; ++i) m[i] = static_cast<char>('a' + (i + r) % 26);
    m[message_bytes - 1] = '\n';
  }
  conns_.reserve(connections.size());
  for (std::size_t i = 0; i < connections.size(); ++i) {
    conns_.push_back(Conn{.fd = connections[i].get(), .started = {}});
    conns_.back().rotation = i % kRotations;  // neighbours send different bytes
    watch(epoll_.get(), EPOLL_CTL_ADD, connections[i].get(), EPOLLIN, i);
  }
}

void PingPong::reset_counts() {
  messages_ = 0;
  latencies_ = LatencyHistogram{};
}

void PingPong::start_message(Conn& c) {
  c.rotation = (c.rotation + 1) % kRotations;
  c.sent = c.received = 0;
  c.busy = true;
  c.started = Clock::now();
  const char* message = messages_pattern_.data() + c.rotation * message_bytes_;
  ssize_t k = ::send(c.fd, message, message_bytes_, MSG_NOSIGNAL);
  if (k < 0 && errno != EAGAIN && errno != EINTR) fail_errno("send");
  c.sent = k > 0 ? static_cast<std::size_t>(k) : 0;
  if (c.sent < message_bytes_)  // the socket buffer is full: finish when writable
    watch(epoll_.get(), EPOLL_CTL_MOD, c.fd, EPOLLIN | EPOLLOUT, static_cast<std::uint64_t>(&c - conns_.data()));
}

void PingPong::on_event(Conn& c, std::uint32_t events) {
  const std::uint64_t index = static_cast<std::uint64_t>(&c - conns_.data());
  const char* message = messages_pattern_.data() + c.rotation * message_bytes_;
  if ((events & EPOLLOUT) && c.sent < message_bytes_) {
    ssize_t k = ::send(c.fd, message + c.sent, message_bytes_ - c.sent, MSG_NOSIGNAL);
    if (k < 0 && errno != EAGAIN && errno != EINTR) fail_errno("send");
    if (k > 0) c.sent += static_cast<std::size_t>(k);
    if (c.sent == message_bytes_) watch(epoll_.get(), EPOLL_CTL_MOD, c.fd, EPOLLIN, index);
  }
  if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
  char* slot = inbox_.data() + index * message_bytes_;
  ssize_t k = ::recv(c.fd, slot + c.received, message_bytes_ - c.received, 0);
  if (k < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (k < 0) fail_errno("recv");
  if (k == 0) fail("connection " + std::to_string(index) + " closed by the server in the middle of a ping-pong");
  if (!c.busy) fail("connection " + std::to_string(index) + ": bytes nobody asked for");
  c.received += static_cast<std::size_t>(k);
  if (c.received < message_bytes_) return;
  if (std::memcmp(slot, message, message_bytes_) != 0)
    fail("wrong echo on connection " + std::to_string(index) + ": of a " + std::to_string(message_bytes_) +
         "-byte message, " + first_difference(slot, message, message_bytes_, 0));
  latencies_.record(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - c.started).count()));
  ++messages_;
  ++all_messages_;
  c.busy = false;
  if (sending_) start_message(c);
}

void PingPong::wait_once(int timeout_ms) {
  epoll_event events[256];
  int n = wait_events(epoll_.get(), events, 256, timeout_ms);
  for (int e = 0; e < n; ++e) on_event(conns_[events[e].data.u64], events[e].events);
}

void PingPong::run_for(Clock::duration how_long) {
  sending_ = true;
  for (Conn& c : conns_)
    if (!c.busy) start_message(c);
  const auto end = Clock::now() + how_long;
  auto last_progress = Clock::now();
  std::uint64_t last_count = messages_;
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    wait_once(std::min(ms_until(end), 100));
    if (messages_ != last_count) {
      last_count = messages_;
      last_progress = now;
    } else if (now - last_progress > kStallLimit) {
      fail("no echo for " + std::to_string(kStallLimit.count()) + " s");
    }
  }
}

void PingPong::finish() {
  sending_ = false;
  const auto deadline = Clock::now() + kStallLimit;
  while (std::any_of(conns_.begin(), conns_.end(), [](const Conn& c) { return c.busy; })) {
    if (Clock::now() >= deadline) fail("echoes still owed after the run");
    wait_once(ms_until(deadline));
  }
}

// ---- ChunkedReplies --------------------------------------------------------

ChunkedReplies::ChunkedReplies(Fd connection, std::string payload, std::uint32_t repeat, std::size_t recv_bytes)
    : fd_(std::move(connection)),
      epoll_(new_epoll()),
      request_(payload + "\n"),
      payload_bytes_(payload.size()),
      reply_total_(payload.size() * repeat + 1),
      inbox_(recv_bytes) {
  while (pattern_.size() < recv_bytes + payload_bytes_) pattern_.insert(pattern_.end(), payload.begin(), payload.end());
  chunks_.reserve(kMaxChunksRecorded);
  watch(epoll_.get(), EPOLL_CTL_ADD, fd_.get(), EPOLLIN, 0);
}

void ChunkedReplies::reset_counts() {
  replies_ = reply_bytes_ = recv_calls_ = 0;
  chunks_.clear();
  latencies_ = LatencyHistogram{};
}

void ChunkedReplies::one_reply(Clock::time_point deadline) {
  // The request is a few bytes into an empty socket buffer: one send() takes it.
  const auto started = Clock::now();
  if (::send(fd_.get(), request_.data(), request_.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request_.size()))
    fail_errno("send");
  const std::size_t body = reply_total_ - 1;
  for (std::size_t got = 0; got < reply_total_;) {
    // recv() first, as a blocking client would; wait only when nothing is there.
    ssize_t k = ::recv(fd_.get(), inbox_.data(), inbox_.size(), 0);
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
      epoll_event ev;
      if (wait_events(epoll_.get(), &ev, 1, ms_until(deadline)) == 0 && Clock::now() >= deadline)
        fail("reply stalled after " + std::to_string(got) + " of " + std::to_string(reply_total_) + " bytes");
      continue;
    }
    if (k < 0) fail_errno("recv");
    if (k == 0) fail("EOF after " + std::to_string(got) + " of " + std::to_string(reply_total_) + " reply bytes");
    const auto n = static_cast<std::size_t>(k);
    if (got + n > reply_total_) fail("more bytes than the reply of " + std::to_string(reply_total_) + " owed");
    const std::size_t in_body = std::min(n, body - std::min(body, got));
    const char* want = pattern_.data() + got % payload_bytes_;
    if (std::memcmp(inbox_.data(), want, in_body) != 0)
      fail("wrong reply: " + first_difference(inbox_.data(), want, in_body, got) + " (reply of " +
           std::to_string(reply_total_) + " bytes)");
    if (in_body < n && inbox_[in_body] != '\n')
      fail("wrong reply: byte " + std::to_string(got + in_body) + " was " + show_byte(inbox_[in_body]) +
           ", expected the closing '\\n'");
    got += n;
    ++recv_calls_;
    if (chunks_.size() < kMaxChunksRecorded) chunks_.push_back(static_cast<std::uint32_t>(n));
  }
  latencies_.record(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started).count()));
  ++replies_;
  ++all_replies_;
  reply_bytes_ += reply_total_;
}

void ChunkedReplies::run_for(Clock::duration how_long) {
  const auto end = Clock::now() + how_long;
  do one_reply(Clock::now() + std::chrono::seconds(30));
  while (Clock::now() < end);
}

// ---- Bulk ------------------------------------------------------------------

Bulk::Bulk(Fd connection, std::size_t window)
    : fd_(std::move(connection)), epoll_(new_epoll()), window_(window), pattern_(kBulkPeriod + kBulkRecv), inbox_(kBulkRecv) {
  std::uint64_t x = 0x9E3779B97F4A7C15ull;  // xorshift: bytes that no echo gets right by accident
  for (std::size_t i = 0; i < kBulkPeriod; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    pattern_[i] = static_cast<char>(x >> 56);
  }
  for (std::size_t i = kBulkPeriod; i < pattern_.size(); ++i) pattern_[i] = pattern_[i - kBulkPeriod];
  watch(epoll_.get(), EPOLL_CTL_ADD, fd_.get(), EPOLLIN | EPOLLOUT, 0);
}

// One round: send what the window allows, read what has come back, and wait
// for the socket only when neither moved.
void Bulk::step(int timeout_ms) {
  bool moved = false;
  if (!half_closed_ && sent_ < send_limit_ && sent_ - received_ < window_) {
    const std::size_t n = static_cast<std::size_t>(
        std::min<std::uint64_t>({kBulkSend, window_ - (sent_ - received_), send_limit_ - sent_}));
    ssize_t k = ::send(fd_.get(), pattern_.data() + sent_ % kBulkPeriod, n, MSG_NOSIGNAL);
    if (k < 0 && errno != EAGAIN && errno != EINTR) fail_errno("send");
    if (k > 0) {
      sent_ += static_cast<std::uint64_t>(k);
      moved = true;
    }
  }
  ssize_t k = ::recv(fd_.get(), inbox_.data(), inbox_.size(), 0);
  if (k < 0 && errno != EAGAIN && errno != EINTR) fail_errno("recv");
  if (k == 0) {
    if (!half_closed_) fail("the server closed the stream");
    if (received_ != sent_) fail("EOF with " + std::to_string(sent_ - received_) + " bytes still owed");
    eof_ = true;
    return;
  }
  if (k > 0) {
    const auto n = static_cast<std::size_t>(k);
    if (received_ + n > sent_) fail("more bytes back than were sent");
    const char* want = pattern_.data() + received_ % kBulkPeriod;
    if (std::memcmp(inbox_.data(), want, n) != 0)
      fail("wrong echo in the stream: " + first_difference(inbox_.data(), want, n, received_));
    received_ += n;
    moved = true;
  }
  if (moved) return;
  const bool out = !half_closed_ && sent_ < send_limit_ && sent_ - received_ < window_;
  if (out != want_out_) {
    want_out_ = out;
    watch(epoll_.get(), EPOLL_CTL_MOD, fd_.get(), EPOLLIN | (out ? EPOLLOUT : 0u), 0);
  }
  epoll_event ev;
  wait_events(epoll_.get(), &ev, 1, timeout_ms);
}

void Bulk::run_for(Clock::duration how_long) {
  const auto end = Clock::now() + how_long;
  auto last_progress = Clock::now();
  for (auto now = Clock::now(); now < end; now = Clock::now()) {
    const std::uint64_t before = received_;
    step(std::min(ms_until(end), 100));
    if (received_ != before) last_progress = now;
    else if (now - last_progress > kStallLimit) fail("the echo stream stalled");
  }
}

void Bulk::finish() {
  // End the stream just after a '\n': a line-framing server answers an
  // unterminated tail with a '\n' of its own, one byte more than was sent.
  send_limit_ = sent_;
  while (sent_ > 0 && pattern_[(send_limit_ - 1) % kBulkPeriod] != '\n') ++send_limit_;
  const auto deadline = Clock::now() + kStallLimit;
  while (sent_ < send_limit_) {
    if (Clock::now() >= deadline) fail("the echo stream stalled at its end");
    step(ms_until(deadline));
  }
  ::shutdown(fd_.get(), SHUT_WR);
  half_closed_ = true;
  while (!eof_) {
    if (Clock::now() >= deadline) fail("no EOF after the half-close");
    step(ms_until(deadline));
  }
}

// ---- expect_silence --------------------------------------------------------

void expect_silence(std::vector<Fd>& connections, Clock::duration how_long) {
  Fd ep = new_epoll();
  for (std::size_t i = 0; i < connections.size(); ++i)
    watch(ep.get(), EPOLL_CTL_ADD, connections[i].get(), EPOLLIN | EPOLLRDHUP, i);
  const auto end = Clock::now() + how_long;
  while (Clock::now() < end) {
    epoll_event ev;
    if (wait_events(ep.get(), &ev, 1, ms_until(end)) > 0)
      fail("idle connection " + std::to_string(ev.data.u64) + " got bytes or a close nobody asked for");
  }
}

}  // namespace muxlab::bench

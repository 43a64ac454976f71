// load.hpp - the load generator of echo-bench and echo-load: one thread, one
// epoll instance, nonblocking sockets.
//
// It is none of the measured servers, and it is built not to be their
// bottleneck: every buffer is allocated before the timed part, a message costs
// a send(), the recv()s its reply needs and a memcmp(). It checks every byte it
// gets back; a wrong or missing echo throws LoadError naming the connection, the
// offset and the byte, which a benchmark turns into a failed run. Every wait has
// a deadline, so a server that hangs fails the run instead of hanging it.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/fd.hpp"
#include "harness/client.hpp"

namespace muxlab::bench {

using harness::Address;
using harness::Clock;
using muxlab::core::Fd;

struct LoadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Round-trip times, log-linear buckets (64 per power of two, so within 1.6 %).
// Recording allocates nothing.
class LatencyHistogram {
 public:
  void record(std::uint64_t ns);
  double percentile_us(double p) const;  // p in [0, 100]; 100 is the largest
  std::uint64_t count() const { return count_; }

 private:
  static constexpr int kSubBits = 6;
  static constexpr std::size_t kBuckets = (64 - kSubBits) << kSubBits;
  static std::size_t bucket_of(std::uint64_t ns);
  static double bucket_value(std::size_t bucket);
  std::array<std::uint64_t, kBuckets> buckets_{};
  std::uint64_t count_ = 0;
};

// The points of the latency distribution that echo-bench and echo-load report
// (rtt_p50_us, ..., "p99.9"), enough to draw its CDF.
struct Percentile {
  double p;
  const char* name;  // "p99_9": a counter name's part
};
inline constexpr std::array<Percentile, 10> kReportedPercentiles{{{0, "p0"},
                                                                  {10, "p10"},
                                                                  {25, "p25"},
                                                                  {50, "p50"},
                                                                  {75, "p75"},
                                                                  {90, "p90"},
                                                                  {99, "p99"},
                                                                  {99.9, "p99_9"},
                                                                  {99.99, "p99_99"},
                                                                  {100, "p100"}}};

// How open_connections() may fail early.
struct OpenLimits {
  Clock::time_point deadline;  // every connection opened and proved by then, or LoadError
  // With give_up_early, BudgetExceeded is thrown as soon as the rate so
  // far says the deadline cannot be met, instead of at the deadline.
  bool give_up_early = false;
};

// open_connections() could not have finished in time (OpenLimits::give_up_early).
struct BudgetExceeded : LoadError {
  using LoadError::LoadError;
};

// Opens `count` connections to `to` and proves each one served with a 2-byte
// echo: a connect() that succeeds only means the kernel queued it. Connects go a
// few hundred at a time, below any listen backlog, so that none is dropped and
// retried a second later; at most 32 echoes are in flight, which keeps the
// server's transient buffers out of an RSS measurement taken afterwards. To a
// 127.0.0.0/8 destination the connections come from many loopback source
// addresses (harness::loopback_source), so the ephemeral port range never limits them.
std::vector<Fd> open_connections(const Address& to, std::size_t count, const OpenLimits& limits);

// C connections, each with one message in flight: send it, read the whole echo,
// check it, send the next. Messages are `message_bytes` long, '\n' included,
// their contents rotating so that a stale or misplaced reply cannot pass.
class PingPong {
 public:
  PingPong(std::vector<Fd>& connections, std::size_t message_bytes);

  void run_for(Clock::duration how_long);  // keeps every connection busy
  void finish();                           // sends nothing new; reads what is owed
  std::uint64_t messages() const { return messages_; }              // since reset_counts()
  std::uint64_t all_messages() const { return all_messages_; }      // since the start
  const LatencyHistogram& latencies() const { return latencies_; }  // since reset_counts()
  void reset_counts();                                              // after a warm-up

 private:
  struct Conn {
    int fd;
    std::size_t sent = 0;      // bytes of the current message sent
    std::size_t received = 0;  // bytes of its echo received
    std::size_t rotation = 0;  // which message this one is
    Clock::time_point started;
    bool busy = false;
  };
  void start_message(Conn& c);
  void on_event(Conn& c, std::uint32_t events);
  void wait_once(int timeout_ms);

  Fd epoll_;
  std::vector<Conn> conns_;
  std::size_t message_bytes_;
  std::vector<char> messages_pattern_;  // kRotations messages back to back
  std::vector<char> inbox_;             // one message-sized slot per connection
  LatencyHistogram latencies_;
  std::uint64_t messages_ = 0, all_messages_ = 0;
  bool sending_ = true;
};

// One connection asking for long replies (line framing, server run with
// --repeat R): send `payload\n`, read the whole reply with recv() calls of at
// most `recv_bytes`, check it, and record the size of every recv().
class ChunkedReplies {
 public:
  ChunkedReplies(Fd connection, std::string payload, std::uint32_t repeat, std::size_t recv_bytes);

  void run_for(Clock::duration how_long);  // whole replies only, at least one
  std::uint64_t replies() const { return replies_; }          // since reset_counts()
  std::uint64_t all_replies() const { return all_replies_; }  // since the start
  std::uint64_t reply_bytes() const { return reply_bytes_; }
  std::uint64_t recv_calls() const { return recv_calls_; }
  const LatencyHistogram& latencies() const { return latencies_; }  // request sent to last byte read
  std::vector<std::uint32_t>& chunk_sizes() { return chunks_; }     // capped, see load.cpp
  void reset_counts();

 private:
  void one_reply(Clock::time_point deadline);

  Fd fd_;
  Fd epoll_;
  std::string request_;
  std::size_t payload_bytes_;
  std::size_t reply_total_;
  std::vector<char> pattern_;  // the payload repeated, recv_bytes + payload long
  std::vector<char> inbox_;
  std::vector<std::uint32_t> chunks_;
  LatencyHistogram latencies_;
  std::uint64_t replies_ = 0, all_replies_ = 0, reply_bytes_ = 0, recv_calls_ = 0;
};

// One raw connection streaming both ways: write a pseudo-random byte stream,
// read it back, check it, with at most `window` bytes in flight. The stream
// holds a '\n' at least every 1302 bytes and ends just after one, so a
// line-framing echo server with --repeat 1 echoes it unchanged as well.
class Bulk {
 public:
  explicit Bulk(Fd connection, std::size_t window = 4u << 20);

  void run_for(Clock::duration how_long);
  void finish();  // half-close, read the rest back to EOF, check it
  std::uint64_t echoed_bytes() const { return received_; }
  void reset_counts() { counted_from_ = received_; }
  std::uint64_t counted_bytes() const { return received_ - counted_from_; }

 private:
  void step(int timeout_ms);

  Fd fd_;
  Fd epoll_;
  std::size_t window_;
  std::vector<char> pattern_;
  std::vector<char> inbox_;
  std::uint64_t sent_ = 0, received_ = 0, counted_from_ = 0;
  std::uint64_t send_limit_ = UINT64_MAX;  // set by finish(): where the stream ends
  bool want_out_ = true;
  bool half_closed_ = false;
  bool eof_ = false;
};

// Waits on idle connections for `how_long`: any byte or hangup is an error
// (nothing was asked, so nothing is owed).
void expect_silence(std::vector<Fd>& connections, Clock::duration how_long);

}  // namespace muxlab::bench

// wire.hpp - what the conformance cases need beyond harness/: many clients
// driven by one poll() loop, the server's --stats counters, a few probes.
//
// Every wait here is on readiness with a deadline: a server that hangs fails the
// case with a message, it never hangs the suite.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "harness/client.hpp"

namespace muxlab::conformance {

using harness::Clock;
using harness::TestClient;

// Built with -fsanitize (MUXLAB_SANITIZE, which the servers share): memory
// figures are then the sanitizer's (ASan's quarantine alone holds 256 MB), and its
// runtime needs descriptors of its own (UBSan's checks open a pipe), so it aborts
// under EMFILE. The cases that measure those skip their bounds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

inline constexpr std::string_view kServerFull = "error: server full\n";
inline constexpr std::size_t kMiB = 1024 * 1024;

// One client's part in run_conversations().
struct Conversation {
  explicit Conversation(TestClient c) : client(std::move(c)) {}

  TestClient client;
  std::string to_send;
  std::vector<std::size_t> chunks;  // sizes of successive send()s; empty = as much as fits
  std::string expected;             // the whole answer the client should read
  bool half_close = true;           // shut our side once all is sent, done at EOF;
                                    // false: done once expected.size() bytes came, socket kept open
  std::size_t reset_after = std::string::npos;  // reset (SO_LINGER 0) once this many bytes came

  // Results.
  std::size_t sent = 0;
  std::string received;
  bool eof = false;
  bool done = false;
  std::string error;      // a reset or another socket error, with the call that saw it

  bool answered_exactly() const { return error.empty() && received == expected && (eof || !half_close); }
};

// Drives every conversation at once with one poll() loop: sends each one's
// bytes in its chunks while reading what comes back (a server may answer before
// it has read everything, and a blocking server only reads while it owes nothing,
// so a client must read while it sends). Returns when all are done; throws on
// the deadline, naming how many were left.
void run_conversations(std::vector<Conversation>& conversations, Clock::duration timeout);

// One client: send `bytes` while reading, half-close, read to EOF. Throws on the
// deadline or a socket error.
std::string converse(TestClient& client, std::string_view bytes,
                     Clock::duration timeout = std::chrono::seconds(20));

// Reads a reply of payload x repeat + '\n' as it streams in and checks every
// byte against that pattern without storing it (a reply may be 600 MB).
class ReplyChecker {
 public:
  ReplyChecker(std::string payload, std::size_t repeat);

  // One recv() of at most `max` bytes, once readable. Returns the count, 0 at
  // EOF or on a reset (see reset()). Throws on the deadline.
  std::size_t read_some(TestClient& client, std::size_t max, Clock::time_point deadline);

  std::size_t received() const { return received_; }
  std::size_t total() const { return total_; }
  bool matches() const { return matches_; }  // every byte so far was the right one
  bool eof() const { return eof_; }
  bool reset() const { return reset_; }
  bool complete() const { return eof_ && matches_ && received_ == total_; }

 private:
  std::string payload_;
  std::size_t total_;
  std::size_t received_ = 0;
  bool matches_ = true;
  bool eof_ = false;
  bool reset_ = false;
  std::vector<char> buffer_;
};

// The partial-send exchange: a server started with these arguments answers a
// 50 KB line with kSmallSndbufRepeat copies through a 16 KiB SO_SNDBUF, so its
// 64 KiB sends go out in parts. small_sndbuf_exchange() sends the line,
// half-closes, checks the whole reply, and returns its size.
inline constexpr std::size_t kSmallSndbufRepeat = 200;
inline const std::vector<std::string> kSmallSndbufArgs = {"--repeat", std::to_string(kSmallSndbufRepeat), "--sndbuf", "16384"};
std::size_t small_sndbuf_exchange(TestClient client);

// The client that never reads: sends `bytes`, over and over, and reads nothing
// until the server pushes back, the socket staying unwritable for `quiet`.
// `sent` counts what went. Fails the test, fatally, once `most` bytes went or
// after `limit`: call it inside ASSERT_NO_FATAL_FAILURE.
void send_until_pushed_back(TestClient& hog, std::string_view bytes, std::size_t most,
                            std::chrono::milliseconds quiet, Clock::duration limit, std::size_t& sent);

// 64 lines of 1023 `fill` bytes and a newline: what a never-reading client sends.
std::string kilobyte_lines(char fill);

// Splits n bytes into sizes drawn uniformly from [1, max_chunk] by `seed`.
std::vector<std::size_t> random_chunks(std::size_t n, std::size_t max_chunk, std::uint32_t seed);

// "name value" lines of a server's --stats output.
class ServerStats {
 public:
  explicit ServerStats(std::string_view stderr_text);
  // The counter's value; a missing counter fails the current test.
  std::uint64_t operator[](const std::string& name) const;
  const std::string& text() const { return text_; }

 private:
  std::map<std::string, std::uint64_t> values_;
  std::string text_;
};

// Raises this process's RLIMIT_NOFILE soft limit to the hard limit (the idle
// scaling case holds thousands of sockets); children inherit it. Returns it.
std::size_t raise_open_file_limit();

// Whether a socket can be bound on ::1 here (IPv6 loopback may be disabled).
bool ipv6_loopback_works();

// CPU time (user + system) the process has used so far, from /proc/PID/stat.
std::chrono::milliseconds cpu_time(pid_t pid);

}  // namespace muxlab::conformance

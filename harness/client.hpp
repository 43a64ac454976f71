// client.hpp - a test client whose every step has a deadline.
//
// The socket is nonblocking and each operation waits with poll(), so a server
// that hangs makes a test fail with a clear message (std::runtime_error) instead
// of hanging it.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/fd.hpp"

namespace muxlab::harness {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::seconds kStepTimeout{20};

class TestClient {
 public:
  // Connects to host:port (IPv4 or IPv6 literal or name). Throws on failure.
  static TestClient connect(const std::string& host, std::uint16_t port,
                            std::chrono::milliseconds timeout = kStepTimeout);

  int fd() const { return fd_.get(); }

  // Sends every byte (looping over partial sends) or throws.
  void send_all(std::string_view bytes, std::chrono::milliseconds timeout = kStepTimeout);
  // Sends what fits without waiting; returns how much was taken.
  std::size_t send_some(std::string_view bytes);
  void shutdown_write();

  // Reads until EOF; throws on timeout, on a reset, or past `limit` bytes.
  std::string read_until_eof(std::chrono::milliseconds timeout = kStepTimeout,
                             std::size_t limit = std::size_t{1} << 31);
  // Reads up to and including the next '\n'.
  std::string read_line(std::chrono::milliseconds timeout = kStepTimeout);
  // One recv() of at most `max` bytes once readable; "" means EOF.
  std::string read_some(std::size_t max, std::chrono::milliseconds timeout = kStepTimeout);

  // Closes with SO_LINGER 0: the kernel sends a reset instead of a FIN.
  void reset();
  void close() { fd_.reset(); }

 private:
  explicit TestClient(muxlab::core::Fd fd) : fd_(std::move(fd)) {}
  void wait_for(short events, Clock::time_point deadline, const char* what);

  muxlab::core::Fd fd_;
  std::string pending_;  // bytes read past a line, for read_line()
};

}  // namespace muxlab::harness

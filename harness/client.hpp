// client.hpp - the client side of every test and of the benchmark, written once:
// resolving and connecting with a deadline, the deadline arithmetic itself,
// raising the descriptor limit, and TestClient, a test client whose every step
// has a deadline.
//
// Sockets are nonblocking and every wait is a poll() with a timeout, so a server
// that hangs makes a test fail with a clear message (std::runtime_error) instead
// of hanging it.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/fd.hpp"

namespace muxlab::harness {

using Clock = std::chrono::steady_clock;
inline constexpr std::chrono::seconds kStepTimeout{20};

// ---- plumbing shared by the tests, echo-bench and echo-load -------------------

// Milliseconds left before `deadline`, rounded up, never negative: a timeout for
// poll() or epoll_wait() that neither spins on a sub-millisecond rest nor waits past it.
int ms_until(Clock::time_point deadline);

// A resolved socket address (IPv4 or IPv6).
struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  bool is_ipv4_loopback() const;  // in 127.0.0.0/8
  std::string text() const;       // "127.0.0.1:2000", "[::1]:2000"
};

// host (a literal or a name) and port, the first answer of getaddrinfo(3).
// Throws std::runtime_error.
Address resolve(const std::string& host, std::uint16_t port);

// "HOST:PORT" or "[IPV6]:PORT" into its parts; false if it is not one.
bool split_host_port(std::string_view text, std::string& host, std::uint16_t& port);

// The loopback source address number `n` (127.0.1.1 + n, n < 65000): connections
// spread over them each have their own 4-tuple space, so that the ephemeral port
// range (about 28,000 ports) never limits how many one destination may receive.
Address loopback_source(std::size_t n);

// Starts a nonblocking connect() (TCP_NODELAY set: a message leaves in one
// segment, never held back by Nagle). With `source`, binds to it first with
// IP_BIND_ADDRESS_NO_PORT, so that the kernel picks the port at connect() for
// the whole 4-tuple, not at bind() for the address alone. Throws on failure.
core::Fd start_connect(const Address& to, const Address* source = nullptr);

// Waits until a started connect() has finished; throws if it failed or the deadline passed.
void finish_connect(int fd, Clock::time_point deadline);

// start_connect() and finish_connect(): a connected nonblocking socket.
core::Fd connect_by(const Address& to, Clock::time_point deadline);

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit (children
// inherit it: idle-connection cases hold thousands of sockets). Returns the soft limit now.
std::size_t raise_open_file_limit();

// ---- TestClient ------------------------------------------------------------------

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

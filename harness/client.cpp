#include "harness/client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>

namespace muxlab::harness {

using muxlab::core::Fd;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

std::string errno_text(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

}  // namespace

// ---- plumbing ------------------------------------------------------------------

int ms_until(Clock::time_point deadline) {
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

bool Address::is_ipv4_loopback() const {
  if (storage.ss_family != AF_INET) return false;
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
  return (ntohl(v4->sin_addr.s_addr) >> 24) == 127;
}

std::string Address::text() const {
  char host[INET6_ADDRSTRLEN] = "?";
  std::uint16_t port = 0;
  if (storage.ss_family == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    ::inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
    port = ntohs(v6->sin6_port);
    return "[" + std::string(host) + "]:" + std::to_string(port);
  }
  const auto* v4 = reinterpret_cast<const sockaddr_in*>(&storage);
  ::inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
  port = ntohs(v4->sin_port);
  return std::string(host) + ":" + std::to_string(port);
}

Address resolve(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    fail("cannot resolve " + host + ": " + ::gai_strerror(rc));
  Address address;
  std::memcpy(&address.storage, found->ai_addr, found->ai_addrlen);
  address.length = found->ai_addrlen;
  ::freeaddrinfo(found);
  return address;
}

bool split_host_port(std::string_view text, std::string& host, std::uint16_t& port) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  std::string_view h = text.substr(0, colon), p = text.substr(colon + 1);
  if (h.starts_with('[') && h.ends_with(']')) h = h.substr(1, h.size() - 2);
  else if (h.find(':') != std::string_view::npos) return false;  // an IPv6 literal needs its brackets
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (h.empty() || p.empty() || ec != std::errc() || end != p.data() + p.size() || value == 0 || value > 65535)
    return false;
  host = std::string(h);
  port = static_cast<std::uint16_t>(value);
  return true;
}

Address loopback_source(std::size_t n) {
  Address address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage);
  v4->sin_family = AF_INET;
  v4->sin_addr.s_addr = htonl(0x7f000101u + static_cast<std::uint32_t>(n % 65000));  // 127.0.1.1 + n
  address.length = sizeof(sockaddr_in);
  return address;
}

Fd start_connect(const Address& to, const Address* source) {
  Fd fd(::socket(to.storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) fail(errno_text("socket"));
  if (source) {
    int on = 1;
    ::setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof on);
    if (::bind(fd.get(), source->get(), source->length) < 0) fail(errno_text(("bind " + source->text()).c_str()));
  }
  if (::connect(fd.get(), to.get(), to.length) < 0 && errno != EINPROGRESS)
    fail(errno_text(("connect " + to.text()).c_str()));
  int on = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return fd;
}

void finish_connect(int fd, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, POLLOUT, 0};
    int rc = ::poll(&p, 1, ms_until(deadline));
    if (rc > 0) break;
    if (rc == 0) fail("connect: timed out");
    if (errno != EINTR) fail(errno_text("poll"));
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) fail(std::string("connect: ") + std::strerror(err));
}

Fd connect_by(const Address& to, Clock::time_point deadline) {
  Fd fd = start_connect(to);
  finish_connect(fd.get(), deadline);
  return fd;
}

std::size_t raise_open_file_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur != limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return static_cast<std::size_t>(limit.rlim_cur);
}

// ---- TestClient ------------------------------------------------------------------

TestClient TestClient::connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  return TestClient(connect_by(resolve(host, port), Clock::now() + timeout));
}

void TestClient::wait_for(short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    if (Clock::now() >= deadline) fail(std::string("timed out waiting to ") + what);
    pollfd p{fd_.get(), events, 0};
    int rc = ::poll(&p, 1, ms_until(deadline));
    if (rc > 0) return;  // ready, or an error/hangup the next call will report
    if (rc < 0 && errno != EINTR) fail(errno_text("poll"));
  }
}

std::size_t TestClient::send_some(std::string_view bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t k = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (k > 0) {
      sent += static_cast<std::size_t>(k);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      break;
    } else if (errno != EINTR) {
      fail(errno_text("send"));
    }
  }
  return sent;
}

void TestClient::send_all(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (std::size_t sent = 0;;) {
    sent += send_some(bytes.substr(sent));
    if (sent == bytes.size()) return;
    wait_for(POLLOUT, deadline, "send");
  }
}

void TestClient::shutdown_write() {
  if (::shutdown(fd_.get(), SHUT_WR) < 0) fail(errno_text("shutdown"));
}

std::string TestClient::read_some(std::size_t max, std::chrono::milliseconds timeout) {
  if (!pending_.empty()) {
    std::string out = pending_.substr(0, max);
    pending_.erase(0, out.size());
    return out;
  }
  const auto deadline = Clock::now() + timeout;
  std::string out(max, '\0');
  for (;;) {
    ssize_t k = ::recv(fd_.get(), out.data(), max, 0);
    if (k >= 0) {
      out.resize(static_cast<std::size_t>(k));
      return out;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_for(POLLIN, deadline, "read");
    } else if (errno != EINTR) {
      fail(errno_text("recv"));
    }
  }
}

std::string TestClient::read_until_eof(std::chrono::milliseconds timeout, std::size_t limit) {
  const auto deadline = Clock::now() + timeout;
  std::string all = std::move(pending_);
  pending_.clear();
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) fail("timed out waiting for EOF after " + std::to_string(all.size()) + " bytes");
    std::string chunk = read_some(256 * 1024, left);
    if (chunk.empty()) return all;
    all += chunk;
    if (all.size() > limit) fail("more than " + std::to_string(limit) + " bytes before EOF");
  }
}

std::string TestClient::read_line(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  for (;;) {
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      pending_ = line.substr(nl + 1) + pending_;
      line.resize(nl + 1);
      return line;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) fail("timed out waiting for a line; have: " + line.substr(0, 80));
    std::string chunk = read_some(64 * 1024, left);
    if (chunk.empty()) fail("EOF before end of line; have: " + line.substr(0, 80));
    line += chunk;
  }
}

void TestClient::reset() {
  linger off{1, 0};
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &off, sizeof off);
  fd_.reset();
}

}  // namespace muxlab::harness

#include "harness/client.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace muxlab::harness {

using muxlab::core::Fd;

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

std::string errno_text(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

}  // namespace

TestClient TestClient::connect(const std::string& host, std::uint16_t port, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0)
    fail("cannot resolve " + host);
  Fd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) {
    ::freeaddrinfo(found);
    fail(errno_text("socket"));
  }
  int rc = ::connect(fd.get(), found->ai_addr, found->ai_addrlen);
  ::freeaddrinfo(found);
  TestClient client(std::move(fd));
  if (rc < 0) {
    if (errno != EINPROGRESS) fail(errno_text("connect"));
    client.wait_for(POLLOUT, Clock::now() + timeout, "connect");
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(client.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) fail(std::string("connect: ") + std::strerror(err));
  }
  int on = 1;
  ::setsockopt(client.fd(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return client;
}

void TestClient::wait_for(short events, Clock::time_point deadline, const char* what) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) fail(std::string("timed out waiting to ") + what);
    pollfd p{fd_.get(), events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(left));
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

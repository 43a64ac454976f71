#include "core/socket.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>

#include "core/log.hpp"

namespace muxlab::core {

namespace {

std::string format_address(const sockaddr_storage& ss) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  // SPEC §2: an IPv6 address in brackets, so that the port's colon stands out.
  if (ss.ss_family == AF_INET6) return "[" + std::string(host) + "]:" + std::to_string(port);
  return std::string(host) + ":" + std::to_string(port);
}

}  // namespace

Fd listen_on_or_die(const ServerOptions& options, bool nonblocking) {
  const std::string& host = options.host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;  // IPv4 or IPv6, whichever host names
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(options.port);
  if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
    die("cannot resolve %s: %s", host.c_str(), ::gai_strerror(rc));
  const addrinfo& ai = *found;
  const int flags = SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  Fd fd(::socket(ai.ai_family, ai.ai_socktype | flags, ai.ai_protocol));
  if (!fd) die_errno("socket");
  // Restarting a server must not wait out TIME_WAIT of its last connections.
  int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) < 0) die_errno("setsockopt SO_REUSEADDR");
  if (::bind(fd.get(), ai.ai_addr, ai.ai_addrlen) < 0) die_errno("bind %s:%u", host.c_str(), options.port);
  if (options.send_buffer > 0) {
    // Set on the listener, so that accept() hands out sockets that have it already.
    int size = static_cast<int>(options.send_buffer);
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size) < 0) die_errno("setsockopt SO_SNDBUF");
  }
  ::freeaddrinfo(found);
  // Default SOMAXCONN (4096 on current Linux): bursts of connects wait in the
  // kernel's queue. The kernel caps it at net.core.somaxconn.
  if (::listen(fd.get(), options.backlog) < 0) die_errno("listen");
  return fd;
}

void announce_listening(int listen_fd) {
  std::printf("listening on %s\n", local_address(listen_fd).c_str());
  std::fflush(stdout);  // a pipe is block-buffered: whoever waits for this line must get it now
}

std::string local_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "?";
  return format_address(ss);
}

std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "?";
  return format_address(ss);
}

std::size_t descriptors_available(std::size_t ceiling) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY)
    ceiling = std::min<std::size_t>(ceiling, limit.rlim_cur);
  std::size_t open_now = 0;  // the listing's own descriptor counts too: a second spare
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (std::stoull(name) < ceiling) ++open_now;
  }
  return ceiling > open_now + 1 ? ceiling - open_now - 1 : 1;
}

Accepted accept_client(int listen_fd, bool nonblocking, Stats& stats) {
  const int flags = SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
  Fd fd(::accept4(listen_fd, nullptr, nullptr, flags));
  if (fd) {
    ++stats.connections;
    // Small replies should leave at once, not wait for Nagle to batch them.
    int on = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    return {AcceptStatus::accepted, std::move(fd)};
  }
  switch (errno) {
    case EAGAIN:  // (== EWOULDBLOCK on Linux)
      ++stats.eagain;
      return {AcceptStatus::none_pending, {}};
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
      // The connection stays in the backlog. Retrying now would fail again and spin;
      // the caller stops accepting until one of its own connections closes.
      ++stats.accept_paused;
      return {AcceptStatus::out_of_descriptors, {}};
    case EINVAL:
    case EBADF:
      return {AcceptStatus::listener_closed, {}};
    default:
      // EINTR; ECONNABORTED (the client reset while queued); and the network errors
      // accept(2) says to treat like EAGAIN (ENETDOWN, EPROTO, EHOSTUNREACH, ...).
      return {AcceptStatus::interrupted, {}};
  }
}

void reject_client(Fd fd, Stats& stats) {
  ssize_t sent = ::send(fd.get(), kServerFull.data(), kServerFull.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (sent > 0) stats.count_send(kServerFull.size(), static_cast<std::size_t>(sent));
  ::shutdown(fd.get(), SHUT_WR);  // our FIN follows the message
  // Closing with unread input would send a reset, which can destroy the message
  // before the client reads it. Read away what has arrived; a client that has
  // just connected has usually sent nothing yet, so this is nearly always enough,
  // and waiting longer would stall every other connection of this loop.
  char discard[4096];
  while (::recv(fd.get(), discard, sizeof discard, MSG_DONTWAIT) > 0) {
  }
  vlog("rejected %s: server full", peer_address(fd.get()).c_str());
}

}  // namespace muxlab::core

// socket.hpp - the socket calls every server makes the same way.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/fd.hpp"
#include "core/options.hpp"
#include "core/stats.hpp"

namespace muxlab::core {

// socket + SO_REUSEADDR + bind + listen(--backlog) on the first address
// getaddrinfo() gives for --host (IPv4 or IPv6), or exits with die_errno.
// `nonblocking` sets O_NONBLOCK on it. --sndbuf, when given, is set on the
// listener, and every accepted socket inherits it: a small one makes partial
// sends easy to see (docs/03-send-is-not-sendall.md).
Fd listen_on_or_die(const ServerOptions& options, bool nonblocking);

// Prints SPEC's ready line, "listening on HOST:PORT" with the real port, and flushes.
void announce_listening(int listen_fd);

std::string local_address(int fd);  // "127.0.0.1:2000", "[::1]:2000"
std::string peer_address(int fd);

// How many more descriptors this process can open below `ceiling` (or below
// RLIMIT_NOFILE, if lower), counting every descriptor open now, inherited ones
// too, and keeping one spare to accept a client past the limit and tell it
// "server full" rather than leave it in the backlog. The default --max-clients
// of the models whose limit is descriptors (select: ceiling FD_SETSIZE).
std::size_t descriptors_available(std::size_t ceiling = static_cast<std::size_t>(-1));

enum class AcceptStatus {
  accepted,            // fd holds the new connection (nonblocking if asked), counted in stats
  none_pending,        // EAGAIN: the backlog is empty
  out_of_descriptors,  // EMFILE/ENFILE/ENOBUFS/ENOMEM: stop accepting until a connection closes
  interrupted,         // EINTR, ECONNABORTED and friends: just try again
  listener_closed,     // EINVAL/EBADF: the listener was shut (a stop request)
};
struct Accepted {
  AcceptStatus status;
  Fd fd;
};
// One accept4(). Never exits: every failure is a status for the caller's loop.
Accepted accept_client(int listen_fd, bool nonblocking, Stats& stats);

// SPEC §2's answer to a connection past --max-clients.
inline constexpr std::string_view kServerFull = "error: server full\n";

// kServerFull and an immediate close, for a connection a server cannot even
// watch (select: a descriptor >= FD_SETSIZE). It must not stall the caller, so
// the "discard for a while" of a graceful close is only what has already
// arrived (see socket.cpp). Where the server can watch the socket it refuses it
// as a connection instead (EchoSession::refuse), which lingers properly.
// The caller counts it in stats.rejected.
void reject_client(Fd fd, Stats& stats);

}  // namespace muxlab::core

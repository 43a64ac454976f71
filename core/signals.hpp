// signals.hpp - SIGPIPE ignored; SIGINT/SIGTERM turned into a stop request.
//
// A stop request is seen three ways, one for each kind of server:
//   stop_requested()   a flag, for loops that look at it every turn;
//   stop_fd()          the read end of a self-pipe that becomes readable, for
//                      select/poll/epoll loops that must wake from their wait;
//   shut_on_stop()     descriptors the handler itself shutdown()s, so that a
//                      thread blocked in accept() or recv() returns at once.
// The handlers are installed without SA_RESTART, so blocking calls in the thread
// that takes the signal also return EINTR.
#pragma once

#include <chrono>

namespace muxlab::core {

// Call once at start, before any thread is created.
void install_signal_handlers();

bool stop_requested();
int stop_fd();

// For blocking servers: on a stop signal the handler shuts the listening socket
// (accept() then fails with EINVAL) and half-shuts the current client's read side
// (recv() then returns 0). If the client still has not been served `drain` later,
// its socket is shut both ways so that a send() blocked on a client that never
// reads fails too. Pass -1 to clear a slot.
void shut_on_stop(int listen_fd, int client_fd);
void set_stop_drain(std::chrono::milliseconds drain);

}  // namespace muxlab::core

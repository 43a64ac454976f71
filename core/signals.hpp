// signals.hpp - SIGPIPE ignored; SIGINT/SIGTERM turned into a stop request.
//
// A stop request is seen two ways:
//   stop_requested()   a flag, for loops that look at it every turn;
//   stop_fd()          the read end of a self-pipe that becomes readable, for
//                      select/poll/epoll loops that must wake from their wait.
// The handlers are installed without SA_RESTART, so a blocking call in the
// thread that takes the signal returns EINTR.
#pragma once

namespace muxlab::core {

// Call once at start, before any thread is created. `also_on_stop`, if given,
// is called from the signal handler at the first stop request, before the flag
// is raised (whoever sees the flag sees what it did); it must be
// async-signal-safe (signal-safety(7)). The blocking servers use it to wake
// calls blocked on a socket (blocking/stop.cpp).
void install_signal_handlers(void (*also_on_stop)() = nullptr);

bool stop_requested();
int stop_fd();

}  // namespace muxlab::core

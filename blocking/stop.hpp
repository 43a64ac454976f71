// stop.hpp - how SIGINT/SIGTERM reach a thread blocked in accept(), recv() or send().
//
// A readiness loop waits in one call that also watches core's self-pipe, so a
// stop wakes it. A blocking server waits in a call on one socket, and a signal
// interrupts only the call it lands in (EINTR: the handlers have no SA_RESTART).
// One that lands a moment before the call, after the loop looked at the flag, is
// missed, and the call then blocks for as long as the client likes. So at a stop
// every socket a thread may block on is told as well:
//   - the listener is shut: accept() fails (EINVAL), now or at its next call;
//   - a client's socket gets a receive and a send timeout of one tick
//     (SO_RCVTIMEO, SO_SNDTIMEO): a recv() or send() entered after that
//     returns within the tick, and the thread looks at the flag again;
//   - a thread already blocked in such a call is interrupted by a signal.
// None of it touches the data: the replies owed are still sent, and the graceful
// close still reads the client's input to its EOF. (shutdown(SHUT_RD) would wake
// a recv() too, but then every recv() returns 0 at once: the client's EOF can no
// longer be told apart, and a close with input unread resets the connection,
// destroying the replies still on their way to the client.)
#pragma once

#include <pthread.h>

#include <chrono>
#include <optional>

#include "core/options.hpp"

namespace muxlab::blocking {

using Clock = std::chrono::steady_clock;

// After a stop, no call of a server thread stays blocked on a socket longer than this.
inline constexpr std::chrono::milliseconds kStopTick{100};

// core's handlers (SIGPIPE ignored, SIGINT/SIGTERM a stop request), plus this
// file's part: at a stop, `listener` is shut and the client set by
// set_current_client() gets its timeouts. Call once, before any thread exists.
void install_stop_handlers(int listener);

// blocking-server: the client it serves now (-1: none). Clear it before closing
// the socket, whose number accept() may then hand out again.
void set_current_client(int fd);

// threaded-server's main thread, after a stop: `thread`, blocked or not in a
// call on `fd`, returns from it within a tick and sees the stop.
void wake_worker(int fd, pthread_t thread);

// One client's drain, in the thread that serves it: --drain-ms from the moment
// this thread sees the stop (within a tick of the signal).
class Drain {
 public:
  explicit Drain(const core::ServerOptions& options) : drain_(options.drain) {}

  bool stopping();     // a stop was requested; the first call to see it starts the drain
  bool out_of_time();  // stopping, and the drain is over: cut what is still owed
  // When lingering must end at the latest: `linger_end`, or the drain's end if sooner.
  Clock::time_point cap(Clock::time_point linger_end);

 private:
  std::chrono::milliseconds drain_;
  std::optional<Clock::time_point> deadline_;
};

}  // namespace muxlab::blocking

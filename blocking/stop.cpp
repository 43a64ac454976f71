#include "blocking/stop.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>

#include "core/log.hpp"
#include "core/signals.hpp"

namespace muxlab::blocking {

namespace {

std::atomic<int> g_listener{-1};
std::atomic<int> g_client{-1};

// The signal that interrupts a worker thread (wake_worker). Its handler does
// nothing: the interruption is the point.
constexpr int kWakeSignal = SIGUSR1;
void on_wake_signal(int) {}

// setsockopt() is async-signal-safe (signal-safety(7)): the stop handler may call it.
void set_stop_timeouts(int fd) {
  const auto us = std::chrono::microseconds(kStopTick).count();
  const timeval tick{static_cast<time_t>(us / 1'000'000), static_cast<suseconds_t>(us % 1'000'000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof tick);
}

// Called by core's stop handler, in whichever thread took the signal.
void on_stop() {
  if (int fd = g_listener.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  if (int fd = g_client.load(); fd >= 0) set_stop_timeouts(fd);
}

}  // namespace

void install_stop_handlers(int listener) {
  g_listener.store(listener);
  core::install_signal_handlers(on_stop);
  struct sigaction sa {};
  sa.sa_handler = on_wake_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: the blocked call returns EINTR
  if (::sigaction(kWakeSignal, &sa, nullptr) < 0) core::die_errno("sigaction");
}

void set_current_client(int fd) { g_client.store(fd); }

void wake_worker(int fd, pthread_t thread) {
  set_stop_timeouts(fd);             // first: a call the thread enters from now on is bounded,
  ::pthread_kill(thread, kWakeSignal);  // then: the call it may be in already is interrupted
}

bool Drain::stopping() {
  if (!deadline_ && core::stop_requested()) deadline_ = Clock::now() + drain_;
  return deadline_.has_value();
}

bool Drain::out_of_time() { return stopping() && Clock::now() >= *deadline_; }

Clock::time_point Drain::cap(Clock::time_point linger_end) {
  return stopping() ? std::min(linger_end, *deadline_) : linger_end;
}

}  // namespace muxlab::blocking

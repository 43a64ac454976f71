#include "core/loop.hpp"

#include <algorithm>

namespace muxlab::core {

Served serve_ready(Connection& c, bool readable, Stats& stats, const ServerOptions& options) {
  bool more = false;
  if (readable) {
    IoStatus in = pump_input(c, stats);
    if (in == IoStatus::closed) return {false, false};
    more = in == IoStatus::budget_spent;
  }
  IoStatus out = pump_output(c, stats, options.linger);
  if (out == IoStatus::closed) return {false, false};
  return {true, more || out == IoStatus::budget_spent};
}

Served begin_stop(Connection& c, Stats& stats, const ServerOptions& options) {
  stop_reading(c);
  return serve_ready(c, /*readable=*/false, stats, options);
}

int wait_timeout_ms(bool any_closing, bool accept_paused, std::optional<Clock::time_point> drain_deadline) {
  long ms = -1;
  if (any_closing || accept_paused) ms = kTick.count();
  if (drain_deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*drain_deadline - Clock::now()).count();
    left = std::max(left, 0L);
    ms = ms < 0 ? left : std::min(ms, left);
  }
  return static_cast<int>(ms);
}

}  // namespace muxlab::core

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

bool admit(EchoSession& session, int fd, std::size_t open, std::size_t max_clients) {
  vlog("fd %d: connected from %s", fd, peer_address(fd).c_str());
  const bool full = open >= max_clients;
  if (full) session.refuse(kServerFull);
  return full;
}

void count_admitted(bool refused, int fd, std::size_t open, Stats& stats) {
  if (refused) {
    ++stats.rejected;
    vlog("fd %d: server full (%zu open)", fd, open);
  } else {
    stats.peak_connections = std::max<std::uint64_t>(stats.peak_connections, open + 1);
  }
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

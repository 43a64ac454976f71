#include "core/stats.hpp"

#include <algorithm>
#include <bit>

namespace muxlab::core {

void Stats::count_recv(std::size_t n) {
  ++recv_calls;
  bytes_in += n;
  if (n == 0) return;
  const std::size_t bucket = std::min<std::size_t>(std::bit_width(n - 1), kBuckets - 1);
  ++recv_sizes[bucket];
}

void Stats::count_send(std::size_t offered, std::size_t taken) {
  ++send_calls;
  bytes_out += taken;
  if (taken < offered) ++partial_sends;  // normal: the kernel took what fitted
}

void Stats::merge(const Stats& o) {
  connections += o.connections;
  bytes_in += o.bytes_in;
  bytes_out += o.bytes_out;
  recv_calls += o.recv_calls;
  send_calls += o.send_calls;
  partial_sends += o.partial_sends;
  eagain += o.eagain;
  wakeups += o.wakeups;
  idle_turns += o.idle_turns;
  rejected += o.rejected;
  resets += o.resets;
  accept_paused += o.accept_paused;
  linger_timeouts += o.linger_timeouts;
  peak_connections = std::max(peak_connections, o.peak_connections);
  sqes_submitted += o.sqes_submitted;
  cqes_reaped += o.cqes_reaped;
  enobufs += o.enobufs;
  for (std::size_t i = 0; i < kBuckets; ++i) recv_sizes[i] += o.recv_sizes[i];
}

void Stats::print(std::FILE* out) const {
  const struct {
    const char* name;
    std::uint64_t value;
  } rows[] = {
      {"connections", connections},   {"bytes_in", bytes_in},
      {"bytes_out", bytes_out},       {"recv_calls", recv_calls},
      {"send_calls", send_calls},     {"partial_sends", partial_sends},
      {"eagain", eagain},             {"wakeups", wakeups},
      {"idle_turns", idle_turns},     {"rejected", rejected},
      {"resets", resets},             {"accept_paused", accept_paused},
      {"linger_timeouts", linger_timeouts}, {"peak_connections", peak_connections},
  };
  for (const auto& row : rows) std::fprintf(out, "%s %llu\n", row.name, static_cast<unsigned long long>(row.value));
  if (sqes_submitted > 0) {  // a completion-based server: its rings' counters too
    std::fprintf(out, "sqes_submitted %llu\ncqes_reaped %llu\nenobufs %llu\n",
                 static_cast<unsigned long long>(sqes_submitted), static_cast<unsigned long long>(cqes_reaped),
                 static_cast<unsigned long long>(enobufs));
  }
  // The histogram, one non-empty bucket a line: "recv_size_le_4096 17" counts the
  // recv() calls that returned 2049..4096 bytes.
  for (std::size_t i = 0; i < kBuckets; ++i) {
    if (recv_sizes[i] == 0) continue;
    if (i + 1 == kBuckets)
      std::fprintf(out, "recv_size_gt_%llu %llu\n", 1ull << (i - 1), static_cast<unsigned long long>(recv_sizes[i]));
    else
      std::fprintf(out, "recv_size_le_%llu %llu\n", 1ull << i, static_cast<unsigned long long>(recv_sizes[i]));
  }
  std::fflush(out);
}

}  // namespace muxlab::core

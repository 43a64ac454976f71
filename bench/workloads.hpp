// workloads.hpp - what echo-bench measures: the models (harness/models.hpp, plus
// the floor, or an outside server given by --muxlab_target) and the parameters
// of every workload, for the full run and the quick one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/models.hpp"

namespace muxlab::bench {

// A model of harness/models.hpp (the one list); or the floor, the minimal
// blocking echo that every figure is a ratio to, which keeps none of the
// protocol's promises (raw bytes only, no --repeat, no drain); or the target,
// an echo server that echo-bench did not start (--muxlab_target).
struct Model : harness::Model {
  bool floor = false;
  bool target = false;
};

inline std::vector<Model> bench_models() {
  std::vector<Model> models;
  for (const harness::Model& m : harness::all_models()) models.push_back({m});
  Model floor{{"floor", "floor-server", {}, "bench"}};
  floor.floor = true;
  models.push_back(floor);
  return models;
}

inline Model target_model() {
  Model target{{"target", "", {}, ""}};
  target.target = true;
  return target;
}

// A long reply for BM_Chunking: payload x repeat, then '\n'.
struct LongReply {
  std::string payload;
  std::uint32_t repeat;
};

inline constexpr const char* kPayload64 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/";

// reply_kb 30 is tms.py's demonstration ("abc" x 10000); the others are 64-byte
// payloads repeated to 1 MiB and 16 MiB.
inline LongReply long_reply(std::int64_t reply_kb) {
  if (reply_kb == 30) return {"abc", 10000};
  return {kPayload64, static_cast<std::uint32_t>(reply_kb * 1024 / 64)};
}

struct Plan {
  double seconds;                                   // measured time per benchmark
  std::vector<std::int64_t> pingpong_conns;
  std::vector<std::int64_t> pingpong_bytes;        // per message, '\n' included
  std::vector<std::int64_t> idle_conns;             // BM_IdleScaling's K (see idle_rows())
  std::vector<std::int64_t> reply_kb;               // BM_Chunking
  std::vector<std::int64_t> recv_bytes;             // BM_Chunking
  std::int64_t idle_cpu_conns = 100;
  double open_budget_s = 30;                        // opening K idle connections may take this long
};

inline Plan full_plan() {
  return {0.5, {1, 10, 100, 1000}, {64, 16384}, {0, 100, 1000, 10000, 100000}, {30, 1024, 16384}, {1 << 20, 64 << 10}};
}

// The README's main command: what its table and its "which model when" need,
// three times over for every model in about two minutes on two cores.
inline Plan quick_plan() { return {0.2, {1, 100}, {64}, {1000}, {30}, {1 << 20}, 100, 10}; }

// Descriptors one side of K idle connections needs beyond K: the active
// connection, the listener, epoll, pipes, the standard three, and some room.
inline constexpr std::int64_t kDescriptorsBesideIdle = 200;

// BM_IdleScaling's rows: the plan's, plus the largest K (a multiple of 1000)
// that `max_fds` descriptors per process allow, where a row of the plan lies past
// it: on a machine that allows 20,000 descriptors the full plan's 100,000 row is
// skipped, and a 19,000 row is its largest.
inline std::vector<std::int64_t> idle_rows(const Plan& plan, std::size_t max_fds) {
  std::vector<std::int64_t> rows = plan.idle_conns;
  const std::int64_t largest = (static_cast<std::int64_t>(max_fds) - kDescriptorsBesideIdle) / 1000 * 1000;
  const auto past = std::find_if(rows.begin(), rows.end(), [&](std::int64_t k) { return k > largest; });
  if (past != rows.end() && past != rows.begin() && *(past - 1) < largest) rows.insert(past, largest);
  return rows;
}

}  // namespace muxlab::bench

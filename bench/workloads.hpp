// workloads.hpp - what echo-bench measures: the models (harness/models.hpp, plus
// the floor) and the parameters of every workload, for the full run and the quick one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness/models.hpp"

namespace muxlab::bench {

// A model of harness/models.hpp (the one list), or the floor: the minimal
// blocking echo that every figure is a ratio to, which keeps none of the
// protocol's promises (raw bytes only, no --repeat, no drain).
struct Model : harness::Model {
  bool floor = false;
};

inline std::vector<Model> bench_models() {
  std::vector<Model> models;
  for (const harness::Model& m : harness::all_models()) models.push_back({m});
  Model floor{{"floor", "floor-server", {}, "bench"}};
  floor.floor = true;
  models.push_back(floor);
  return models;
}

// A long reply for BM_Chunking: payload x repeat, then '\n'.
struct LongReply {
  std::string payload;
  std::uint32_t repeat;
};

// reply_kb 30 is tms.py's demonstration ("abc" x 10000); the others are 64-byte
// payloads repeated to 1 MiB and 16 MiB.
inline LongReply long_reply(std::int64_t reply_kb) {
  if (reply_kb == 30) return {"abc", 10000};
  return {"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/",
          static_cast<std::uint32_t>(reply_kb * 1024 / 64)};
}

struct Plan {
  double seconds;                                   // measured time per benchmark
  std::vector<std::int64_t> pingpong_conns;
  std::vector<std::int64_t> pingpong_bytes;        // per message, '\n' included
  std::vector<std::int64_t> idle_conns;             // BM_IdleScaling's K
  std::vector<std::int64_t> reply_kb;               // BM_Chunking
  std::vector<std::int64_t> recv_bytes;             // BM_Chunking
  std::int64_t idle_cpu_conns = 100;
};

inline Plan full_plan() {
  return {0.5, {1, 10, 100, 1000}, {64, 16384}, {0, 100, 1000, 10000}, {30, 1024, 16384}, {1 << 20, 64 << 10}};
}

// The README's main command: one figure per table column, under two minutes.
inline Plan quick_plan() { return {0.25, {1, 100}, {64}, {1000}, {30}, {1 << 20}}; }

}  // namespace muxlab::bench

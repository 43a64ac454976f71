// workloads.hpp - what echo-bench measures: the models (one server each) and the
// parameters of every workload, for the full run and for the quick one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/select.h>
#include <vector>

namespace muxlab::bench {

struct Model {
  std::string name;               // in benchmark names: BM_<Workload>/<name>/...
  std::string binary;             // in the directory of echo-bench
  std::vector<std::string> args;  // the model's own flags
  bool concurrent = true;         // false: one client at a time (blocking-server)
  bool floor = false;             // the minimal blocking echo: raw bytes only, no --repeat
  std::size_t fd_limit = 0;       // descriptors it can watch (select: FD_SETSIZE), 0 = none
};

inline std::vector<Model> all_models() {
  return {
      {"blocking", "blocking-server", {}, false},
      // 10000 idle connections are 10000 threads: allow them (default 1024).
      {"threaded", "threaded-server", {"--max-clients", "10100"}},
      {"nonblocking", "nonblocking-server", {}},
      {"select", "select-server", {}, true, false, FD_SETSIZE},
      {"poll", "poll-server", {}},
      {"epoll", "epoll-server", {}},
      {"epoll-edge", "epoll-server", {"--edge"}},
      {"libevent", "libevent-server", {}},  // default backend: epoll
      {"libevent-poll", "libevent-server", {"--backend", "poll"}},
      {"libevent-select", "libevent-server", {"--backend", "select"}, true, false, FD_SETSIZE},
      {"floor", "floor-server", {}, true, true},
  };
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

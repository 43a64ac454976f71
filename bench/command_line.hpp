// command_line.hpp - echo-bench's own flags, taken from argv before Google
// Benchmark's Initialize() sees the rest (bench/README.md lists them all).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "bench/server.hpp"
#include "bench/workloads.hpp"

namespace muxlab::bench {

struct Settings {
  ServerSource servers;
  std::string target_text;          // --muxlab_target as given
  std::uint32_t target_repeat = 0;  // --muxlab_target_repeat: the target's --repeat (0: plain echo)
  Plan plan = full_plan();
  int repetitions = 1;              // --benchmark_repetitions (echo_bench.cpp, register_all())
  bool progress = false;
  bool realtime = false;
  std::size_t max_fds = 0;          // RLIMIT_NOFILE, once raised
};

// Takes echo-bench's own flags out of argv (--muxlab_*, --benchmark_min_time,
// --benchmark_repetitions, -h, --version); Google Benchmark gets the rest, and
// --help after our part of the help. Exits on -h (0), --version (0),
// --muxlab_list_models (0) and a bad flag (2).
Settings parse_command_line(int& argc, char** argv);

// "echo-bench: WHAT (try --help)" on stderr, and exit 2.
[[noreturn]] void usage_error(const std::string& what);

}  // namespace muxlab::bench

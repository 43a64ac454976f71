// server.hpp - the server side of a benchmark: the echo server it drives, and
// what that server costs (its CPU around the measured part, its memory, the
// kernel's memory for the connections, its --stats counters).
//
// The server is one that echo-bench starts as a child process (harness/child.hpp),
// so its CPU and memory are its own; or the --muxlab_target, a server that
// echo-bench did not start, of which only what a client sees is measured.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bench/workloads.hpp"
#include "harness/child.hpp"
#include "harness/client.hpp"

namespace muxlab::bench {

using harness::Clock;

// Where the servers come from.
struct ServerSource {
  std::string bin_dir;                    // the programs (echo-bench's own directory)
  bool pin = false;                       // run each server on CPU 0
  std::optional<harness::Address> target;  // --muxlab_target: every benchmark drives it
};

class Server {
 public:
  // Starts the model's server with --port 0 --stats, its own flags and `extra`
  // (for the target: nothing to start). On a failure to start, the benchmark is
  // skipped with the reason (a model not built, a crash) and nothing is returned.
  static std::optional<Server> start(benchmark::State& state, const ServerSource& source, const Model& model,
                                     const std::vector<std::string>& extra = {});

  const harness::Address& address() const { return address_; }
  bool measured() const { return process_.has_value(); }  // false for the target
  double cpu_seconds() const;                             // every thread so far; 0 if not measured
  double rss_bytes() const;                               // VmRSS now; 0 if not measured

  // SIGTERM, a wait for exit 0, and the "name value" counters of its --stats.
  // Call once every connection is closed, so that nothing is owed. A server
  // that does not end well fails the benchmark.
  std::map<std::string, double> stop(benchmark::State& state);

 private:
  Server(const Model& model, std::optional<harness::ServerProcess> process, harness::Address address)
      : model_(model), process_(std::move(process)), address_(address) {}

  Model model_;
  std::optional<harness::ServerProcess> process_;
  harness::Address address_;
};

// The server's CPU and ours over the measured part (wall time too).
class Meter {
 public:
  explicit Meter(const Server& server) : server_(server) {}
  void start();
  void stop();
  // server_cpu_s, server_cpu_share (1.0 = a whole CPU), client_cpu_share, and
  // with `units` (messages, replies) server_cpu_us_per_<unit> and
  // <plural>_per_server_cpu_s. For the target: a label saying they are not measured.
  void report(benchmark::State& state, double units = 0, const std::string& unit = "",
              const std::string& plural = "") const;
  double server_seconds() const { return server_s_; }

 private:
  const Server& server_;
  Clock::time_point wall_;
  double server_cpu_ = 0, client_cpu_ = 0;
  double wall_s_ = 0, server_s_ = 0, client_s_ = 0;
};

// The kernel's memory that sockets hold, machine-wide: slab objects (the
// sockets, their inodes, epoll items...) and socket buffers. Read before and
// after opening K connections, the difference over K is what one costs, both ends.
struct KernelMemory {
  double slab_bytes = 0;           // /proc/slabinfo (active objects x size), or /proc/meminfo's Slab
  double socket_buffer_bytes = 0;  // /proc/net/sockstat: TCP mem (pages)
  static KernelMemory now();
  static std::string sources();    // which files were readable, for the JSON context
};

}  // namespace muxlab::bench

// common.hpp - what the benchmark's tests share: the programs' paths, a run of
// echo-bench that returns its JSON, the benchmarks of that JSON, and an echo
// server that corrupts one byte.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/fd.hpp"
#include "harness/child.hpp"

namespace muxlab::bench_test {

std::string bin(const std::string& program);  // build/bin/PROGRAM
std::string source(const std::string& path);  // the repository's PATH
std::string read_file(const std::string& path);

// One benchmark of Google Benchmark's JSON: its name and its own text.
struct BenchmarkJson {
  std::string name;
  std::string text;
  bool failed() const { return text.find("\"error_occurred\": true") != std::string::npos; }
  std::string error() const;    // its error_message, or ""
  std::string label() const;    // its label, or ""
  bool has(const std::string& counter) const { return text.find("\"" + counter + "\": ") != std::string::npos; }
  double number(const std::string& key) const;  // a numeric field ("real_time", a counter), NaN if absent
};

// The "benchmarks" of a JSON text, in order.
std::vector<BenchmarkJson> benchmarks_of(const std::string& json);

// Runs echo-bench with `args` and JSON on stdout; fails the test unless it exits 0.
harness::RunResult run_echo_bench(const std::vector<std::string>& args);

// An echo server on 127.0.0.1 that serves one connection at a time, echoing
// every byte except the 100th of each connection's stream, which it flips: a
// 2-byte echo passes, a longer conversation does not. Runs on a thread until destroyed.
class CorruptingEcho {
 public:
  CorruptingEcho();
  ~CorruptingEcho();
  std::uint16_t port() const { return port_; }

 private:
  void serve();
  void echo(int fd);
  core::Fd listener_;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace muxlab::bench_test

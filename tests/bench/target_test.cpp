// echo-bench --muxlab_target and echo-load against servers they did not start:
// a real muxlab server, whose every byte comes back right, and a server that
// corrupts one byte, which must fail the run with a clear error.
#include <gtest/gtest.h>

#include "tests/bench/common.hpp"

namespace muxlab::bench_test {
namespace {

using harness::run_program;
using harness::ServerProcess;

constexpr const char* kShort = "--muxlab_seconds=0.05";

std::string address_of(const ServerProcess& server) { return "127.0.0.1:" + std::to_string(server.port()); }

const BenchmarkJson* find(const std::vector<BenchmarkJson>& runs, const std::string& prefix) {
  for (const auto& b : runs)
    if (b.name.starts_with(prefix)) return &b;
  return nullptr;
}

// Raw framing and 0.3 s: under the sanitizers epoll-server echoes a bulk stream
// at some 25 MB/s, and a window must hold two MiB (echo-load's test streams
// through a line-framing server).
TEST(Target, EveryClientWorkloadAgainstARealServer) {
  auto server = ServerProcess::start(bin("epoll-server"), {"--port", "0", "--framing", "raw"});
  auto r = run_echo_bench({"--muxlab_target=" + address_of(server), "--muxlab_quick", "--muxlab_seconds=0.3",
                           "--benchmark_filter=BM_(PingPong|IdleScaling|Bulk)/"});
  const auto runs = benchmarks_of(r.out);
  for (const char* name : {"BM_PingPong/target/conns:1/bytes:64/", "BM_PingPong/target/conns:100/bytes:64/",
                           "BM_IdleScaling/target/idle:1000/", "BM_Bulk/target/window:4194304/"}) {
    const BenchmarkJson* b = find(runs, name);
    ASSERT_NE(b, nullptr) << name << " missing from:\n" << r.out;
    EXPECT_FALSE(b->failed()) << name << ": " << b->error();
    EXPECT_NE(b->label().find("server CPU not measured"), std::string::npos) << name;
    EXPECT_FALSE(b->has("server_cpu_s")) << name << ": nothing of the target's CPU is ours to see";
  }
  EXPECT_TRUE(find(runs, "BM_PingPong/target/conns:1/")->has("rtt_p99_9_us"));
  auto info = server.terminate();
  ASSERT_TRUE(info);
  EXPECT_EQ(info->code, 0);
}

TEST(Target, LongRepliesWhenTheRepeatIsGiven) {
  auto server = ServerProcess::start(bin("epoll-server"), {"--port", "0", "--repeat", "100"});
  auto r = run_echo_bench({"--muxlab_target=" + address_of(server), "--muxlab_target_repeat=100", "--muxlab_quick",
                           kShort});
  const auto runs = benchmarks_of(r.out);
  ASSERT_EQ(runs.size(), 1u) << "a repeating server gets long replies only:\n" << r.out;
  EXPECT_TRUE(runs[0].name.starts_with("BM_Chunking/target/repeat:100/recv:1048576/")) << runs[0].name;
  EXPECT_FALSE(runs[0].failed()) << runs[0].error();
}

TEST(Target, AWrongByteFailsTheBenchmark) {
  CorruptingEcho corrupting;
  auto r = run_echo_bench({"--muxlab_target=127.0.0.1:" + std::to_string(corrupting.port()), "--muxlab_quick", kShort,
                           "--benchmark_filter=BM_PingPong/target/conns:1/|BM_Bulk/target/"});
  const auto runs = benchmarks_of(r.out);
  ASSERT_EQ(runs.size(), 2u) << r.out;
  for (const auto& b : runs) {
    EXPECT_TRUE(b.failed()) << b.name;
    EXPECT_NE(b.error().find("wrong echo"), std::string::npos) << b.name << ": " << b.error();
    EXPECT_NE(b.error().find("byte "), std::string::npos) << "the error names the byte: " << b.error();
  }
}

TEST(EchoLoad, OneJsonLineAgainstARealServer) {
  auto server = ServerProcess::start(bin("epoll-server"), {"--port", "0"});
  auto r = run_program(bin("echo-load"), {"--connections=10", "--seconds=0.05", "127.0.0.1",
                                          std::to_string(server.port())});
  EXPECT_EQ(r.exit.code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("{\"program\":\"echo-load\"")) << r.out;
  EXPECT_EQ(r.out.find('\n'), r.out.size() - 1) << "one line: " << r.out;
  for (const char* key : {"\"workload\":\"pingpong\"", "\"connections\":10", "\"messages_per_second\":", "\"p99_9\":"})
    EXPECT_NE(r.out.find(key), std::string::npos) << key << " in " << r.out;
  // A line-framing server echoes the bulk stream unchanged: it ends after a '\n'.
  auto bulk = run_program(bin("echo-load"), {"-w", "bulk", "-s", "0.05", "127.0.0.1", std::to_string(server.port())});
  EXPECT_EQ(bulk.exit.code, 0) << bulk.err;
  EXPECT_NE(bulk.out.find("\"bytes_per_second\":"), std::string::npos) << bulk.out;
}

TEST(EchoLoad, AWrongByteIsARuntimeError) {
  CorruptingEcho corrupting;
  auto r = run_program(bin("echo-load"), {"--seconds=0.05", "127.0.0.1", std::to_string(corrupting.port())});
  EXPECT_EQ(r.exit.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_TRUE(r.err.starts_with("echo-load: wrong echo on connection 0")) << r.err;
}

}  // namespace
}  // namespace muxlab::bench_test

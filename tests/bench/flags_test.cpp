// echo-bench's and echo-load's command lines (SPEC §2 habits): -h and --version
// on stdout with exit 0, a usage error as one line "PROGRAM: ..." with exit 2,
// --benchmark_min_time honoured or refused, the model list for scripts.
#include <gtest/gtest.h>

#include <sstream>

#include "harness/models.hpp"
#include "tests/bench/common.hpp"

namespace muxlab::bench_test {
namespace {

using harness::run_program;

// Exit 2 and exactly one line on stderr, naming the program (a sanitizer build
// of echo-bench may add its warning line first).
void expect_usage_error(const std::string& program, const std::vector<std::string>& args) {
  auto r = run_program(bin(program), args);
  EXPECT_TRUE(r.exit.exited);
  EXPECT_EQ(r.exit.code, 2) << program << " " << testing::PrintToString(args) << "\n" << r.err;
  std::string last;
  std::istringstream lines(r.err);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find("warning:") != std::string::npos || line.starts_with("The value of flag")) continue;
    last = line;
    ++count;
  }
  EXPECT_EQ(count, 1) << r.err;
  EXPECT_TRUE(last.starts_with(program + ": ")) << last;
  EXPECT_EQ(r.out, "");
}

TEST(EchoBenchFlags, BadValuesAreUsageErrors) {
  expect_usage_error("echo-bench", {"--muxlab_seconds=abc"});
  expect_usage_error("echo-bench", {"--muxlab_seconds=-1"});
  expect_usage_error("echo-bench", {"--muxlab_seconds"});
  expect_usage_error("echo-bench", {"--muxlab_target=nowhere"});
  expect_usage_error("echo-bench", {"--muxlab_target_repeat=5"});  // without a target
  expect_usage_error("echo-bench", {"--muxlab_nonsense"});
  expect_usage_error("echo-bench", {"--benchmark_repetitions=0"});
  expect_usage_error("echo-bench", {"--no-such-flag"});
  expect_usage_error("echo-bench", {"--benchmark_report_aggregates_only=true"});
}

TEST(EchoBenchFlags, HelpAndVersionOnStdout) {
  for (const char* flag : {"-h", "--help"}) {
    auto r = run_program(bin("echo-bench"), {flag});
    EXPECT_EQ(r.exit.code, 0) << flag;
    EXPECT_NE(r.out.find("Usage: echo-bench"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--muxlab_target=HOST:PORT"), std::string::npos);
    EXPECT_NE(r.out.find("benchmark_filter"), std::string::npos) << "Google Benchmark's flags follow ours";
  }
  auto v = run_program(bin("echo-bench"), {"--version"});
  EXPECT_EQ(v.exit.code, 0);
  EXPECT_TRUE(v.out.starts_with("echo-bench (muxlab ")) << v.out;
}

// A benchmark is one measured window: --benchmark_min_time sets it, in seconds;
// an iteration count ("10x") cannot be honoured and is refused.
TEST(EchoBenchFlags, MinTimeIsTheMeasuredWindow) {
  expect_usage_error("echo-bench", {"--benchmark_min_time=10x"});
  auto r = run_echo_bench({"--benchmark_filter=BM_PingPong/epoll/conns:1/bytes:64/", "--benchmark_min_time=0.05s"});
  EXPECT_NE(r.out.find("\"muxlab_seconds_per_benchmark\": \"0.050000\""), std::string::npos) << r.out;
  const auto runs = benchmarks_of(r.out);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_FALSE(runs[0].failed()) << runs[0].error();
  // The benchmark's time is the time of one message, so that compare.py sees
  // a change of throughput: real_time (us) x messages per second = 10^6.
  EXPECT_NEAR(runs[0].number("real_time") * runs[0].number("items_per_second"), 1e6, 2e4) << runs[0].text;
}

// The JSON's context says what was measured: muxlab's commit and build type,
// and, for a build without optimisation or with the sanitizers, a warning that
// is also on the console. This test is built as echo-bench is.
TEST(EchoBenchFlags, RecordsCommitAndBuildAndWarnsOfASlowBuild) {
  auto r = run_echo_bench({"--benchmark_filter=BM_IdleCpu/epoll/", "--muxlab_seconds=0.01"});
  EXPECT_NE(r.out.find("\"muxlab_commit\": \""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"muxlab_build_type\": \""), std::string::npos) << r.out;
#if !defined(__OPTIMIZE__) || defined(__SANITIZE_ADDRESS__)
  EXPECT_NE(r.out.find("\"muxlab_build_warning\": "), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("echo-bench: warning: muxlab is built without optimisation or with sanitizers"),
            std::string::npos) << r.err;
#else
  EXPECT_EQ(r.out.find("muxlab_build_warning"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("echo-bench: warning"), std::string::npos) << r.err;
#endif
}

TEST(EchoBenchFlags, ListsEveryModel) {
  auto r = run_program(bin("echo-bench"), {"--muxlab_list_models"});
  EXPECT_EQ(r.exit.code, 0);
  for (const auto& m : harness::all_models())
    EXPECT_NE(r.out.find(m.name + "\t" + m.binary + "\t" + m.folder), std::string::npos) << m.name;
}

TEST(EchoLoadFlags, BadValuesAreUsageErrors) {
  expect_usage_error("echo-load", {});
  expect_usage_error("echo-load", {"127.0.0.1"});
  expect_usage_error("echo-load", {"--seconds=abc", "127.0.0.1", "9"});
  expect_usage_error("echo-load", {"--seconds", "-1", "127.0.0.1", "9"});
  expect_usage_error("echo-load", {"--workload=nope", "127.0.0.1", "9"});
  expect_usage_error("echo-load", {"--connections=0", "127.0.0.1", "9"});
  expect_usage_error("echo-load", {"127.0.0.1", "70000"});
  expect_usage_error("echo-load", {"--bogus", "127.0.0.1", "9"});
  expect_usage_error("echo-load", {"-c"});
}

TEST(EchoLoadFlags, HelpAndVersionOnStdout) {
  for (const char* flag : {"-h", "--help"}) {
    auto r = run_program(bin("echo-load"), {flag});
    EXPECT_EQ(r.exit.code, 0) << flag;
    EXPECT_TRUE(r.out.starts_with("Usage: echo-load")) << r.out;
  }
  auto v = run_program(bin("echo-load"), {"--version"});
  EXPECT_EQ(v.exit.code, 0);
  EXPECT_TRUE(v.out.starts_with("echo-load (muxlab ")) << v.out;
}

// BM_IdleScaling's rows follow the descriptor limit: the largest multiple of
// 1000 it allows joins the plan's rows, and a row past it is skipped, saying
// which limit stopped it and what would lift it.
TEST(IdleScaling, RowsFollowTheDescriptorLimit) {
  harness::SpawnOptions low;
  low.max_open_files = 5300;
  auto listed = run_program(bin("echo-bench"), {"--benchmark_list_tests", "--benchmark_filter=BM_IdleScaling/epoll/"},
                            std::chrono::seconds(10), low);
  EXPECT_NE(listed.out.find("BM_IdleScaling/epoll/idle:5000/"), std::string::npos) << listed.out;
  EXPECT_NE(listed.out.find("BM_IdleScaling/epoll/idle:100000/"), std::string::npos) << listed.out;

  auto run = run_program(bin("echo-bench"),
                         {"--benchmark_filter=BM_IdleScaling/epoll/idle:10000/", "--benchmark_format=json"},
                         std::chrono::seconds(30), low);
  const auto runs = benchmarks_of(run.out);
  ASSERT_EQ(runs.size(), 1u) << run.out << run.err;
  EXPECT_TRUE(runs[0].failed());
  EXPECT_NE(runs[0].error().find("RLIMIT_NOFILE"), std::string::npos) << runs[0].error();
  EXPECT_NE(runs[0].error().find("hard limit is 5300"), std::string::npos) << runs[0].error();
  EXPECT_NE(runs[0].error().find("ulimit -Hn"), std::string::npos) << runs[0].error();
}

}  // namespace
}  // namespace muxlab::bench_test

// bench/report.py and Debian's compare.py on two real echo-bench runs: the
// table fits 100 columns, every figure has its spread, the report answers
// "which model when", --baseline adds the changes, and compare.py reads the JSON.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/bench/common.hpp"

namespace muxlab::bench_test {
namespace {

using harness::run_program;
namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kCompare = "/usr/share/benchmark/compare.py";

harness::RunResult report(std::vector<std::string> args) {
  args.insert(args.begin(), source("bench/report.py"));
  return run_program(kPython, args, std::chrono::seconds(60));
}

// One test, so that the two runs it needs are made once.
TEST(Report, TableReportAndComparePyOnTwoRuns) {
  if (run_program(kPython, {"-c", "import matplotlib, scipy"}).exit.code != 0)
    GTEST_SKIP() << "report.py needs Debian's python3-matplotlib and python3-scipy in /usr/bin/python3";
  std::string pattern = testing::TempDir() + "muxlab-report-XXXXXX";
  const std::string dir = ::mkdtemp(pattern.data());
  for (const char* name : {"a.json", "b.json"})
    run_echo_bench({"--benchmark_filter=BM_PingPong/(epoll|poll)/conns:1/bytes:64/|BM_IdleCpu/epoll/",
                    "--muxlab_seconds=0.05", "--benchmark_repetitions=3", "--benchmark_out=" + dir + "/" + name,
                    "--benchmark_out_format=json"});

  // The table: 100 columns, every figure with its spread; --baseline adds the changes.
  auto table = report({dir + "/a.json", "--table"});
  ASSERT_EQ(table.exit.code, 0) << table.err;
  std::istringstream lines(table.out);
  for (std::string line; std::getline(lines, line);) {
    const auto columns = std::count_if(line.begin(), line.end(), [](char c) { return (c & 0xC0) != 0x80; });
    EXPECT_LE(columns, 100) << line;  // characters, not the bytes of UTF-8's '–' and '±'
  }
  EXPECT_NE(table.out.find("Median of 3 repetitions"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("%"), std::string::npos) << "every figure shows its spread:\n" << table.out;
  auto changes = report({dir + "/b.json", "--table", "--baseline", dir + "/a.json"});
  ASSERT_EQ(changes.exit.code, 0) << changes.err;
  EXPECT_NE(changes.out.find("Change against"), std::string::npos) << changes.out;

  // The page: which model when first, the changes, no project targets.
  auto page_run = report({dir + "/b.json", "--out", dir + "/report", "--baseline", dir + "/a.json"});
  ASSERT_EQ(page_run.exit.code, 0) << page_run.err;
  const std::string page = read_file(dir + "/report/report.md");
  for (const char* section : {"## Which model when", "## Side by side", "## Change against the baseline",
                              "## Latency", "## Portability and code", "## Noise"})
    EXPECT_NE(page.find(section), std::string::npos) << section;
  EXPECT_EQ(page.find("Targets"), std::string::npos) << "the project's targets belong to docs/results, not here";
  for (const char* plot : {"pingpong.png", "latency.png", "cpu.png"})
    EXPECT_TRUE(fs::exists(dir + "/report/" + plot)) << plot;

  // A benchmark's time is the time of one message: compare.py compares the
  // runs, and its U test gets the repetitions.
  if (fs::exists(kCompare)) {
    auto compare = run_program(kPython, {kCompare, "benchmarks", dir + "/a.json", dir + "/b.json"},
                               std::chrono::seconds(60));
    ASSERT_EQ(compare.exit.code, 0) << compare.err;
    EXPECT_NE(compare.out.find("BM_PingPong/epoll/conns:1/bytes:64"), std::string::npos) << compare.out;
    EXPECT_NE(compare.out.find("U Test"), std::string::npos) << compare.out;
  } else {
    ADD_FAILURE() << kCompare << " is missing: install Debian's libbenchmark-tools";
  }
  fs::remove_all(dir);
}

// The line of `text` that contains `what`, or "".
std::string line_with(const std::string& text, const std::string& what) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.find(what) != std::string::npos) return line;
  return "";
}

// docs/results/targets.py on figures made up to tell right from wrong: a ratio
// needs both of its figures, compares messages per server-CPU-second (here the
// messages per second say the opposite), and a goal is met or missed by the
// whole range of the repetitions.
TEST(Targets, RatiosOfServerCpuEfficiencyNeedBothFigures) {
  std::string json = "{\"context\": {}, \"benchmarks\": [\n";
  auto add = [&json](const std::string& name, const std::string& figures) {
    json += std::string(json.ends_with("[\n") ? "" : ",\n") + "{\"name\": \"" + name + "\", \"run_name\": \"" + name +
            "/iterations:2/real_time\", \"run_type\": \"iteration\", " + figures + "}";
  };
  for (int delta : {-10, 0, 10}) {
    const std::string d = std::to_string(delta);
    add("BM_PingPong/epoll/conns:100/bytes:64", "\"msgs_per_server_cpu_s\": " + std::to_string(200 + delta) +
                                                    ", \"items_per_second\": 100");
    add("BM_PingPong/libuv/conns:100/bytes:64", "\"msgs_per_server_cpu_s\": " + std::to_string(100 + delta / 2) +
                                                    ", \"items_per_second\": 200");
    add("BM_PingPong/epoll/conns:1000/bytes:64", "\"msgs_per_server_cpu_s\": 200");
    add("BM_IdleScaling/epoll/idle:10000", "\"rss_per_idle_conn_bytes\": 300, \"rtt_p50_us\": 50");
  }
  json += "\n]}\n";
  std::string pattern = testing::TempDir() + "muxlab-targets-XXXXXX";
  const std::string dir = ::mkdtemp(pattern.data());
  { std::ofstream(dir + "/results.json") << json; }
  auto r = run_program(kPython, {source("docs/results/targets.py"), dir + "/results.json"}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit.code, 0) << r.err;
  EXPECT_NE(line_with(r.out, "epoll / libuv, messages per server-CPU-second, 100 conns | 2 (1.8").find("| **met** |"),
            std::string::npos) << r.out;
  EXPECT_NE(line_with(r.out, "epoll / libuv, messages per server-CPU-second, 1000 conns").find("not measured"),
            std::string::npos) << r.out;
  EXPECT_NE(line_with(r.out, "epoll / asio, messages per server-CPU-second, 100 conns").find("not measured"),
            std::string::npos) << r.out;
  EXPECT_NE(line_with(r.out, "epoll RSS per idle connection at 10,000 | 300 B").find("**missed**"), std::string::npos)
      << r.out;
  fs::remove_all(dir);
}

}  // namespace
}  // namespace muxlab::bench_test

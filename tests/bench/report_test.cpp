// bench/report.py and Debian's compare.py on two real echo-bench runs: the
// table fits 100 columns, every figure has its spread, the report answers
// "which model when", --baseline adds the changes, and compare.py reads the JSON.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

#include "tests/bench/common.hpp"

namespace muxlab::bench_test {
namespace {

using harness::run_program;
namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";
constexpr const char* kCompare = "/usr/share/benchmark/compare.py";

class Report : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string pattern = testing::TempDir() + "muxlab-report-XXXXXX";
    dir_ = ::mkdtemp(pattern.data());
    for (const char* name : {"a.json", "b.json"})
      run_echo_bench({"--benchmark_filter=BM_PingPong/(epoll|poll)/conns:1/bytes:64/|BM_IdleCpu/epoll/",
                      "--muxlab_seconds=0.05", "--benchmark_repetitions=3",
                      "--benchmark_out=" + dir_ + "/" + name, "--benchmark_out_format=json"});
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  void SetUp() override {
    if (run_program(kPython, {"-c", "import matplotlib, scipy"}).exit.code != 0)
      GTEST_SKIP() << "report.py needs Debian's python3-matplotlib and python3-scipy in /usr/bin/python3";
  }

  static harness::RunResult report(std::vector<std::string> args) {
    args.insert(args.begin(), source("bench/report.py"));
    return run_program(kPython, args, std::chrono::seconds(60));
  }

  static std::string dir_;
};
std::string Report::dir_;

TEST_F(Report, TableFitsAHundredColumnsWithSpreads) {
  auto r = report({dir_ + "/a.json", "--table"});
  ASSERT_EQ(r.exit.code, 0) << r.err;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    const auto columns = std::count_if(line.begin(), line.end(), [](char c) { return (c & 0xC0) != 0x80; });
    EXPECT_LE(columns, 100) << line;  // characters, not the bytes of UTF-8's '–' and '±'
  }
  EXPECT_NE(r.out.find("Median of 3 repetitions"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("%"), std::string::npos) << "every figure shows its spread:\n" << r.out;
  auto with_base = report({dir_ + "/b.json", "--table", "--baseline", dir_ + "/a.json"});
  ASSERT_EQ(with_base.exit.code, 0) << with_base.err;
  EXPECT_NE(with_base.out.find("Change against"), std::string::npos) << with_base.out;
}

TEST_F(Report, PageAnswersWhichModelWhenAndComparesRuns) {
  const std::string out = dir_ + "/report";
  auto r = report({dir_ + "/b.json", "--out", out, "--baseline", dir_ + "/a.json"});
  ASSERT_EQ(r.exit.code, 0) << r.err;
  const std::string page = read_file(out + "/report.md");
  for (const char* section : {"## Which model when", "## Side by side", "## Change against the baseline",
                              "## Latency", "## Portability and code", "## Noise"})
    EXPECT_NE(page.find(section), std::string::npos) << section;
  EXPECT_EQ(page.find("Targets"), std::string::npos) << "the project's targets belong to docs/results, not here";
  for (const char* plot : {"pingpong.png", "latency.png", "cpu.png"}) EXPECT_TRUE(fs::exists(out + "/" + plot)) << plot;
}

// A benchmark's time is the time of one message: compare.py compares the runs
// (and runs its U test over the repetitions) without a complaint.
TEST_F(Report, ComparePyReadsTheRuns) {
  if (!fs::exists(kCompare)) GTEST_SKIP() << kCompare << " is missing (Debian's libbenchmark-tools)";
  auto r = run_program(kPython, {kCompare, "benchmarks", dir_ + "/a.json", dir_ + "/b.json"}, std::chrono::seconds(60));
  ASSERT_EQ(r.exit.code, 0) << r.err;
  EXPECT_NE(r.out.find("BM_PingPong/epoll/conns:1/bytes:64"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("U Test"), std::string::npos) << "the repetitions reach its U test:\n" << r.out;
}

}  // namespace
}  // namespace muxlab::bench_test

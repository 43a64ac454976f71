// `./run net`: net/pair.sh runs the pair over loopback, then across a veth cable
// (MTU 1500, 10 Mbit/s) between two network namespaces it makes and removes.
// Where this process may not make namespaces, the cases that need them skip
// and say why (net/pair.sh --check's answer).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tools/scratch.hpp"

namespace muxlab::tools {
namespace {

namespace fs = std::filesystem;

const std::string kScript = MUXLAB_SOURCE_DIR "/net/pair.sh";
constexpr std::uint64_t kReply = 330001;   // the script's 33-byte message, 10000 times, and '\n'
constexpr std::uint64_t kSegment = 1448;   // MTU 1500 - IPv4 20 - TCP 20 - timestamps 12

// One run of the pair: echo-client's summary line.
struct PairRun {
  std::uint64_t chunks = 0, median = 0, total = 0;  // recv() calls, their median size, bytes
};

struct NetOutput {
  PairRun loopback, cable;
  std::vector<std::string> namespaces;  // named in the cable's heading
  std::string not_shown;                // what this kernel could not imitate
  std::vector<std::string> routes;      // each namespace's routing table, ';' between routes
};

NetOutput parse(const std::string& out) {
  NetOutput parsed;
  PairRun* run = nullptr;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    unsigned long long chunks = 0, min = 0, median = 0, max = 0, total = 0;
    if (line.starts_with("== loopback")) {
      run = &parsed.loopback;
    } else if (line.starts_with("== a cable")) {
      run = &parsed.cable;
      for (auto at = line.find("muxlab-"); at != std::string::npos; at = line.find("muxlab-", at + 1)) {
        const auto end = line.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-", at);
        parsed.namespaces.push_back(line.substr(at, end - at));
      }
    } else if (line.starts_with("not shown: ")) {
      parsed.not_shown = line.substr(11);
    } else if (line.starts_with("routes in muxlab-")) {
      parsed.routes.push_back(line.substr(line.find(": ") + 2));
    } else if (run != nullptr && std::sscanf(line.c_str(), "chunks %llu, min %llu, median %llu, max %llu, total %llu bytes",
                                             &chunks, &min, &median, &max, &total) == 5) {
      *run = {chunks, median, total};
    }
  }
  return parsed;
}

void expect_removed(const std::vector<std::string>& namespaces) {
  ASSERT_EQ(namespaces.size(), 2U) << "the cable's heading names the two namespaces";
  for (const auto& name : namespaces)
    EXPECT_FALSE(fs::exists("/run/netns/" + name)) << "namespace " << name << " is left behind";
}

class Net : public ::testing::Test {
 protected:
  void SetUp() override {
    auto check = harness::run_program(kScript, {"--check"});
    if (check.exit.exited && check.exit.code == 2) GTEST_SKIP() << "net/pair.sh --check: " << check.err;
    ASSERT_EQ(check.exit.code, 0) << check.err;
  }
};

TEST_F(Net, OverTheCableTheReplyComesInSegments) {
  auto result = harness::run_program(kScript, {MUXLAB_BIN_DIR}, std::chrono::seconds(60));
  ASSERT_EQ(result.exit.code, 0) << result.out << result.err;
  const NetOutput out = parse(result.out);
  SCOPED_TRACE(result.out);

  EXPECT_EQ(out.loopback.total, kReply);
  EXPECT_EQ(out.cable.total, kReply);
  // Loopback is not bound by an MTU: its pieces are tens of KiB.
  EXPECT_GT(out.loopback.median, 2 * kSegment);
  // Across the cable most recv() calls return one 1448-byte segment, the one
  // that just arrived; a client woken late (a busy machine) gets all that came
  // meanwhile, so the median is allowed two.
  EXPECT_LE(out.cable.median, 2 * kSegment);
  EXPECT_GT(out.cable.chunks, out.loopback.chunks);
  // It says what the cable does not show (no netem: no delay at all).
  EXPECT_NE(out.not_shown, "");
  // Nothing can leave the machine: in both namespaces the only route is the
  // cable's own, inside 198.18.0.0/15 (RFC 2544), and none is a default route.
  ASSERT_EQ(out.routes.size(), 2U);
  for (const auto& table : out.routes) {
    EXPECT_NE(table, "") << "a namespace without the cable's route";
    std::istringstream routes(table);
    for (std::string route; std::getline(routes, route, ';');)
      EXPECT_TRUE(route.starts_with("198.18.") || route.starts_with("198.19.")) << "a route out: " << route;
  }
  expect_removed(out.namespaces);
}

// Ctrl-C while the server listens inside its namespace and the client starts:
// the whole process group gets SIGINT, as from a terminal.
TEST_F(Net, InterruptedItLeavesNoNamespace) {
  ScratchDir dir;
  const std::string interrupt = R"(
    set -m                 # job control: the script is a job, its own process group
    mkfifo "$1/out"
    "$2" "$3" > "$1/out" &
    pid=$!
    while IFS= read -r line; do
      printf '%s\n' "$line"
      if [[ $line == "listening on 198.18."* ]]; then kill -INT -- "-$pid"; fi
    done < "$1/out"
    wait "$pid"
    echo "exit $?")";
  auto result = harness::run_program("/bin/bash", {"-c", interrupt, "bash", dir.path().string(), kScript, MUXLAB_BIN_DIR},
                                     std::chrono::seconds(60));
  ASSERT_EQ(result.exit.code, 0) << result.err;
  EXPECT_TRUE(result.out.ends_with("exit 130\n")) << result.out << result.err;
  expect_removed(parse(result.out).namespaces);
}

TEST(NetWithoutPrivileges, SaysSoAndExits2) {
  // The script copied where the user nobody can read it (the checkout may not be).
  ScratchDir dir;
  fs::copy_file(kScript, dir.path() / "pair.sh");
  auto result = run_unprivileged({(dir.path() / "pair.sh").string(), MUXLAB_BIN_DIR});
  EXPECT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 2) << result.err;
  EXPECT_EQ(result.out, "");
  EXPECT_NE(result.err.find("needs root"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace muxlab::tools

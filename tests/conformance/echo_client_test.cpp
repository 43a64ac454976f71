// echo_client_test.cpp - echo-client, the counterpart of tmc.py (SPEC §2): one line
// per recv(), then the chunk summary; a failed connection exits non-zero.
#include <signal.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/child.hpp"

namespace muxlab::conformance {
namespace {

using harness::run_program;
using harness::ServerProcess;

const std::string kBin = MUXLAB_BIN_DIR;
const std::string kClient = kBin + "/echo-client";

struct ClientRun {
  std::vector<std::size_t> chunks;  // from the "received N bytes" lines, in order
  std::string summary;              // the last line
};

ClientRun parse(const std::string& out) {
  ClientRun run;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    std::size_t n = 0;
    char tail[16] = {};
    if (std::sscanf(line.c_str(), "received %zu bytes%15s", &n, tail) == 1) run.chunks.push_back(n);
    else run.summary = line;
  }
  return run;
}

TEST(EchoClient, PrintsEveryRecvThenTheChunkSummary) {
  ServerProcess server = ServerProcess::start(kBin + "/blocking-server", {"--port", "0", "--repeat", "10000"});
  // A 10-byte message, 100 KB back, read at most 1000 bytes per recv(): many chunks.
  auto result = run_program(kClient, {server.host(), std::to_string(server.port()), "0123456789", "--bufsize", "1000"});
  ASSERT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  const ClientRun run = parse(result.out);
  std::size_t total = 0;
  for (std::size_t c : run.chunks) {
    EXPECT_GE(c, 1u);
    EXPECT_LE(c, 1000u) << "a recv() returned more than --bufsize";
    total += c;
  }
  EXPECT_EQ(total, 100'001u);
  EXPECT_GE(run.chunks.size(), 101u);
  std::vector<std::size_t> sorted = run.chunks;
  std::sort(sorted.begin(), sorted.end());
  const std::string expected = "chunks " + std::to_string(sorted.size()) + ", min " + std::to_string(sorted.front()) +
                               ", median " + std::to_string(sorted[sorted.size() / 2]) + ", max " +
                               std::to_string(sorted.back()) + ", total 100001 bytes";
  EXPECT_EQ(run.summary, expected);
  auto exit = server.terminate();
  ASSERT_TRUE(exit && exit->exited);
  EXPECT_EQ(exit->code, 0);
}

TEST(EchoClient, QuietPrintsOnlyTheSummary) {
  ServerProcess server = ServerProcess::start(kBin + "/poll-server", {"--port", "0", "--repeat", "3"});
  auto result = run_program(kClient, {server.host(), std::to_string(server.port()), "ab", "--quiet"});
  EXPECT_EQ(result.exit.code, 0) << result.err;
  EXPECT_EQ(result.out, "chunks 1, min 7, median 7, max 7, total 7 bytes\n");
}

TEST(EchoClient, RefusedConnectionExitsNonZero) {
  // A port nobody listens on: take a free one from a server, then stop it.
  std::uint16_t port = 0;
  {
    ServerProcess server = ServerProcess::start(kBin + "/blocking-server", {"--port", "0"});
    port = server.port();
    ASSERT_TRUE(server.terminate());
  }
  auto result = run_program(kClient, {"127.0.0.1", std::to_string(port), "hello"});
  ASSERT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 1);
  EXPECT_NE(result.err.find("cannot connect"), std::string::npos) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(EchoClient, UsageErrorsExitTwo) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {}, {"127.0.0.1", "2000"}, {"127.0.0.1", "2000", "x", "--bufsize", "0"}, {"127.0.0.1", "2000", "x", "--nope"}}) {
    auto result = run_program(kClient, args);
    ASSERT_TRUE(result.exit.exited);
    EXPECT_EQ(result.exit.code, 2) << "args: " << args.size();
  }
  auto help = run_program(kClient, {"--help"});
  EXPECT_EQ(help.exit.code, 0);
  EXPECT_NE(help.out.find("usage: echo-client HOST PORT MESSAGE"), std::string::npos);
}

}  // namespace
}  // namespace muxlab::conformance

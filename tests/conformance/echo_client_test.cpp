// echo_client_test.cpp - echo-client, the counterpart of tmc.py (SPEC §2): one line
// per recv(), then the chunk summary; --interactive, stdin and the socket in one
// poll(); the GNU habits of every muxlab program.
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
using harness::RunResult;
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

std::string reply_of(const std::string& payload, std::size_t repeat) {
  std::string out;
  for (std::size_t i = 0; i < repeat; ++i) out += payload;
  return out + "\n";
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
           {},
           {"127.0.0.1", "2000"},
           {"127.0.0.1", "2000", "x", "--bufsize", "0"},
           {"127.0.0.1", "2000", "x", "--bufsize=abc"},
           {"127.0.0.1", "2000", "x", "--bufsize"},
           {"127.0.0.1", "2000", "x", "--quiet=yes"},
           {"127.0.0.1", "2000", "x", "--nope"},
           {"127.0.0.1", "2000", "x", "-x"},
           {"--interactive", "127.0.0.1", "2000", "x"}}) {
    auto result = run_program(kClient, args);
    ASSERT_TRUE(result.exit.exited);
    EXPECT_EQ(result.exit.code, 2) << "args: " << args.size();
    EXPECT_TRUE(result.err.starts_with("echo-client: ")) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << "one line: " << result.err;
    EXPECT_EQ(result.out, "");
  }
}

TEST(EchoClient, HelpAndVersionOnStdout) {
  for (const char* help : {"-h", "--help"}) {
    auto result = run_program(kClient, {help});
    EXPECT_EQ(result.exit.code, 0);
    EXPECT_TRUE(result.out.starts_with("usage: echo-client HOST PORT MESSAGE")) << result.out;
    EXPECT_NE(result.out.find("--interactive"), std::string::npos);
    EXPECT_EQ(result.err, "");
  }
  auto version = run_program(kClient, {"--version"});
  EXPECT_EQ(version.exit.code, 0);
  EXPECT_TRUE(version.out.starts_with("echo-client (muxlab ")) << version.out;
  EXPECT_TRUE(version.out.ends_with(")\n")) << version.out;
  EXPECT_EQ(std::count(version.out.begin(), version.out.end(), '\n'), 1) << version.out;
}

// getopt_long(3)'s forms: --flag=value and --flag value, options after the
// operands, and -- before a MESSAGE that starts with a dash.
TEST(EchoClient, TakesTheGnuForms) {
  ServerProcess server = ServerProcess::start(kBin + "/poll-server", {"--port", "0", "--repeat", "5"});
  const std::string host = server.host(), port = std::to_string(server.port());
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {host, port, "abcd", "--bufsize=4"},
           {"--bufsize", "4", host, port, "abcd"},
           {"--quiet", host, port, "--bufsize=4", "abcd"}}) {
    auto result = run_program(kClient, args);
    EXPECT_EQ(result.exit.code, 0) << result.err;
    const ClientRun run = parse(result.out);
    EXPECT_EQ(run.summary, "chunks 6, min 1, median 4, max 4, total 21 bytes") << "--bufsize 4: 21 bytes in 6 recv()s";
  }
  auto dashed = run_program(kClient, {"--quiet", "--", host, port, "--not-an-option"});
  EXPECT_EQ(dashed.exit.code, 0) << dashed.err;
  EXPECT_EQ(dashed.out, "chunks 1, min 76, median 76, max 76, total 76 bytes\n");
}

// bash runs `INPUT | echo-client --interactive HOST PORT ARGS... OUTPUT` (pipefail:
// the client's exit code counts).
RunResult run_interactive(const std::string& input, const ServerProcess& server, const std::string& args,
                          const std::string& output = "") {
  const std::string command = input + " | '" + kClient + "' --interactive " + server.host() + " " +
                              std::to_string(server.port()) + " " + args + output;
  return run_program("/bin/bash", {"-o", "pipefail", "-c", command}, std::chrono::seconds(60));
}

// SPEC §2 and issue 12: `seq 100000 | echo-client --interactive` receives every
// reply, exactly, on stdout, and the chunk summary on stderr.
TEST(EchoClient, InteractiveGetsEveryReplyToPipedLines) {
  ServerProcess server = ServerProcess::start(kBin + "/blocking-server", {"--port", "0"});
  auto result = run_interactive("seq 100000", server, "");
  ASSERT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  std::string expected;
  for (int i = 1; i <= 100'000; ++i) expected += std::to_string(i) + "\n";
  EXPECT_EQ(result.out.size(), expected.size());
  EXPECT_TRUE(result.out == expected) << "the replies differ from what seq sent";
  // The chunk summary, on stderr: stdout is the replies alone.
  EXPECT_TRUE(result.err.starts_with("chunks ")) << result.err;
  EXPECT_TRUE(result.err.ends_with(", total " + std::to_string(expected.size()) + " bytes\n")) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  auto exit = server.terminate();
  ASSERT_TRUE(exit && exit->exited);
  EXPECT_EQ(exit->code, 0);
}

// 23 MB of lines: more than the sockets' buffers hold (a few MB by default). A
// client that sent all of its input before reading would stall here for ever:
// blocking-server blocks sending the replies nobody reads and stops reading, so
// the client's send() blocks too. --interactive reads replies whenever they
// come and stops reading stdin while the socket takes nothing, so it finishes.
// cksum compares the replies with the input without a 23 MB copy here.
TEST(EchoClient, InteractiveNeverDeadlocksOnInputPastTheBuffers) {
  ServerProcess server = ServerProcess::start(kBin + "/blocking-server", {"--port", "0"});
  auto result = run_interactive("seq 3000000", server, "--quiet", " | cksum");
  ASSERT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  EXPECT_EQ(result.out, run_program("/bin/sh", {"-c", "seq 3000000 | cksum"}).out) << "cksum of the replies, and of the input";
}

// At the end of stdin the client half-closes: only then does the server see
// EOF and answer the tail, a fragment with no '\n' (SPEC §1), and the client
// still reads that whole 400 KB reply to EOF. A client that closed instead, or
// never shut its side, would get nothing (or hang).
TEST(EchoClient, InteractiveHalfClosesAtEndOfInputAndReadsTheTail) {
  ServerProcess server = ServerProcess::start(kBin + "/epoll-server", {"--port", "0", "--repeat", "100000"});
  auto result = run_interactive("printf tail", server, "--quiet");
  ASSERT_TRUE(result.exit.exited);
  EXPECT_EQ(result.exit.code, 0) << result.err;
  EXPECT_EQ(result.out.size(), 400'001u);
  EXPECT_TRUE(result.out == reply_of("tail", 100'000)) << "not tail x 100000";
  EXPECT_EQ(result.err, "") << "--quiet: the replies only";
}

}  // namespace
}  // namespace muxlab::conformance

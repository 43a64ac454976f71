// conformance_test.cpp - SPEC §1 (the protocol) and §2 (the command line),
// checked over real sockets against every model in harness/models.hpp.
//
// Lifecycle cases (signals, resets, server full) are in lifecycle_test.cpp,
// concurrency and scaling cases in concurrency_test.cpp.
#include <algorithm>
#include <random>

#include "tests/conformance/fixture.hpp"

namespace muxlab::conformance {
namespace {

constexpr std::string_view kTooLong = "error: line too long (limit 1000 bytes)\n";

TEST_P(ServerConformance, LineEchoKeepsOrder) {
  ServerProcess server = start();
  std::size_t sent = 0, received = 0;
  {
    // The way nc talks: a line, its echo, the next line.
    TestClient client = connect(server);
    for (std::string_view line : {"hello\n", "\n", "a longer line, with spaces\n"}) {
      client.send_all(line);
      EXPECT_EQ(client.read_line(), line);
      sent += line.size();
      received += line.size();
    }
    // Several lines in one send: the replies keep their order.
    const std::string batch = "one\ntwo\nthree\n";
    EXPECT_EQ(converse(client, batch), batch);
    sent += batch.size();
    received += batch.size();
  }
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["connections"], 1u);
  EXPECT_EQ(stats["bytes_in"], sent);
  EXPECT_EQ(stats["bytes_out"], received);
}

TEST_P(ServerConformance, LineEchoOverIpv6) {
  if (!ipv6_loopback_works()) GTEST_SKIP() << "IPv6 loopback (::1) is not available on this machine";
  ServerProcess server = start({"--host", "::1"});
  EXPECT_EQ(server.host(), "::1");
  {
    TestClient client = TestClient::connect("::1", server.port());
    EXPECT_EQ(converse(client, "over six\n"), "over six\n");
  }
  EXPECT_EQ(stop(server)["connections"], 1u);
}

TEST_P(ServerConformance, RepeatSendsPayloadRTimes) {
  ServerProcess server = start({"--repeat", "10000"});
  {
    TestClient client = connect(server);
    const std::string answer = converse(client, "abc\n");
    ASSERT_EQ(answer.size(), 30001u);
    EXPECT_EQ(answer, reply_to("abc", 10000));
  }
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_in"], 4u);
  EXPECT_EQ(stats["bytes_out"], 30001u);
}

TEST_P(ServerConformance, TailEndIsAnsweredAsALine) {
  ServerProcess server = start();
  {
    TestClient client = connect(server);
    EXPECT_EQ(converse(client, "x\ny"), "x\ny\n");
  }
  stop(server);
  ServerProcess repeating = start({"--repeat", "3"});
  {
    TestClient client = connect(repeating);
    EXPECT_EQ(converse(client, "x\ny"), "xxx\nyyy\n");
  }
  EXPECT_EQ(stop(repeating)["bytes_out"], 8u);
}

TEST_P(ServerConformance, RawFramingEchoesBinaryUnchanged) {
  ServerProcess server = start({"--framing", "raw"});
  std::string data(4u << 20, '\0');
  std::mt19937 rng(862);  // RFC 862
  for (auto& byte : data) byte = static_cast<char>(rng());
  {
    TestClient client = connect(server);
    const std::string answer = converse(client, data, 60s);
    ASSERT_EQ(answer.size(), data.size());
    EXPECT_TRUE(answer == data) << "the echo differs from what was sent";
  }
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_in"], data.size());
  EXPECT_EQ(stats["bytes_out"], data.size());
}

TEST_P(ServerConformance, LinePayloadsAreBinarySafe) {
  ServerProcess server = start({"--repeat", "2"});
  std::string payload;
  for (int b = 0; b < 256; ++b)
    if (b != '\n') payload += static_cast<char>(b);  // NUL, \r and 0x80-0xff included
  const std::string request = payload + "\n\r\n" + std::string(1, '\0') + "\n";
  const std::string expected = reply_to(payload, 2) + reply_to("\r", 2) + reply_to(std::string(1, '\0'), 2);
  {
    TestClient client = connect(server);
    EXPECT_EQ(converse(client, request), expected);
  }
  EXPECT_EQ(stop(server)["bytes_out"], expected.size());
}

TEST_P(ServerConformance, LineTooLongEndsTheConnection) {
  ServerProcess server = start({"--max-line", "1000"});
  {
    TestClient client = connect(server);
    // Sent and read at once: the error comes while "later" may still be on its way.
    const std::string answer = converse(client, "ok\n" + std::string(5000, 'a') + "\nlater\n");
    EXPECT_EQ(answer, "ok\n" + std::string(kTooLong));  // then EOF; "later" never answered
  }
  {
    // A client that goes on sending after the error still reads every byte sent
    // to it: the server half-closes and discards, it does not reset.
    TestClient client = connect(server);
    std::string request = "ok\n" + std::string(5000, 'a') + "\n";
    for (int i = 0; i < 2000; ++i) request += std::string(99, 'b') + "\n";  // 200 KB more
    EXPECT_EQ(converse(client, request), "ok\n" + std::string(kTooLong));
  }
  EXPECT_EQ(stop(server)["connections"], 2u);
}

TEST_P(ServerConformance, BadFlagsExitTwoWithOneLine) {
  const struct {
    std::vector<std::string> args;
    std::string_view named;  // what the one line must mention
  } bad[] = {
      {{"--port", "0", "--no-such-flag"}, "--no-such-flag"},
      {{"--port", "70000"}, "--port"},
      {{"--port", "0", "--repeat", "0"}, "--repeat"},
      {{"--port", "0", "--framing", "raw", "--repeat", "2"}, "--repeat"},
      {{"--port", "0", "--framing", "xml"}, "--framing"},
      {{"--port", "0", "--repeat"}, "--repeat"},
      {{"--port=0", "--stats=yes"}, "--stats"},
      {{"--port", "0", "--", "extra"}, "extra"},
  };
  for (const auto& [args, named] : bad) {
    std::vector<std::string> all = spec().args;
    all.insert(all.end(), args.begin(), args.end());
    auto result = harness::run_program(binary_path(spec()), all);
    const std::string shown = ::testing::PrintToString(all);
    EXPECT_TRUE(result.exit.exited) << shown;
    EXPECT_EQ(result.exit.code, 2) << shown;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << shown << " stderr: " << result.err;
    EXPECT_TRUE(result.err.ends_with("\n")) << shown;
    EXPECT_NE(result.err.find(named), std::string::npos) << shown << ": the line names the flag: " << result.err;
    EXPECT_EQ(result.out, "") << shown << ": nothing on stdout, no listening line";
    EXPECT_TRUE(result.err.starts_with(program_name(spec()) + ": ")) << shown << ": starts with the program: "
                                                                 << result.err;
  }
}

// SPEC §2: -h/--help and --version on stdout, exit 0.
TEST_P(ServerConformance, HelpAndVersion) {
  for (const char* flag : {"--help", "-h"}) {
    auto help = harness::run_program(binary_path(spec()), {flag});
    EXPECT_TRUE(help.exit.exited && help.exit.code == 0) << flag;
    EXPECT_NE(help.out.find("--repeat"), std::string::npos) << flag << " lists the options: " << help.out;
    EXPECT_NE(help.out.find("--backlog"), std::string::npos) << flag << " lists the options: " << help.out;
    EXPECT_EQ(help.err, "");
  }
  auto version = harness::run_program(binary_path(spec()), {"--version"});
  EXPECT_TRUE(version.exit.exited && version.exit.code == 0);
  EXPECT_TRUE(version.out.starts_with(program_name(spec()) + " (muxlab ")) << version.out;
  EXPECT_TRUE(version.out.ends_with(")\n")) << version.out;
  EXPECT_EQ(std::count(version.out.begin(), version.out.end(), '\n'), 1) << version.out;
}

// --flag=value is the same as --flag value (getopt_long(3)); `--` ends the options.
TEST_P(ServerConformance, EqualsFormAndDoubleDash) {
  std::vector<std::string> args = spec().args;
  for (const char* a : {"--port=0", "--repeat=3", "--stats", "--"}) args.push_back(a);
  ServerProcess server = ServerProcess::start(binary_path(spec()), args);
  {
    TestClient client = connect(server);
    client.send_all("ab\n");
    client.shutdown_write();
    EXPECT_EQ(client.read_until_eof(), "ababab\n");
  }
  stop(server);
}

TEST_P(ServerConformance, ListeningLineNamesTheRealPort) {
  ServerProcess server = start();
  EXPECT_EQ(server.host(), "127.0.0.1");
  EXPECT_NE(server.port(), 0);
  stop(server);
  EXPECT_EQ(server.stdout_after_ready(), "") << "stdout holds exactly one line";
}

TEST_P(ServerConformance, ListeningLineForIpv6) {
  if (!ipv6_loopback_works()) GTEST_SKIP() << "IPv6 loopback (::1) is not available on this machine";
  ServerProcess server = start({"--host", "::1"});
  EXPECT_EQ(server.host(), "::1");
  EXPECT_EQ(server.ready_line(), "listening on [::1]:" + std::to_string(server.port()));  // SPEC §2
  EXPECT_NE(server.port(), 0);
  stop(server);
  EXPECT_EQ(server.stdout_after_ready(), "");
}

}  // namespace
}  // namespace muxlab::conformance

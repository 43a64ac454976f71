// options_test.cpp - the common command line (SPEC §2): defaults, every flag in
// both "--flag value" and "--flag=value" forms, model flags, and the usage
// errors, which must exit 2 with exactly one line on stderr naming the flag.
#include "core/options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.hpp"

namespace muxlab::core {
namespace {

using std::chrono::milliseconds;

ServerOptions parse(const std::vector<const char*>& args, std::span<const ExtraFlag> extra = {}) {
  std::vector<std::string> storage{"test-server"};
  for (const char* a : args) storage.emplace_back(a);
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);
  ServerOptions o =
      parse_server_options(static_cast<int>(storage.size()), argv.data(), "test-server", "a test", extra);
  set_verbose(false);  // --verbose is global state: leave none behind
  return o;
}

// One line on stderr that contains `what` (a regex), and nothing else.
std::string one_line_naming(const std::string& what) { return "^[^\n]*" + what + "[^\n]*\n$"; }

TEST(Options, Defaults) {
  const ServerOptions o = parse({});
  EXPECT_EQ(o.host, "127.0.0.1");
  EXPECT_EQ(o.port, 2000);
  EXPECT_EQ(o.limits.framing, Framing::line);
  EXPECT_EQ(o.limits.repeat, 1u);
  EXPECT_EQ(o.limits.max_line, 65536u);
  EXPECT_EQ(o.limits.max_pending, 1048576u);
  EXPECT_EQ(o.max_clients, 0u);
  EXPECT_FALSE(o.stats);
  EXPECT_FALSE(o.verbose);
  EXPECT_EQ(o.drain, milliseconds(2000));
  EXPECT_EQ(o.linger, milliseconds(2000));
}

TEST(Options, EveryFlagWithASeparateValue) {
  const ServerOptions o =
      parse({"--host",     "::1", "--port",        "0",   "--repeat",      "1000000", "--framing", "line",
             "--max-line", "10",  "--max-pending", "100", "--max-clients", "5",       "--stats",   "--verbose",
             "--drain-ms", "5",   "--linger-ms",   "7"});
  EXPECT_EQ(o.host, "::1");
  EXPECT_EQ(o.port, 0);
  EXPECT_EQ(o.limits.repeat, 1000000u);
  EXPECT_EQ(o.limits.framing, Framing::line);
  EXPECT_EQ(o.limits.max_line, 10u);
  EXPECT_EQ(o.limits.max_pending, 100u);
  EXPECT_EQ(o.max_clients, 5u);
  EXPECT_TRUE(o.stats);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.drain, milliseconds(5));
  EXPECT_EQ(o.linger, milliseconds(7));
}

TEST(Options, EveryFlagWithAnEqualsValue) {
  const ServerOptions o =
      parse({"--host=0.0.0.0", "--port=65535", "--repeat=1", "--framing=raw", "--max-line=1",
             "--max-pending=4294967296", "--max-clients=1000000", "--drain-ms=0", "--linger-ms=3600000"});
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 65535);
  EXPECT_EQ(o.limits.repeat, 1u);
  EXPECT_EQ(o.limits.framing, Framing::raw);
  EXPECT_EQ(o.limits.max_line, 1u);
  EXPECT_EQ(o.limits.max_pending, std::size_t{1} << 32);
  EXPECT_EQ(o.max_clients, 1000000u);
  EXPECT_EQ(o.drain, milliseconds(0));
  EXPECT_EQ(o.linger, milliseconds(3600000));
}

TEST(Options, SendBufferAddition) {
  EXPECT_EQ(parse({}).send_buffer, 0u);  // 0: the kernel's own, autotuned
  EXPECT_EQ(parse({"--sndbuf", "4096"}).send_buffer, 4096u);
  EXPECT_EQ(parse({"--sndbuf=1073741824"}).send_buffer, std::size_t{1} << 30);
  EXPECT_EXIT(parse({"--sndbuf", "0"}), ::testing::ExitedWithCode(2), one_line_naming("--sndbuf"));
  EXPECT_EXIT(parse({"--sndbuf", "1073741825"}), ::testing::ExitedWithCode(2), one_line_naming("--sndbuf"));
}

TEST(Options, Backlog) {
  EXPECT_EQ(parse({}).backlog, SOMAXCONN);
  EXPECT_EQ(parse({"--backlog", "1"}).backlog, 1);
  EXPECT_EQ(parse({"--backlog=0"}).backlog, 0);
  EXPECT_EXIT(parse({"--backlog", "-1"}), ::testing::ExitedWithCode(2), one_line_naming("--backlog"));
}

// getopt_long(3)'s forms: `--` ends the options; GNU abbreviations are taken.
TEST(Options, GnuForms) {
  EXPECT_EQ(parse({"--repeat", "3", "--"}).limits.repeat, 3u);
  EXPECT_EQ(parse({"--rep=5"}).limits.repeat, 5u);
  EXPECT_EXIT(parse({"--", "--repeat"}), ::testing::ExitedWithCode(2), one_line_naming("'--repeat'"));
  EXPECT_EXIT(parse({"--max", "3"}), ::testing::ExitedWithCode(2), one_line_naming("--max"));  // ambiguous
}

TEST(Options, EveryErrorLineStartsWithTheProgramsName) {
  EXPECT_EXIT(parse({"--bogus"}), ::testing::ExitedWithCode(2), "^test-server: [^\n]*--bogus");
  EXPECT_EXIT(parse({"--port"}), ::testing::ExitedWithCode(2), "^test-server: [^\n]*--port");
}

TEST(Options, VersionNamesTheProgramAndTheCommit) {
  EXPECT_EXIT(
      {
        dup2(2, 1);
        parse({"--version"});
      },
      ::testing::ExitedWithCode(0), "^test-server \\(muxlab [0-9]+\\.[0-9]+\\.[0-9]+, [^)]+\\)\n$");
}

TEST(Options, LaterFlagsWin) { EXPECT_EQ(parse({"--repeat", "3", "--repeat=4"}).limits.repeat, 4u); }

TEST(Options, ExtraFlagsSwitchAndValued) {
  bool edge = false;
  std::uint64_t sleep_us = 0;
  const ExtraFlag extra[] = {
      {"--edge", nullptr, "edge-triggered", [&edge](std::string_view v) { return v.empty() && (edge = true); }},
      {"--idle-sleep-us", "N", "sleep after an idle pass",
       [&sleep_us](std::string_view v) { return parse_number(v, 0, 1000000, sleep_us); }},
  };
  const ServerOptions o = parse({"--edge", "--idle-sleep-us", "250", "--port", "0"}, extra);
  EXPECT_TRUE(edge);
  EXPECT_EQ(sleep_us, 250u);
  EXPECT_EQ(o.port, 0);
  parse({"--idle-sleep-us=17"}, extra);
  EXPECT_EQ(sleep_us, 17u);

  EXPECT_EXIT(parse({"--idle-sleep-us", "lots"}, extra), ::testing::ExitedWithCode(2),
              one_line_naming("--idle-sleep-us"));
  EXPECT_EXIT(parse({"--edge=1"}, extra), ::testing::ExitedWithCode(2), one_line_naming("--edge"));
  EXPECT_EXIT(parse({"--edge"}), ::testing::ExitedWithCode(2), one_line_naming("--edge"));  // not this model's
}

TEST(Options, HelpExitsZeroWithNothingOnStderr) {
  const ExtraFlag extra[] = {{"--edge", nullptr, "edge-triggered", [](std::string_view) { return true; }}};
  for (const std::vector<const char*>& args :
       {std::vector<const char*>{"--help"}, {"-h"}, {"--port", "0", "--help", "--edge"}}) {
    EXPECT_EXIT(
        {
          std::freopen("/dev/null", "w", stdout);  // the usage goes to stdout; the next test reads it
          parse(args, extra);
        },
        ::testing::ExitedWithCode(0), "^$");
  }
}

TEST(Options, HelpTextNamesEveryFlag) {
  const ExtraFlag extra[] = {{"--edge", nullptr, "edge-triggered", [](std::string_view) { return true; }}};
  // A death test sees only stderr: send the help there to read it.
  for (const char* flag : {"--host ADDR", "--port N", "--repeat R", "--framing F", "--max-line B",
                           "--max-pending B", "--max-clients N", "--stats", "--verbose", "--drain-ms MS",
                           "--linger-ms MS", "--backlog N", "--edge", "-h, --help", "--version",
                           "usage: test-server"}) {
    EXPECT_EXIT(
        {
          dup2(2, 1);
          parse({"--help"}, extra);
        },
        ::testing::ExitedWithCode(0), flag);
  }
}

struct BadCase {
  std::vector<const char*> args;
  const char* names;  // regex for the flag the one stderr line must name
};

TEST(Options, UsageErrorsExitTwoWithOneLineNamingTheFlag) {
  const BadCase cases[] = {
      {{"--bogus"}, "--bogus"},
      {{"-p", "2000"}, "-p"},
      {{"port"}, "port"},
      {{"--port"}, "--port"},  // missing value
      {{"--port", "65536"}, "--port"},
      {{"--port", "-1"}, "--port"},
      {{"--port", "80x"}, "--port"},
      {{"--port="}, "--port"},
      {{"--repeat", "0"}, "--repeat"},
      {{"--repeat", "1000001"}, "--repeat"},
      {{"--repeat=1000001"}, "--repeat"},
      {{"--repeat"}, "--repeat"},
      {{"--framing", "lines"}, "--framing"},
      {{"--framing", "raw", "--repeat", "2"}, "--repeat"},
      {{"--repeat", "2", "--framing=raw"}, "--repeat"},
      {{"--max-line", "0"}, "--max-line"},
      {{"--max-line", "big"}, "--max-line"},
      {{"--max-pending", "0"}, "--max-pending"},
      {{"--max-clients", "0"}, "--max-clients"},
      {{"--host", ""}, "--host"},
      {{"--host="}, "--host"},
      {{"--stats=yes"}, "--stats"},
      {{"--verbose=1"}, "--verbose"},
      {{"--help=1"}, "--help"},
      {{"--drain-ms", "3600001"}, "--drain-ms"},
      {{"--linger-ms", "-5"}, "--linger-ms"},
      {{"--port", "0", "--bogus", "--help"}, "--bogus"},  // an error before --help still fails
  };
  for (const auto& c : cases) {
    std::string shown;
    for (const char* a : c.args) shown += std::string(a) + " ";
    EXPECT_EXIT(parse(c.args), ::testing::ExitedWithCode(2), one_line_naming(c.names)) << "args: " << shown;
  }
}

TEST(ParseNumber, EdgeCases) {
  std::uint64_t n = 99;
  EXPECT_TRUE(parse_number("0", 0, 10, n));
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(parse_number("10", 0, 10, n));
  EXPECT_EQ(n, 10u);
  EXPECT_TRUE(parse_number("007", 0, 10, n));
  EXPECT_EQ(n, 7u);
  EXPECT_TRUE(parse_number("18446744073709551615", 0, UINT64_MAX, n));
  EXPECT_EQ(n, UINT64_MAX);

  n = 99;
  for (const char* bad : {"", "11", "-1", "+1", " 1", "1 ", "1x", "x", "0x10", "1.0", "1e3",
                          "18446744073709551616", "99999999999999999999999"}) {
    EXPECT_FALSE(parse_number(bad, 0, 10, n)) << "'" << bad << "'";
    EXPECT_EQ(n, 99u) << "a failed parse must leave the output alone";
  }
  EXPECT_FALSE(parse_number("4", 5, 10, n));
  EXPECT_TRUE(parse_number("5", 5, 10, n));
  EXPECT_EQ(n, 5u);
}

}  // namespace
}  // namespace muxlab::core

// fixture.hpp - ServerConformance: every case runs once per model in harness/models.hpp.
//
// Each case spawns the real binary (--port 0 --stats plus the model's flags),
// talks to it over loopback, then stops it with a signal and checks that it
// exits 0 and that its --stats counters agree with what the case sent and read.
#pragma once

#include <signal.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "harness/child.hpp"
#include "harness/client.hpp"
#include "tests/conformance/servers.hpp"
#include "tests/conformance/wire.hpp"

namespace muxlab::conformance {

using harness::ServerProcess;
using harness::SpawnOptions;
using namespace std::chrono_literals;

class ServerConformance : public ::testing::TestWithParam<ServerSpec> {
 protected:
  static void SetUpTestSuite();
  void SetUp() override;  // skips a model this machine cannot run (requirements.hpp), saying why

  const ServerSpec& spec() const { return GetParam(); }
  // "--port 0 --stats", the model's flags, then `more`.
  std::vector<std::string> server_args(const std::vector<std::string>& more) const;
  ServerProcess start(const std::vector<std::string>& more = {}, const SpawnOptions& options = {}) const;
  static TestClient connect(const ServerProcess& server) { return TestClient::connect(server.host(), server.port()); }
  // Sends `signo`, expects exit code 0 within `timeout`, returns the --stats counters.
  static ServerStats stop(ServerProcess& server, int signo = SIGTERM, std::chrono::milliseconds timeout = 10s);
};

// The answer to one line: its payload `repeat` times, then '\n'.
std::string reply_to(std::string_view payload, std::size_t repeat);

}  // namespace muxlab::conformance

// For the cases that need clients served side by side.
#define MUXLAB_SKIP_UNLESS_CONCURRENT()                                                                  \
  if (!GetParam().concurrent)                                                                            \
  GTEST_SKIP() << GetParam().binary << " serves one client at a time (by design): a concurrency case " \
                                       "does not apply"

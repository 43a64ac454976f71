// fixture.hpp - ServerConformance: every case runs once per model in harness/models.hpp
// (or once per model it applies to, below).
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

// Cases that cannot apply to every model are registered only for the models
// they apply to (models.hpp's fields say which), so that a model never reports
// a skip for a feature it lacks by design. A case skips only for this machine
// or this build (no IPv6, too low a RLIMIT_NOFILE, no io_uring, the sanitizers'
// runtime in the way), and says which.

// Clients served side by side (Model::concurrent; blocking-server takes turns).
class ConcurrentServerConformance : public ServerConformance {};
// Idle connections by the thousand (Model::idle_test_connections > 0).
class IdleScalingConformance : public ServerConformance {};
// Descriptors put in an fd_set, below FD_SETSIZE (Model::fd_ceiling > 0).
class FdSetConformance : public ServerConformance {};

// The answer to one line: its payload `repeat` times, then '\n'.
std::string reply_to(std::string_view payload, std::size_t repeat);

}  // namespace muxlab::conformance

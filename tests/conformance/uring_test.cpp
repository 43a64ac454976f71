// uring_test.cpp - what only uring-server has: the provided-buffer ring running
// dry (ENOBUFS), back-pressure (no recv armed while replies are owed), short sends
// re-submitted, the ring's counters, --sqpoll, and the one line it prints where
// io_uring is forbidden (a seccomp filter, as container runtimes install).
//
// The whole conformance suite runs against uring-server too (harness/models.cpp);
// these cases add what that suite cannot see from outside a readiness server.
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <optional>
#include <random>

#include "tests/conformance/fixture.hpp"
#include "tests/conformance/requirements.hpp"

namespace muxlab::conformance {
namespace {

const ServerSpec& uring_spec() {
  for (const auto& model : harness::all_models())
    if (model.binary == "uring-server") return model;
  throw std::logic_error("no uring-server in harness/models.cpp");
}

class UringServer : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const std::string why = unavailable_reason(uring_spec()); !why.empty()) GTEST_SKIP() << why;
  }
  static ServerProcess start(std::vector<std::string> args) {
    args.insert(args.begin(), {"--port", "0", "--stats"});
    return ServerProcess::start(binary_path(uring_spec()), args);
  }
  static ServerStats stop(ServerProcess& server) {
    server.signal(SIGTERM);
    auto exit = server.wait(std::chrono::seconds(10));
    EXPECT_TRUE(exit && exit->exited && exit->code == 0) << server.stderr_text();
    return ServerStats(server.stderr_text());
  }
};

std::string random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string bytes(n, '\0');
  for (auto& b : bytes) b = static_cast<char>(rng());
  return bytes;
}

// One buffer in the ring: every receive beyond the first in a turn finds it
// empty. The data waits in the socket, the recv is re-armed once the buffer is
// back, and every byte still comes back in order.
TEST_F(UringServer, BufferRingRunningDryLosesNoByte) {
  ServerProcess server = start({"--framing", "raw", "--buffers", "1"});
  std::vector<Conversation> clients;
  std::size_t total = 0;
  for (std::uint32_t i = 0; i < 8; ++i) {
    Conversation& c = clients.emplace_back(TestClient::connect(server.host(), server.port()));
    c.to_send = c.expected = random_bytes(1024 * 1024, i);
    c.chunks = random_chunks(c.to_send.size(), 256 * 1024, i);
    total += c.to_send.size();
  }
  run_conversations(clients, 60s);
  for (const auto& c : clients) EXPECT_TRUE(c.answered_exactly()) << c.error;
  clients.clear();
  ServerStats stats = stop(server);
  EXPECT_GT(stats["enobufs"], 0u) << "a ring of one buffer under eight senders never ran dry?";
  EXPECT_EQ(stats["bytes_in"], total);
  EXPECT_EQ(stats["bytes_out"], total);
}

// Lines of 150 KB through two 64 KiB buffers and a 4 KiB --max-pending: every
// line spans several ring buffers and several of the session's windows, and
// the session is back-pressured at every line. Each must still come back whole.
TEST_F(UringServer, LongLinesAcrossRingBuffersAndWindows) {
  ServerProcess server = start({"--buffers", "2", "--max-pending", "4096", "--max-line", "200000"});
  std::vector<Conversation> clients;
  for (std::uint32_t i = 0; i < 3; ++i) {
    Conversation& c = clients.emplace_back(TestClient::connect(server.host(), server.port()));
    for (int line = 0; line < 8; ++line) {
      std::string payload = random_bytes(150'000, i * 100 + static_cast<std::uint32_t>(line));
      std::replace(payload.begin(), payload.end(), '\n', ' ');
      c.to_send += payload + "\n";
    }
    c.expected = c.to_send;
    c.chunks = random_chunks(c.to_send.size(), 100'000, i);
  }
  run_conversations(clients, 60s);
  for (const auto& c : clients) EXPECT_TRUE(c.answered_exactly()) << c.error;
  clients.clear();
  stop(server);
}

// --max-pending 4096: no recv is armed while the session owes that much (one
// in flight is cancelled). Bytes that reached the ring before are kept, so the
// echo of a client that sends until pushed back, and only then reads, is exact.
TEST_F(UringServer, BackPressureStopsReceivingAndKeepsWhatLanded) {
  ServerProcess server = start({"--framing", "raw", "--max-pending", "4096"});
  TestClient client = TestClient::connect(server.host(), server.port());
  const std::string data = random_bytes(32 * kMiB, 7);
  std::size_t sent = 0;  // pushed back before the end of `data`, or the case fails
  ASSERT_NO_FATAL_FAILURE(send_until_pushed_back(client, data, data.size(), 250ms, 30s, sent));
  std::vector<Conversation> rest;
  Conversation& c = rest.emplace_back(std::move(client));
  c.to_send = data.substr(sent);
  run_conversations(rest, 30s);
  EXPECT_EQ(c.error, "");
  EXPECT_TRUE(c.received == data) << "read " << c.received.size() << " of " << data.size() << " bytes, or wrong ones";
  rest.clear();
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_out"], data.size());
}

// A 16 KiB socket buffer: sends complete short, and each is re-submitted from
// where it stopped (io_uring waits for room itself, so there is no EAGAIN).
TEST_F(UringServer, ShortSendsAreResubmittedFromWhereTheyStopped) {
  ServerProcess server = start(kSmallSndbufArgs);
  const std::size_t total = small_sndbuf_exchange(TestClient::connect(server.host(), server.port()));
  ServerStats stats = stop(server);
  EXPECT_GT(stats["partial_sends"], 0u);
  EXPECT_EQ(stats["eagain"], 0u);
  EXPECT_EQ(stats["bytes_out"], total);
}

// The counters mean what uring/README.md says: recv_calls and send_calls are
// completions, wakeups are io_uring_enter() returns, and every completion
// reaped is one of the operations submitted.
TEST_F(UringServer, StatsCountCompletionsAndRingEntries) {
  ServerProcess server = start({});
  {
    TestClient client = TestClient::connect(server.host(), server.port());
    EXPECT_EQ(converse(client, "one\ntwo\n"), "one\ntwo\n");
  }
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["connections"], 1u);
  EXPECT_GE(stats["recv_calls"], 2u);  // the lines (one completion or more) and the EOF
  EXPECT_GE(stats["send_calls"], 1u);
  EXPECT_GE(stats["wakeups"], 2u);
  // Submitted at least: the accept, the stop poll, the recv, a send; reaped at
  // least: the accept's connection, every recv and send completion.
  EXPECT_GE(stats["sqes_submitted"], 4u);
  EXPECT_GE(stats["cqes_reaped"], 1 + stats["recv_calls"] + stats["send_calls"]);
  EXPECT_EQ(stats["enobufs"], 0u);
}

// RLIMIT_NOFILE 64 and --max-clients far above it: the multishot accept
// completes with EMFILE. Accepting pauses (the accept is re-armed on the tick
// or when a connection closes, never at once: that would spin), the clients
// held are still served, and the one left in the backlog is served once a
// descriptor is free.
TEST_F(UringServer, EmfileFromAnAcceptCompletionPausesWithoutSpinning) {
  if (kSanitized) GTEST_SKIP() << "sanitizer runtimes abort when out of descriptors (see wire.hpp)";
  SpawnOptions options;
  options.max_open_files = 64;
  ServerProcess server =
      ServerProcess::start(binary_path(uring_spec()), {"--port", "0", "--stats", "--max-clients", "1000"}, options);
  std::vector<TestClient> served;
  std::optional<TestClient> waiting;
  for (int i = 0; i < 100 && !waiting; ++i) {
    TestClient c = TestClient::connect(server.host(), server.port());
    c.send_all("x\n");
    pollfd p{c.fd(), POLLIN, 0};
    const auto cpu_before = cpu_time(server.pid());
    if (::poll(&p, 1, 1000) == 0) {
      EXPECT_LT(cpu_time(server.pid()) - cpu_before, 300ms) << "the server spins while out of descriptors";
      waiting = std::move(c);
    } else {
      EXPECT_EQ(c.read_line(), "x\n");
      served.push_back(std::move(c));
    }
  }
  ASSERT_TRUE(waiting) << "100 connections under RLIMIT_NOFILE 64, yet all were served";
  for (auto& c : served) EXPECT_EQ(converse(c, "again\n"), "again\n");  // and closed: descriptors free
  EXPECT_EQ(waiting->read_line(), "x\n");
  waiting->shutdown_write();
  EXPECT_EQ(waiting->read_until_eof(), "");
  served.clear();
  waiting.reset();
  EXPECT_GT(stop(server)["accept_paused"], 0u);
}

// --sqpoll: a kernel thread takes the submissions; the echo is the same.
TEST_F(UringServer, SqpollServesTheSame) {
  ServerProcess server = start({"--sqpoll", "--repeat", "3"});
  {
    TestClient client = TestClient::connect(server.host(), server.port());
    EXPECT_EQ(converse(client, "ab\nc"), "ababab\nccc\n");
  }
  EXPECT_EQ(stop(server)["bytes_out"], 11u);
}

TEST_F(UringServer, BadBufferCountsAreUsageErrors) {
  for (const char* bad : {"0", "3", "65536", "many"}) {
    auto result = harness::run_program(binary_path(uring_spec()), {"--port", "0", "--buffers", bad});
    EXPECT_TRUE(result.exit.exited && result.exit.code == 2) << bad;
    EXPECT_TRUE(result.err.starts_with("uring-server: ")) << result.err;
    EXPECT_NE(result.err.find("--buffers"), std::string::npos) << result.err;
  }
}

// Runs uring-server under a seccomp filter that fails io_uring_setup() with
// `err`, as a container runtime's default profile does; returns its stderr and
// exit code. No arch check in the filter: it only has to catch this program's
// own (native) system call.
std::pair<std::string, int> run_with_io_uring_denied(int err) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) throw std::runtime_error("pipe2");
  const std::string binary = binary_path(uring_spec());
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDERR_FILENO);
    sock_filter filter[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<std::uint32_t>(offsetof(seccomp_data, nr))},
        {BPF_JMP | BPF_JEQ | BPF_K, 0, 1, static_cast<std::uint32_t>(__NR_io_uring_setup)},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ERRNO | (static_cast<std::uint32_t>(err) & SECCOMP_RET_DATA)},
        {BPF_RET | BPF_K, 0, 0, SECCOMP_RET_ALLOW},
    };
    sock_fprog program{static_cast<unsigned short>(std::size(filter)), filter};
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0)
      ::_exit(125);
    ::execl(binary.c_str(), binary.c_str(), "--port", "0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buffer[4096];
  for (const auto deadline = Clock::now() + 10s; Clock::now() < deadline;) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    const ssize_t k = ::read(out[0], buffer, sizeof buffer);
    if (k <= 0) break;  // EOF: the server has exited
    text.append(buffer, static_cast<std::size_t>(k));
  }
  ::close(out[0]);
  int status = 0;
  ::kill(pid, SIGKILL);  // in case it is still running (a failure below says so)
  ::waitpid(pid, &status, 0);
  return {text, WIFEXITED(status) ? WEXITSTATUS(status) : -1};
}

// Not UringServer: it must run where io_uring works too, and forbids it itself.
TEST(UringServerWithoutIoUring, SaysWhyInOneLineAndExitsOne) {
  for (const int err : {EPERM, ENOSYS}) {
    const auto [text, code] = run_with_io_uring_denied(err);
    EXPECT_EQ(code, 1) << text;
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    EXPECT_TRUE(text.starts_with("uring-server: io_uring unavailable: io_uring_setup: ")) << text;
    if (err == ENOSYS) EXPECT_NE(text.find("no io_uring"), std::string::npos) << text;
    else
      EXPECT_TRUE(text.find("seccomp") != std::string::npos || text.find("io_uring_disabled") != std::string::npos)
          << text;
  }
}

}  // namespace
}  // namespace muxlab::conformance

// concurrency_test.cpp - clients side by side: many at once, clients that stall
// (never read, half a line), thousands of idle ones, a 600 MB reply in bounded
// memory, resets amid others, and running out of descriptors.
//
// Every client is a socket of this process; many are driven by one poll() loop
// (run_conversations), never by a thread each.
#include <poll.h>

#include <iostream>
#include <optional>
#include <random>

#include "tests/conformance/fixture.hpp"

namespace muxlab::conformance {
namespace {

// `lines` random lines of 0..max_len bytes (any byte but '\n'), and the answer to them.
std::pair<std::string, std::string> random_lines(std::mt19937& rng, int lines, std::size_t max_len,
                                                 std::size_t repeat) {
  std::uniform_int_distribution<std::size_t> length(0, max_len);
  std::uniform_int_distribution<int> byte(0, 254);
  std::string request, answer;
  for (int i = 0; i < lines; ++i) {
    std::string payload(length(rng), '\0');
    for (auto& c : payload) {
      const int b = byte(rng);
      c = static_cast<char>(b >= '\n' ? b + 1 : b);  // every value but '\n'
    }
    request += payload + '\n';
    answer += reply_to(payload, repeat);
  }
  return {request, answer};
}

TEST_P(ConcurrentServerConformance, ManyClientsAtOnceCutAtRandomPoints) {
  constexpr int kClients = 200;
  constexpr std::size_t kRepeat = 3;
  ServerProcess server = start({"--repeat", std::to_string(kRepeat)});
  std::mt19937 rng(200);
  std::vector<Conversation> clients;
  std::size_t bytes_in = 0, bytes_out = 0;
  for (int i = 0; i < kClients; ++i) {
    Conversation& c = clients.emplace_back(connect(server));
    std::tie(c.to_send, c.expected) = random_lines(rng, 50, 200, kRepeat);
    c.chunks = random_chunks(c.to_send.size(), 300, static_cast<std::uint32_t>(i));
    bytes_in += c.to_send.size();
    bytes_out += c.expected.size();
  }
  run_conversations(clients, 60s);
  for (int i = 0; i < kClients; ++i) {
    const Conversation& c = clients[static_cast<std::size_t>(i)];
    EXPECT_TRUE(c.answered_exactly()) << "client " << i << ": " << c.error << " read " << c.received.size()
                                      << " of " << c.expected.size() << " bytes";
  }
  clients.clear();
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["connections"], static_cast<std::uint64_t>(kClients));
  EXPECT_EQ(stats["bytes_in"], bytes_in);
  EXPECT_EQ(stats["bytes_out"], bytes_out);
}

TEST_P(ConcurrentServerConformance, ClientThatNeverReadsStallsNobody) {
  ServerProcess server = start();
  TestClient hog = connect(server);
  // Pushed back once the socket stays unwritable for a quarter second. A
  // server that never stops reading fails the cap.
  std::size_t sent = 0;
  ASSERT_NO_FATAL_FAILURE(send_until_pushed_back(hog, kilobyte_lines('h'), 512 * kMiB, 250ms, 30s, sent));
  if (!kSanitized) {
    EXPECT_LT(server.rss_bytes(), 64 * kMiB) << "held for a client that never reads";
  }
  {
    TestClient other = connect(server);
    other.send_all("still there?\n", 5s);
    EXPECT_EQ(other.read_line(5s), "still there?\n");
  }
  hog.reset();
  stop(server);
}

TEST_P(ConcurrentServerConformance, PartialLineClientStallsNobody) {
  ServerProcess server = start();
  TestClient partial = connect(server);
  partial.send_all("a");  // then silence
  {
    TestClient other = connect(server);
    EXPECT_EQ(converse(other, "ping\n", 5s), "ping\n");
  }
  partial.send_all("bc\n");
  EXPECT_EQ(partial.read_line(), "abc\n");  // the fragment was kept
  partial.close();
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_in"], 9u);
}

TEST_P(IdleScalingConformance, IdleConnectionsCostLittle) {
  const std::size_t n = spec().idle_test_connections;
  const std::size_t limit = raise_open_file_limit();
  if (limit < n + 100)
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " is too low for " << n << " idle connections";
  ServerProcess server = start();
  {
    TestClient warm = connect(server);  // first-connection allocations do not count
    EXPECT_EQ(converse(warm, "warm\n"), "warm\n");
  }
  const std::size_t before = server.rss_bytes();
  std::vector<Conversation> idle;
  idle.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    // One round trip each proves the server holds the connection; after it the
    // connection is idle again and, by SPEC §1, holds no buffers.
    Conversation& c = idle.emplace_back(connect(server));
    c.to_send = c.expected = "i\n";
    c.half_close = false;
  }
  run_conversations(idle, 60s);
  for (const auto& c : idle) ASSERT_TRUE(c.answered_exactly()) << c.error;
  const std::size_t after = server.rss_bytes();
  const std::size_t per_connection = after > before ? (after - before) / n : 0;
  RecordProperty("idle_connections", static_cast<int>(n));
  RecordProperty("rss_bytes_per_idle_connection", static_cast<int>(per_connection));
  std::cout << spec().binary << ": " << n << " idle connections, RSS " << before / 1024 << " KiB -> "
            << after / 1024 << " KiB, " << per_connection << " bytes each\n";
  if (!kSanitized) {
    EXPECT_LT(per_connection, 64u * 1024);
  }
  {
    TestClient active = connect(server);
    EXPECT_EQ(converse(active, "among the idle\n"), "among the idle\n");
  }
  idle.clear();
  EXPECT_EQ(stop(server)["connections"], n + 2);
}

TEST_P(ServerConformance, HugeReplyToASlowReaderInBoundedMemory) {
  constexpr std::size_t kRepeat = 10000;  // 60 KB x 10000: a 600 MB reply
  constexpr std::size_t kRssLimit = 32 * kMiB;
  ServerProcess server = start({"--repeat", std::to_string(kRepeat)});
  std::string payload(60'000, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i * 7 % 26);
  TestClient client = connect(server);
  client.send_all(payload + "\n");
  client.shutdown_write();  // the whole request: the server closes after the reply
  ReplyChecker reply(payload, kRepeat);
  std::size_t peak_rss = 0;
  const auto deadline = Clock::now() + 60s;
  // Slowly at first: small reads, and the server's memory looked at each 64 KB.
  while (reply.received() < 4 * kMiB) {
    ASSERT_GT(reply.read_some(client, 4096, deadline), 0u) << "EOF or reset after " << reply.received();
    if (reply.received() % (64 * 1024) < 4096) peak_rss = std::max(peak_rss, server.rss_bytes());
  }
  // Then at full speed, looked at each 32 MB.
  for (std::size_t next_look = 0; reply.read_some(client, 1 * kMiB, deadline) > 0;) {
    if (reply.received() >= next_look) {
      peak_rss = std::max(peak_rss, server.rss_bytes());
      next_look = reply.received() + 32 * kMiB;
    }
  }
  EXPECT_TRUE(reply.complete()) << "read " << reply.received() << " of " << reply.total()
                                << (reply.matches() ? "" : ", with wrong bytes") << (reply.reset() ? ", reset" : "");
  RecordProperty("peak_rss_bytes", static_cast<int>(peak_rss));
  if (!kSanitized) {
    EXPECT_LT(peak_rss, kRssLimit);
  }
  client.close();
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_out"], reply.total());
  if (spec().nonblocking_io) {
    EXPECT_GT(stats["eagain"], 0u) << "a slow reader fills the socket: send() must have met EAGAIN";
  }
}

TEST_P(ServerConformance, SmallSendBufferShowsPartialSends) {
  // Loopback's autotuned buffers take a 64 KiB send() whole nearly always; a
  // small SO_SNDBUF (--sndbuf) makes the partial send, normal on a real
  // network, happen here too.
  ServerProcess server = start(kSmallSndbufArgs);
  const std::size_t total = small_sndbuf_exchange(connect(server));
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_out"], total);
  if (spec().nonblocking_io) {
    EXPECT_GT(stats["partial_sends"], 0u) << "a 64 KiB send() into a 16 KiB buffer is a partial one";
  }
}

TEST_P(ConcurrentServerConformance, ResetsMidReplyDoNotDisturbOthers) {
  constexpr std::size_t kRepeat = 100;
  ServerProcess server = start({"--repeat", std::to_string(kRepeat)});
  std::mt19937 rng(18);
  std::vector<Conversation> clients;
  for (int i = 0; i < 20; ++i) {
    Conversation& c = clients.emplace_back(connect(server));
    if (i % 2 == 0) {
      std::tie(c.to_send, c.expected) = random_lines(rng, 20, 40, kRepeat);
    } else {
      c.to_send = std::string(50'000, 'z') + "\n";  // a 5 MB reply, reset a little way in
      c.expected = reply_to(std::string(50'000, 'z'), kRepeat);
      c.reset_after = 200'000;
    }
  }
  run_conversations(clients, 60s);
  for (std::size_t i = 0; i < clients.size(); i += 2)
    EXPECT_TRUE(clients[i].answered_exactly()) << "client " << i << ": " << clients[i].error;
  clients.clear();
  {
    TestClient after = connect(server);
    EXPECT_EQ(converse(after, "x\n"), reply_to("x", kRepeat));
  }
  stop(server);
}

// Only where clients are served side by side: blocking-server, one client at a
// time, never holds enough descriptors to run out of them.
TEST_P(ConcurrentServerConformance, OutOfDescriptorsKeepsServing) {
  if (kSanitized) GTEST_SKIP() << "sanitizer runtimes abort when out of descriptors (see wire.hpp)";
  SpawnOptions options;
  options.max_open_files = 64;
  ServerProcess server = start({}, options);
  // Open clients, one round trip each, until one is not answered: the server
  // is out of descriptors and it waits in the backlog (or, with a reserve
  // descriptor, it is turned away as full).
  std::vector<TestClient> served;
  std::optional<TestClient> waiting;
  std::string waiting_line;
  bool turned_away = false;
  for (int i = 0; i < 200 && !waiting && !turned_away; ++i) {
    TestClient c = connect(server);
    const std::string line = "client " + std::to_string(i) + "\n";
    c.send_all(line);
    pollfd p{c.fd(), POLLIN, 0};
    const auto cpu_before = cpu_time(server.pid());
    if (::poll(&p, 1, 1500) == 0) {
      // 1.5 s unanswered: meanwhile the server must not have spun.
      EXPECT_LT(cpu_time(server.pid()) - cpu_before, 500ms) << "the server spins while out of descriptors";
      waiting = std::move(c);
      waiting_line = line;
      break;
    }
    std::string answer = c.read_line();
    if (answer == kServerFull) {
      turned_away = true;
    } else {
      EXPECT_EQ(answer, line);
      served.push_back(std::move(c));
    }
  }
  ASSERT_TRUE(waiting || turned_away) << "200 connections under RLIMIT_NOFILE 64, yet all were served";
  EXPECT_GE(served.size(), 20u);
  // The connections held are still served.
  for (auto& c : served) {
    c.send_all("again\n");
    EXPECT_EQ(c.read_line(), "again\n");
  }
  // Closing half of them frees descriptors: the waiting one is served, then new ones.
  for (std::size_t i = 0; i < served.size() / 2; ++i) {
    served[i].shutdown_write();
    EXPECT_EQ(served[i].read_until_eof(), "");
    served[i].close();
  }
  if (waiting) {
    EXPECT_EQ(waiting->read_line(), waiting_line);
    waiting->shutdown_write();
    waiting->read_until_eof();
  }
  for (int i = 0; i < 5; ++i) {
    TestClient c = connect(server);
    EXPECT_EQ(converse(c, "new\n"), "new\n");
  }
  served.clear();
  waiting.reset();
  ServerStats stats = stop(server);
  EXPECT_GT(stats["accept_paused"] + stats["rejected"], 0u);
}

}  // namespace
}  // namespace muxlab::conformance

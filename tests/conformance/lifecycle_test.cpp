// lifecycle_test.cpp - SPEC §2's promises about a server's life: it stops on
// SIGTERM/SIGINT within the drain time and exits 0, losing none of what it sent,
// it survives clients that reset or vanish (SIGPIPE), and it turns away clients
// past --max-clients.
#include <sys/socket.h>

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <thread>

#include "tests/conformance/fixture.hpp"

namespace muxlab::conformance {
namespace {

TEST_P(ServerConformance, SigtermStopsAnIdleServer) {
  ServerProcess server = start();
  TestClient client = connect(server);
  EXPECT_EQ(converse(client, "before\n"), "before\n");
  TestClient idle = connect(server);  // connected, silent: must not hold up the stop
  ServerStats stats = stop(server, SIGTERM);
  EXPECT_GE(stats["connections"], 1u);
  EXPECT_EQ(stats["bytes_in"], 7u);
}

TEST_P(ServerConformance, SigintStopsTheServerToo) {
  ServerProcess server = start();
  {
    TestClient client = connect(server);
    EXPECT_EQ(converse(client, "x\n"), "x\n");
  }
  EXPECT_EQ(stop(server, SIGINT)["connections"], 1u);
}

TEST_P(ServerConformance, SigtermMidReplyFinishesOrCutsWithinDrain) {
  ServerProcess server = start({"--repeat", "1000000", "--drain-ms", "500"});
  TestClient client = connect(server);
  // A 100 MB reply: more than the kernel's socket buffers can hold, so the
  // server is still owing most of it when the signal comes.
  const std::string payload = std::string(90, 'p') + "0123456789";
  client.send_all(payload + "\n");
  ReplyChecker reply(payload, 1'000'000);
  const auto deadline = Clock::now() + 20s;
  while (reply.received() < 64 * 1024) ASSERT_GT(reply.read_some(client, 4096, deadline), 0u);
  // The client now stops reading: the server, blocked by TCP, must still stop
  // within the drain time, cutting the reply.
  const auto signalled = Clock::now();
  stop(server, SIGTERM, 10s);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - signalled);
  EXPECT_LT(took, 3s) << "--drain-ms 500, yet the stop took " << took.count() << " ms";
  while (reply.read_some(client, 256 * 1024, Clock::now() + 20s) > 0) {
  }
  EXPECT_TRUE(reply.matches()) << "the bytes read before the cut must be the reply's";
  EXPECT_LT(reply.received(), reply.total()) << "the client read nothing while the drain ran out";
}

// A hostile client (issue 8.1): a burst of pipelined lines whose replies are a
// hundred times longer, then it only reads, slowly, and never half-closes; the
// stop comes while megabytes of replies are on their way. Whatever the stop
// does to the connection, every byte the server counted in bytes_out must reach
// the client, then EOF: a close with the client's input unread would reset the
// connection and destroy the replies still in flight.
TEST_P(ServerConformance, SigtermLosesNothingOwedToASlowReader) {
  // A linger shorter than the drain keeps the case short: the client never
  // sends its EOF, so the server ends each connection at the linger's end.
  ServerProcess server = start({"--repeat", "100", "--max-pending", "2000", "--drain-ms", "10000", "--linger-ms", "1000"});
  TestClient client = connect(server);
  // A send buffer that takes the whole 300 KB burst at once, as a client on a
  // fast network would send it.
  const int sndbuf = 1 << 20;
  ASSERT_EQ(::setsockopt(client.fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
  constexpr std::size_t kLines = 25'000, kPayload = 11, kReply = kPayload * 100 + 1;
  std::string burst;
  for (std::size_t i = 0; i < kLines; ++i) {
    char line[kPayload + 2];
    std::snprintf(line, sizeof line, "line %06zu\n", i);
    burst += line;
  }
  // The byte at offset `at` of all the replies: line at / kReply, its payload
  // 100 times, then '\n'.
  const auto expected_at = [&burst](std::size_t at) {
    const std::size_t line = at / kReply, offset = at % kReply;
    return offset == kReply - 1 ? '\n' : burst[line * (kPayload + 1) + offset % kPayload];
  };

  std::size_t sent = 0, received = 0;
  bool signalled = false;
  const auto deadline = Clock::now() + 60s;
  for (;;) {
    if (sent < burst.size()) sent += client.send_some(std::string_view(burst).substr(sent));
    // The stop, once the burst is out and the replies are flowing.
    if (!signalled && sent == burst.size() && received >= 64 * 1024) {
      server.signal(SIGTERM);
      signalled = true;
    }
    ASSERT_LT(Clock::now(), deadline) << "read " << received << " bytes, no EOF";
    std::string chunk;
    try {
      chunk = client.read_some(32 * 1024, 10s);
    } catch (const std::exception& e) {
      FAIL() << e.what() << " after " << received << " bytes of the replies";
    }
    if (chunk.empty()) break;  // EOF
    for (std::size_t i = 0; i < chunk.size(); ++i)
      ASSERT_EQ(chunk[i], expected_at(received + i)) << "at byte " << received + i << " of the replies";
    received += chunk.size();
    std::this_thread::sleep_for(1ms);  // a slow reader: the server's and the kernel's buffers stay full
  }
  ASSERT_TRUE(signalled);
  auto exit = server.wait(10s);
  ASSERT_TRUE(exit && exit->exited && exit->code == 0) << server.stderr_text();
  ServerStats stats(server.stderr_text());
  EXPECT_EQ(received, stats["bytes_out"]) << "bytes the server sent never reached the client";
  EXPECT_LT(received, kLines * kReply) << "the stop came after the whole answer: it tested nothing";
}

TEST_P(ServerConformance, SurvivesABurstOfResets) {
  ServerProcess server = start({"--repeat", "50000"});
  const std::string big_line = std::string(60, 'r') + "\n";  // a 3 MB reply
  for (int i = 0; i < 15; ++i) {
    TestClient client = connect(server);
    if (i % 3 == 1) client.send_all("abc");  // mid-request
    if (i % 3 == 2) {                        // mid-reply
      client.send_all(big_line);
      EXPECT_FALSE(client.read_some(64 * 1024).empty());
    }
    client.reset();
  }
  {
    TestClient client = connect(server);
    EXPECT_EQ(converse(client, "hi\n"), reply_to("hi", 50000));
  }
  stop(server);
}

TEST_P(ServerConformance, SurvivesSigpipe) {
  ServerProcess server = start({"--repeat", "1000000"});
  {
    // Closed with the reply unread: the kernel answers the server's next send()
    // with a reset, and the one after that with EPIPE (SIGPIPE, unless ignored).
    TestClient gone = connect(server);
    gone.send_all("0123456789\n");
    EXPECT_FALSE(gone.read_some(1).empty());
    gone.close();
    TestClient reset = connect(server);
    reset.send_all("0123456789\n");
    EXPECT_FALSE(reset.read_some(1).empty());
    reset.reset();
  }
  {
    TestClient client = connect(server);
    EXPECT_EQ(converse(client, "x\n").size(), 1'000'001u);
  }
  ServerStats stats = stop(server);
  EXPECT_GE(stats["resets"], 2u);
  EXPECT_EQ(stats["connections"], 3u);
}

TEST_P(ConcurrentServerConformance, ServerFullPastMaxClients) {
  ServerProcess server = start({"--max-clients", "2"});
  TestClient first = connect(server);
  TestClient second = connect(server);
  first.send_all("one\n");
  EXPECT_EQ(first.read_line(), "one\n");
  second.send_all("two\n");
  EXPECT_EQ(second.read_line(), "two\n");  // both are served now
  {
    TestClient third = connect(server);
    EXPECT_EQ(third.read_until_eof(), kServerFull);
  }
  first.shutdown_write();
  EXPECT_EQ(first.read_until_eof(), "");
  first.close();
  // The server learns of that close in its own time: a client that connects at
  // once may still find it full. Each try is a whole conversation, no sleeping.
  std::string answer;
  for (int attempt = 0; attempt < 100; ++attempt) {
    TestClient fourth = connect(server);
    answer = converse(fourth, "four\n");
    if (answer != kServerFull) break;
  }
  EXPECT_EQ(answer, "four\n");
  second.close();
  ServerStats stats = stop(server);
  EXPECT_GE(stats["rejected"], 1u);
  EXPECT_EQ(stats["peak_connections"], 2u);
}

}  // namespace
}  // namespace muxlab::conformance

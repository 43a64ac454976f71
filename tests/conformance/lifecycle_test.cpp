// lifecycle_test.cpp - SPEC §2's promises about a server's life: it stops on
// SIGTERM/SIGINT within the drain time and exits 0, it survives clients that
// reset or vanish (SIGPIPE), and it turns away clients past --max-clients.
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

TEST_P(ServerConformance, ServerFullPastMaxClients) {
  MUXLAB_SKIP_UNLESS_CONCURRENT();
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

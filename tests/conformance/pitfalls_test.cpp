// pitfalls_test.cpp - the promises that the classic mistakes of event loops
// break, and that no other case checks closely enough to see them broken: a
// server with idle clients sleeps; reading resumes once the replies that
// stopped it are sent; a client that never reads is held to --max-pending;
// every client of several taking turns is heard; past FD_SETSIZE a select()
// server turns clients away instead of corrupting memory.
//
// tests/mutation runs the whole suite against build/bin/broken/, one variant
// per mistake (docs/16-what-goes-wrong.md), stopping at the first failure. These
// cases catch the mistakes the others miss or catch only by waiting out a long
// deadline; they are quick, and this file comes first in the suite
// (tests/conformance/CMakeLists.txt), so that those runs stay short. gtest runs
// the cases fixture by fixture, in the order the fixtures first appear: the
// cases for every model (this file's, then the other files'), then those for
// the concurrent models, then those for the select() models (fixture.hpp).
#include <poll.h>
#include <sys/select.h>

#include <iostream>

#include "tests/conformance/fixture.hpp"

namespace muxlab::conformance {
namespace {

// What a server does while every client is idle: nothing. A readiness loop that
// watches a socket for something that is always true (EPOLLOUT with nothing to
// send) wakes at once, for ever: a core spent doing nothing (epoll-always-out).
// The busy poller turns all the same by design; its idle_turns are those turns.
TEST_P(ServerConformance, IdleClientsDoNotWakeTheServer) {
  constexpr std::uint64_t kMostWakeups = 100;  // a handful is what it takes; a spinning loop makes 10^5
  const int n = spec().concurrent ? 3 : 1;  // blocking-server answers one client at a time
  ServerProcess server = start();
  std::vector<TestClient> clients;
  for (int i = 0; i < n; ++i) {
    TestClient& c = clients.emplace_back(connect(server));
    c.send_all("idle\n");
    EXPECT_EQ(c.read_line(5s), "idle\n");
  }
  // A quarter second in which nobody sends: the server must not speak either,
  // nor use the CPU (the blocking servers have no wakeups to count).
  std::vector<pollfd> fds;
  for (const auto& c : clients) fds.push_back({c.fd(), POLLIN, 0});
  const auto cpu_before = cpu_time(server.pid());
  EXPECT_EQ(::poll(fds.data(), fds.size(), 250), 0) << "the server sent something unasked";
  const auto idle_cpu = cpu_time(server.pid()) - cpu_before;
  for (auto& c : clients) {
    c.shutdown_write();
    EXPECT_EQ(c.read_until_eof(5s), "");
  }
  clients.clear();
  ServerStats stats = stop(server);
  const std::uint64_t busy = stats["wakeups"] - stats["idle_turns"];
  RecordProperty("wakeups_with_idle_clients", static_cast<int>(std::min<std::uint64_t>(busy, 1u << 30)));
  EXPECT_LT(busy, kMostWakeups) << "wakeups while " << n << " clients sent a line each and then idled for 250 ms: "
                                << "the server wakes with nothing to do (idle_turns " << stats["idle_turns"] << ")";
  // The busy poller spins by design (its idle_turns); any other server sleeps.
  if (stats["idle_turns"] == 0) {
    EXPECT_LT(idle_cpu, 50ms) << "CPU used while " << n << " clients idled for 250 ms";
  }
}

// A client sends many lines before it reads: the server reads until it owes
// --max-pending, stops (back-pressure), sends the replies, and must then read
// on by itself: no new bytes arrive to remind it, they are all waiting in its
// socket already. An edge-triggered server that does not read to EAGAIN has
// had its one event for them (epoll-edge-no-drain), and the client waits.
TEST_P(ServerConformance, ReadingResumesOnceRepliesAreSent) {
  ServerProcess server = start({"--max-pending", "1000"});
  Conversation c(connect(server));
  for (int i = 0; i < 2048; ++i) c.to_send += std::string(127, static_cast<char>('a' + i % 26)) + "\n";  // 256 KiB
  c.expected = c.to_send;
  c.half_close = false;  // no EOF: its event would be one more reminder
  std::vector<Conversation> one;
  one.push_back(std::move(c));
  try {
    run_conversations(one, 10s);
  } catch (const std::exception& e) {
    FAIL() << e.what() << ": " << one[0].received.size() << " of " << one[0].expected.size()
           << " bytes answered; the server stopped reading at --max-pending and did not resume";
  }
  EXPECT_TRUE(one[0].answered_exactly()) << one[0].error;
  one.clear();
  ServerStats stats = stop(server);
  EXPECT_EQ(stats["bytes_in"], 2048u * 128);
  EXPECT_EQ(stats["bytes_out"], 2048u * 128);
}

// SPEC §1: while a server owes a client --max-pending bytes it reads nothing
// more from it, so a client that sends and never reads is pushed back by TCP,
// and what the server holds for it stays bounded. A server that reads on while
// replies are owed (nonblocking-no-backpressure) holds all that client sends.
// Measured with the server's own counters, not its memory (a sanitizer's would
// be measured too): what it read and never sent is what it held when the
// client went away.
TEST_P(ServerConformance, NeverReadingClientIsHeldToMaxPending) {
  constexpr std::size_t kMaxPending = 64 * 1024;
  constexpr std::size_t kMaxLine = 2048;
  constexpr std::size_t kMostSent = 64 * kMiB;  // a correct server pushes back after 10 MB or so (kernel buffers)
  // --max-pending owed, a line growing to --max-line, and what is read ahead
  // before the server stops: a library's own buffer (libevent: 128 KiB), or the
  // ring buffers uring-server lets a connection hold (four of 64 KiB). Without
  // back-pressure: many megabytes.
  constexpr std::size_t kMostHeld = 1 * kMiB;
  ServerProcess server =
      start({"--max-pending", std::to_string(kMaxPending), "--max-line", std::to_string(kMaxLine)});
  TestClient hog = connect(server);
  // Pushed back once the socket stays unwritable for a second. (A server that
  // never pushes back can still be slow to take more, for a quarter second at
  // times on a busy machine: it must not pass for one that does.)
  std::size_t sent = 0;
  ASSERT_NO_FATAL_FAILURE(send_until_pushed_back(hog, kilobyte_lines('n'), kMostSent, 1000ms, 20s, sent));
  hog.reset();
  ServerStats stats = stop(server);
  const std::uint64_t held = stats["bytes_in"] - stats["bytes_out"];
  RecordProperty("bytes_held_for_a_client_that_never_reads", static_cast<int>(std::min<std::uint64_t>(held, 1u << 30)));
  EXPECT_LE(held, kMostHeld) << "bytes read and never answered when the client reset, after it had sent " << sent
                             << " bytes (--max-pending " << kMaxPending << ")";
}

// Several clients take turns, one line each: every one is answered. A select()
// loop that hands select() the sets it overwrote on the previous call watches
// only the sockets that were ready then (select-no-rebuild): the others go deaf.
TEST_P(ConcurrentServerConformance, ClientsTakingTurnsAreEachHeard) {
  ServerProcess server = start();
  std::vector<TestClient> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(connect(server));
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const std::string line = "round " + std::to_string(round) + " client " + std::to_string(i) + "\n";
      clients[i].send_all(line, 5s);
      std::string answer;
      try {
        answer = clients[i].read_line(5s);
      } catch (const std::exception& e) {
        FAIL() << "client " << i << " was not answered in round " << round << " (" << e.what()
               << "): the server no longer hears it";
      }
      ASSERT_EQ(answer, line);
    }
  }
  clients.clear();
  EXPECT_EQ(stop(server)["connections"], 3u);
}

// SPEC §2: select-server never puts a descriptor >= FD_SETSIZE in an fd_set;
// such a connection is told "error: server full". FD_SET past the end of the
// bitmap writes over whatever lies after it (select-fd-setsize): the sanitizers
// report it, glibc's _FORTIFY_SOURCE check aborts, and unchecked it corrupts
// memory silently.
TEST_P(FdSetConformance, DescriptorsPastFdSetsizeAreTurnedAway) {
  constexpr std::size_t kClients = FD_SETSIZE + 16;
  const std::size_t limit = raise_open_file_limit();
  if (limit < 2 * kClients + 100)
    GTEST_SKIP() << "RLIMIT_NOFILE hard limit " << limit << " is too low for " << kClients
                 << " connections on each side";
  ServerProcess server = start();
  // All held open at once, each with one round trip: the server holds a
  // descriptor for each until it has answered, past FD_SETSIZE.
  std::vector<TestClient> clients;
  std::size_t served = 0, turned_away = 0;
  std::string failure;
  for (std::size_t i = 0; i < kClients && failure.empty(); ++i) {
    try {
      TestClient& c = clients.emplace_back(connect(server));
      c.send_all("fd\n", 5s);
      const std::string answer = c.read_line(5s);
      if (answer == "fd\n") {
        ++served;
      } else if (answer == kServerFull) {
        ++turned_away;
      } else {
        failure = "client " + std::to_string(i) + " got " + ::testing::PrintToString(answer);
      }
    } catch (const std::exception& e) {
      failure = "client " + std::to_string(i) + ": " + e.what();
    }
  }
  EXPECT_EQ(failure, "") << "after " << served << " served and " << turned_away << " turned away";
  EXPECT_GE(turned_away, kClients - spec().fd_ceiling) << "more connections held than an fd_set can name";
  std::cout << spec().binary << ": " << kClients << " connections, " << served << " served, " << turned_away
            << " turned away\n";
  clients.clear();
  if (failure.empty()) {
    TestClient after = connect(server);
    EXPECT_EQ(converse(after, "after\n", 10s), "after\n");
  }
  stop(server);  // a server that died says here how (its exit status and stderr)
}

}  // namespace
}  // namespace muxlab::conformance

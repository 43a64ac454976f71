// stats_test.cpp - the --stats counters: the recv histogram, merge, and the
// "name value" lines that SPEC §2 promises.
#include "core/stats.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace muxlab::core {
namespace {

std::string printed(const Stats& stats) {
  char* text = nullptr;
  std::size_t size = 0;
  std::FILE* out = open_memstream(&text, &size);
  stats.print(out);
  std::fclose(out);
  std::string s(text, size);
  std::free(text);
  return s;
}

TEST(Stats, RecvHistogramBuckets) {
  // Bucket i counts sizes in (2^(i-1), 2^i]: 1 | 2 | 3-4 | 5-8 | ... | > 2^20.
  const struct {
    std::size_t size;
    std::size_t bucket;
  } cases[] = {{1, 0},
               {2, 1},
               {3, 2},
               {4, 2},
               {5, 3},
               {8, 3},
               {9, 4},
               {16, 4},
               {17, 5},
               {4096, 12},
               {4097, 13},
               {1 << 20, 20},
               {(1 << 20) + 1, 21},
               {std::size_t{1} << 40, 21}};
  for (const auto& c : cases) {
    Stats s;
    s.count_recv(c.size);
    EXPECT_EQ(s.recv_calls, 1u);
    EXPECT_EQ(s.bytes_in, c.size);
    for (std::size_t i = 0; i < Stats::kBuckets; ++i)
      EXPECT_EQ(s.recv_sizes[i], i == c.bucket ? 1u : 0u) << "size " << c.size << ", bucket " << i;
  }
}

TEST(Stats, EmptyRecvCountsACallButNoBucket) {
  Stats s;
  s.count_recv(0);
  EXPECT_EQ(s.recv_calls, 1u);
  EXPECT_EQ(s.bytes_in, 0u);
  for (auto n : s.recv_sizes) EXPECT_EQ(n, 0u);
}

TEST(Stats, CountSendSpotsPartialSends) {
  Stats s;
  s.count_send(100, 100);
  s.count_send(100, 40);
  EXPECT_EQ(s.send_calls, 2u);
  EXPECT_EQ(s.bytes_out, 140u);
  EXPECT_EQ(s.partial_sends, 1u);
}

TEST(Stats, MergeAddsCountersAndKeepsThePeak) {
  Stats a, b;
  a.connections = 2;
  a.peak_connections = 5;
  a.count_recv(3);
  a.count_send(10, 10);
  a.wakeups = 7;
  b.connections = 3;
  b.peak_connections = 4;
  b.count_recv(4);
  b.count_recv(100);
  b.count_send(10, 3);
  b.eagain = 2;
  b.resets = 1;
  a.merge(b);
  EXPECT_EQ(a.connections, 5u);
  EXPECT_EQ(a.peak_connections, 5u);
  EXPECT_EQ(a.recv_calls, 3u);
  EXPECT_EQ(a.bytes_in, 107u);
  EXPECT_EQ(a.send_calls, 2u);
  EXPECT_EQ(a.bytes_out, 13u);
  EXPECT_EQ(a.partial_sends, 1u);
  EXPECT_EQ(a.eagain, 2u);
  EXPECT_EQ(a.wakeups, 7u);
  EXPECT_EQ(a.resets, 1u);
  EXPECT_EQ(a.recv_sizes[2], 2u);  // 3 and 4
  EXPECT_EQ(a.recv_sizes[7], 1u);  // 100
}

TEST(Stats, PrintsOneNameValueALine) {
  Stats s;
  s.connections = 3;
  s.bytes_out = 12345678901ull;
  s.count_recv(1);
  s.count_recv(3);
  s.count_recv(4);
  s.count_recv(std::size_t{1} << 21);
  const std::string out = printed(s);
  EXPECT_EQ(out,
            "connections 3\n"
            "bytes_in 2097160\n"
            "bytes_out 12345678901\n"
            "recv_calls 4\n"
            "send_calls 0\n"
            "partial_sends 0\n"
            "eagain 0\n"
            "wakeups 0\n"
            "idle_turns 0\n"
            "rejected 0\n"
            "resets 0\n"
            "accept_paused 0\n"
            "linger_timeouts 0\n"
            "peak_connections 0\n"
            "recv_size_le_1 1\n"
            "recv_size_le_4 2\n"
            "recv_size_gt_1048576 1\n");
}

// The io_uring counters appear only in the output of a server that used a ring
// (uring-server): the readiness servers' output does not change.
TEST(Stats, PrintsTheRingCountersOnlyForARing) {
  Stats s;
  EXPECT_EQ(printed(s).find("sqes_submitted"), std::string::npos);
  s.sqes_submitted = 4;
  s.cqes_reaped = 5;
  const std::string out = printed(s);
  EXPECT_NE(out.find("\npeak_connections 0\nsqes_submitted 4\ncqes_reaped 5\nenobufs 0\n"), std::string::npos)
      << out;
}

TEST(Stats, PrintsEverySpecCounter) {
  const std::string out = printed(Stats{});
  for (const char* name :
       {"connections", "bytes_in", "bytes_out", "recv_calls", "send_calls", "partial_sends", "eagain", "wakeups"})
    EXPECT_TRUE(out.starts_with(std::string(name) + " 0\n") ||
                out.find("\n" + std::string(name) + " 0\n") != std::string::npos)
        << name;
  EXPECT_EQ(out.find("recv_size"), std::string::npos) << "empty buckets are not printed";
}

}  // namespace
}  // namespace muxlab::core

// The load generator's pure parts: its latency histogram, and the HOST:PORT
// parsing every client shares.
#include <gtest/gtest.h>

#include "bench/load.hpp"

namespace muxlab::bench_test {
namespace {

TEST(LatencyHistogram, PercentilesWithinABucket) {
  bench::LatencyHistogram h;
  for (std::uint64_t us = 1; us <= 1000; ++us) h.record(us * 1000);  // 1 us to 1 ms, evenly
  EXPECT_EQ(h.count(), 1000u);
  for (double p : {0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0}) {
    const double want = 1 + p / 100 * 999;
    EXPECT_NEAR(h.percentile_us(p), want, want * 0.016 + 0.001) << "p" << p;
  }
}

TEST(LatencyHistogram, EmptyIsZero) { EXPECT_EQ(bench::LatencyHistogram{}.percentile_us(50), 0); }

TEST(HostPort, SplitsNamesAndBracketedIpv6) {
  std::string host;
  std::uint16_t port = 0;
  ASSERT_TRUE(harness::split_host_port("127.0.0.1:2000", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 2000);
  ASSERT_TRUE(harness::split_host_port("[::1]:80", host, port));
  EXPECT_EQ(host, "::1");
  ASSERT_TRUE(harness::split_host_port("example.org:65535", host, port));
  for (const char* bad : {"", "host", ":80", "host:", "host:0", "host:65536", "host:8x", "::1:80", "[::1]"})
    EXPECT_FALSE(harness::split_host_port(bad, host, port)) << bad;
}

TEST(HostPort, LoopbackSourcesAreDistinctAndLoopback) {
  const auto a = harness::loopback_source(0), b = harness::loopback_source(1);
  EXPECT_TRUE(a.is_ipv4_loopback());
  EXPECT_EQ(a.text(), "127.0.1.1:0");
  EXPECT_EQ(b.text(), "127.0.1.2:0");
}

}  // namespace
}  // namespace muxlab::bench_test

// buffer_test.cpp - Buffer: prepare/commit/consume, bounded growth, the slide,
// and memory given back when the last byte leaves.
#include "core/buffer.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace muxlab::core {
namespace {

void put(Buffer& b, std::string_view s, std::size_t limit = 1 << 20) {
  auto tail = b.prepare(s.size(), limit);
  ASSERT_GE(tail.size(), s.size());
  std::memcpy(tail.data(), s.data(), s.size());
  b.commit(s.size());
}

std::string text(const Buffer& b) { return {reinterpret_cast<const char*>(b.data().data()), b.size()}; }

TEST(Buffer, StartsWithNoStorage) {
  Buffer b;
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.data().empty());
}

TEST(Buffer, PrepareCommitConsume) {
  Buffer b;
  auto tail = b.prepare(100, 1 << 20);
  EXPECT_GE(tail.size(), 100u);
  EXPECT_GT(b.capacity(), 0u);
  EXPECT_TRUE(b.empty());  // prepared is not readable until committed
  std::memcpy(tail.data(), "hello world", 11);
  b.commit(5);
  EXPECT_EQ(text(b), "hello");
  put(b, " there");
  EXPECT_EQ(text(b), "hello there");
  b.consume(6);
  EXPECT_EQ(text(b), "there");
  EXPECT_EQ(b.size(), 5u);
}

TEST(Buffer, StorageIsFreedWhenEmptied) {
  Buffer b;
  put(b, "abc");
  b.consume(1);
  EXPECT_GT(b.capacity(), 0u);
  b.consume(2);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.capacity(), 0u);

  put(b, "abc");
  b.truncate(0);
  EXPECT_EQ(b.capacity(), 0u);

  put(b, "abc");
  b.consume(0);  // consuming nothing of a non-empty buffer keeps it
  EXPECT_EQ(text(b), "abc");
}

TEST(Buffer, TruncateKeepsTheFront) {
  Buffer b;
  put(b, "0123456789");
  b.consume(2);
  b.truncate(3);
  EXPECT_EQ(text(b), "234");
  put(b, "xy");
  EXPECT_EQ(text(b), "234xy");
}

TEST(Buffer, GrowsUpToTheLimitAndNoFurther) {
  Buffer b;
  const std::size_t limit = 10000;
  std::size_t total = 0;
  for (int guard = 0; guard < 1000; ++guard) {
    auto tail = b.prepare(3000, limit);
    EXPECT_LE(b.capacity(), limit);
    EXPECT_GE(tail.size(), std::min<std::size_t>(3000, limit - b.size()));
    if (tail.empty()) break;
    const std::size_t n = std::min<std::size_t>(tail.size(), 3000);
    std::memset(tail.data(), 'g', n);
    b.commit(n);
    total += n;
  }
  EXPECT_EQ(total, limit);
  EXPECT_EQ(b.size(), limit);
  EXPECT_EQ(b.capacity(), limit);
  EXPECT_TRUE(b.prepare(1, limit).empty());
}

TEST(Buffer, SmallLimitCapsTheFirstAllocation) {
  Buffer b;
  auto tail = b.prepare(16384, 1000);
  EXPECT_EQ(tail.size(), 1000u);
  EXPECT_EQ(b.capacity(), 1000u);
}

TEST(Buffer, GrowthKeepsTheBytes) {
  Buffer b;
  std::string all;
  for (int i = 0; i < 2000; ++i) {
    const std::string piece = std::to_string(i) + ",";
    put(b, piece);
    all += piece;
  }
  EXPECT_EQ(text(b), all);
  b.consume(100);
  put(b, std::string(50000, 'z'));
  EXPECT_EQ(text(b), all.substr(100) + std::string(50000, 'z'));
}

TEST(Buffer, SlidesInsteadOfGrowingWhenTheFrontIsFree) {
  Buffer b;
  auto tail = b.prepare(4096, 4096);
  ASSERT_EQ(b.capacity(), 4096u);
  const std::byte* start = tail.data();
  std::memset(tail.data(), 'a', 4096);
  b.commit(4096);
  b.consume(4000);
  std::memcpy(b.mutable_data().data(), "0123456789", 10);
  for (std::size_t i = 10; i < 96; ++i) b.mutable_data()[i] = std::byte{'.'};

  // 96 readable at the end, 4000 free in front: room for 1000 without growing.
  tail = b.prepare(1000, 1 << 20);
  EXPECT_EQ(b.capacity(), 4096u);
  EXPECT_EQ(tail.size(), 4096u - 96u);
  EXPECT_EQ(b.data().data(), start) << "readable bytes not moved to the front";
  EXPECT_EQ(text(b).substr(0, 10), "0123456789");
  EXPECT_EQ(b.size(), 96u);
}

TEST(Buffer, SlidesAtTheLimitEvenForLessThanAsked) {
  Buffer b;
  put(b, std::string(1000, 'a'), 1000);
  ASSERT_EQ(b.capacity(), 1000u);
  b.consume(990);
  auto tail = b.prepare(5000, 1000);  // may not grow: the slide gives 990
  EXPECT_EQ(b.capacity(), 1000u);
  EXPECT_EQ(tail.size(), 990u);
  EXPECT_EQ(text(b), std::string(10, 'a'));
}

TEST(Buffer, DoesNotShrinkBelowItsCapacity) {
  Buffer b;
  put(b, std::string(5000, 'x'), 1 << 20);
  const std::size_t cap = b.capacity();
  auto tail = b.prepare(10, 100);  // a smaller limit than the capacity already taken
  EXPECT_EQ(b.capacity(), cap);
  EXPECT_EQ(tail.size(), cap - 5000);
}

TEST(Buffer, AppendGrowsWithoutLimit) {
  Buffer b;
  std::string all;
  for (int i = 0; i < 10000; ++i) {
    const std::string piece(static_cast<std::size_t>(i % 7), static_cast<char>('a' + i % 26));
    b.append(std::as_bytes(std::span(piece)));
    all += piece;
  }
  EXPECT_EQ(text(b), all);
  EXPECT_GE(b.capacity(), all.size());
  EXPECT_LE(b.capacity(), 4 * all.size()) << "growth is geometric, not wasteful";
  b.append({});  // appending nothing allocates nothing
  Buffer empty;
  empty.append({});
  EXPECT_EQ(empty.capacity(), 0u);
}

TEST(Buffer, AppendAfterConsumeReusesTheFront) {
  Buffer b;
  put(b, std::string(4096, 'a'), 4096);
  b.consume(4000);
  const std::string more(100, 'b');
  b.append(std::as_bytes(std::span(more)));
  EXPECT_EQ(b.capacity(), 4096u);
  EXPECT_EQ(text(b), std::string(96, 'a') + more);
}

}  // namespace
}  // namespace muxlab::core

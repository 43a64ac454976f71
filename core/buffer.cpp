#include "core/buffer.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace muxlab::core {

namespace {
constexpr std::size_t kMinCapacity = 4096;
}

std::span<std::byte> Buffer::prepare(std::size_t want, std::size_t limit) {
  const std::size_t tail = capacity_ - end_;
  if (tail >= want) return {storage_.get() + end_, tail};
  const std::size_t readable = size();
  if (capacity_ - readable >= want || capacity_ >= limit) {
    // Enough room once the consumed front is reused (or no growth allowed): slide.
    if (begin_ > 0) {
      std::memmove(storage_.get(), storage_.get() + begin_, readable);
      begin_ = 0;
      end_ = readable;
    }
  } else {
    std::size_t grown = std::max({kMinCapacity, capacity_ * 2, readable + want});
    reallocate(std::min(grown, std::max(limit, capacity_)));
  }
  return {storage_.get() + end_, capacity_ - end_};
}

void Buffer::commit(std::size_t n) {
  assert(n <= capacity_ - end_);
  end_ += n;
}

void Buffer::append(std::span<const std::byte> bytes) {
  if (bytes.empty()) return;
  // Grow geometrically, so that many small appends copy each byte O(1) times.
  auto tail = prepare(bytes.size(), std::max(size() + bytes.size(), 2 * capacity_));
  assert(tail.size() >= bytes.size());
  std::memcpy(tail.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void Buffer::consume(std::size_t n) {
  assert(n <= size());
  begin_ += n;
  if (begin_ == end_) release();
}

void Buffer::truncate(std::size_t n) {
  assert(n <= size());
  end_ = begin_ + n;
  if (begin_ == end_) release();
}

void Buffer::reallocate(std::size_t new_capacity) {
  auto bigger = std::make_unique_for_overwrite<std::byte[]>(new_capacity);
  if (!empty()) std::memcpy(bigger.get(), storage_.get() + begin_, size());
  end_ = size();
  begin_ = 0;
  storage_ = std::move(bigger);
  capacity_ = new_capacity;
}

void Buffer::release() {
  storage_.reset();
  capacity_ = begin_ = end_ = 0;
}

}  // namespace muxlab::core

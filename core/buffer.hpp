// buffer.hpp - a byte buffer that holds memory only while it holds data.
//
//   +-------------------+------------------+------------------+
//   |  consumed (free)  |  readable bytes  |  writable tail   |
//   +-------------------+------------------+------------------+
//   0                 begin_             end_            capacity
//
// prepare() hands out the writable tail (moving the readable bytes to the front,
// or growing, when the tail is short), commit() marks what was written, data()
// is what is readable, consume() drops from the front. When the last readable
// byte is consumed the storage is freed: an idle connection holds no heap memory.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

namespace muxlab::core {

class Buffer {
 public:
  // A writable span of at least min(want, limit - size()) bytes; capacity never
  // grows past `limit` (it may already be larger: it does not shrink here).
  std::span<std::byte> prepare(std::size_t want, std::size_t limit);
  void commit(std::size_t n);                 // n bytes of the last prepare() were written
  void append(std::span<const std::byte> bytes);  // grows as needed (no limit)

  std::span<const std::byte> data() const { return {storage_.get() + begin_, end_ - begin_}; }
  std::span<std::byte> mutable_data() { return {storage_.get() + begin_, end_ - begin_}; }
  void consume(std::size_t n);                // drop n readable bytes from the front
  void truncate(std::size_t n);               // keep only the first n readable bytes
  void release_if_empty() {                   // give back storage handed out by an unused prepare()
    if (empty()) release();
  }

  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  std::size_t capacity() const { return capacity_; }

 private:
  void reallocate(std::size_t new_capacity);
  void release();

  std::unique_ptr<std::byte[]> storage_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace muxlab::core

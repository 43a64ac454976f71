// stats.hpp - the --stats counters (SPEC §2), printed "name value" a line.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>

namespace muxlab::core {

struct Stats {
  // SPEC §2.
  std::uint64_t connections = 0;    // accepted and served
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t recv_calls = 0;
  std::uint64_t send_calls = 0;
  std::uint64_t partial_sends = 0;  // send() took fewer bytes than offered
  std::uint64_t eagain = 0;         // EAGAIN/EWOULDBLOCK from recv, send or accept
  std::uint64_t wakeups = 0;        // returns of the readiness call, or loop turns when busy polling
  // Additions (core/README.md).
  std::uint64_t idle_turns = 0;        // busy poller: turns that found nothing to do
  std::uint64_t rejected = 0;          // "error: server full" (--max-clients, FD_SETSIZE)
  std::uint64_t resets = 0;            // connections ended by an error (ECONNRESET, EPIPE, ...)
  std::uint64_t accept_paused = 0;     // times accepting paused for want of descriptors (EMFILE)
  std::uint64_t linger_timeouts = 0;   // clients that never sent EOF after our half-close
  std::uint64_t peak_connections = 0;  // most connections open at once
  // io_uring (uring-server): printed only by a server that submitted to a ring.
  std::uint64_t sqes_submitted = 0;  // submission queue entries handed to the kernel
  std::uint64_t cqes_reaped = 0;     // completion queue entries read back
  std::uint64_t enobufs = 0;         // receives that found the provided-buffer ring empty

  // recv sizes: bucket i counts sizes in (2^(i-1), 2^i]; the last one all larger.
  static constexpr std::size_t kBuckets = 22;
  std::array<std::uint64_t, kBuckets> recv_sizes{};

  void count_recv(std::size_t n);
  void count_send(std::size_t offered, std::size_t taken);
  void merge(const Stats& other);
  void print(std::FILE* out) const;
};

}  // namespace muxlab::core

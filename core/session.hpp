// session.hpp - one connection's echo protocol, sans I/O.
//
// EchoSession knows bytes, never descriptors: a server recv()s into
// recv_window(), reports the count with on_received(), and send()s from
// send_window(), reporting with on_sent(). Every I/O model drives the same
// session, so every model speaks exactly the same protocol (SPEC §1).
//
//   framing line:  "abc\n" -> "abc" x repeat + "\n"   (the tail fragment at EOF is a line)
//   framing raw:   every byte back, unchanged         (RFC 862)
//
// Memory stays bounded: a reply of payload x repeat is generated as the socket
// drains, never built whole; reading stops while max_pending bytes are owed (the
// server then stops watching for input and TCP pushes back on the client); an
// idle session holds no heap memory at all.
//
// Reads adapt to the traffic: the read window starts at 16 KiB, doubles while
// reads fill it (bulk transfer: fewer, larger recv() calls, up to 256 KiB) and
// halves when they use less than half of it (small messages). It is a size,
// not memory: the buffer behind it is taken when a read comes and given back
// once its bytes are sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/buffer.hpp"

namespace muxlab::core {

enum class Framing { line, raw };

struct Limits {
  Framing framing = Framing::line;
  std::uint32_t repeat = 1;
  std::size_t max_line = 64 * 1024;
  std::size_t max_pending = 1 << 20;
};

class EchoSession {
 public:
  // The read window's bounds. Past 256 KiB a larger read saves little: the
  // system call is already a small part of moving that many bytes.
  static constexpr std::size_t kMinRead = 16 * 1024;
  static constexpr std::size_t kMaxRead = 256 * 1024;

  explicit EchoSession(const Limits& limits);

  // Where the next recv() may write: read_size() bytes, fewer where --max-pending
  // allows no more. Empty means "do not read now": the session is back-pressured
  // (max_pending owed), or its input is closed.
  std::span<std::byte> recv_window();
  void on_received(std::size_t n);  // n bytes landed at the start of recv_window(); adapts read_size()
  void on_peer_eof();               // recv() returned 0: answer the tail fragment, read no more
  void on_nothing_received() { in_.release_if_empty(); }  // recv() found nothing (EAGAIN): an idle
                                                          // session holds no buffer
  void stop_input();                // server shutting down: read no more, drop the fragment
  void refuse(std::string_view line);  // answer only `line` ("error: server full\n"), then finish

  // The next bytes owed to the client, generated on demand; empty = nothing now.
  // The order in which windows come is explained above send_window() in
  // session.cpp. A window stays valid until the session is fed (recv_window(),
  // on_received(), on_peer_eof()) or told what was sent; stop_input() keeps it,
  // so a server may stop a session while a send from its window is in flight.
  std::span<const std::byte> send_window();
  void on_sent(std::size_t n);  // send() took n bytes of the last send_window() (maybe fewer than offered)

  bool wants_read() const { return !input_closed_ && owed_bytes() < limits_.max_pending; }
  bool wants_write() const { return owed_bytes() > 0 || !trailer_.empty(); }
  // Input closed and every owed byte sent: the server half-closes and closes.
  bool finished() const { return input_closed_ && !wants_write(); }
  bool input_closed() const { return input_closed_; }
  bool line_too_long() const { return line_too_long_; }
  std::size_t read_size() const { return read_size_; }  // the read window's size now (not memory held)

  // Heap bytes this session holds right now (what the tests bound). A std::string
  // keeps short text inline (15 bytes in libstdc++): only a capacity past that is heap.
  std::size_t held_bytes() const {
    const std::size_t trailer_heap = trailer_.capacity() > std::string().capacity() ? trailer_.capacity() : 0;
    return in_.capacity() + stage_.capacity() + trailer_heap;
  }

 private:
  enum class Window : std::uint8_t { none, lines, stage, payload, newline, trailer };

  std::size_t owed_bytes() const { return complete_ + stage_.size(); }
  void scan_lines(std::size_t from);
  void adapt_read_size(std::size_t n);
  void reject_long_line();
  void start_front_line();
  void finish_front_line();
  void fill_stage();

  Limits limits_;
  Buffer in_;                  // received bytes not yet answered
  std::size_t complete_ = 0;   // in_[0, complete_) are whole lines (raw: all of in_)
  Buffer stage_;               // repetitions of a short payload, copied for one big send()
  std::string trailer_;        // the error line, sent after everything else
  std::size_t trailer_sent_ = 0;

  // The front line while repeat > 1: its payload length, repetitions still owed,
  // and how much of the current repetition was sent (long payloads go out directly).
  static constexpr std::size_t kNoLine = static_cast<std::size_t>(-1);
  std::size_t front_len_ = kNoLine;
  std::uint32_t reps_left_ = 0;
  std::size_t rep_offset_ = 0;

  // Small members last, packed together: an idle connection is mostly this object.
  Window last_window_ = Window::none;
  bool input_closed_ = false;
  bool line_too_long_ = false;
  std::uint32_t read_size_ = kMinRead;  // recv_window()'s size (kMinRead..kMaxRead): adapted by on_received()
};

}  // namespace muxlab::core

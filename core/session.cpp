#include "core/session.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace muxlab::core {

namespace {
constexpr std::size_t kStageBytes = 64 * 1024;     // repetitions copied per send()
constexpr std::size_t kDirectPayload = 16 * 1024;  // payloads this long are sent in place
constexpr std::byte kNewline[1] = {std::byte{'\n'}};
}  // namespace

EchoSession::EchoSession(const Limits& limits) : limits_(limits) {
  assert(limits_.repeat >= 1);
  assert(limits_.framing == Framing::line || limits_.repeat == 1);
}

std::span<std::byte> EchoSession::recv_window() {
  if (!wants_read()) return {};
  // A partial line may grow to max_line (+1 for its '\n') on top of the owed bytes.
  const std::size_t limit = limits_.framing == Framing::raw
                                ? limits_.max_pending
                                : limits_.max_pending + limits_.max_line + 1;
  // At most read_size_ bytes, even where the buffer has room for more, so that
  // "the read filled the window" means what it says.
  const auto tail = in_.prepare(read_size_, limit);
  return tail.first(std::min<std::size_t>(tail.size(), read_size_));
}

void EchoSession::on_received(std::size_t n) {
  if (n == 0) return;
  adapt_read_size(n);
  const std::size_t before = in_.size();
  in_.commit(n);
  if (limits_.framing == Framing::raw) {
    complete_ = in_.size();
  } else {
    scan_lines(before);
  }
}

// A read that fills the window says the kernel had more: double it, so that a
// bulk transfer takes fewer and larger recv() calls. A read that uses less than
// half says it is too big for this traffic: halve it. Between the two it stays,
// so that reads of about the window's size do not make it flap. Nothing is
// allocated here: the buffer is taken by the next recv_window().
void EchoSession::adapt_read_size(std::size_t n) {
  if (n >= read_size_ && read_size_ < kMaxRead) {
    read_size_ *= 2;
  } else if (n < read_size_ / 2 && read_size_ > kMinRead) {
    read_size_ /= 2;
  }
}

void EchoSession::scan_lines(std::size_t from) {
  const auto data = in_.data();
  std::size_t pos = from;
  while (pos < data.size()) {
    const void* nl = std::memchr(data.data() + pos, '\n', data.size() - pos);
    if (nl == nullptr) break;
    const auto end = static_cast<std::size_t>(static_cast<const std::byte*>(nl) - data.data());
    if (end - complete_ > limits_.max_line) return reject_long_line();
    complete_ = end + 1;
    pos = complete_;
  }
  if (data.size() - complete_ > limits_.max_line) reject_long_line();
}

// SPEC §1: read nothing more, answer the earlier lines, then the error line.
void EchoSession::reject_long_line() {
  in_.truncate(complete_);
  input_closed_ = true;
  line_too_long_ = true;
  trailer_ = "error: line too long (limit " + std::to_string(limits_.max_line) + " bytes)\n";
}

void EchoSession::on_peer_eof() {
  if (input_closed_) return;
  input_closed_ = true;
  in_.release_if_empty();  // the window handed out for the recv() that saw EOF
  // The tail end: a fragment with no '\n' is still a line, answered like the others.
  if (limits_.framing == Framing::line && in_.size() > complete_) {
    in_.prepare(1, in_.size() + 1);  // room for one byte more: a full buffer must not double here
    in_.append(kNewline);
    complete_ = in_.size();
  }
}

void EchoSession::stop_input() {
  if (input_closed_) return;
  input_closed_ = true;
  in_.truncate(complete_);
}

void EchoSession::refuse(std::string_view line) {
  stop_input();
  trailer_ = line;
  trailer_sent_ = 0;
}

// The order of the windows. Replies leave in the order of their lines, and a
// window is always the front of what is owed:
//
//   1. repeat 1 (and raw): the whole lines received, in place (Window::lines).
//      The reply is exactly those bytes, so there is nothing to generate.
//   2. repeat > 1, the front line's reply, generated as the socket drains:
//      - the stage first, whenever it holds bytes (Window::stage). fill_stage()
//        copies whole repetitions of short payloads into it, with their '\n',
//        line after line, up to 64 KiB; it stops before a long payload. What
//        is staged precedes everything still in in_, so it must leave first.
//      - with the stage empty and a long payload (>= kDirectPayload) in front:
//        the payload itself, in place, once per repetition (Window::payload;
//        rep_offset_ remembers a repetition sent in part), then its '\n'
//        (Window::newline), whose sending drops the line from in_.
//   3. the trailer, once nothing else is owed (Window::trailer): the error
//      line or "server full", the last bytes of a connection.
//
// last_window_ remembers which of these the last call handed out, so that
// on_sent() knows what n bytes of it mean. A send_window() not followed by an
// on_sent() (EAGAIN) is harmless: the next call offers the same bytes again.
std::span<const std::byte> EchoSession::send_window() {
  last_window_ = Window::none;
  if (complete_ > 0 && (limits_.framing == Framing::raw || limits_.repeat == 1)) {
    // Repeat 1: the reply to whole lines is exactly the bytes received. Send them in place.
    last_window_ = Window::lines;
    return in_.data().first(complete_);
  }
  if (stage_.empty() && complete_ > 0) {
    if (front_len_ == kNoLine) start_front_line();
    if (front_len_ >= kDirectPayload) {
      if (reps_left_ == 0) {
        last_window_ = Window::newline;
        return kNewline;
      }
      last_window_ = Window::payload;
      return in_.data().subspan(rep_offset_, front_len_ - rep_offset_);
    }
    fill_stage();
  }
  if (!stage_.empty()) {
    last_window_ = Window::stage;
    return stage_.data();
  }
  if (trailer_sent_ < trailer_.size()) {
    last_window_ = Window::trailer;
    return std::as_bytes(std::span(trailer_)).subspan(trailer_sent_);
  }
  return {};
}

void EchoSession::on_sent(std::size_t n) {
  switch (last_window_) {
    case Window::none:
      assert(n == 0);
      break;
    case Window::lines:
      in_.consume(n);
      complete_ -= n;
      break;
    case Window::stage:
      stage_.consume(n);
      break;
    case Window::payload:
      rep_offset_ += n;
      if (rep_offset_ == front_len_) {
        rep_offset_ = 0;
        --reps_left_;
      }
      break;
    case Window::newline:
      if (n == 1) finish_front_line();
      break;
    case Window::trailer:
      trailer_sent_ += n;
      if (trailer_sent_ == trailer_.size()) {
        std::string().swap(trailer_);  // give the memory back
        trailer_sent_ = 0;
      }
      break;
  }
  last_window_ = Window::none;
}

void EchoSession::start_front_line() {
  const auto data = in_.data();
  const void* nl = std::memchr(data.data(), '\n', complete_);
  assert(nl != nullptr);
  front_len_ = static_cast<std::size_t>(static_cast<const std::byte*>(nl) - data.data());
  reps_left_ = front_len_ == 0 ? 0 : limits_.repeat;
  rep_offset_ = 0;
}

void EchoSession::finish_front_line() {
  in_.consume(front_len_ + 1);
  complete_ -= front_len_ + 1;
  front_len_ = kNoLine;
  reps_left_ = 0;
  rep_offset_ = 0;
}

// Copies whole repetitions of short payloads (and their '\n') into the stage, as
// many as fit, so that a 1-byte line repeated a million times leaves in 64 KiB sends
// rather than a million 1-byte ones.
void EchoSession::fill_stage() {
  while (complete_ > 0) {
    if (front_len_ == kNoLine) start_front_line();
    if (front_len_ >= kDirectPayload) break;  // goes out in place once the stage drains
    // Room for this reply, or for as much of it as fits: reserved here with the
    // stage size as the limit, as append() alone would double the stage past it.
    stage_.prepare(std::min(kStageBytes - stage_.size(), front_len_ * reps_left_ + 1), kStageBytes);
    const auto payload = in_.data().first(front_len_);
    while (reps_left_ > 0 && stage_.size() + front_len_ <= kStageBytes) {
      stage_.append(payload);
      --reps_left_;
    }
    if (reps_left_ > 0 || stage_.size() == kStageBytes) break;
    stage_.append(kNewline);
    finish_front_line();
  }
}

}  // namespace muxlab::core

// session_test.cpp - EchoSession, the sans-I/O protocol core (SPEC §1).
//
// The tests drive a session exactly as a server does: bytes go into
// recv_window() and are reported with on_received(); replies come out of
// send_window() and are reported with on_sent(). drive() plays both ends with
// given recv chunk sizes and send() sizes, the way a socket takes what it likes,
// so the same input can be cut every which way and must always give the same
// bytes back (the property tests compare with a plain reference implementation).
#include "core/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace muxlab::core {
namespace {

using namespace std::string_literals;

// The next recv chunk or send size. A send size of 0 plays EAGAIN: the server
// asked for send_window() but send() took nothing, so on_sent() is not called.
using Sizes = std::function<std::size_t()>;

Sizes fixed(std::size_t n) {
  return [n] { return n; };
}

Sizes cycle(std::vector<std::size_t> sizes) {
  return [sizes = std::move(sizes), i = std::size_t{0}]() mutable { return sizes[i++ % sizes.size()]; };
}

// Mostly small, sometimes large, sometimes EAGAIN (when lo == 0): the mix a busy socket gives.
Sizes random_sizes(std::uint32_t seed, std::size_t lo, std::size_t hi) {
  auto rng = std::make_shared<std::mt19937>(seed);
  return [rng, lo, hi] {
    std::uniform_int_distribution<std::size_t> pick(0, 3);
    switch (pick(*rng)) {
      case 0:
        return std::uniform_int_distribution<std::size_t>(lo, std::min<std::size_t>(hi, lo + 8))(*rng);
      case 1:
        return std::uniform_int_distribution<std::size_t>(lo, std::min<std::size_t>(hi, 4096))(*rng);
      default:
        return std::uniform_int_distribution<std::size_t>(lo, hi)(*rng);
    }
  };
}

constexpr std::size_t kAll = std::size_t{1} << 30;  // a recv/send size that takes whatever is offered

enum class End { eof, open, stop };  // what happens once the input is fed

struct Outcome {
  std::string out;           // every byte the session sent
  std::size_t fed = 0;       // input bytes the session accepted
  std::size_t sends = 0;     // send windows taken (non-empty)
  std::size_t batched = 0;   // ... of which offered more than one byte
  std::size_t max_held = 0;  // the most held_bytes() seen
};

// One send() of at most send_size() bytes; false when nothing is owed.
bool send_some(EchoSession& s, const Sizes& send_size, Outcome& run) {
  const auto window = s.send_window();
  EXPECT_EQ(window.empty(), !s.wants_write());
  run.max_held = std::max(run.max_held, s.held_bytes());  // the stage is fullest now
  if (window.empty()) return false;
  EXPECT_FALSE(s.finished()) << "finished() while bytes are owed";
  const std::size_t n = std::min(window.size(), send_size());
  ++run.sends;
  if (window.size() > 1) ++run.batched;
  if (n > 0) {
    run.out.append(reinterpret_cast<const char*>(window.data()), n);
    s.on_sent(n);
  }
  run.max_held = std::max(run.max_held, s.held_bytes());
  return true;
}

// Feeds `input` in recv chunks of recv_size() bytes (fewer if recv_window() is
// shorter), taking one send after each chunk and more while the session refuses
// input; then ends the input as `end` says and drains everything owed.
Outcome drive(EchoSession& s, std::string_view input, const Sizes& recv_size, const Sizes& send_size,
              End end = End::eof) {
  Outcome run;
  std::size_t pos = 0;
  while (pos < input.size()) {
    const auto window = s.recv_window();
    EXPECT_EQ(window.empty(), !s.wants_read());
    if (window.empty()) {
      if (s.input_closed()) break;  // line too long: the rest is never read
      if (!send_some(s, send_size, run)) {
        ADD_FAILURE() << "stuck: no recv window and nothing to send, at input byte " << pos;
        break;
      }
      continue;
    }
    const std::size_t n = std::min({std::max<std::size_t>(recv_size(), 1), window.size(), input.size() - pos});
    std::memcpy(window.data(), input.data() + pos, n);
    s.on_received(n);
    pos += n;
    run.max_held = std::max(run.max_held, s.held_bytes());
    send_some(s, send_size, run);
  }
  run.fed = pos;
  if (end == End::eof) s.on_peer_eof();
  if (end == End::stop) s.stop_input();
  while (send_some(s, send_size, run)) {
  }
  if (end != End::open) {
    EXPECT_TRUE(s.finished());
    EXPECT_EQ(s.held_bytes(), 0u) << "a finished session still holds memory";
    EXPECT_TRUE(s.recv_window().empty());
  }
  return run;
}

Outcome drive(const Limits& limits, std::string_view input, const Sizes& recv_size = fixed(kAll),
              const Sizes& send_size = fixed(kAll), End end = End::eof) {
  EchoSession s(limits);
  return drive(s, input, recv_size, send_size, end);
}

Limits line_limits(std::uint32_t repeat, std::size_t max_line = 64 * 1024, std::size_t max_pending = 1 << 20) {
  return {Framing::line, repeat, max_line, max_pending};
}

Limits raw_limits(std::size_t max_pending = 1 << 20) { return {Framing::raw, 1, 64 * 1024, max_pending}; }

// The most a session may hold (SPEC §1, bounded memory): raw, what is owed; line,
// what is owed plus one partial line and its '\n', plus the 64 KiB stage that
// batches the repetitions of short payloads.
std::size_t memory_bound(const Limits& limits) {
  if (limits.framing == Framing::raw) return limits.max_pending;
  return limits.max_pending + limits.max_line + 1 + 64 * 1024;
}

std::string times(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

std::string too_long(std::size_t limit) {
  return "error: line too long (limit " + std::to_string(limit) + " bytes)\n";
}

// SPEC §1 read straight, for the property tests: what a client must receive
// for `input`, ended as `end` says.
std::string reference(std::string_view input, const Limits& limits, End end) {
  if (limits.framing == Framing::raw) return std::string(input);
  std::string out;
  std::size_t pos = 0;
  for (std::size_t nl; (nl = input.find('\n', pos)) != std::string_view::npos; pos = nl + 1) {
    const auto payload = input.substr(pos, nl - pos);
    if (payload.size() > limits.max_line) return out + too_long(limits.max_line);
    out += times(payload, limits.repeat) + "\n";
  }
  const auto tail = input.substr(pos);
  if (tail.size() > limits.max_line) return out + too_long(limits.max_line);
  if (end == End::eof && !tail.empty()) out += times(tail, limits.repeat) + "\n";
  return out;
}

// Byte equality that reports where long outputs differ instead of printing megabytes.
::testing::AssertionResult same_bytes(const std::string& got, const std::string& want) {
  if (got == want) return ::testing::AssertionSuccess();
  const auto diff = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  const auto at = static_cast<std::size_t>(diff.first - got.begin());
  return ::testing::AssertionFailure() << "got " << got.size() << " bytes, want " << want.size()
                                       << "; first difference at byte " << at << ": got \"" << got.substr(at, 16)
                                       << "\", want \"" << want.substr(at, 16) << "\"";
}

std::string random_bytes(std::mt19937& rng, std::size_t n, bool newlines) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::string s(n, '\0');
  for (auto& c : s) {
    int b = byte(rng);
    if (!newlines && b == '\n') b = 'n';
    c = static_cast<char>(b);
  }
  return s;
}

// ---- line framing ---------------------------------------------------------

TEST(SessionLine, PlainEchoWithRepeatOne) {
  EXPECT_EQ(drive(line_limits(1), "hello\n").out, "hello\n");
  EXPECT_EQ(drive(line_limits(1), "hello\n", fixed(1), fixed(1)).out, "hello\n");
}

TEST(SessionLine, RepeatThree) {
  EXPECT_EQ(drive(line_limits(3), "ab\n").out, "ababab\n");
  EXPECT_EQ(drive(line_limits(3), "ab\n", fixed(1), fixed(1)).out, "ababab\n");
}

TEST(SessionLine, RepeatTenThousandIsExactAndChunked) {
  const std::string want = times("xyz", 10000) + "\n";
  for (std::size_t send : {std::size_t{7}, std::size_t{1000}, kAll}) {
    const Outcome run = drive(line_limits(10000), "xyz\n", fixed(kAll), fixed(send));
    EXPECT_TRUE(same_bytes(run.out, want)) << "send size " << send;
  }
}

TEST(SessionLine, EmptyLineIsANewlineForAnyRepeat) {
  for (std::uint32_t r : {1u, 2u, 7u, 1000u, 1000000u}) {
    EXPECT_EQ(drive(line_limits(r), "\n").out, "\n") << "repeat " << r;
    EXPECT_EQ(drive(line_limits(r), "\n\n\n", fixed(1), fixed(1)).out, "\n\n\n") << "repeat " << r;
  }
}

TEST(SessionLine, SeveralLinesInOneChunkKeepTheirOrder) {
  EXPECT_EQ(drive(line_limits(1), "one\ntwo\n\nthree\n").out, "one\ntwo\n\nthree\n");
  EXPECT_EQ(drive(line_limits(2), "one\ntwo\n\nthree\n").out, "oneone\ntwotwo\n\nthreethree\n");
  EXPECT_EQ(drive(line_limits(2), "one\ntwo\n\nthree\n", fixed(kAll), fixed(3)).out,
            "oneone\ntwotwo\n\nthreethree\n");
}

TEST(SessionLine, PayloadsAreBinarySafe) {
  std::string payload = "a\0b\r\r\0"s;
  for (int b = 0x80; b <= 0xff; ++b) payload += static_cast<char>(b);
  for (std::uint32_t r : {1u, 3u}) {
    EXPECT_TRUE(same_bytes(drive(line_limits(r), payload + "\n").out, times(payload, r) + "\n"));
    EXPECT_TRUE(
        same_bytes(drive(line_limits(r), payload + "\n", fixed(1), fixed(2)).out, times(payload, r) + "\n"));
  }
}

TEST(SessionLine, NothingIsSentBeforeALineIsComplete) {
  EchoSession s(line_limits(3));
  auto w = s.recv_window();
  ASSERT_GE(w.size(), 3u);
  std::memcpy(w.data(), "abc", 3);
  s.on_received(3);
  EXPECT_FALSE(s.wants_write());
  EXPECT_TRUE(s.send_window().empty());
  EXPECT_TRUE(s.wants_read());
  EXPECT_FALSE(s.finished());
}

// ---- the tail end ---------------------------------------------------------

TEST(SessionTail, EofMidLineAnswersTheFragment) {
  EXPECT_EQ(drive(line_limits(1), "abc").out, "abc\n");
  EXPECT_EQ(drive(line_limits(4), "abc").out, "abcabcabcabc\n");
  EXPECT_EQ(drive(line_limits(4), "x\nabc", fixed(1), fixed(1)).out, "xxxx\nabcabcabcabc\n");
  // Without the EOF the fragment is just waiting for its '\n'.
  EXPECT_EQ(drive(line_limits(4), "x\nabc", fixed(kAll), fixed(kAll), End::open).out, "xxxx\n");
}

TEST(SessionTail, EofWithNothingBufferedFinishesAtOnce) {
  EchoSession s(line_limits(5));
  EXPECT_FALSE(s.finished());
  s.on_peer_eof();
  EXPECT_TRUE(s.finished());
  EXPECT_TRUE(s.input_closed());
  EXPECT_FALSE(s.wants_read());
  EXPECT_FALSE(s.wants_write());
  EXPECT_TRUE(s.recv_window().empty());
  EXPECT_TRUE(s.send_window().empty());
  EXPECT_EQ(s.held_bytes(), 0u);
}

TEST(SessionTail, EofAfterCompleteLinesAddsNothing) {
  EXPECT_EQ(drive(line_limits(1), "a\nb\n").out, "a\nb\n");
  EXPECT_EQ(drive(line_limits(2), "a\nb\n").out, "aa\nbb\n");
}

TEST(SessionTail, FinishedOnlyOnceTheLastByteIsSent) {
  EchoSession s(line_limits(1000));
  auto w = s.recv_window();
  std::memcpy(w.data(), "x\nyz", 4);
  s.on_received(4);
  s.on_peer_eof();
  EXPECT_FALSE(s.wants_read());
  EXPECT_TRUE(s.recv_window().empty());
  const std::size_t total = 1000 + 1 + 2000 + 1;
  std::size_t sent = 0;
  while (sent < total) {
    EXPECT_FALSE(s.finished()) << "after " << sent << " of " << total << " bytes";
    const auto out = s.send_window();
    ASSERT_FALSE(out.empty()) << "after " << sent << " of " << total << " bytes";
    const std::size_t n = std::min<std::size_t>(out.size(), 999);
    s.on_sent(n);
    sent += n;
  }
  EXPECT_TRUE(s.finished());
  EXPECT_TRUE(s.send_window().empty());
  EXPECT_EQ(s.held_bytes(), 0u);
}

TEST(SessionTail, EofTwiceIsHarmless) {
  EchoSession s(line_limits(1));
  Outcome run = drive(s, "ab", fixed(kAll), fixed(kAll));
  s.on_peer_eof();
  EXPECT_TRUE(s.send_window().empty());
  EXPECT_EQ(run.out, "ab\n");
}

// ---- stop_input (server shutdown) ---------------------------------------------

TEST(SessionStop, DropsTheFragmentAndFinishesAfterWhatIsOwed) {
  EXPECT_EQ(drive(line_limits(1), "done\npart", fixed(kAll), fixed(kAll), End::stop).out, "done\n");
  EXPECT_EQ(drive(line_limits(3), "done\npart", fixed(2), fixed(5), End::stop).out, "donedonedone\n");

  EchoSession s(line_limits(2));
  auto w = s.recv_window();
  std::memcpy(w.data(), "ab\ncd", 5);
  s.on_received(5);
  s.stop_input();
  EXPECT_TRUE(s.input_closed());
  EXPECT_TRUE(s.recv_window().empty());
  EXPECT_FALSE(s.finished());  // "abab\n" is still owed
  Outcome run;
  while (send_some(s, fixed(kAll), run)) {
  }
  EXPECT_EQ(run.out, "abab\n");
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.held_bytes(), 0u);
  s.on_peer_eof();  // the client's EOF may still come: nothing changes
  EXPECT_TRUE(s.finished());
}

TEST(SessionStop, WithNothingOwedFinishesAtOnce) {
  EchoSession s(line_limits(1));
  s.stop_input();
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.held_bytes(), 0u);
}

// ---- max_line -----------------------------------------------------------------

TEST(SessionMaxLine, PayloadOfExactlyMaxLineIsAccepted) {
  const std::string payload(10, 'p');
  EchoSession s(line_limits(2, 10));
  const Outcome run = drive(s, payload + "\n" + payload, fixed(kAll), fixed(kAll));
  EXPECT_EQ(run.out, times(payload, 2) + "\n" + times(payload, 2) + "\n");
  EXPECT_FALSE(s.line_too_long());
}

TEST(SessionMaxLine, OneByteMoreIsRejectedWithOrWithoutItsNewline) {
  const std::string bad(11, 'b');
  const std::string want = "ok\nok\n" + too_long(10);
  for (const std::string& input : {"ok\nok\n" + bad + "\nlater\n", "ok\nok\n" + bad, "ok\nok\n" + bad + "more"}) {
    for (std::size_t chunk : {std::size_t{1}, std::size_t{4}, kAll}) {
      EchoSession s(line_limits(1, 10));
      // Open end: the error closes the session by itself, no EOF needed.
      const Outcome run = drive(s, input, fixed(chunk), fixed(chunk), End::open);
      EXPECT_EQ(run.out, want) << "chunk " << chunk;
      EXPECT_TRUE(s.line_too_long());
      EXPECT_TRUE(s.finished());
      EXPECT_TRUE(s.input_closed());
      EXPECT_FALSE(s.wants_read());
      EXPECT_TRUE(s.recv_window().empty());
      EXPECT_EQ(s.held_bytes(), 0u);
      // Nothing is read past the byte that made the line too long (a recv may
      // of course have brought more along with it).
      if (chunk != kAll) {
        EXPECT_LE(run.fed, 6 + bad.size() + chunk - 1) << "chunk " << chunk;
      }
    }
  }
}

TEST(SessionMaxLine, RejectionComesAtTheFirstByteTooMany) {
  EchoSession s(line_limits(1, 10));
  for (int i = 0; i < 10; ++i) {
    auto w = s.recv_window();
    ASSERT_FALSE(w.empty());
    w[0] = std::byte{'q'};
    s.on_received(1);
    EXPECT_FALSE(s.line_too_long()) << "after " << i + 1 << " bytes";
  }
  auto w = s.recv_window();
  ASSERT_FALSE(w.empty());
  w[0] = std::byte{'q'};
  s.on_received(1);
  EXPECT_TRUE(s.line_too_long());
  EXPECT_TRUE(s.recv_window().empty());
  Outcome run;
  while (send_some(s, fixed(1), run)) {
  }
  EXPECT_EQ(run.out, too_long(10));
  EXPECT_TRUE(s.finished());
}

TEST(SessionMaxLine, EarlierRepliesGoFirstEvenMidReply) {
  // R = 1000: the first reply is half sent when the bad line arrives.
  EchoSession s(line_limits(1000, 10));
  Outcome run;
  auto w = s.recv_window();
  std::memcpy(w.data(), "ab\n", 3);
  s.on_received(3);
  for (int i = 0; i < 3; ++i) send_some(s, fixed(333), run);
  const std::string bad(12, 'x');
  w = s.recv_window();
  std::memcpy(w.data(), bad.data(), bad.size());
  s.on_received(bad.size());
  EXPECT_TRUE(s.line_too_long());
  EXPECT_FALSE(s.finished());
  EXPECT_TRUE(s.recv_window().empty());
  while (send_some(s, fixed(333), run)) {
  }
  EXPECT_TRUE(same_bytes(run.out, times("ab", 1000) + "\n" + too_long(10)));
  EXPECT_TRUE(s.finished());
  s.on_peer_eof();  // the client's EOF afterwards changes nothing
  EXPECT_TRUE(s.send_window().empty());
}

TEST(SessionMaxLine, DefaultLimitNamesItsValue) {
  const std::string line(64 * 1024, 'L');
  EXPECT_TRUE(same_bytes(drive(Limits{}, line + "\n").out, line + "\n"));
  EXPECT_EQ(drive(Limits{}, line + "L\n").out, too_long(65536));
  EXPECT_EQ(drive(Limits{}, line + "L\n").out, "error: line too long (limit 65536 bytes)\n");
}

// ---- raw framing -----------------------------------------------------------

TEST(SessionRaw, EchoesEveryByteUnchanged) {
  const std::string input = "a\nb\0\r\n\xff\x80 no newline at the end"s;
  EXPECT_EQ(drive(raw_limits(), input).out, input);
  EXPECT_EQ(drive(raw_limits(), input, fixed(1), fixed(1)).out, input);
  EXPECT_EQ(drive(raw_limits(), "\n\n\n", fixed(1), fixed(kAll)).out, "\n\n\n");
}

TEST(SessionRaw, EofFinishesOnlyAfterTheDrain) {
  EchoSession s(raw_limits());
  auto w = s.recv_window();
  std::memcpy(w.data(), "xyz", 3);
  s.on_received(3);
  s.on_peer_eof();
  EXPECT_FALSE(s.finished());
  EXPECT_TRUE(s.recv_window().empty());
  Outcome run;
  send_some(s, fixed(2), run);
  EXPECT_FALSE(s.finished());
  send_some(s, fixed(2), run);
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(run.out, "xyz");
  EXPECT_EQ(s.held_bytes(), 0u);
}

TEST(SessionRaw, FourMebibytesOfRandomBytesRoundTrip) {
  std::mt19937 rng(862);
  const std::string input = random_bytes(rng, 4 << 20, true);
  const Outcome run = drive(raw_limits(), input, random_sizes(1, 1, 70000), random_sizes(2, 0, 70000));
  EXPECT_TRUE(same_bytes(run.out, input));
  EXPECT_LE(run.max_held, std::size_t{1} << 20);
}

// ---- the property: any cutting, the same bytes -----------------------------------

// A short input with every kind of line: empty, binary, '\r', a long-ish one, and a tail.
std::string short_input() { return "ab\n\n\0\r\xff\x80\n" + std::string(20, 'w') + "\nc\rd\n" + "tail"s; }

// A long input: many short random lines, lines around the in-place threshold
// (16 KiB) and the stage size (64 KiB), and a tail fragment.
std::string long_input(std::uint32_t seed, bool big_lines) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> len(0, 40);
  std::string in;
  for (int i = 0; i < 300; ++i) {
    in += random_bytes(rng, len(rng), false) + "\n";
    if (i == 100) in += random_bytes(rng, 16 * 1024, false) + "\n";
    if (big_lines && i == 150) in += random_bytes(rng, 16 * 1024 - 1, false) + "\n";
    if (big_lines && i == 200) in += random_bytes(rng, 40000, false) + "\n\n";
    if (i == 250) in += random_bytes(rng, 3000, false) + "\n";
  }
  return in + random_bytes(rng, 37, false);
}

struct Case {
  Limits limits;
  End end;
};

std::vector<Case> property_cases(const std::vector<std::uint32_t>& repeats,
                                 const std::vector<End>& ends = {End::eof, End::open, End::stop}) {
  std::vector<Case> cases;
  for (std::uint32_t r : repeats) {
    for (End end : ends) {
      cases.push_back({line_limits(r), end});
      cases.push_back({line_limits(r, 64 * 1024, 3000), end});  // back-pressure on most recvs
    }
  }
  return cases;
}

std::string describe(const Case& c) {
  return "repeat " + std::to_string(c.limits.repeat) + ", max_line " + std::to_string(c.limits.max_line) +
         ", max_pending " + std::to_string(c.limits.max_pending) + ", end " +
         (c.end == End::eof    ? "eof"
          : c.end == End::open ? "open"
                               : "stop");
}

TEST(SessionProperty, EverySplitPointOfAShortInput) {
  const std::string input = short_input();
  for (const Case& c : property_cases({1, 2, 7, 1000})) {
    const std::string want = reference(input, c.limits, c.end);
    for (std::size_t k = 0; k <= input.size(); ++k) {
      for (const Sizes& send : {fixed(1), fixed(kAll), random_sizes(static_cast<std::uint32_t>(k), 0, 300)}) {
        const Outcome run = drive(c.limits, input, cycle({std::max<std::size_t>(k, 1), kAll}), send, c.end);
        ASSERT_TRUE(same_bytes(run.out, want)) << describe(c) << ", split at " << k;
      }
    }
    // Every pair of split points too (three recvs).
    for (std::size_t i = 1; i < input.size(); ++i) {
      for (std::size_t j = i + 1; j < input.size(); ++j) {
        const Outcome run = drive(c.limits, input, cycle({i, j - i, kAll}),
                                  random_sizes(static_cast<std::uint32_t>(i * 100 + j), 0, 5000), c.end);
        ASSERT_TRUE(same_bytes(run.out, want)) << describe(c) << ", splits at " << i << " and " << j;
      }
    }
    ASSERT_TRUE(same_bytes(drive(c.limits, input, fixed(1), fixed(1), c.end).out, want)) << describe(c);
  }
}

TEST(SessionProperty, RandomCuttingsOfALongInput) {
  const std::string input = long_input(42, true);
  for (const Case& c : property_cases({1, 2, 7})) {
    const std::string want = reference(input, c.limits, c.end);
    ASSERT_TRUE(same_bytes(drive(c.limits, input, fixed(1), random_sizes(7, 0, 70000), c.end).out, want))
        << describe(c) << ", 1-byte recvs";
    ASSERT_TRUE(same_bytes(drive(c.limits, input, fixed(kAll), fixed(1), c.end).out, want))
        << describe(c) << ", 1-byte sends";
    for (std::uint32_t seed = 0; seed < 20; ++seed) {
      const Outcome run =
          drive(c.limits, input, random_sizes(seed, 1, 70000), random_sizes(seed + 1000, 0, 70000), c.end);
      ASSERT_TRUE(same_bytes(run.out, want)) << describe(c) << ", seed " << seed;
      ASSERT_LE(run.max_held, memory_bound(c.limits)) << describe(c) << ", seed " << seed;
    }
  }
}

TEST(SessionProperty, RandomCuttingsWithRepeatThousand) {
  // One 16 KiB line makes 16 MB of reply: fewer cuttings here, and stop_input()
  // (open end minus the fragment) is left to the tests above.
  const std::string input = long_input(43, false);
  for (const Case& c : property_cases({1000}, {End::eof, End::open})) {
    const std::string want = reference(input, c.limits, c.end);
    ASSERT_TRUE(same_bytes(drive(c.limits, input, fixed(1), random_sizes(7, 0, 70000), c.end).out, want))
        << describe(c) << ", 1-byte recvs";
    for (std::uint32_t seed = 0; seed < 2; ++seed) {
      const Outcome run =
          drive(c.limits, input, random_sizes(seed, 1, 70000), random_sizes(seed + 1000, 0, 70000), c.end);
      ASSERT_TRUE(same_bytes(run.out, want)) << describe(c) << ", seed " << seed;
      ASSERT_LE(run.max_held, memory_bound(c.limits)) << describe(c) << ", seed " << seed;
    }
  }
}

TEST(SessionProperty, LongLinesRejectedAnywhere) {
  // A 150-byte line in the middle with max_line 100: the replies stop there.
  std::mt19937 rng(7);
  std::string input;
  for (int i = 0; i < 50; ++i) input += random_bytes(rng, i * 2, false) + "\n";  // up to 98 bytes: fine
  input += random_bytes(rng, 100, false) + "\n" + random_bytes(rng, 150, false) + "\nnever\n";
  for (std::uint32_t r : {1u, 2u, 7u, 1000u}) {
    for (End end : {End::eof, End::open, End::stop}) {
      const Case c{line_limits(r, 100), end};
      const std::string want = reference(input, c.limits, c.end);
      ASSERT_TRUE(want.ends_with(too_long(100)));
      for (std::uint32_t seed = 0; seed < 30; ++seed) {
        EchoSession s(c.limits);
        const Outcome run = drive(s, input, random_sizes(seed, 1, 300), random_sizes(seed + 1, 0, 3000), c.end);
        ASSERT_TRUE(same_bytes(run.out, want)) << describe(c) << ", seed " << seed;
        ASSERT_TRUE(s.line_too_long());
        ASSERT_TRUE(s.finished());
      }
    }
  }
}

// ---- the read window --------------------------------------------------------

// One recv() of n bytes (at most what the window offers) of raw input; returns
// the window's size, as a server would have offered it.
std::size_t read_raw(EchoSession& s, std::size_t n) {
  const auto w = s.recv_window();
  const std::size_t k = std::min(n, w.size());
  std::memset(w.data(), 'b', k);
  s.on_received(k);
  return w.size();
}

// Sends everything owed, as a socket with room for it would take it.
void send_all_owed(EchoSession& s) {
  for (auto out = s.send_window(); !out.empty(); out = s.send_window()) s.on_sent(out.size());
}

TEST(SessionReads, WindowDoublesWhileReadsFillIt) {
  EchoSession s(raw_limits(8 << 20));
  std::vector<std::size_t> offered;
  for (int i = 0; i < 7; ++i) {
    offered.push_back(read_raw(s, kAll));  // the kernel always has more: every read fills the window
    send_all_owed(s);
  }
  const std::size_t k = EchoSession::kMinRead;
  EXPECT_EQ(offered, (std::vector<std::size_t>{k, 2 * k, 4 * k, 8 * k, 16 * k, 16 * k, 16 * k}));
  EXPECT_EQ(EchoSession::kMaxRead, 16 * k);
  EXPECT_EQ(s.read_size(), EchoSession::kMaxRead);
}

TEST(SessionReads, WindowHalvesWhenReadsUseLessThanHalf) {
  EchoSession s(raw_limits(8 << 20));
  while (s.read_size() < EchoSession::kMaxRead) {
    read_raw(s, kAll);
    send_all_owed(s);
  }
  std::vector<std::size_t> sizes;
  for (int i = 0; i < 6; ++i) {
    read_raw(s, 64);  // ping-pong: one small message per read
    send_all_owed(s);
    sizes.push_back(s.read_size());
  }
  const std::size_t k = EchoSession::kMinRead;
  EXPECT_EQ(sizes, (std::vector<std::size_t>{8 * k, 4 * k, 2 * k, k, k, k}));
}

TEST(SessionReads, WindowHoldsBetweenHalfAndFull) {
  EchoSession s(raw_limits(8 << 20));
  read_raw(s, kAll);  // 16 KiB filled: 32 KiB next
  send_all_owed(s);
  ASSERT_EQ(s.read_size(), 2 * EchoSession::kMinRead);
  for (std::size_t n : {EchoSession::kMinRead, 2 * EchoSession::kMinRead - 1, EchoSession::kMinRead + 1}) {
    read_raw(s, n);  // half of it or more, but not all: no change, no flapping
    send_all_owed(s);
    EXPECT_EQ(s.read_size(), 2 * EchoSession::kMinRead) << "after a read of " << n;
  }
}

TEST(SessionReads, AGrownWindowHoldsNothingOnceDrained) {
  EchoSession s(raw_limits(8 << 20));
  while (s.read_size() < EchoSession::kMaxRead) {
    read_raw(s, kAll);
    send_all_owed(s);
  }
  EXPECT_EQ(s.held_bytes(), 0u) << "the buffer goes back once its bytes are sent";
  // Offered and found nothing (EAGAIN): given back too, the size kept for the next read.
  EXPECT_EQ(s.recv_window().size(), EchoSession::kMaxRead);
  EXPECT_GE(s.held_bytes(), EchoSession::kMaxRead);
  s.on_nothing_received();
  EXPECT_EQ(s.held_bytes(), 0u);
  EXPECT_EQ(s.read_size(), EchoSession::kMaxRead);
}

TEST(SessionReads, MaxPendingStillBoundsAGrownWindow) {
  // Raw: a window never reaches past what max_pending leaves, however big it grew.
  const Limits raw = raw_limits(100'000);
  EchoSession s(raw);
  for (int i = 0; i < 8; ++i) {
    read_raw(s, kAll);
    send_all_owed(s);
  }
  std::size_t owed = 0;
  for (auto w = s.recv_window(); !w.empty(); w = s.recv_window()) {  // a client that never reads
    EXPECT_LE(owed + w.size(), raw.max_pending);
    std::memset(w.data(), 'p', w.size());
    s.on_received(w.size());
    owed += w.size();
    EXPECT_LE(s.held_bytes(), raw.max_pending);
  }
  EXPECT_EQ(owed, raw.max_pending);

  // Line: owed lines up to max_pending, plus one partial line up to max_line.
  const Limits line = line_limits(1, 64 * 1024, 100'000);
  EchoSession t(line);
  std::string lines;
  for (int i = 0; i < 2000; ++i) lines += std::string(999, 'm') + "\n";
  drive(t, lines, fixed(kAll), fixed(kAll), End::open);  // 2 MB through full reads: the window grew
  EXPECT_GT(t.read_size(), EchoSession::kMinRead);
  std::size_t fed = 0;
  for (auto w = t.recv_window(); !w.empty(); w = t.recv_window()) {  // a client that never reads
    const std::size_t n = std::min(w.size(), lines.size() - fed);
    std::memcpy(w.data(), lines.data() + fed, n);
    t.on_received(n);
    fed += n;
    EXPECT_LE(t.held_bytes(), line.max_pending + line.max_line + 1);
  }
  EXPECT_GE(fed, line.max_pending);
  EXPECT_FALSE(t.wants_read());
}

// ---- bounded memory ---------------------------------------------------------

TEST(SessionMemory, LongLineWithAMillionRepeatsStaysUnderMaxPending) {
  const Limits limits = line_limits(1'000'000);  // max_line 64 KiB, max_pending 1 MiB
  std::mt19937 rng(64);
  const std::string payload = random_bytes(rng, 64 * 1024, false);
  const std::string line = payload + "\n";
  EchoSession s(limits);
  for (std::size_t fed = 0; fed < line.size();) {  // nothing is sent while the line comes in
    const auto w = s.recv_window();
    ASSERT_FALSE(w.empty());
    const std::size_t n = std::min(w.size(), line.size() - fed);
    std::memcpy(w.data(), line.data() + fed, n);
    s.on_received(n);
    fed += n;
    ASSERT_LE(s.held_bytes(), limits.max_pending);
  }

  // 64 GB are owed: check the first 1 MiB through 1-byte sends, then 15 MiB more
  // through larger ones, byte by byte against the payload.
  std::size_t sent = 0;
  auto check_sends = [&](const Sizes& send_size, std::size_t until) {
    while (sent < until) {
      const auto out = s.send_window();
      ASSERT_FALSE(out.empty());
      const std::size_t n = std::min(out.size(), std::max<std::size_t>(send_size(), 1));
      for (std::size_t i = 0; i < n; ++i) {
        ASSERT_EQ(static_cast<char>(out[i]), payload[(sent + i) % payload.size()]) << "byte " << sent + i;
      }
      s.on_sent(n);
      sent += n;
      ASSERT_LE(s.held_bytes(), limits.max_pending) << "after " << sent << " bytes";
      ASSERT_FALSE(s.finished());
    }
  };
  check_sends(fixed(1), 1 << 20);
  check_sends(random_sizes(5, 1, 200000), 16 << 20);
  s.stop_input();  // the server shutting down: still owes the rest of the reply
  EXPECT_FALSE(s.finished());
  EXPECT_TRUE(s.wants_write());
}

TEST(SessionMemory, OneBytePayloadWithAMillionRepeatsIsBatched) {
  const Limits limits = line_limits(1'000'000);
  EchoSession s(limits);
  const Outcome run = drive(s, "z\n", fixed(kAll), fixed(kAll));
  ASSERT_EQ(run.out.size(), 1'000'001u);
  EXPECT_EQ(run.out.find_first_not_of('z'), 1'000'000u);
  EXPECT_EQ(run.out.back(), '\n');
  EXPECT_LE(run.max_held, limits.max_pending);
  // A million 1-byte sends would be a million system calls: the stage batches them.
  EXPECT_LE(run.sends, 100u);
  EXPECT_GE(run.batched * 10, run.sends * 9) << run.batched << " of " << run.sends << " windows > 1 byte";

  // Through a 1-byte send() the windows are still big: only the socket limits the size.
  EchoSession slow(limits);
  const Outcome trickle = drive(slow, "z\n", fixed(kAll), cycle({1, 1, 1, 1, 1, 1, 1, 1, 1, kAll}));
  ASSERT_EQ(trickle.out.size(), 1'000'001u);
  EXPECT_GE(trickle.batched * 10, trickle.sends * 9);
}

TEST(SessionMemory, BackPressureStopsReadingAtMaxPending) {
  const Limits limits = line_limits(1, 64 * 1024, 4096);
  EchoSession s(limits);
  const std::string line = "0123456\n";  // 512 lines make 4096 bytes owed
  std::size_t fed = 0;
  while (true) {
    const auto w = s.recv_window();
    if (w.empty()) break;
    ASSERT_TRUE(s.wants_read());
    ASSERT_LT(fed, 4096u) << "still reading with " << fed << " bytes owed";
    const std::size_t n = std::min(w.size(), line.size());
    std::memcpy(w.data(), line.data(), n);
    s.on_received(n);
    fed += n;
  }
  EXPECT_EQ(fed, 4096u);
  EXPECT_FALSE(s.wants_read());
  EXPECT_TRUE(s.wants_write());
  EXPECT_FALSE(s.input_closed());

  // One byte drained opens the window again.
  auto out = s.send_window();
  ASSERT_FALSE(out.empty());
  s.on_sent(1);
  EXPECT_TRUE(s.wants_read());
  EXPECT_FALSE(s.recv_window().empty());

  Outcome run;
  run.out = "0";
  while (send_some(s, fixed(1000), run)) {
  }
  EXPECT_TRUE(same_bytes(run.out, times(line, 512)));
  EXPECT_EQ(s.held_bytes(), 0u) << "drained session keeps memory";
  EXPECT_TRUE(s.wants_read());
  EXPECT_FALSE(s.finished());
}

TEST(SessionMemory, BackPressureInRawFraming) {
  const Limits limits = raw_limits(4096);
  EchoSession s(limits);
  std::size_t fed = 0;
  for (auto w = s.recv_window(); !w.empty(); w = s.recv_window()) {
    std::memset(w.data(), 'r', w.size());
    s.on_received(w.size());
    fed += w.size();
  }
  EXPECT_EQ(fed, 4096u);
  EXPECT_FALSE(s.wants_read());
  EXPECT_LE(s.held_bytes(), 4096u);
}

TEST(SessionMemory, EofWithAFullBufferStaysInBounds) {
  // A fragment that fills the input buffer exactly: its '\n' at EOF must not
  // double the buffer past the bound.
  const Limits limits = line_limits(1, 100000, 4096);
  EchoSession s(limits);
  std::size_t fed = 0;
  while (fed < 65536) {
    const auto w = s.recv_window();
    ASSERT_FALSE(w.empty());
    const std::size_t n = std::min(w.size(), 65536 - fed);
    std::memset(w.data(), 'f', n);
    s.on_received(n);
    fed += n;
  }
  ASSERT_LE(s.held_bytes(), memory_bound(limits));
  s.on_peer_eof();
  EXPECT_LE(s.held_bytes(), limits.max_pending + limits.max_line + 1);
  Outcome run;
  while (send_some(s, fixed(kAll), run)) {
  }
  EXPECT_TRUE(same_bytes(run.out, std::string(65536, 'f') + "\n"));
  EXPECT_TRUE(s.finished());
}

TEST(SessionMemory, StageNeverGrowsPastItsSize) {
  // Short replies of odd sizes: the stage is sized for the first one, then grows
  // for the next ones, and must stop at 64 KiB.
  std::string input;
  for (std::size_t len : {5000, 3, 12000, 7, 9000, 1, 15000}) input += std::string(len, 's') + "\n";
  const Limits limits = line_limits(7);
  EchoSession s(limits);
  for (std::size_t fed = 0; fed < input.size();) {  // all in first, nothing sent
    const auto w = s.recv_window();
    ASSERT_FALSE(w.empty());
    const std::size_t n = std::min(w.size(), input.size() - fed);
    std::memcpy(w.data(), input.data() + fed, n);
    s.on_received(n);
    fed += n;
  }
  const std::size_t input_held = s.held_bytes();
  s.on_peer_eof();
  Outcome run;
  while (send_some(s, fixed(kAll), run)) {
  }
  EXPECT_TRUE(same_bytes(run.out, reference(input, limits, End::eof)));
  EXPECT_LE(run.max_held, input_held + 64 * 1024) << "the stage grew past 64 KiB";
}

TEST(SessionMemory, IdleSessionsHoldNothing) {
  for (const Limits& limits : {line_limits(1), line_limits(1000), raw_limits()}) {
    EchoSession s(limits);
    EXPECT_EQ(s.held_bytes(), 0u);
    const Outcome run = drive(s, "abc\ndef\n", fixed(3), fixed(5), End::open);
    EXPECT_FALSE(run.out.empty());
    EXPECT_EQ(s.held_bytes(), 0u) << "after the drain, repeat " << limits.repeat;
    EXPECT_FALSE(s.finished());
    EXPECT_TRUE(s.wants_read());
  }
}

// A server that offers a window and finds nothing to read (EAGAIN) must not keep
// the window's buffer: the busy poller does that on every idle connection each turn.
TEST(SessionMemory, AnEmptyReadGivesTheWindowBack) {
  EchoSession s(line_limits(1));
  ASSERT_FALSE(s.recv_window().empty());
  EXPECT_GT(s.held_bytes(), 0u);
  s.on_nothing_received();
  EXPECT_EQ(s.held_bytes(), 0u);
  // With a fragment held, the buffer stays: it holds data.
  auto w = s.recv_window();
  w[0] = std::byte{'x'};
  s.on_received(1);
  s.on_nothing_received();
  EXPECT_GT(s.held_bytes(), 0u);
  s.on_peer_eof();
  Outcome run;
  while (send_some(s, fixed(64), run)) {
  }
  EXPECT_EQ(run.out, "x\n");
}

}  // namespace
}  // namespace muxlab::core

namespace muxlab::core {
namespace {

// Past --max-clients a server refuses through the session: only the message,
// then finished, so the connection closes like any other (half-close, linger).
TEST(SessionRefuse, AnswersOnlyTheMessageThenFinishes) {
  EchoSession s(line_limits(3));
  s.refuse("error: server full\n");
  EXPECT_FALSE(s.wants_read());
  EXPECT_TRUE(s.recv_window().empty());
  Outcome run;
  while (send_some(s, fixed(4), run)) {
  }
  EXPECT_EQ(run.out, "error: server full\n");
  EXPECT_TRUE(s.finished());
  EXPECT_EQ(s.held_bytes(), 0u);
}

}  // namespace
}  // namespace muxlab::core

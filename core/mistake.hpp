// mistake.hpp - the switch behind the broken variants (docs/16-what-goes-wrong.md).
//
// A broken variant is a model's own source compiled with one classic mistake
// switched on. muxlab_broken() (broken/CMakeLists.txt) builds it as
// build/bin/broken/<model>-<mistake> with MUXLAB_MISTAKE set to one of the names
// below, MUXLAB_PROGRAM to the variant's name and MUXLAB_MISTAKE_WHAT to the
// line its --help prints. In the source the mistake is a block of a few lines,
//     if constexpr (kMistake == Mistake::always_out) { ... }   // BROKEN (...)
// beside the correct code it replaces, and says what goes wrong. The models are
// built without MUXLAB_MISTAKE: kMistake is Mistake::none, and every such block
// compiles to nothing.
#pragma once

namespace muxlab::core {

enum class Mistake {
  none,
  no_drain,          // epoll-edge-no-drain: edge-triggered, not read to EAGAIN
  no_rebuild,        // select-no-rebuild: select() given the sets it overwrote
  always_out,        // epoll-always-out: EPOLLOUT watched with nothing to send
  blocking_send,     // select-blocking-send: a blocking send() in the loop
  send_not_sendall,  // poll-send-not-sendall: the rest of a partial send thrown away
  close_no_linger,   // epoll-close-no-linger: close() with the client's input unread
  no_backpressure,   // nonblocking-no-backpressure: reading on while output is owed
  fd_setsize,        // select-fd-setsize: FD_SET on a descriptor >= FD_SETSIZE
};

#ifdef MUXLAB_MISTAKE
inline constexpr Mistake kMistake = Mistake::MUXLAB_MISTAKE;
#else
inline constexpr Mistake kMistake = Mistake::none;
#endif

// The name a server goes by (its error lines, --help, --version): its model's,
// or the broken variant's own.
constexpr const char* program_name(const char* model) {
#ifdef MUXLAB_MISTAKE
  (void)model;
  return MUXLAB_PROGRAM;
#else
  return model;
#endif
}

// What --help says the server is: its model's summary, or the broken variant's
// "BROKEN on purpose: ..." line.
constexpr const char* program_summary(const char* model_summary) {
#ifdef MUXLAB_MISTAKE
  (void)model_summary;
  return MUXLAB_MISTAKE_WHAT "\nSee docs/16-what-goes-wrong.md.";
#else
  return model_summary;
#endif
}

}  // namespace muxlab::core

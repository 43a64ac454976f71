// log.hpp - fatal setup errors and the --verbose log, both on stderr.
#pragma once

namespace muxlab::core {

// Prints "PROGRAM: <message>: ENAME (strerror text)" for the current errno and
// exits 1 (SPEC §2: a runtime failure). For setup failures only (socket, bind,
// listen, epoll_create1): per-connection errors close that connection and never
// exit. PROGRAM is the name the program was run as.
[[noreturn]] void die_errno(const char* format, ...) __attribute__((format(printf, 1, 2)));
// The same without an errno: "PROGRAM: <message>", exit 1.
[[noreturn]] void die(const char* format, ...) __attribute__((format(printf, 1, 2)));

// Turns --verbose on for vlog().
void set_verbose(bool on);
bool verbose();

// vlog(format, ...): one line on stderr when --verbose is on, printf-style.
// A macro, as assert() is, so that with --verbose off its arguments are not
// evaluated at all: vlog("%s", peer_address(fd).c_str()) then costs no
// getpeername(). Thread-safe.
#define vlog(...) (::muxlab::core::verbose() ? ::muxlab::core::log_line(__VA_ARGS__) : void())
void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));  // vlog() without the check

// The symbolic name of an errno value ("EAGAIN"), or "E?" if unknown
// (glibc's strerrorname_np).
const char* errno_name(int err);

}  // namespace muxlab::core

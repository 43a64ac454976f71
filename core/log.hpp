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

// One line on stderr when --verbose is on; thread-safe (one write per line).
void vlog(const char* format, ...) __attribute__((format(printf, 1, 2)));

// The symbolic name of an errno value ("EAGAIN"), or "E?" if unknown
// (glibc's strerrorname_np).
const char* errno_name(int err);

}  // namespace muxlab::core

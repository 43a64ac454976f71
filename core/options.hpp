// options.hpp - the one command line every server takes (SPEC §2).
//
// A server names its own extra flags (epoll-server's --edge, ...) as ExtraFlag
// entries; everything else is common. A bad flag or value prints one line on
// stderr naming it and exits 2; --help prints the usage and exits 0.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>

#include "core/session.hpp"

namespace muxlab::core {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 2000;
  Limits limits;
  std::size_t max_clients = 0;  // 0: as many as the model allows
  bool stats = false;
  bool verbose = false;
  int backlog = SOMAXCONN;  // --backlog: listen(2)'s queue of connections not yet accepted
  // Additions to SPEC §2 (documented in core/README.md):
  std::chrono::milliseconds drain{2000};   // --drain-ms: after SIGTERM, time to finish what is owed
  std::chrono::milliseconds linger{2000};  // --linger-ms: after our half-close, time to read the client's EOF
  std::size_t send_buffer = 0;             // --sndbuf: SO_SNDBUF of every connection (0: the kernel's, autotuned)
};

struct ExtraFlag {
  const char* name;        // "--edge"
  const char* value_name;  // "N" for a flag with a value, nullptr for a switch
  const char* help;
  // Applies the value ("" for a switch); false means a bad value (exit 2).
  std::function<bool(std::string_view value)> apply;
};

// Parses argv with getopt_long(3) or exits: `--flag value` and `--flag=value`
// alike, `--` ends the options, GNU's unambiguous abbreviations are taken. A
// usage error prints one line, "PROGRAM: ...", naming the flag, and exits 2;
// -h/--help prints the usage and --version the version, on stdout, and exit 0.
// `program` and `summary` head the --help text.
ServerOptions parse_server_options(int argc, char** argv, const char* program, const char* summary,
                                   std::span<const ExtraFlag> extra = {});

// SPEC §2: "PROGRAM (muxlab VERSION, COMMIT)" on stdout (core/version.hpp).
void print_version(const char* program);

// Parses a whole decimal number in [min, max]; false if it is not one.
bool parse_number(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t& out);

}  // namespace muxlab::core

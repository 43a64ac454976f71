// servers.hpp - the servers the conformance suite runs against.
#pragma once

#include <cstddef>
#include <ostream>
#include <string>
#include <vector>

namespace muxlab::conformance {

struct ServerSpec {
  std::string name;                     // test-name suffix: letters, digits, '_' only
  std::string binary;                   // program name in build/bin/
  std::vector<std::string> extra_args;  // model flags, e.g. {"--edge"}
  bool concurrent;                      // serves clients side by side (else: concurrency cases skip)
  std::size_t idle_connections;         // how many the idle-scaling case opens (0: skip it)
  bool nonblocking_io;                  // O_NONBLOCK sockets: a slow reader must show eagain/partial_sends
};

// How gtest shows a parameter: its name, not its bytes.
inline void PrintTo(const ServerSpec& spec, std::ostream* out) { *out << spec.name; }

// Every server, in one place: a new model joins with one line in servers.cpp.
const std::vector<ServerSpec>& AllServers();

// The absolute path of spec.binary (MUXLAB_BIN_DIR, set by CMake).
std::string binary_path(const ServerSpec& spec);

}  // namespace muxlab::conformance

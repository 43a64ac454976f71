// servers.hpp - the servers the conformance suite runs against: every model of
// harness/models.hpp, the one list of models.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <ostream>
#include <string>

#include "harness/models.hpp"

namespace muxlab::harness {
// How gtest shows a parameter: its name, not its bytes (found by ADL, so here).
inline void PrintTo(const Model& model, std::ostream* out) { *out << model.name; }
}  // namespace muxlab::harness

namespace muxlab::conformance {

using ServerSpec = harness::Model;

// The absolute path of the program the cases run for `spec`: spec.binary in
// MUXLAB_BIN_DIR (set by CMake), or the program the environment variable
// MUXLAB_CONFORMANCE_SERVER names in its place. tests/mutation sets it, with a
// --gtest_filter for one model, to run that model's cases against each broken
// variant of it (build/bin/broken/, docs/16-what-goes-wrong.md).
inline std::string binary_path(const ServerSpec& spec) {
  if (const char* other = std::getenv("MUXLAB_CONFORMANCE_SERVER"); other != nullptr && *other != '\0') return other;
  return std::string(MUXLAB_BIN_DIR) + "/" + spec.binary;
}

// The name that program gives itself in its error lines and --version.
inline std::string program_name(const ServerSpec& spec) {
  return std::filesystem::path(binary_path(spec)).filename().string();
}

}  // namespace muxlab::conformance

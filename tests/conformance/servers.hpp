// servers.hpp - the servers the conformance suite runs against: every model of
// harness/models.hpp, the one list of models.
#pragma once

#include <ostream>
#include <string>

#include "harness/models.hpp"

namespace muxlab::conformance {

using ServerSpec = harness::Model;

// How gtest shows a parameter: its name, not its bytes.
inline void PrintTo(const ServerSpec& spec, std::ostream* out) { *out << spec.name; }

// The absolute path of spec.binary (MUXLAB_BIN_DIR, set by CMake).
inline std::string binary_path(const ServerSpec& spec) { return std::string(MUXLAB_BIN_DIR) + "/" + spec.binary; }

}  // namespace muxlab::conformance

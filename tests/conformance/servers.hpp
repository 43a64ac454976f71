// servers.hpp - the servers the conformance suite runs against: every model of
// harness/models.hpp, the one list of models.
#pragma once

#include <ostream>
#include <string>

#include "harness/models.hpp"

namespace muxlab::harness {
// How gtest shows a parameter: its name, not its bytes (found by ADL, so here).
inline void PrintTo(const Model& model, std::ostream* out) { *out << model.name; }
}  // namespace muxlab::harness

namespace muxlab::conformance {

using ServerSpec = harness::Model;

// The absolute path of spec.binary (MUXLAB_BIN_DIR, set by CMake).
inline std::string binary_path(const ServerSpec& spec) { return std::string(MUXLAB_BIN_DIR) + "/" + spec.binary; }

}  // namespace muxlab::conformance

// version.hpp - muxlab's version and the git commit it was built from
// (generated at build time by cmake/version.cmake), for every --version.
#pragma once

namespace muxlab::core {

extern const char* const kVersion;  // "0.3.0", the project() version
extern const char* const kCommit;   // `git describe --always --dirty`, or "unknown" outside a checkout

}  // namespace muxlab::core

// requirements.hpp - what a model needs from this machine beyond a socket.
//
// uring-server needs io_uring, which a kernel may lack or forbid (sysctl
// kernel.io_uring_disabled, a container's seccomp profile). Where it is
// missing, the cases that need it skip, giving uring-server's own one-line
// reason; where it works they run, and the log says so once.
#pragma once

#include <string>

#include "tests/conformance/servers.hpp"

namespace muxlab::conformance {

// "" if `spec` can run here; otherwise why not ("uring-server: io_uring
// unavailable: io_uring_setup: EPERM ..."). Asks the server itself, once.
std::string unavailable_reason(const ServerSpec& spec);

}  // namespace muxlab::conformance

#include "tests/conformance/requirements.hpp"

#include <exception>
#include <iostream>
#include <optional>

#include "harness/child.hpp"

namespace muxlab::conformance {

namespace {

// Starts uring-server: the ready line means io_uring works; "io_uring
// unavailable" in the error is uring-server saying why it does not. Anything
// else is a failure of the server, left for the cases to report.
std::string probe_io_uring(const std::string& binary) {
  try {
    auto server = harness::ServerProcess::start(binary, {"--port", "0"});
    server.terminate();
    std::cout << "io_uring works here: uring-server started (" << server.ready_line() << "); its cases run\n";
    return "";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    const auto at = what.find("uring-server: io_uring unavailable");
    if (at == std::string::npos) return "";
    return what.substr(at, what.find('\n', at) - at);
  }
}

}  // namespace

std::string unavailable_reason(const ServerSpec& spec) {
  if (spec.binary != "uring-server") return "";
  static const std::string reason = probe_io_uring(binary_path(spec));
  return reason;
}

}  // namespace muxlab::conformance

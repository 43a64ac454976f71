#include "tests/conformance/servers.hpp"

namespace muxlab::conformance {

const std::vector<ServerSpec>& AllServers() {
  // One line per server:
  //   {name, binary, extra_args, concurrent, idle_connections, nonblocking_io},
  // idle_connections: threaded 200 (a thread each); select ~900 (below FD_SETSIZE
  // 1024, less the test's own descriptors); poll/epoll 10000; 0 skips the case.
  // For instance: {"epoll_edge", "epoll-server", {"--edge"}, true, 10000, true},
  static const std::vector<ServerSpec> servers = {
      {"blocking", "blocking-server", {}, false, 0, false},
      {"threaded", "threaded-server", {}, true, 200, false},
      {"nonblocking", "nonblocking-server", {}, true, 1000, true},
      {"select", "select-server", {}, true, 900, true},
      {"poll", "poll-server", {}, true, 10000, true},
      {"epoll", "epoll-server", {}, true, 10000, true},
      {"epoll_edge", "epoll-server", {"--edge"}, true, 10000, true},
      {"libevent", "libevent-server", {}, true, 10000, false},
      {"libevent_poll", "libevent-server", {"--backend", "poll"}, true, 10000, false},
      {"libevent_select", "libevent-server", {"--backend", "select"}, true, 900, false},
  };
  return servers;
}

std::string binary_path(const ServerSpec& spec) { return std::string(MUXLAB_BIN_DIR) + "/" + spec.binary; }

}  // namespace muxlab::conformance

#include "harness/models.hpp"

#include <sys/select.h>

#include <algorithm>

namespace muxlab::harness {

const std::vector<Model>& all_models() {
  // {name, binary, args, folder, concurrent, nonblocking_io, fd_ceiling, idle_test_connections}
  // idle_test_connections: a thread each for threaded-server (so 200); below
  // FD_SETSIZE less the test's own descriptors for select (900).
  static const std::vector<Model> models = {
      {"blocking", "blocking-server", {}, "blocking", false, false, 0, 0},
      {"threaded", "threaded-server", {}, "blocking", true, false, 0, 200},
      {"nonblocking", "nonblocking-server", {}, "nonblocking", true, true, 0, 1000},
      {"select", "select-server", {}, "select", true, true, FD_SETSIZE, 900},
      {"poll", "poll-server", {}, "poll"},
      {"epoll", "epoll-server", {}, "epoll"},
      {"epoll-edge", "epoll-server", {"--edge"}, "epoll"},
      // The kernel waits for room and data itself: a slow reader shows no EAGAIN here.
      {"uring", "uring-server", {}, "uring", true, false},
      // libevent's bufferevents do their own reads and writes: no EAGAIN of ours to count.
      {"libevent", "libevent-server", {}, "libraries/libevent", true, false},
      {"libevent-poll", "libevent-server", {"--backend", "poll"}, "libraries/libevent", true, false},
      {"libevent-select", "libevent-server", {"--backend", "select"}, "libraries/libevent", true, false, FD_SETSIZE,
       900},
      // libuv's uv_write() requests and Asio's operations meet EAGAIN out of our sight too.
      {"libuv", "libuv-server", {}, "libraries/libuv", true, false},
      {"asio", "asio-server", {}, "libraries/asio", true, false},
  };
  return models;
}

std::string test_name(const Model& model) {
  std::string name = model.name;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

}  // namespace muxlab::harness

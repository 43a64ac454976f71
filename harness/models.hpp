// models.hpp - THE list of muxlab's models: one entry per server configuration.
//
// The conformance suite runs every case against every entry, echo-bench runs
// every workload against every entry (BM_<Workload>/<name>/...), report.py and
// bench/side_by_side.sh read the list from `echo-bench --muxlab_list_models`,
// and a test checks the README's table against it. Adding a model is one entry
// here and its folder (tests/README.md says how).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace muxlab::harness {

struct Model {
  std::string name;               // BM_<Workload>/<name>/, report rows: the binary without -server, + variant
  std::string binary;             // the program in build/bin/
  std::vector<std::string> args;  // the model's own flags ({"--edge"})
  std::string folder;             // where its source lives (the README's table)
  bool concurrent = true;         // false: one client at a time (blocking-server)
  bool nonblocking_io = true;     // recv/send on O_NONBLOCK sockets: a slow reader shows eagain, partial sends
  std::size_t fd_ceiling = 0;     // the most descriptors it can watch (select: FD_SETSIZE); 0: RLIMIT_NOFILE
  std::size_t idle_test_connections = 10000;  // the conformance suite's idle-connection case (0: none)
};

// Every model, in the order the report shows them.
const std::vector<Model>& all_models();

// The model's name as a gtest parameter name: letters, digits and '_' ("epoll_edge").
std::string test_name(const Model& model);

}  // namespace muxlab::harness

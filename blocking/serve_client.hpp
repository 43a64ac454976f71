// serve_client.hpp - one client served to the end with blocking calls. Defined
// in server.cpp, where blocking-server calls it for one client at a time;
// threaded-server calls it in a thread per client.
#pragma once

#include "core/options.hpp"
#include "core/stats.hpp"

namespace muxlab::blocking {

// Serves the connection `fd` until the reply is complete and the graceful close
// has run (half-close, linger); the caller then closes the descriptor. A stop
// request ends it within --drain-ms (stop.hpp). Per-connection errors end this
// connection only: it never exits the process. `refused`: answer only
// "error: server full" (threaded-server, past --max-clients).
void serve_client(int fd, const muxlab::core::ServerOptions& options, muxlab::core::Stats& stats,
                  bool refused = false);

}  // namespace muxlab::blocking

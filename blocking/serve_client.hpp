// serve_client.hpp - one client served to the end with blocking calls; shared by
// blocking-server (one client at a time) and threaded-server (one per thread).
#pragma once

#include "core/fd.hpp"
#include "core/options.hpp"
#include "core/stats.hpp"

namespace muxlab::blocking {

// Serves the connection `fd` until the reply is complete and the graceful close
// has run (half-close, linger); the caller then closes the descriptor. Per-
// connection errors end this connection only. Never exits the process.
// `refused`: answer only "error: server full" (past --max-clients).
void serve_client(int fd, const muxlab::core::ServerOptions& options, muxlab::core::Stats& stats,
                  bool refused = false);

}  // namespace muxlab::blocking

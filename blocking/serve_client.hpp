// serve_client.hpp - one client served to the end with blocking calls; shared by
// blocking-server (one client at a time) and threaded-server (one per thread).
#pragma once

#include "core/fd.hpp"
#include "core/options.hpp"
#include "core/stats.hpp"

namespace muxlab::blocking {

// Serves `client` until the reply is complete and the connection closed. Per-
// connection errors end this connection only. Never exits the process.
// `refused`: answer only "error: server full" (past --max-clients), then close.
void serve_client(muxlab::core::Fd client, const muxlab::core::ServerOptions& options, muxlab::core::Stats& stats,
                  bool refused = false);

}  // namespace muxlab::blocking

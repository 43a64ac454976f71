// threaded-server - blocking calls, one thread per connection.
//
// The model: the main thread blocks in accept(); every connection gets its own
// thread, which serves it with blocking-server's own code (serve_client() in
// server.cpp). Clients no longer wait for each other.
//
// What it teaches: concurrency by letting the kernel schedule threads that each
// block; the cost is a thread (a stack, a kernel task, context switches) per
// connection, and shared state (here only the counters and the list of
// workers) needs a lock.
//
// Its limits: --max-clients clients served at once (default 1024); past that a
// client gets "error: server full" (from a short-lived thread, as many as
// --max-clients of those too, then at once from the main thread). Thousands
// of mostly idle connections cost thousands of threads: the readiness models
// (../select, ../poll, ../epoll) serve them from one.
//
// Stopping: the stop signals are blocked in the workers, so SIGINT/SIGTERM
// reach the main thread, whose handler shuts the listener: accept() fails. The
// main thread then wakes every worker (stop.hpp: a timeout on its socket, and
// a signal for the call it may be blocked in), and each finishes what it owes
// within --drain-ms, closes gracefully and ends. The main thread waits for the
// last one, then prints --stats.
//
// Usage:   threaded-server [--port 2000] [--max-clients N] [--stats] ...
// Course:  docs/07-threads.md.  Compare with server.cpp.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_map>

#include "blocking/serve_client.hpp"
#include "blocking/stop.hpp"
#include "core/log.hpp"
#include "core/loop.hpp"
#include "core/options.hpp"
#include "core/signals.hpp"
#include "core/socket.hpp"
#include "core/stats.hpp"

using namespace muxlab::core;

namespace {

constexpr std::size_t kDefaultMaxClients = 1024;

// What the main thread and the workers share, under one mutex.
struct Shared {
  std::mutex mutex;
  std::condition_variable worker_done;
  std::unordered_map<int, pthread_t> workers;  // by the socket each serves: a stop wakes them all
  std::size_t serving = 0;                     // workers serving a client (at most --max-clients)
  std::size_t refusing = 0;                    // workers saying "server full" (at most --max-clients too)
  Stats stats;                                 // workers add theirs when they finish
};

void run_worker(Fd client, const ServerOptions& options, Shared& shared, bool refused) {
  Stats mine;
  muxlab::blocking::serve_client(client.get(), options, mine, refused);
  {
    // The worker leaves the map while its socket is still open: once closed,
    // accept() may hand the same number to a new client, whose entry must not
    // be the one erased here.
    std::lock_guard lock(shared.mutex);
    shared.workers.erase(client.get());
    --(refused ? shared.refusing : shared.serving);
    shared.stats.merge(mine);
    shared.worker_done.notify_all();
  }
  vlog("fd %d: closed", client.get());
  client.reset();
}

// Starts a worker for `client` and enters it in shared.workers; the caller holds
// shared.mutex, so the worker cannot leave the map before it is in. Workers
// inherit the signal mask of the thread that creates them: the stop signals are
// blocked around the creation, so that only the main thread ever takes them.
// Returns false if no thread could be made (EAGAIN: a thread or memory limit);
// the client's socket is closed then.
bool start_worker(Fd client, const ServerOptions& options, Shared& shared, bool refused) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  const int fd = client.get();
  bool started = true;
  try {
    std::thread worker(run_worker, std::move(client), std::cref(options), std::ref(shared), refused);
    shared.workers.emplace(fd, worker.native_handle());
    worker.detach();
  } catch (const std::system_error& e) {
    vlog("cannot start a thread: %s", e.what());
    started = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return started;
}

// A stop: wake every worker and wait for the last. Each one's blocking calls now
// last a tick at most and it sees the stop, so each ends within the drain time
// (stop.hpp); no worker outlives main().
void stop_workers(Shared& shared) {
  std::unique_lock lock(shared.mutex);
  vlog("stop requested: draining %zu connections", shared.workers.size());
  for (const auto& [fd, thread] : shared.workers) muxlab::blocking::wake_worker(fd, thread);
  shared.worker_done.wait(lock, [&] { return shared.workers.empty(); });
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options = parse_server_options(
      argc, argv, "threaded-server", "Echo server with blocking calls and one thread per connection.");
  if (options.max_clients == 0) options.max_clients = kDefaultMaxClients;
  Fd listener = listen_on_or_die(options, /*nonblocking=*/false);
  muxlab::blocking::install_stop_handlers(listener.get());  // a stop shuts the listener: accept() returns
  announce_listening(listener.get());

  Shared shared;
  Stats accept_stats;  // touched by the main thread only
  while (!stop_requested()) {
    Accepted accepted = accept_client(listener.get(), /*nonblocking=*/false, accept_stats);
    if (accepted.status == AcceptStatus::out_of_descriptors) {
      // Wait until a worker closes its connection (or a moment passes): never spin.
      std::unique_lock lock(shared.mutex);
      shared.worker_done.wait_for(lock, std::chrono::milliseconds(100));
      continue;
    }
    if (accepted.status != AcceptStatus::accepted) continue;  // EINTR, ECONNABORTED, listener shut
    // Past --max-clients the client still gets a thread, a short-lived one that
    // answers "error: server full" and closes gracefully (the linger may block).
    // Those threads are capped too: past the cap, the main thread says it and
    // closes at once (core::reject_client).
    std::unique_lock lock(shared.mutex);
    const bool refused = shared.serving >= options.max_clients;
    if (refused && shared.refusing >= options.max_clients) {
      lock.unlock();
      ++accept_stats.rejected;
      reject_client(std::move(accepted.fd), accept_stats);
      continue;
    }
    const int fd = accepted.fd.get();
    if (!start_worker(std::move(accepted.fd), options, shared, refused)) {
      ++accept_stats.resets;
      continue;
    }
    count_admitted(refused, fd, shared.serving, accept_stats);
    ++(refused ? shared.refusing : shared.serving);
  }
  listener.reset();  // refuse new connections while the workers drain
  stop_workers(shared);
  if (options.stats) {
    std::lock_guard lock(shared.mutex);
    shared.stats.merge(accept_stats);
    shared.stats.print(stderr);
  }
  return 0;
}

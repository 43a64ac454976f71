// threaded-server - blocking calls, one thread per connection.
//
// The model: the main thread blocks in accept(); every connection gets its own
// thread, which serves it with the same blocking code as blocking-server
// (serve_client.cpp). Clients no longer wait for each other.
//
// What it teaches: concurrency by letting the kernel schedule threads that each
// block; the cost is a thread (a stack, a kernel task, context switches) per
// connection, and shared state (here only the counters and the list of open
// sockets) needs a lock.
//
// Its limits: --max-clients clients served at once (default 1024); past that a
// client gets "error: server full" (from a short-lived thread, as many as
// --max-clients of those too, then at once from the main thread). Thousands
// of mostly idle connections cost thousands of threads: the readiness models
// (../select, ../poll, ../epoll) serve them from one.
//
// Stopping: signals are blocked in the workers, so SIGTERM reaches the main
// thread, whose handler shuts the listener; accept() fails and the main thread
// shuts the read side of every open connection, which wakes each worker blocked
// in recv() (it sees EOF), and waits up to --drain-ms for them to send what they
// owe. Past that it shuts them both ways, so a worker blocked in send() wakes too.
//
// Usage:   threaded-server [--port 2000] [--max-clients N] [--stats] ...
// Course:  docs/01-the-pair.md.  Compare with server.cpp.
#include <signal.h>
#include <sys/socket.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <thread>
#include <unordered_set>

#include "blocking/serve_client.hpp"
#include "core/log.hpp"
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
  std::unordered_set<int> open_fds;  // so that a stop can wake every worker
  std::size_t serving = 0;           // workers serving a client (at most --max-clients)
  std::size_t refusing = 0;          // workers saying "server full" (at most --max-clients too)
  Stats stats;                       // workers add theirs when they finish
};

void run_worker(Fd client, const ServerOptions& options, Shared& shared, bool refused) {
  Stats mine;
  muxlab::blocking::serve_client(client.get(), options, mine, refused);
  {
    // The number leaves open_fds while the socket is still open: once closed,
    // accept() may hand the same number to a new client, whose entry must not
    // be the one erased here.
    std::lock_guard lock(shared.mutex);
    shared.open_fds.erase(client.get());
    --(refused ? shared.refusing : shared.serving);
    shared.stats.merge(mine);
    shared.worker_done.notify_all();
  }
  client.reset();
}

// Workers inherit the signal mask of the thread that creates them: block the stop
// signals around thread creation, so that only the main thread ever takes them.
// Returns false if no thread could be made (EAGAIN: a thread or memory limit);
// the client's socket is closed then.
bool start_worker(Fd client, const ServerOptions& options, Shared& shared, bool refused) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGALRM);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  bool started = true;
  try {
    std::thread(run_worker, std::move(client), std::cref(options), std::ref(shared), refused).detach();
  } catch (const std::system_error& e) {
    vlog("cannot start a thread: %s", e.what());
    started = false;
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return started;
}

// Stop: wake every worker, give them the drain time, then cut off the rest.
void stop_workers(const ServerOptions& options, Shared& shared) {
  std::unique_lock lock(shared.mutex);
  for (int fd : shared.open_fds) ::shutdown(fd, SHUT_RD);  // blocked recv() returns 0
  const auto deadline = std::chrono::steady_clock::now() + options.drain;
  if (!shared.worker_done.wait_until(lock, deadline, [&] { return shared.open_fds.empty(); })) {
    for (int fd : shared.open_fds) ::shutdown(fd, SHUT_RDWR);  // blocked send() fails
    shared.worker_done.wait(lock, [&] { return shared.open_fds.empty(); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  ServerOptions options = parse_server_options(
      argc, argv, "threaded-server", "Echo server with blocking calls and one thread per connection.");
  if (options.max_clients == 0) options.max_clients = kDefaultMaxClients;
  install_signal_handlers();
  Fd listener = listen_on_or_die(options, /*nonblocking=*/false);
  shut_on_stop(listener.get(), -1);  // a stop shuts the listener: accept() returns
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
    shared.open_fds.insert(fd);
    ++(refused ? shared.refusing : shared.serving);
    if (refused) ++accept_stats.rejected;
    else accept_stats.peak_connections = std::max<std::uint64_t>(accept_stats.peak_connections, shared.serving);
    lock.unlock();
    if (!start_worker(std::move(accepted.fd), options, shared, refused)) {
      std::lock_guard relock(shared.mutex);
      shared.open_fds.erase(fd);
      --(refused ? shared.refusing : shared.serving);
      ++accept_stats.resets;
    }
  }
  listener.reset();  // refuse new connections while the workers drain
  stop_workers(options, shared);
  if (options.stats) {
    std::lock_guard lock(shared.mutex);
    shared.stats.merge(accept_stats);
    shared.stats.print(stderr);
  }
  return 0;
}

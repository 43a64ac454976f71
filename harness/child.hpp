// child.hpp - a server under test, run as a child process (libuv's helper-process
// pattern): black-box, crash-isolated, its CPU its own.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/fd.hpp"

namespace muxlab::harness {

struct SpawnOptions {
  std::optional<rlim_t> max_open_files;        // RLIMIT_NOFILE for the child
  std::optional<int> cpu;                      // pin the child to this CPU
  std::chrono::milliseconds ready_timeout{10'000};
};

struct ExitInfo {
  bool exited = false;   // exited normally (else: killed by a signal)
  int code = -1;         // exit code, or the signal number
  rusage usage{};        // the child's own CPU time and peak RSS
};

class ServerProcess {
 public:
  // Starts `binary args...`, and waits for its "listening on HOST:PORT" line.
  // Throws std::runtime_error (with the child's stderr) if it does not come.
  static ServerProcess start(const std::string& binary, const std::vector<std::string>& args,
                             const SpawnOptions& options = {});

  ServerProcess(ServerProcess&&) noexcept;
  ServerProcess& operator=(ServerProcess&&) = delete;
  ~ServerProcess();  // SIGKILLs a child still running

  const std::string& ready_line() const { return ready_line_; }  // "listening on HOST:PORT"
  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  void signal(int signo) const;
  // Waits for the child to end; nullopt on timeout (the child is left running).
  std::optional<ExitInfo> wait(std::chrono::milliseconds timeout);
  // SIGTERM, then wait; nullopt if it did not exit in time.
  std::optional<ExitInfo> terminate(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Everything the child wrote to stderr so far.
  std::string stderr_text() const;
  // Resident set size now, in bytes (from /proc/PID/status).
  std::size_t rss_bytes() const;
  // What the child wrote to stdout after its "listening on" line, up to EOF or
  // the timeout (call it once the child has exited).
  std::string stdout_after_ready(std::chrono::milliseconds timeout = std::chrono::seconds(1));

 private:
  ServerProcess() = default;
  pid_t pid_ = -1;
  muxlab::core::Fd pidfd_;
  muxlab::core::Fd stdout_;
  muxlab::core::Fd stderr_file_;
  std::string stdout_rest_;  // read past the "listening on" line by start()
  std::string ready_line_;
  std::string host_;
  std::uint16_t port_ = 0;
  bool reaped_ = false;
};

// Runs a program to completion (for usage-error checks): exit info, stdout, stderr.
struct RunResult {
  ExitInfo exit;
  std::string out;
  std::string err;
};
RunResult run_program(const std::string& binary, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout = std::chrono::seconds(10), const SpawnOptions& options = {});

// CPU time (user + system) a process has used so far, every thread, living or
// ended, to the nanosecond (clock_getcpuclockid(3)); zero once it has been reaped.
std::chrono::nanoseconds process_cpu_time(pid_t pid);

}  // namespace muxlab::harness

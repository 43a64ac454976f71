#include "harness/child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "harness/client.hpp"

namespace muxlab::harness {

using muxlab::core::Fd;

namespace {

std::string read_all_from(int fd) {
  std::string text;
  char chunk[4096];
  for (off_t offset = 0;;) {
    ssize_t k = ::pread(fd, chunk, sizeof chunk, offset);
    if (k <= 0) break;
    text.append(chunk, static_cast<std::size_t>(k));
    offset += k;
  }
  return text;
}

struct Spawned {
  pid_t pid;
  Fd pidfd;
  Fd stdout_read;
  Fd stderr_file;
};

// fork + exec with stdout on a pipe and stderr in a memfd. Between fork and exec
// the child makes only async-signal-safe calls: the parent may be multithreaded.
Spawned spawn(const std::string& binary, const std::vector<std::string>& args, const SpawnOptions& options) {
  std::vector<std::string> storage{binary};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : storage) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
  Fd out_read(out[0]), out_write(out[1]);
  Fd err_file(::memfd_create("muxlab-child-stderr", MFD_CLOEXEC));
  if (!err_file) throw std::runtime_error("memfd_create failed");
  const pid_t parent = ::getpid();

  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a crashed test leaves no server behind
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_write.get(), STDOUT_FILENO);
    ::dup2(err_file.get(), STDERR_FILENO);
    // The server starts with stdin, stdout and stderr only, whatever the test
    // process (or the shell that started it) holds open: descriptor limits and
    // "lowest free descriptor" arithmetic then mean the same in every run.
    ::close_range(3, ~0U, 0);
    if (options.max_open_files) {
      rlimit limit{*options.max_open_files, *options.max_open_files};
      ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (options.cpu) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(*options.cpu, &set);
      ::sched_setaffinity(0, sizeof set, &set);
    }
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) throw std::runtime_error("pidfd_open failed");
  return {pid, std::move(pidfd), std::move(out_read), std::move(err_file)};
}

std::optional<ExitInfo> wait_child(pid_t pid, int pidfd, std::chrono::milliseconds timeout) {
  pollfd p{pidfd, POLLIN, 0};
  int rc;
  do rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
  while (rc < 0 && errno == EINTR);
  if (rc <= 0) return std::nullopt;  // still running
  int status = 0;
  ExitInfo info;
  if (::wait4(pid, &status, 0, &info.usage) != pid) return std::nullopt;
  info.exited = WIFEXITED(status);
  info.code = info.exited ? WEXITSTATUS(status) : WTERMSIG(status);
  return info;
}

}  // namespace

ServerProcess ServerProcess::start(const std::string& binary, const std::vector<std::string>& args,
                                   const SpawnOptions& options) {
  Spawned child = spawn(binary, args, options);
  ServerProcess server;
  server.pid_ = child.pid;
  server.pidfd_ = std::move(child.pidfd);
  server.stdout_ = std::move(child.stdout_read);
  server.stderr_file_ = std::move(child.stderr_file);

  // Wait for the first line on stdout, as long as the deadline allows.
  const auto deadline = Clock::now() + options.ready_timeout;
  std::string line;
  while (line.find('\n') == std::string::npos) {
    pollfd p{server.stdout_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, ms_until(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) throw std::runtime_error(binary + ": no 'listening on' line in time; stderr: " + server.stderr_text());
    char chunk[256];
    ssize_t k = ::read(server.stdout_.get(), chunk, sizeof chunk);
    if (k <= 0) throw std::runtime_error(binary + ": exited before 'listening on'; stderr: " + server.stderr_text());
    line.append(chunk, static_cast<std::size_t>(k));
  }
  server.stdout_rest_ = line.substr(line.find('\n') + 1);
  line.resize(line.find('\n'));
  server.ready_line_ = line;
  static constexpr std::string_view kPrefix = "listening on ";
  const auto colon = line.rfind(':');
  if (!line.starts_with(kPrefix) || colon == std::string::npos || colon < kPrefix.size())
    throw std::runtime_error(binary + ": unexpected first line: " + line);
  server.host_ = line.substr(kPrefix.size(), colon - kPrefix.size());
  if (server.host_.starts_with('[') && server.host_.ends_with(']'))  // SPEC §2: "[::1]:PORT"
    server.host_ = server.host_.substr(1, server.host_.size() - 2);
  server.port_ = static_cast<std::uint16_t>(std::stoi(line.substr(colon + 1)));
  return server;
}

ServerProcess::ServerProcess(ServerProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::move(other.pidfd_)),
      stdout_(std::move(other.stdout_)),
      stderr_file_(std::move(other.stderr_file_)),
      stdout_rest_(std::move(other.stdout_rest_)),
      ready_line_(std::move(other.ready_line_)),
      host_(std::move(other.host_)),
      port_(other.port_),
      reaped_(other.reaped_) {}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

void ServerProcess::signal(int signo) const {
  if (!reaped_) ::kill(pid_, signo);
}

std::optional<ExitInfo> ServerProcess::wait(std::chrono::milliseconds timeout) {
  if (reaped_) throw std::logic_error("child already reaped");
  auto info = wait_child(pid_, pidfd_.get(), timeout);
  if (info) reaped_ = true;
  return info;
}

std::optional<ExitInfo> ServerProcess::terminate(std::chrono::milliseconds timeout) {
  signal(SIGTERM);
  return wait(timeout);
}

std::string ServerProcess::stderr_text() const { return read_all_from(stderr_file_.get()); }

std::size_t ServerProcess::rss_bytes() const {
  std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      std::size_t kib = 0;
      status >> kib;
      return kib * 1024;
    }
    status.ignore(1 << 20, '\n');
  }
  return 0;
}

std::string ServerProcess::stdout_after_ready(std::chrono::milliseconds timeout) {
  std::string text = std::exchange(stdout_rest_, {});
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{stdout_.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, ms_until(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc <= 0) return text;
    char chunk[4096];
    ssize_t k = ::read(stdout_.get(), chunk, sizeof chunk);
    if (k <= 0) return text;
    text.append(chunk, static_cast<std::size_t>(k));
  }
}

RunResult run_program(const std::string& binary, const std::vector<std::string>& args,
                      std::chrono::milliseconds timeout, const SpawnOptions& options) {
  Spawned child = spawn(binary, args, options);
  RunResult result;
  // Collect stdout until EOF (the child exits), within the timeout.
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{child.stdout_read.get(), POLLIN, 0};
    int rc = ::poll(&p, 1, ms_until(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) break;
    char chunk[4096];
    ssize_t k = ::read(child.stdout_read.get(), chunk, sizeof chunk);
    if (k <= 0) break;
    result.out.append(chunk, static_cast<std::size_t>(k));
  }
  auto info = wait_child(child.pid, child.pidfd.get(), std::chrono::milliseconds(ms_until(deadline)));
  if (!info) {
    ::kill(child.pid, SIGKILL);
    ::waitpid(child.pid, nullptr, 0);
    throw std::runtime_error(binary + ": did not exit in time");
  }
  result.exit = *info;
  result.err = read_all_from(child.stderr_file.get());
  return result;
}

std::chrono::nanoseconds process_cpu_time(pid_t pid) {
  clockid_t clock;
  timespec t{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &t) != 0) return {};
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

}  // namespace muxlab::harness

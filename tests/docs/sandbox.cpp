#include "tests/docs/sandbox.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <stdexcept>

#include "core/fd.hpp"

namespace muxlab::docs {

namespace fs = std::filesystem;
using muxlab::core::Fd;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kMarker = '\x1e';  // starts the line that separates the commands' outputs
constexpr std::string_view kEnd = "end";

// A port outside the kernel's ephemeral range (32768..60999 on Linux), so that no
// client's local port takes it between this check and the server's bind().
std::uint16_t free_port(std::set<std::uint16_t>& taken) {
  static std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> pick(20000, 29999);
  for (;;) {
    auto port = static_cast<std::uint16_t>(pick(random));
    if (taken.contains(port)) continue;
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    int on = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as the servers do
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 && ::listen(fd.get(), 1) == 0) {
      taken.insert(port);
      return port;
    }
  }
}

// Every whole number 2000..2009 in `text` becomes its port in `ports`.
std::string substitute_ports(const std::string& text, std::map<std::string, std::uint16_t>& ports,
                             std::set<std::uint16_t>& taken) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      out += text[i++];
      continue;
    }
    std::size_t end = i;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
    std::string number = text.substr(i, end - i);
    const bool in_word = i > 0 && (std::isalpha(static_cast<unsigned char>(text[i - 1])) || text[i - 1] == '_');
    if (!in_word && number.size() == 4 && number.starts_with("200")) {
      if (!ports.contains(number)) ports[number] = free_port(taken);
      out += std::to_string(ports[number]);
    } else {
      out += number;
    }
    i = end;
  }
  return out;
}

std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The bash script for an example: each command preceded by a marker line.
std::string make_script(const Example& example, const fs::path& root) {
  std::map<std::string, std::uint16_t> ports;
  std::set<std::uint16_t> taken;
  // The marker keeps $? as the command before left it: `echo $?` must still work.
  // It also runs `jobs`, as an interactive shell does before each prompt: that
  // forgets the jobs that are done, so that the next job is %1 again after a
  // `kill %1; wait` (a script would otherwise go on to %2).
  std::string script =
      "docs_test_mark() { local rc=$?; jobs > /dev/null; printf '\\036%s\\n' \"$1\"; return $rc; }\n";
  for (std::size_t i = 0; i < example.commands.size(); ++i) {
    const Command& command = example.commands[i];
    std::string text = substitute_ports(command.text, ports, taken);
    script += "docs_test_mark " + std::to_string(i) + "\n";
    std::size_t shown = 0;
    for (const auto& line : command.expected) shown += line.find_first_not_of(" .") != std::string::npos;
    if (!command.background() || shown == 0) {
      script += text + "\n";
      continue;
    }
    // A background job whose first lines are shown: run it with stdout on a fifo
    // and print those lines as they come, so the next command starts only once
    // they are out (a server's `listening on`: it is ready).
    text.erase(text.find_last_of('&'));
    const std::string fifo = quoted((root / ("bg-" + std::to_string(i))).string());
    script += "mkfifo " + fifo + "\n";
    // The fifo comes first, so that the command's own `2>&1` sends stderr there
    // too; a plain command stays the job itself, so that $! is its pid.
    if (text.find('|') == std::string::npos) script += "> " + fifo + " " + text + " &\n";
    else script += "{ " + text + "; } > " + fifo + " &\n";
    script += "for ((k = 0; k < " + std::to_string(shown) + "; ++k)); do IFS= read -r -t 10 line || break; "
              "printf '%s\\n' \"$line\"; done < " + fifo + "\n";
  }
  script += "docs_test_mark " + std::string(kEnd) + "\njobs -r\n";
  return script;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Runs `bash script` in `work` as the leader of a new process group, so that
// everything it starts can be killed at once. Returns stdout+stderr.
std::string run_bash(const fs::path& script, const fs::path& work, const fs::path& bin_dir,
                     std::chrono::seconds timeout, bool& timed_out) {
  int out[2];
  if (::pipe2(out, O_CLOEXEC) < 0) throw std::runtime_error("pipe2 failed");
  Fd out_read(out[0]), out_write(out[1]);
  // The environment is built here: between fork and exec only async-signal-safe
  // calls are allowed, and setenv() is not one.
  // PATH: the build's programs, then the system's (Debian's python3, with the
  // packages the course installs, before a python3 of a user's own, such as a
  // pyenv shim), then whatever else the caller had.
  const char* inherited_path = std::getenv("PATH");
  std::vector<std::string> env_strings = {
      "PATH=" + bin_dir.string() + ":/usr/bin:/bin" + (inherited_path ? std::string(":") + inherited_path : ""),
      "LC_ALL=C",
      "COLUMNS=200",
      // In a sanitizer build (./run test's second pass), LeakSanitizer cannot
      // work in a server that strace is tracing, and says so at exit, into the
      // output. Leaks are the conformance suite's to find; here they are noise.
      "ASAN_OPTIONS=detect_leaks=0",
  };
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry = *e;
    const auto name = entry.substr(0, entry.find('=') + 1);
    if (std::none_of(env_strings.begin(), env_strings.end(), [&](const std::string& s) { return s.starts_with(name); }))
      env_strings.emplace_back(entry);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string script_path = script.string();
  std::vector<char*> argv = {const_cast<char*>("bash"), const_cast<char*>("--noprofile"),
                             const_cast<char*>("--norc"), script_path.data(), nullptr};
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    ::dup2(devnull, STDIN_FILENO);
    ::dup2(out_write.get(), STDOUT_FILENO);
    ::dup2(out_write.get(), STDERR_FILENO);
    // Only stdio, as in a terminal: a descriptor inherited from whoever runs
    // the test (ctest -j keeps pipes to other tests open) would shift every
    // descriptor number the course shows (`fd=6`, `u32=7`).
    ::close_range(3, ~0U, 0);
    if (::chdir(work.c_str()) < 0) ::_exit(127);
    ::execve("/bin/bash", argv.data(), envp.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);  // also here: whichever of the two runs first
  out_write.reset();
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  std::string output;
  const auto deadline = Clock::now() + timeout;
  bool bash_done = false;
  bool eof = false;
  timed_out = false;
  // Read until bash has exited and, after its group is killed, the pipe's EOF.
  while (!eof) {
    pollfd p[2] = {{out_read.get(), POLLIN, 0}, {pidfd.get(), POLLIN, 0}};
    int rc = ::poll(p, bash_done ? 1 : 2, remaining_ms(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) {
      timed_out = !bash_done;
      break;
    }
    if (p[0].revents != 0) {
      char chunk[4096];
      ssize_t k = ::read(out_read.get(), chunk, sizeof chunk);
      if (k <= 0) eof = true;
      else output.append(chunk, static_cast<std::size_t>(k));
    }
    if (!bash_done && p[1].revents != 0) {
      bash_done = true;
      ::waitpid(pid, nullptr, 0);
      ::kill(-pid, SIGKILL);  // leftovers (reported by the `jobs -r` line) still hold the pipe
    }
  }
  ::kill(-pid, SIGKILL);
  if (!bash_done) ::waitpid(pid, nullptr, 0);
  return output;
}

}  // namespace

Transcript run_example(const Example& example, const fs::path& bin_dir, const fs::path& source_dir) {
  std::string templ = (fs::temp_directory_path() / "muxlab-docs-XXXXXX").string();
  if (::mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  const fs::path root = templ;
  const fs::path work = root / "work";
  fs::create_directories(work / "build");
  fs::create_directory_symlink(bin_dir, work / "build" / "bin");
  std::set<std::string> links = {"build"};
  for (const auto& entry : fs::directory_iterator(source_dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with("build") || name.starts_with(".")) continue;  // build dirs, .git
    fs::create_symlink(entry.path(), work / name);
    links.insert(name);
  }

  Transcript transcript;
  transcript.script = make_script(example, root);
  std::ofstream(root / "script.sh") << transcript.script;
  transcript.output = run_bash(root / "script.sh", work, bin_dir, example.timeout, transcript.timed_out);
  const std::string& output = transcript.output;
  for (const auto& entry : fs::directory_iterator(work)) {
    const std::string name = entry.path().filename().string();
    if (!links.contains(name)) transcript.written.push_back(name);
  }
  std::error_code ignored;
  fs::remove_all(root, ignored);

  transcript.outputs.resize(example.commands.size());
  std::vector<std::string>* current = nullptr;
  for (auto line : split_lines(output)) {
    // Output without a final newline puts the marker mid-line (where a terminal
    // would show the next prompt).
    const auto at = line.find(kMarker);
    if (at == std::string::npos) {
      if (current != nullptr) current->push_back(std::move(line));
      continue;
    }
    if (at > 0 && current != nullptr) current->push_back(line.substr(0, at));
    std::string tag = line.substr(at + 1);
    current = tag == kEnd ? &transcript.left_running : &transcript.outputs.at(std::stoul(tag));
  }
  return transcript;
}

std::string missing_tool(const std::vector<std::string>& needs) {
  const char* path = std::getenv("PATH");
  for (const auto& tool : needs) {
    if (tool == "root") {
      if (::geteuid() != 0) return tool;
      continue;
    }
    bool found = false;
    const std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t start = 0; start <= dirs.size() && !found;) {
      auto colon = dirs.find(':', start);
      if (colon == std::string::npos) colon = dirs.size();
      found = ::access((fs::path(dirs.substr(start, colon - start)) / tool).c_str(), X_OK) == 0;
      start = colon + 1;
    }
    if (!found) return tool;
  }
  return {};
}

std::vector<std::string> programs_used(const Example& example) {
  constexpr std::string_view kBin = "build/bin/";
  std::vector<std::string> programs;
  for (const auto& command : example.commands) {
    for (auto at = command.text.find(kBin); at != std::string::npos; at = command.text.find(kBin, at + 1)) {
      std::size_t end = at + kBin.size();
      // A name, and a path under build/bin/ (broken/select-no-rebuild): letters, digits, '-', '_', '/'.
      while (end < command.text.size() && (std::isalnum(static_cast<unsigned char>(command.text[end])) ||
                                           std::string_view("-_/").find(command.text[end]) != std::string_view::npos))
        ++end;
      programs.push_back(command.text.substr(at + kBin.size(), end - at - kBin.size()));
    }
  }
  return programs;
}

}  // namespace muxlab::docs

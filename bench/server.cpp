#include "bench/server.hpp"

#include <time.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace muxlab::bench {

// ---- Server ------------------------------------------------------------------

std::optional<Server> Server::start(benchmark::State& state, const ServerSource& source, const Model& model,
                                    const std::vector<std::string>& extra) {
  if (model.target) return Server(model, std::nullopt, *source.target);
  const std::string path = source.bin_dir + "/" + model.binary;
  if (::access(path.c_str(), X_OK) != 0) {
    state.SkipWithError((model.binary + " not built (no " + path + ")").c_str());
    return std::nullopt;
  }
  std::vector<std::string> args{"--port", "0", "--stats"};
  args.insert(args.end(), model.args.begin(), model.args.end());
  args.insert(args.end(), extra.begin(), extra.end());
  harness::SpawnOptions options;
  if (source.pin) options.cpu = 0;
  try {
    auto process = harness::ServerProcess::start(path, args, options);
    const auto address = harness::resolve(process.host(), process.port());
    return Server(model, std::move(process), address);
  } catch (const std::exception& e) {
    state.SkipWithError((model.binary + " did not start: " + e.what()).c_str());
    return std::nullopt;
  }
}

double Server::cpu_seconds() const {
  if (!process_) return 0;
  return std::chrono::duration<double>(harness::process_cpu_time(process_->pid())).count();
}

double Server::rss_bytes() const { return process_ ? static_cast<double>(process_->rss_bytes()) : 0; }

std::map<std::string, double> Server::stop(benchmark::State& state) {
  std::map<std::string, double> stats;
  if (!process_) return stats;
  auto info = process_->terminate(std::chrono::seconds(10));
  if (!info) {
    state.SkipWithError((model_.binary + " did not exit within 10 s of SIGTERM").c_str());
    return stats;
  }
  // The floor has no signal handler: SIGTERM's default action is its exit.
  const bool clean = model_.floor ? true : (info->exited && info->code == 0);
  const std::string err = process_->stderr_text();
  if (!clean && !state.error_occurred()) {
    state.SkipWithError((model_.binary + " ended badly (" + (info->exited ? "exit " : "signal ") +
                         std::to_string(info->code) + "): " + err.substr(0, 300))
                            .c_str());
  }
  std::istringstream lines(err);
  std::string name;
  double value;
  while (lines >> name >> value) stats[name] = value;
  return stats;
}

// ---- Meter -------------------------------------------------------------------

namespace {

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

}  // namespace

void Meter::start() {
  wall_ = Clock::now();
  server_cpu_ = server_.cpu_seconds();
  client_cpu_ = thread_cpu_seconds();
}

void Meter::stop() {
  wall_s_ = std::chrono::duration<double>(Clock::now() - wall_).count();
  server_s_ = server_.cpu_seconds() - server_cpu_;
  client_s_ = thread_cpu_seconds() - client_cpu_;
}

void Meter::report(benchmark::State& state, double units, const std::string& unit, const std::string& plural) const {
  state.counters["client_cpu_share"] = wall_s_ > 0 ? client_s_ / wall_s_ : 0;
  if (!server_.measured()) {
    state.SetLabel("server CPU not measured (a server echo-bench did not start)");
    return;
  }
  state.counters["server_cpu_s"] = server_s_;
  state.counters["server_cpu_share"] = wall_s_ > 0 ? server_s_ / wall_s_ : 0;
  if (units <= 0) return;
  state.counters["server_cpu_us_per_" + unit] = server_s_ * 1e6 / units;
  if (server_s_ > 0) state.counters[plural + "_per_server_cpu_s"] = units / server_s_;
}

// ---- KernelMemory --------------------------------------------------------------

namespace {

// Every slab cache's active objects times their size; nullopt where
// /proc/slabinfo is not readable (it is root's only, on most systems).
std::optional<double> slabinfo_bytes() {
  std::ifstream file("/proc/slabinfo");
  if (!file) return std::nullopt;
  std::string line;
  double total = 0;
  bool any = false;
  while (std::getline(file, line)) {
    if (line.starts_with("slabinfo") || line.starts_with('#')) continue;
    std::istringstream fields(line);
    std::string name;
    double active = 0, objects = 0, size = 0;
    if (fields >> name >> active >> objects >> size) {
      total += active * size;
      any = true;
    }
  }
  return any ? std::optional<double>(total) : std::nullopt;
}

// A "Key: value kB" line of /proc/meminfo, in bytes.
double meminfo_bytes(const std::string& key) {
  std::ifstream file("/proc/meminfo");
  std::string name;
  double kib = 0;
  while (file >> name) {
    if (name == key + ":" && file >> kib) return kib * 1024;
    file.ignore(1 << 10, '\n');
  }
  return 0;
}

// /proc/net/sockstat: "TCP: inuse N orphan N tw N alloc N mem PAGES".
double sockstat_tcp_bytes() {
  std::ifstream file("/proc/net/sockstat");
  std::string line;
  while (std::getline(file, line)) {
    if (!line.starts_with("TCP:")) continue;
    const auto at = line.find(" mem ");
    if (at == std::string::npos) return 0;
    return std::stod(line.substr(at + 5)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
  }
  return 0;
}

}  // namespace

KernelMemory KernelMemory::now() {
  KernelMemory m;
  m.slab_bytes = slabinfo_bytes().value_or(meminfo_bytes("Slab"));
  m.socket_buffer_bytes = sockstat_tcp_bytes();
  return m;
}

std::string KernelMemory::sources() {
  return std::string(slabinfo_bytes() ? "/proc/slabinfo" : "/proc/meminfo (Slab; /proc/slabinfo not readable)") +
         ", /proc/net/sockstat";
}

}  // namespace muxlab::bench

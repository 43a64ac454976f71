// echo-bench - every model on the same work, measured by Google Benchmark.
//
// Each benchmark starts its server as a child process (harness/child.hpp),
// drives it from the load generator in load.cpp, and stops it with SIGTERM. With
// two CPUs or more the server runs on CPU 0 and this process on CPU 1, so the
// server's CPU time is its own and read from its CPU clock (clock_getcpuclockid,
// every thread, nanoseconds) around the measured part. Every echoed byte is
// checked; a wrong one fails the benchmark.
//
// The measured part is one iteration of --muxlab_seconds (the servers and their
// connections are set up once, outside it), so names end in
// /iterations:1/real_time. Use --benchmark_repetitions for the spread.
//
// Usage:   echo-bench [--muxlab_quick] [--muxlab_seconds=S] [--muxlab_progress] [--muxlab_realtime]
//                     [--benchmark_filter=...] [--benchmark_format=json] ...
// See bench/README.md for the workloads and every counter.
#include <benchmark/benchmark.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bench/load.hpp"
#include "bench/workloads.hpp"
#include "harness/child.hpp"

using muxlab::harness::ServerProcess;
using muxlab::harness::SpawnOptions;
using namespace muxlab::bench;

namespace {

constexpr auto kWarmUp = std::chrono::milliseconds(50);

struct Settings {
  std::string bin_dir;
  Plan plan = full_plan();
  bool pinned = false;
  bool progress = false;
  bool realtime = false;
  rlim_t max_fds = 0;
};
Settings g;

Clock::duration measured_time() {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(g.plan.seconds));
}

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// Every thread of another process, living or ended, to the nanosecond.
double process_cpu_seconds(pid_t pid) {
  clockid_t clock;
  timespec t{};
  if (::clock_getcpuclockid(pid, &clock) != 0 || ::clock_gettime(clock, &t) != 0) return 0;
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// CPU and wall time around the measured part.
class Meter {
 public:
  explicit Meter(pid_t server) : server_(server) {}
  void start() {
    wall_ = Clock::now();
    server_cpu_ = process_cpu_seconds(server_);
    client_cpu_ = thread_cpu_seconds();
  }
  void stop() {
    wall_s_ = std::chrono::duration<double>(Clock::now() - wall_).count();
    server_s_ = process_cpu_seconds(server_) - server_cpu_;
    client_s_ = thread_cpu_seconds() - client_cpu_;
  }
  // The CPU counters; `units` (messages, replies) gives the per-unit ones:
  // server_cpu_us_per_msg, msgs_per_server_cpu_s, ...
  void report(benchmark::State& state, double units = 0, const std::string& unit = "",
              const std::string& plural = "") const {
    state.counters["server_cpu_s"] = server_s_;
    state.counters["server_cpu_share"] = wall_s_ > 0 ? server_s_ / wall_s_ : 0;
    state.counters["client_cpu_share"] = wall_s_ > 0 ? client_s_ / wall_s_ : 0;
    if (units <= 0) return;
    state.counters["server_cpu_us_per_" + unit] = server_s_ * 1e6 / units;
    state.counters["client_cpu_us_per_" + unit] = client_s_ * 1e6 / units;
    if (server_s_ > 0) state.counters[plural + "_per_server_cpu_s"] = units / server_s_;
  }
  double server_seconds() const { return server_s_; }

 private:
  pid_t server_;
  Clock::time_point wall_;
  double server_cpu_ = 0, client_cpu_ = 0;
  double wall_s_ = 0, server_s_ = 0, client_s_ = 0;
};

// The server under test. On any failure to start, the benchmark is skipped
// with the reason (a model not built yet, a placeholder, a crash).
std::optional<ServerProcess> start_server(benchmark::State& state, const Model& model,
                                          const std::vector<std::string>& extra = {}) {
  const std::string path = g.bin_dir + "/" + model.binary;
  if (::access(path.c_str(), X_OK) != 0) {
    state.SkipWithError((model.binary + " not built (no " + path + ")").c_str());
    return std::nullopt;
  }
  std::vector<std::string> args{"--port", "0", "--stats"};
  args.insert(args.end(), model.args.begin(), model.args.end());
  args.insert(args.end(), extra.begin(), extra.end());
  SpawnOptions options;
  if (g.pinned) options.cpu = 0;
  try {
    return ServerProcess::start(path, args, options);
  } catch (const std::exception& e) {
    state.SkipWithError((model.binary + " did not start: " + e.what()).c_str());
    return std::nullopt;
  }
}

// SIGTERM, wait, and the --stats counters it printed ("name value" lines).
// Call after closing every client connection, so nothing is owed.
std::map<std::string, double> stop_server(benchmark::State& state, const Model& model, ServerProcess& server) {
  std::map<std::string, double> stats;
  auto info = server.terminate(std::chrono::seconds(10));
  if (!info) {
    state.SkipWithError((model.binary + " did not exit within 10 s of SIGTERM").c_str());
    return stats;
  }
  // The floor has no signal handler: SIGTERM's default action is its exit.
  const bool clean = model.floor ? true : (info->exited && info->code == 0);
  const std::string err = server.stderr_text();
  if (!clean && !state.error_occurred()) {
    state.SkipWithError((model.binary + " ended badly (" + (info->exited ? "exit " : "signal ") +
                         std::to_string(info->code) + "): " + err.substr(0, 300))
                            .c_str());
  }
  std::istringstream lines(err);
  std::string name;
  double value;
  while (lines >> name >> value) stats[name] = value;
  return stats;
}

void progress(const std::string& what) {
  if (g.progress) std::fprintf(stderr, "  running %s\n", what.c_str());
}

void report_rtt(benchmark::State& state, const LatencyHistogram& rtt) {
  state.counters["rtt_p50_us"] = rtt.percentile_us(50);
  state.counters["rtt_p99_us"] = rtt.percentile_us(99);
}

// Warms the load up, then runs it for the measured time: the server's CPU and
// ours are taken over exactly that stretch.
template <typename Load>
Meter measure(benchmark::State& state, Load& load, pid_t server) {
  load.run_for(kWarmUp);
  load.reset_counts();
  Meter meter(server);
  meter.start();
  for (auto _ : state) load.run_for(measured_time());
  meter.stop();
  return meter;
}

// ---- BM_PingPong: C connections, one message in flight each ------------------

void ping_pong(benchmark::State& state, const Model& model) {
  const auto conns = static_cast<std::size_t>(state.range(0));
  const auto bytes = static_cast<std::size_t>(state.range(1));
  progress("BM_PingPong/" + model.name + " conns=" + std::to_string(conns) + " bytes=" + std::to_string(bytes));
  auto server = start_server(state, model);
  if (!server) return;
  try {
    auto connections = open_connections(server->host(), server->port(), conns);
    PingPong load(connections, bytes);
    const Meter meter = measure(state, load, server->pid());
    load.finish();
    const auto messages = static_cast<double>(load.messages());
    state.SetItemsProcessed(static_cast<std::int64_t>(load.messages()));
    state.SetBytesProcessed(static_cast<std::int64_t>(load.messages() * bytes));
    report_rtt(state, load.latencies());
    meter.report(state, messages, "msg", "msgs");
    if (meter.server_seconds() > 0)
      state.counters["bytes_per_server_cpu_s"] = messages * static_cast<double>(bytes) / meter.server_seconds();
  } catch (const LoadError& e) {
    state.SkipWithError(e.what());
  }
  stop_server(state, model, *server);
}

// ---- BM_IdleScaling: one active ping-pong connection plus K idle ones ---------

void idle_scaling(benchmark::State& state, const Model& model) {
  const auto idle = static_cast<std::size_t>(state.range(0));
  progress("BM_IdleScaling/" + model.name + " idle=" + std::to_string(idle));
  if (model.fd_ceiling != 0 && idle + 16 > model.fd_ceiling) {
    state.SkipWithError((model.name + ": FD_SETSIZE limit (" + std::to_string(model.fd_ceiling) +
                         " descriptors), select cannot watch " + std::to_string(idle) + " idle connections")
                            .c_str());
    return;
  }
  if (idle + 64 > g.max_fds) {
    state.SkipWithError(("RLIMIT_NOFILE " + std::to_string(g.max_fds) + " is too low for this").c_str());
    return;
  }
  // Room for every idle connection, whatever the model's default (threaded-server: 1024 threads).
  auto server = start_server(state, model, {"--max-clients", std::to_string(idle + 16)});
  if (!server) return;
  try {
    auto active = open_connections(server->host(), server->port(), 1);
    PingPong load(active, 64);
    load.run_for(kWarmUp);
    const double rss_before = static_cast<double>(server->rss_bytes());
    auto idlers = open_connections(server->host(), server->port(), idle);
    const double rss_after = static_cast<double>(server->rss_bytes());
    const Meter meter = measure(state, load, server->pid());
    load.finish();
    state.SetItemsProcessed(static_cast<std::int64_t>(load.messages()));
    report_rtt(state, load.latencies());
    meter.report(state, static_cast<double>(load.messages()), "msg", "msgs");
    state.counters["server_rss_bytes"] = rss_after;
    if (idle > 0) state.counters["rss_per_idle_conn_bytes"] = (rss_after - rss_before) / static_cast<double>(idle);
  } catch (const LoadError& e) {
    state.SkipWithError(e.what());
  }
  stop_server(state, model, *server);
}

// ---- BM_Chunking: a short request, a long reply, read in recv()-sized chunks --

void chunking(benchmark::State& state, const Model& model) {
  const auto reply_kb = state.range(0);
  const auto recv_bytes = static_cast<std::size_t>(state.range(1));
  progress("BM_Chunking/" + model.name + " reply_kb=" + std::to_string(reply_kb) +
           " recv=" + std::to_string(recv_bytes));
  const LongReply reply = long_reply(reply_kb);
  auto server = start_server(state, model, {"--repeat", std::to_string(reply.repeat)});
  if (!server) return;
  std::uint64_t all_replies = 0;
  try {
    ChunkedReplies load(connect_to(server->host(), server->port()), reply.payload, reply.repeat, recv_bytes);
    load.run_for(Clock::duration::zero());  // one reply to warm up
    all_replies += load.replies();
    load.reset_counts();
    Meter meter(server->pid());
    meter.start();
    for (auto _ : state) load.run_for(measured_time());
    meter.stop();
    all_replies += load.replies();
    state.SetItemsProcessed(static_cast<std::int64_t>(load.replies()));
    state.SetBytesProcessed(static_cast<std::int64_t>(load.reply_bytes()));
    meter.report(state, static_cast<double>(load.replies()), "reply", "replies");
    state.counters["recv_calls_per_reply"] =
        static_cast<double>(load.recv_calls()) / static_cast<double>(std::max<std::uint64_t>(1, load.replies()));
    auto& chunks = load.chunk_sizes();
    if (!chunks.empty()) {
      std::sort(chunks.begin(), chunks.end());
      state.counters["chunk_min"] = chunks.front();
      state.counters["chunk_p10"] = chunks[chunks.size() / 10];
      state.counters["chunk_median"] = chunks[chunks.size() / 2];
      state.counters["chunk_p90"] = chunks[chunks.size() * 9 / 10];
      state.counters["chunk_max"] = chunks.back();
    }
  } catch (const LoadError& e) {
    state.SkipWithError(e.what());
  }
  // The server's own view, over its whole life (the warm-up reply included).
  auto stats = stop_server(state, model, *server);
  if (all_replies > 0 && stats.contains("send_calls")) {
    state.counters["server_partial_sends_per_reply"] = stats["partial_sends"] / static_cast<double>(all_replies);
    state.counters["server_send_calls_per_reply"] = stats["send_calls"] / static_cast<double>(all_replies);
  }
}

// ---- BM_Bulk: one raw-framing connection streaming both ways ------------------

void bulk(benchmark::State& state, const Model& model) {
  progress("BM_Bulk/" + model.name);
  auto server = start_server(state, model, {"--framing", "raw"});
  if (!server) return;
  try {
    Bulk load(connect_to(server->host(), server->port()), static_cast<std::size_t>(state.range(0)));
    const Meter meter = measure(state, load, server->pid());
    const double bytes = static_cast<double>(load.counted_bytes());
    load.finish();
    state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
    meter.report(state);
    if (meter.server_seconds() > 0) state.counters["bytes_per_server_cpu_s"] = bytes / meter.server_seconds();
  } catch (const LoadError& e) {
    state.SkipWithError(e.what());
  }
  // How the server moved the bytes, over its whole life (from its --stats):
  // bigger recv()s and send()s, and fewer wakeups, are fewer system calls per byte.
  auto stats = stop_server(state, model, *server);
  if (stats["recv_calls"] > 0 && stats["send_calls"] > 0) {
    state.counters["server_bytes_per_recv"] = stats["bytes_in"] / stats["recv_calls"];
    state.counters["server_bytes_per_send"] = stats["bytes_out"] / stats["send_calls"];
    if (stats["wakeups"] > 0) state.counters["server_bytes_per_wakeup"] = stats["bytes_in"] / stats["wakeups"];
  }
}

// ---- BM_IdleCpu: connections open, no traffic ---------------------------------

void idle_cpu(benchmark::State& state, const Model& model) {
  const auto conns = static_cast<std::size_t>(state.range(0));
  progress("BM_IdleCpu/" + model.name + " conns=" + std::to_string(conns));
  auto server = start_server(state, model);
  if (!server) return;
  try {
    auto connections = open_connections(server->host(), server->port(), conns);
    Meter meter(server->pid());
    meter.start();
    for (auto _ : state) expect_silence(connections, measured_time());
    meter.stop();
    meter.report(state);
  } catch (const LoadError& e) {
    state.SkipWithError(e.what());
  }
  stop_server(state, model, *server);
}

// ---- registration -------------------------------------------------------------

using Body = void (*)(benchmark::State&, const Model&);

benchmark::internal::Benchmark* add(const std::string& workload, const Model& model, Body body) {
  return benchmark::RegisterBenchmark(("BM_" + workload + "/" + model.name).c_str(),
                                      [body, model](benchmark::State& state) { body(state, model); })
      ->Iterations(1)
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

void register_all() {
  const Plan& p = g.plan;
  const auto models = bench_models();
  for (const Model& m : models) {
    auto* b = add("PingPong", m, ping_pong)->ArgNames({"conns", "bytes"});
    for (auto bytes : p.pingpong_bytes)
      for (auto conns : p.pingpong_conns)
        if (m.concurrent || conns == 1) b->Args({conns, bytes});
  }
  for (const Model& m : models) {
    if (!m.concurrent || m.floor) continue;  // the floor has no idle cost worth a figure
    auto* b = add("IdleScaling", m, idle_scaling)->ArgNames({"idle"});
    for (auto k : p.idle_conns) b->Args({k});
  }
  for (const Model& m : models) {
    if (m.floor) continue;  // it cannot --repeat
    auto* b = add("Chunking", m, chunking)->ArgNames({"reply_kb", "recv"});
    for (auto kb : p.reply_kb)
      for (auto recv : p.recv_bytes) b->Args({kb, recv});
  }
  for (const Model& m : models) add("Bulk", m, bulk)->ArgNames({"window"})->Args({4 << 20});
  for (const Model& m : models) {
    if (!m.concurrent || m.floor) continue;
    add("IdleCpu", m, idle_cpu)->ArgNames({"conns"})->Args({p.idle_cpu_conns});
  }
}

// Our own flags go before benchmark::Initialize, which would not know them.
void take_own_flags(int& argc, char** argv) {
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--muxlab_quick") {
      g.plan = quick_plan();
    } else if (arg == "--muxlab_progress") {
      g.progress = true;
    } else if (arg == "--muxlab_realtime") {
      g.realtime = true;
    } else if (arg == "--muxlab_list_models") {
      // One line per model, for scripts (bench/side_by_side.sh, bench/report.py):
      // name, binary, folder and the model's flags, tab-separated.
      for (const Model& m : bench_models()) {
        std::printf("%s\t%s\t%s", m.name.c_str(), m.binary.c_str(), m.folder.c_str());
        for (const auto& a : m.args) std::printf("\t%s", a.c_str());
        std::printf("\n");
      }
      std::exit(0);
    } else if (arg.starts_with("--muxlab_seconds=")) {
      g.plan.seconds = std::stod(std::string(arg.substr(17)));
    } else {
      if (arg == "--help")
        std::printf(
            "echo-bench: every muxlab model on the same work (bench/README.md).\n"
            "  --muxlab_quick       the short common set (bench/side_by_side.sh)\n"
            "  --muxlab_seconds=S   measured time per benchmark (default 0.5, quick 0.25)\n"
            "  --muxlab_progress    a line on stderr as each benchmark starts\n"
            "  --muxlab_realtime    SCHED_FIFO for the load generator and servers (busy machines)\n"
            "  --muxlab_list_models print the models (name, binary, folder, flags; tab-separated) and exit\n"
            "Google Benchmark's own flags follow.\n\n");
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
}

// Servers inherit our descriptor limit: 10000 idle connections need it raised.
void raise_fd_limit() {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  g.max_fds = limit.rlim_cur;
}

void pin_if_possible() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0 || !CPU_ISSET(0, &allowed) || !CPU_ISSET(1, &allowed)) {
    benchmark::AddCustomContext("muxlab_pinning", "none (fewer than two CPUs): server and load share them");
    return;
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(1, &one);
  g.pinned = ::sched_setaffinity(0, sizeof one, &one) == 0;
  benchmark::AddCustomContext("muxlab_pinning", g.pinned ? "server on CPU 0, load generator on CPU 1"
                                                         : "none (sched_setaffinity failed)");
}

// On a machine busy with other work, a woken server or load generator waits for
// the running task's time slice (EEVDF), whatever its nice value, and the figures
// measure that wait. SCHED_FIFO runs them the moment they are woken, as on an
// idle machine; the servers inherit it through fork(). Opt-in: it needs
// CAP_SYS_NICE, and it leaves other work only the kernel's RT throttling share
// (sched_rt_runtime_us, 5 % by default) of a CPU that one of them keeps busy.
void schedule_realtime_if_asked() {
  if (!g.realtime) {
    benchmark::AddCustomContext("muxlab_scheduling", "SCHED_OTHER (default)");
    return;
  }
  sched_param param{};
  param.sched_priority = 1;
  const bool ok = ::sched_setscheduler(0, SCHED_FIFO, &param) == 0;
  benchmark::AddCustomContext("muxlab_scheduling", ok ? "SCHED_FIFO 1 (load generator and servers)"
                                                      : std::string("SCHED_OTHER (SCHED_FIFO refused: ") +
                                                            std::strerror(errno) + ")");
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  take_own_flags(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  g.bin_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  raise_fd_limit();
  pin_if_possible();
  schedule_realtime_if_asked();
  benchmark::AddCustomContext("muxlab_seconds_per_benchmark", std::to_string(g.plan.seconds));
  benchmark::AddCustomContext("muxlab_rlimit_nofile", std::to_string(g.max_fds));
  std::string names;  // the models in the order the report shows them (harness/models.hpp)
  for (const Model& m : bench_models()) names += (names.empty() ? "" : ",") + m.name;
  benchmark::AddCustomContext("muxlab_models", names);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

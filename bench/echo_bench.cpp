// echo-bench - every model on the same work, measured by Google Benchmark.
//
// Each benchmark starts its server as a child process (bench/server.hpp), drives
// it from the load generator of load.hpp, and stops it with SIGTERM. With two
// CPUs or more the server runs on CPU 0 and this process on CPU 1, so the
// server's CPU time is its own, read from its CPU clock around the measured part.
// Every echoed byte is checked; a wrong one fails the benchmark.
//
// A benchmark measures one window of --muxlab_seconds (its server and
// connections are set up once, outside it), and its time is the time of one
// message (one reply, one 64 KiB block): Google Benchmark's iterations count them, so
// that compare.py sees a change of throughput (see run_counted()). Use
// --benchmark_repetitions for the spread. --muxlab_target=HOST:PORT drives an
// echo server that echo-bench did not start instead (BM_<Workload>/target/...).
//
// Usage:   echo-bench [--muxlab_quick] [--muxlab_seconds=S] [--muxlab_target=HOST:PORT] ...
//                     [--benchmark_filter=...] [--benchmark_format=json] ...
// See bench/README.md for the workloads, every counter and every flag (--help).
#include <benchmark/benchmark.h>
#include <sched.h>
#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bench/command_line.hpp"
#include "bench/load.hpp"
#include "bench/server.hpp"
#include "bench/workloads.hpp"
#include "core/version.hpp"

using namespace muxlab::bench;

namespace {

constexpr auto kWarmUp = std::chrono::milliseconds(50);
constexpr std::uint64_t kBulkBlock = 64 * 1024;  // BM_Bulk's unit: 64 KiB echoed

Settings g;  // the command line's (bench/command_line.hpp)

Clock::duration window() {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(g.plan.seconds));
}

void progress(const std::string& what) {
  if (g.progress) std::fprintf(stderr, "  running %s\n", what.c_str());
}

OpenLimits open_limits(std::chrono::seconds timeout = std::chrono::seconds(60)) {
  return {Clock::now() + timeout, false};
}

// Runs the measured window inside Google Benchmark's loop and makes the loop
// count the units the window did (messages, replies, blocks), so that a
// benchmark's time is the time of one unit and its CPU time our CPU per unit.
// The count is known only once the window is over: the benchmark is registered
// with Iterations(2), a first batch of 1 runs the window, and a second batch of
// units - 1 brings the count there (benchmark.h: "KeepRunningBatch() may
// overshoot by up to 'n' iterations"). `measure` returns the units it did.
// Since the count differs from run to run, Google Benchmark's own repetitions
// (which require equal counts for their aggregates) are replaced by copies of
// each benchmark under the same name: see register_all().
template <typename Measure>
void run_counted(benchmark::State& state, const char* units_name, Measure measure) {
  benchmark::IterationCount batch = 1;
  bool measured = false;
  while (state.KeepRunningBatch(batch)) {
    if (measured) continue;  // the second batch: the count, nothing to run
    measured = true;
    try {
      const std::uint64_t units = measure();
      if (units >= 2) batch = static_cast<benchmark::IterationCount>(units) - 1;
      else state.SkipWithError((std::to_string(units) + " " + units_name + " in the measured window: too few " +
                                "to time one (give more --muxlab_seconds)").c_str());
    } catch (const std::exception& e) {
      state.SkipWithError(e.what());
    }
  }
}

// Warms the load up, then runs it for the measured window inside the timed
// loop, with the meter around the window alone.
template <typename Load, typename Units>
void measure_window(benchmark::State& state, Load& load, Meter& meter, const char* units_name, Units units) {
  load.run_for(kWarmUp);
  load.reset_counts();
  run_counted(state, units_name, [&] {
    meter.start();
    load.run_for(window());
    meter.stop();
    return units();
  });
}

void report_latencies(benchmark::State& state, const LatencyHistogram& rtt) {
  for (const Percentile& p : kReportedPercentiles)
    state.counters[std::string("rtt_") + p.name + "_us"] = rtt.percentile_us(p.p);
}

// The server's system calls per message over its whole life, from its --stats:
// the readiness call's returns (wakeups), recv(), send() and, where the server
// counts them, epoll_ctl(). uring-server counts completions as recv_calls and
// send_calls (its --stats has sqes_submitted): its system calls are its
// io_uring_enter() calls, which it counts as wakeups.
void report_system_calls(benchmark::State& state, std::map<std::string, double>& stats, double messages) {
  if (messages <= 0 || !stats.contains("wakeups")) return;
  double calls = stats["wakeups"];
  if (!stats.contains("sqes_submitted"))
    calls += stats["recv_calls"] + stats["send_calls"] + (stats.contains("epoll_ctl_calls") ? stats["epoll_ctl_calls"] : 0);
  state.counters["server_syscalls_per_msg"] = calls / messages;
  state.counters["server_wakeups_per_msg"] = stats["wakeups"] / messages;
}

// ---- BM_PingPong: C connections, one message in flight each ------------------

void ping_pong(benchmark::State& state, const Model& model) {
  const auto conns = static_cast<std::size_t>(state.range(0));
  const auto bytes = static_cast<std::size_t>(state.range(1));
  progress("BM_PingPong/" + model.name + " conns=" + std::to_string(conns) + " bytes=" + std::to_string(bytes));
  auto server = Server::start(state, g.servers, model);
  if (!server) return;
  Meter meter(*server);
  std::uint64_t messages_in_life = 0;
  try {
    auto connections = open_connections(server->address(), conns, open_limits());
    PingPong load(connections, bytes);
    measure_window(state, load, meter, "messages", [&] { return load.messages(); });
    if (!state.error_occurred()) {
      load.finish();
      const auto messages = static_cast<double>(load.messages());
      state.SetItemsProcessed(static_cast<std::int64_t>(load.messages()));
      state.SetBytesProcessed(static_cast<std::int64_t>(load.messages() * bytes));
      report_latencies(state, load.latencies());
      meter.report(state, messages, "msg", "msgs");
      if (meter.server_seconds() > 0)
        state.counters["bytes_per_server_cpu_s"] = messages * static_cast<double>(bytes) / meter.server_seconds();
    }
    messages_in_life = load.all_messages() + conns;  // each connection's opening echo is one too
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  auto stats = server->stop(state);
  if (!state.error_occurred()) report_system_calls(state, stats, static_cast<double>(messages_in_life));
}

// ---- BM_IdleScaling: one active ping-pong connection plus K idle ones ---------

// Why K idle connections cannot be measured here, or "" if they can.
std::string idle_skip_reason(const Model& model, std::size_t idle) {
  if (model.fd_ceiling != 0 && idle + 16 > model.fd_ceiling)
    return model.name + ": FD_SETSIZE limit (" + std::to_string(model.fd_ceiling) + " descriptors), " +
           "select() cannot watch " + std::to_string(idle) + " idle connections";
  if (idle + kDescriptorsBesideIdle > g.max_fds)
    return "RLIMIT_NOFILE: " + std::to_string(idle) + " idle connections need about " +
           std::to_string(idle + kDescriptorsBesideIdle) + " descriptors in the server and as many here; the hard " +
           "limit is " + std::to_string(g.max_fds) + " (raise it: `ulimit -Hn` as root, CAP_SYS_RESOURCE, or a " +
           "container's nofile limit)";
  return "";
}

void idle_scaling(benchmark::State& state, const Model& model) {
  const auto idle = static_cast<std::size_t>(state.range(0));
  progress("BM_IdleScaling/" + model.name + " idle=" + std::to_string(idle));
  if (const std::string why = idle_skip_reason(model, idle); !why.empty()) {
    state.SkipWithError(why.c_str());
    return;
  }
  // Room for every idle connection, whatever the model's default (threaded-server: 1024 threads).
  auto server = Server::start(state, g.servers, model, {"--max-clients", std::to_string(idle + 16)});
  if (!server) return;
  Meter meter(*server);
  try {
    auto active = open_connections(server->address(), 1, open_limits());
    PingPong load(active, 64);
    load.run_for(kWarmUp);
    const double rss_before = server->rss_bytes();
    const KernelMemory kernel_before = KernelMemory::now();
    const auto budget = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(g.plan.open_budget_s));
    const auto opening = Clock::now();
    auto idlers = open_connections(server->address(), idle, {opening + budget, true});
    const double open_seconds = std::chrono::duration<double>(Clock::now() - opening).count();
    const KernelMemory kernel_after = KernelMemory::now();
    const double rss_after = server->rss_bytes();
    measure_window(state, load, meter, "messages", [&] { return load.messages(); });
    if (!state.error_occurred()) {
      load.finish();
      state.SetItemsProcessed(static_cast<std::int64_t>(load.messages()));
      report_latencies(state, load.latencies());
      meter.report(state, static_cast<double>(load.messages()), "msg", "msgs");
      const double k = static_cast<double>(idle);
      state.counters["idle_open_s"] = open_seconds;  // O(K^2) for a model whose every wakeup costs O(K)
      if (server->measured()) {
        state.counters["server_rss_bytes"] = rss_after;
        if (idle > 0) state.counters["rss_per_idle_conn_bytes"] = (rss_after - rss_before) / k;
        // Machine-wide figures: only past the noise of everything else running.
        if (idle >= 1000) {
          state.counters["kernel_slab_per_idle_conn_bytes"] = (kernel_after.slab_bytes - kernel_before.slab_bytes) / k;
          state.counters["kernel_buffers_per_idle_conn_bytes"] =
              (kernel_after.socket_buffer_bytes - kernel_before.socket_buffer_bytes) / k;
        }
      }
    }
  } catch (const BudgetExceeded& e) {
    state.SkipWithError((model.name + ": stopped past its time budget of " + std::to_string(g.plan.open_budget_s) +
                         " s for opening idle connections (" + e.what() + ")")
                            .c_str());
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  server->stop(state);
}

// ---- BM_Chunking: a short request, a long reply, read in recv()-sized chunks --

void chunking(benchmark::State& state, const Model& model) {
  // Our models answer a request for N KiB (their --repeat is ours to give); the
  // target answers with its own --repeat, given by --muxlab_target_repeat.
  const LongReply reply = model.target ? LongReply{kPayload64, static_cast<std::uint32_t>(state.range(0))}
                                       : long_reply(state.range(0));
  const auto recv_bytes = static_cast<std::size_t>(state.range(1));
  progress("BM_Chunking/" + model.name + " reply=" + std::to_string(reply.payload.size() * reply.repeat + 1) +
           " B recv=" + std::to_string(recv_bytes));
  auto server = Server::start(state, g.servers, model, {"--repeat", std::to_string(reply.repeat)});
  if (!server) return;
  Meter meter(*server);
  std::uint64_t replies_in_life = 0;
  try {
    ChunkedReplies load(muxlab::harness::connect_by(server->address(), Clock::now() + std::chrono::seconds(10)),
                        reply.payload, reply.repeat, recv_bytes);
    measure_window(state, load, meter, "replies", [&] { return load.replies(); });
    replies_in_life = load.all_replies();
    if (!state.error_occurred()) {
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
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  // The server's own view, over its whole life (the warm-up replies included).
  auto stats = server->stop(state);
  if (replies_in_life > 0 && stats.contains("send_calls") && !state.error_occurred()) {
    const auto replies = static_cast<double>(replies_in_life);
    state.counters["server_partial_sends_per_reply"] = stats["partial_sends"] / replies;
    state.counters["server_send_calls_per_reply"] = stats["send_calls"] / replies;
  }
}

// ---- BM_Bulk: one raw-framing connection streaming both ways ------------------

void bulk(benchmark::State& state, const Model& model) {
  progress("BM_Bulk/" + model.name);
  auto server = Server::start(state, g.servers, model, {"--framing", "raw"});
  if (!server) return;
  Meter meter(*server);
  try {
    Bulk load(muxlab::harness::connect_by(server->address(), Clock::now() + std::chrono::seconds(10)),
              static_cast<std::size_t>(state.range(0)));
    // Counted in 64 KiB blocks echoed (a slow network still moves a few in a
    // window): the time of a benchmark is the time of one block.
    measure_window(state, load, meter, "blocks of 64 KiB", [&] { return load.counted_bytes() / kBulkBlock; });
    const double bytes = static_cast<double>(load.counted_bytes());
    if (!state.error_occurred()) {
      load.finish();
      state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
      meter.report(state);
      if (meter.server_seconds() > 0) state.counters["bytes_per_server_cpu_s"] = bytes / meter.server_seconds();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  // How the server moved the bytes, over its whole life (from its --stats):
  // bigger recv()s and send()s, and fewer wakeups, are fewer system calls per byte.
  auto stats = server->stop(state);
  if (stats["recv_calls"] > 0 && stats["send_calls"] > 0 && !state.error_occurred()) {
    state.counters["server_bytes_per_recv"] = stats["bytes_in"] / stats["recv_calls"];
    state.counters["server_bytes_per_send"] = stats["bytes_out"] / stats["send_calls"];
    if (stats["wakeups"] > 0) state.counters["server_bytes_per_wakeup"] = stats["bytes_in"] / stats["wakeups"];
  }
}

// ---- BM_IdleCpu: connections open, no traffic ---------------------------------

void idle_cpu(benchmark::State& state, const Model& model) {
  const auto conns = static_cast<std::size_t>(state.range(0));
  progress("BM_IdleCpu/" + model.name + " conns=" + std::to_string(conns));
  auto server = Server::start(state, g.servers, model);
  if (!server) return;
  Meter meter(*server);
  try {
    auto connections = open_connections(server->address(), conns, open_limits());
    meter.start();
    for (auto _ : state) expect_silence(connections, window());
    meter.stop();
    meter.report(state);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
  server->stop(state);
}

// ---- registration -------------------------------------------------------------

using Body = void (*)(benchmark::State&, const Model&);

// A benchmark whose iterations count its units (run_counted), timed per unit.
benchmark::internal::Benchmark* add(const std::string& workload, const Model& model, Body body) {
  return benchmark::RegisterBenchmark(("BM_" + workload + "/" + model.name).c_str(),
                                      [body, model](benchmark::State& state) { body(state, model); })
      ->Iterations(2)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

void register_for(const Model& m, const std::vector<std::int64_t>& idle) {
  const Plan& p = g.plan;
  if (m.target && g.target_repeat > 0) {  // a server that repeats: long replies only
    auto* b = add("Chunking", m, chunking)->ArgNames({"repeat", "recv"});
    for (auto recv : p.recv_bytes) b->Args({g.target_repeat, recv});
    return;
  }
  auto* b = add("PingPong", m, ping_pong)->ArgNames({"conns", "bytes"});
  for (auto bytes : p.pingpong_bytes)
    for (auto conns : p.pingpong_conns)
      if (m.concurrent || conns == 1) b->Args({conns, bytes});
  if (m.concurrent && !m.floor) {  // the floor has no idle cost worth a figure
    b = add("IdleScaling", m, idle_scaling)->ArgNames({"idle"});
    for (auto k : idle) b->Args({k});
  }
  if (!m.floor && !m.target) {  // the floor cannot --repeat; the target's repeat is its own
    b = add("Chunking", m, chunking)->ArgNames({"reply_kb", "recv"});
    for (auto kb : p.reply_kb)
      for (auto recv : p.recv_bytes) b->Args({kb, recv});
  }
  add("Bulk", m, bulk)->ArgNames({"window"})->Args({4 << 20});
  if (m.concurrent && !m.floor && !m.target)  // the target's CPU is not ours to see
    benchmark::RegisterBenchmark(("BM_IdleCpu/" + m.name).c_str(), [m](benchmark::State& s) { idle_cpu(s, m); })
        ->Iterations(1)
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->ArgNames({"conns"})
        ->Args({p.idle_cpu_conns});
}

// --benchmark_repetitions=N registers every benchmark N times under the same
// name: each copy counts its own messages (Google Benchmark's repetitions would
// abort on counts that differ), and compare.py and report.py take runs of one
// name as repetitions. The copies come one whole set after another, so
// repetitions are apart in time even without --benchmark_enable_random_interleaving.
void register_all() {
  const auto idle = idle_rows(g.plan, g.max_fds);
  const std::vector<Model> models = g.servers.target ? std::vector<Model>{target_model()} : bench_models();
  for (int r = 0; r < g.repetitions; ++r)
    for (const Model& m : models) register_for(m, idle);
}

// ---- the machine ----------------------------------------------------------------

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
  g.servers.pin = ::sched_setaffinity(0, sizeof one, &one) == 0;
  benchmark::AddCustomContext("muxlab_pinning", g.servers.pin ? "server on CPU 0, load generator on CPU 1"
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

// Debian builds libbenchmark without NDEBUG, and Google Benchmark then warns
// "Library was built as DEBUG" on every run. The library says which build it is
// only in its JSON context: ask it there.
bool library_is_debug_build() {
  std::ostringstream text;
  benchmark::JSONReporter json;
  json.SetOutputStream(&text);
  json.SetErrorStream(&text);
  json.ReportContext(benchmark::BenchmarkReporter::Context());
  return text.str().find("\"library_build_type\": \"debug\"") != std::string::npos;
}

// What was measured: muxlab's commit and build (a debug or sanitizer build of
// the servers measures the build, not the model), and the machine's limits.
void describe_run() {
  benchmark::AddCustomContext("muxlab_version", muxlab::core::kVersion);
  benchmark::AddCustomContext("muxlab_commit", muxlab::core::kCommit);
  benchmark::AddCustomContext("muxlab_build_type", MUXLAB_BUILD_TYPE);
#if !defined(__OPTIMIZE__) || defined(__SANITIZE_ADDRESS__)
  const char* warning = "muxlab is built without optimisation or with sanitizers: these figures measure that build, "
                        "not the models (build with -DCMAKE_BUILD_TYPE=Release)";
  benchmark::AddCustomContext("muxlab_build_warning", warning);
  std::fprintf(stderr, "echo-bench: warning: %s\n", warning);
#endif
  if (library_is_debug_build())
    benchmark::AddCustomContext("muxlab_library_note",
                                "the 'Library was built as DEBUG' warning below is about Debian's libbenchmark "
                                "package, not muxlab; each benchmark here is one timed window, which that build "
                                "does not slow down");
  benchmark::AddCustomContext("muxlab_seconds_per_benchmark", std::to_string(g.plan.seconds));
  benchmark::AddCustomContext("muxlab_rlimit_nofile", std::to_string(g.max_fds));
  benchmark::AddCustomContext("muxlab_kernel_memory", KernelMemory::sources());
  // The models in the order the report shows them (harness/models.hpp), and
  // where each one's source lives (the report counts its lines).
  std::string names, sources;
  for (const Model& m : bench_models()) {
    names += (names.empty() ? "" : ",") + m.name;
    sources += (sources.empty() ? "" : ",") + m.name + ":" + m.binary + ":" + m.folder;
  }
  benchmark::AddCustomContext("muxlab_models", names);
  benchmark::AddCustomContext("muxlab_model_sources", sources);
  if (g.servers.target) benchmark::AddCustomContext("muxlab_target", g.target_text);
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  g = parse_command_line(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (argc > 1) usage_error("unrecognized argument '" + std::string(argv[1]) + "'");
  g.servers.bin_dir = std::filesystem::read_symlink("/proc/self/exe").parent_path().string();
  // Servers inherit our descriptor limit: K idle connections need K descriptors on each side.
  g.max_fds = muxlab::harness::raise_open_file_limit();
  pin_if_possible();
  schedule_realtime_if_asked();
  describe_run();
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

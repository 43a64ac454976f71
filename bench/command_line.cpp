#include "bench/command_line.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "core/options.hpp"
#include "harness/client.hpp"

namespace muxlab::bench {

void usage_error(const std::string& what) {
  std::fprintf(stderr, "echo-bench: %s (try --help)\n", what.c_str());
  std::exit(2);
}

namespace {

void print_help() {
  std::printf(
      "Usage: echo-bench [OPTION]... [GOOGLE BENCHMARK FLAG]...\n"
      "Every muxlab model on the same work, measured by Google Benchmark (bench/README.md).\n\n"
      "  --muxlab_quick             the short common set (bench/side_by_side.sh)\n"
      "  --muxlab_seconds=S         measured time per benchmark (default 0.5, quick 0.2);\n"
      "                             --benchmark_min_time=S is the same\n"
      "  --muxlab_progress          a line on stderr as each benchmark starts\n"
      "  --muxlab_realtime          SCHED_FIFO for the load generator and servers (busy machines)\n"
      "  --muxlab_target=HOST:PORT  drive that echo server instead of starting ours (BM_*/target/...)\n"
      "  --muxlab_target_repeat=R   the target answers a line with R copies: measure long replies\n"
      "  --muxlab_list_models       print the models (name, binary, folder, flags; tab-separated)\n"
      "  -h, --help                 this help, then Google Benchmark's flags\n"
      "      --version              the version\n\n");
}

// "--name=value" or "--name value" (consuming argv[i + 1]); nullopt if arg is not --name.
std::optional<std::string> value_of(std::string_view name, int argc, char** argv, int& i) {
  const std::string_view arg = argv[i];
  if (arg.starts_with(name) && arg.size() > name.size() && arg[name.size()] == '=')
    return std::string(arg.substr(name.size() + 1));
  if (arg != name) return std::nullopt;
  if (i + 1 >= argc) usage_error("option '" + std::string(name) + "' requires a value");
  return std::string(argv[++i]);
}

double parse_seconds(const std::string& flag, std::string text) {
  if (text.ends_with('x'))
    usage_error(flag + "=" + text + ": a benchmark here is one measured window, not a count of iterations; " +
                "give seconds (" + flag + "=0.5)");
  if (text.ends_with('s')) text.pop_back();  // Google Benchmark 1.8's "0.5s"
  char* end = nullptr;
  errno = 0;
  const double s = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || errno != 0 || !std::isfinite(s) || s <= 0 || s > 3600)
    usage_error("invalid value '" + text + "' for " + flag + " (seconds: more than 0, at most 3600)");
  return s;
}

void print_models() {
  for (const Model& m : bench_models()) {
    std::printf("%s\t%s\t%s", m.name.c_str(), m.binary.c_str(), m.folder.c_str());
    for (const auto& a : m.args) std::printf("\t%s", a.c_str());
    std::printf("\n");
  }
}

}  // namespace

Settings parse_command_line(int& argc, char** argv) {
  Settings settings;
  std::optional<double> seconds;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--muxlab_quick") {
      settings.plan = quick_plan();
    } else if (arg == "--muxlab_progress") {
      settings.progress = true;
    } else if (arg == "--muxlab_realtime") {
      settings.realtime = true;
    } else if (arg == "--muxlab_list_models") {  // for scripts: bench/side_by_side.sh, tests/bench
      print_models();
      std::exit(0);
    } else if (arg == "--version") {
      core::print_version("echo-bench");
      std::exit(0);
    } else if (arg == "-h" || arg == "--help") {
      print_help();
      static char help[] = "--help";  // Google Benchmark prints its flags and exits 0
      argv[kept++] = help;
    } else if (auto v = value_of("--muxlab_seconds", argc, argv, i)) {
      seconds = parse_seconds("--muxlab_seconds", *v);
    } else if (auto m = value_of("--benchmark_min_time", argc, argv, i)) {
      seconds = parse_seconds("--benchmark_min_time", *m);
    } else if (auto n = value_of("--benchmark_repetitions", argc, argv, i)) {
      std::uint64_t count = 0;
      if (!core::parse_number(*n, 1, 1000, count))
        usage_error("invalid value '" + *n + "' for --benchmark_repetitions: 1 to 1000");
      settings.repetitions = static_cast<int>(count);
    } else if (arg.starts_with("--benchmark_report_aggregates_only") ||
               arg.starts_with("--benchmark_display_aggregates_only")) {
      usage_error(std::string(arg) + ": echo-bench computes no aggregates (each repetition counts its own " +
                  "messages); bench/report.py and compare.py compute medians and tests from the repetitions");
    } else if (auto t = value_of("--muxlab_target", argc, argv, i)) {
      std::string host;
      std::uint16_t port = 0;
      if (!harness::split_host_port(*t, host, port))
        usage_error("invalid value '" + *t + "' for --muxlab_target (HOST:PORT, [IPV6]:PORT)");
      try {
        settings.servers.target = harness::resolve(host, port);
      } catch (const std::exception& e) {
        usage_error(std::string("--muxlab_target: ") + e.what());
      }
      settings.target_text = *t;
    } else if (auto r = value_of("--muxlab_target_repeat", argc, argv, i)) {
      std::uint64_t repeat = 0;
      if (!core::parse_number(*r, 2, 100'000'000, repeat))
        usage_error("invalid value '" + *r + "' for --muxlab_target_repeat (the target's --repeat, 2 or more)");
      settings.target_repeat = static_cast<std::uint32_t>(repeat);
    } else if (arg.starts_with("--muxlab_")) {
      usage_error("unrecognized option '" + std::string(arg) + "'");
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (seconds) settings.plan.seconds = *seconds;
  if (settings.target_repeat > 0 && !settings.servers.target)
    usage_error("--muxlab_target_repeat needs --muxlab_target");
  return settings;
}

}  // namespace muxlab::bench

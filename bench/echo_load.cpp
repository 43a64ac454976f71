// echo-load - echo-bench's load generator on its own: one workload against any
// echo server, one JSON line of results on stdout.
//
// It lets the load come from another machine than the report: run a server
// there, or here, and point echo-load at it. Every echoed byte is checked; a
// wrong one ends the run with "echo-load: ..." on stderr and exit 1.
//
// Usage:   echo-load [OPTION]... HOST PORT          (echo-load --help lists them)
// See bench/README.md, "echo-load".
#include <getopt.h>
#include <signal.h>
#include <time.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "bench/load.hpp"
#include "bench/workloads.hpp"
#include "core/options.hpp"
#include "core/version.hpp"

using namespace muxlab::bench;

namespace {

enum class Workload { pingpong, idle, chunking, bulk };

struct Options {
  Workload workload = Workload::pingpong;
  std::string workload_name = "pingpong";
  std::uint64_t connections = 1;
  std::uint64_t bytes = 64;
  std::uint64_t idle = 1000;
  std::uint64_t repeat = 10000;
  std::string payload = kPayload64;
  std::uint64_t recv_bytes = 1 << 20;
  std::uint64_t window = 4 << 20;
  double seconds = 1;
  std::uint64_t warm_up_ms = 50;
  std::string host;
  std::uint16_t port = 0;
};

[[noreturn]] void usage_error(const std::string& what) {
  std::fprintf(stderr, "echo-load: %s (try --help)\n", what.c_str());
  std::exit(2);
}

[[noreturn]] void runtime_error(const std::string& what) {
  std::fprintf(stderr, "echo-load: %s\n", what.c_str());
  std::exit(1);
}

void print_help() {
  std::printf(
      "Usage: echo-load [OPTION]... HOST PORT\n"
      "Drives the echo server at HOST PORT with one workload, checks every byte that\n"
      "comes back, and prints one JSON line of results.\n\n"
      "  -w, --workload=NAME     pingpong (default): C connections, one message in flight each;\n"
      "                          idle: one connection in ping-pong beside K silent ones;\n"
      "                          chunking: a line answered by R copies (a server run with --repeat R);\n"
      "                          bulk: one connection streaming both ways (any echo, raw or line)\n"
      "  -c, --connections=C     pingpong: connections (default 1)\n"
      "  -b, --bytes=B           pingpong, idle: message size, '\\n' included (default 64)\n"
      "  -k, --idle=K            idle: silent connections (default 1000)\n"
      "  -r, --repeat=R          chunking: the server's --repeat (default 10000)\n"
      "      --payload=TEXT      chunking: the line sent, without its '\\n' (default 64 bytes)\n"
      "      --recv-bytes=N      chunking: the size of each recv() (default 1048576)\n"
      "      --window=BYTES      bulk: bytes in flight at most (default 4194304)\n"
      "  -s, --seconds=S         measured time (default 1)\n"
      "      --warm-up-ms=MS     unmeasured time before it (default 50)\n"
      "  -h, --help              this help\n"
      "      --version           the version\n");
}

double parse_seconds(const char* text) {
  char* end = nullptr;
  const double s = std::strtod(text, &end);
  if (*text == '\0' || *end != '\0' || !(s > 0 && s <= 3600))
    usage_error(std::string("invalid value '") + text + "' for --seconds (more than 0, at most 3600)");
  return s;
}

std::uint64_t parse_count(const char* flag, const char* text, std::uint64_t min, std::uint64_t max) {
  std::uint64_t n = 0;
  if (!muxlab::core::parse_number(text, min, max, n))
    usage_error(std::string("invalid value '") + text + "' for --" + flag + " (" + std::to_string(min) + " to " +
                std::to_string(max) + ")");
  return n;
}

Options parse_options(int argc, char** argv) {
  enum { kPayload = 256, kRecvBytes, kWindow, kWarmUp, kVersion };
  static const option longs[] = {{"workload", required_argument, nullptr, 'w'},
                                 {"connections", required_argument, nullptr, 'c'},
                                 {"bytes", required_argument, nullptr, 'b'},
                                 {"idle", required_argument, nullptr, 'k'},
                                 {"repeat", required_argument, nullptr, 'r'},
                                 {"payload", required_argument, nullptr, kPayload},
                                 {"recv-bytes", required_argument, nullptr, kRecvBytes},
                                 {"window", required_argument, nullptr, kWindow},
                                 {"seconds", required_argument, nullptr, 's'},
                                 {"warm-up-ms", required_argument, nullptr, kWarmUp},
                                 {"help", no_argument, nullptr, 'h'},
                                 {"version", no_argument, nullptr, kVersion},
                                 {nullptr, 0, nullptr, 0}};
  Options o;
  ::opterr = 0;  // our own messages, one line each
  for (int c; (c = ::getopt_long(argc, argv, ":w:c:b:k:r:s:h", longs, nullptr)) != -1;) {
    switch (c) {
      case 'w': {
        const std::string name = ::optarg;
        if (name == "pingpong") o.workload = Workload::pingpong;
        else if (name == "idle") o.workload = Workload::idle;
        else if (name == "chunking") o.workload = Workload::chunking;
        else if (name == "bulk") o.workload = Workload::bulk;
        else usage_error("unknown workload '" + name + "' (pingpong, idle, chunking, bulk)");
        o.workload_name = name;
        break;
      }
      case 'c': o.connections = parse_count("connections", ::optarg, 1, 1'000'000); break;
      case 'b': o.bytes = parse_count("bytes", ::optarg, 2, 64 << 20); break;
      case 'k': o.idle = parse_count("idle", ::optarg, 0, 10'000'000); break;
      case 'r': o.repeat = parse_count("repeat", ::optarg, 1, 100'000'000); break;
      case kPayload:
        o.payload = ::optarg;
        if (o.payload.empty() || o.payload.find('\n') != std::string::npos)
          usage_error("--payload: one line of at least one byte, without '\\n'");
        break;
      case kRecvBytes: o.recv_bytes = parse_count("recv-bytes", ::optarg, 1, 64 << 20); break;
      case kWindow: o.window = parse_count("window", ::optarg, 1, 1 << 30); break;
      case 's': o.seconds = parse_seconds(::optarg); break;
      case kWarmUp: o.warm_up_ms = parse_count("warm-up-ms", ::optarg, 0, 3'600'000); break;
      case 'h': print_help(); std::exit(0);
      case kVersion: muxlab::core::print_version("echo-load"); std::exit(0);
      case ':': usage_error(std::string("option '") + argv[::optind - 1] + "' requires a value");
      default: usage_error(std::string("unrecognized option '") + argv[::optind - 1] + "'");
    }
  }
  if (argc - ::optind != 2) usage_error("expected HOST PORT");
  o.host = argv[::optind];
  o.port = static_cast<std::uint16_t>(parse_count("port", argv[::optind + 1], 1, 65535));
  return o;
}

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The result, built as JSON text: "key":value pairs in the order they are added.
class JsonLine {
 public:
  void add(const std::string& key, double value) { raw(key, number(value)); }
  void add(const std::string& key, const std::string& value) { raw(key, "\"" + escaped(value) + "\""); }
  void add(const std::string& key, const LatencyHistogram& h) {
    std::string obj = "{";
    for (const Percentile& p : kReportedPercentiles)
      obj += (obj.size() > 1 ? ",\"" : "\"") + std::string(p.name) + "\":" + number(h.percentile_us(p.p));
    raw(key, obj + "}");
  }
  std::string text() const { return "{" + body_ + "}"; }

 private:
  // Counts as integers, measurements to six significant digits.
  static std::string number(double value) {
    char text[64];
    const bool whole = value == std::floor(value) && std::fabs(value) < 1e15;
    std::snprintf(text, sizeof text, whole ? "%.0f" : "%.6g", value);
    return text;
  }
  static std::string escaped(const std::string& s) {
    std::string out;
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out;
  }
  void raw(const std::string& key, const std::string& value) {
    body_ += (body_.empty() ? "\"" : ",\"") + key + "\":" + value;
  }
  std::string body_;
};

// Warm-up, then the measured window, with the wall and CPU time around it.
// Returns the window's length in seconds.
template <typename Load>
double measure(Load& load, const Options& o, JsonLine& out) {
  load.run_for(std::chrono::milliseconds(o.warm_up_ms));
  load.reset_counts();
  const auto wall = Clock::now();
  const double cpu = thread_cpu_seconds();
  load.run_for(std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds)));
  const double seconds = std::chrono::duration<double>(Clock::now() - wall).count();
  out.add("seconds", seconds);
  out.add("client_cpu_share", (thread_cpu_seconds() - cpu) / seconds);
  return seconds;
}

std::string run(const Options& o) {
  const Address to = muxlab::harness::resolve(o.host, o.port);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  JsonLine out;
  out.add("program", "echo-load");
  out.add("version", muxlab::core::kVersion);
  out.add("commit", muxlab::core::kCommit);
  out.add("target", to.text());
  out.add("workload", o.workload_name);
  switch (o.workload) {
    case Workload::pingpong:
    case Workload::idle: {
      const std::size_t active = o.workload == Workload::idle ? 1 : o.connections;
      auto connections = open_connections(to, active, {deadline, false});
      PingPong load(connections, o.bytes);
      std::vector<Fd> idlers;
      if (o.workload == Workload::idle) {
        load.run_for(std::chrono::milliseconds(o.warm_up_ms));
        const auto started = Clock::now();
        idlers = open_connections(to, o.idle, {deadline, false});
        out.add("idle", static_cast<double>(o.idle));
        out.add("idle_open_seconds", std::chrono::duration<double>(Clock::now() - started).count());
      }
      out.add("connections", static_cast<double>(active));
      out.add("bytes", static_cast<double>(o.bytes));
      const double seconds = measure(load, o, out);
      load.finish();
      out.add("messages", static_cast<double>(load.messages()));
      out.add("messages_per_second", static_cast<double>(load.messages()) / seconds);
      out.add("rtt_us", load.latencies());
      break;
    }
    case Workload::chunking: {
      ChunkedReplies load(muxlab::harness::connect_by(to, deadline), o.payload,
                          static_cast<std::uint32_t>(o.repeat), o.recv_bytes);
      out.add("repeat", static_cast<double>(o.repeat));
      out.add("reply_bytes", static_cast<double>(o.payload.size() * o.repeat + 1));
      out.add("recv_bytes", static_cast<double>(o.recv_bytes));
      const double seconds = measure(load, o, out);
      out.add("replies", static_cast<double>(load.replies()));
      out.add("replies_per_second", static_cast<double>(load.replies()) / seconds);
      out.add("recv_calls_per_reply", static_cast<double>(load.recv_calls()) / static_cast<double>(load.replies()));
      out.add("reply_us", load.latencies());
      break;
    }
    case Workload::bulk: {
      Bulk load(muxlab::harness::connect_by(to, deadline), o.window);
      out.add("window", static_cast<double>(o.window));
      const double seconds = measure(load, o, out);
      const auto echoed = static_cast<double>(load.counted_bytes());
      load.finish();
      out.add("echoed_bytes", echoed);
      out.add("bytes_per_second", echoed / seconds);
      break;
    }
  }
  return out.text();
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const Options options = parse_options(argc, argv);
  muxlab::harness::raise_open_file_limit();  // --idle K needs K descriptors
  try {
    std::printf("%s\n", run(options).c_str());
  } catch (const std::exception& e) {
    runtime_error(e.what());
  }
  return 0;
}

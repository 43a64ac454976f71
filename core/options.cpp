#include "core/options.hpp"

#include <getopt.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "core/version.hpp"

namespace muxlab::core {

namespace {

struct Flag {
  const char* name;
  const char* value_name;
  const char* help;
  std::function<bool(std::string_view)> apply;
};

[[noreturn]] void usage_error(const char* program, const std::string& message) {
  std::fprintf(stderr, "%s: %s (try --help)\n", program, message.c_str());
  std::exit(2);
}

void print_help(const char* program, const char* summary, const std::vector<Flag>& flags) {
  std::printf("usage: %s [options]\n%s\n\noptions:\n", program, summary);
  for (const auto& flag : flags) {
    std::string left = std::string(flag.name) + (flag.value_name ? std::string(" ") + flag.value_name : "");
    std::printf("  %-22s %s\n", left.c_str(), flag.help);
  }
  std::printf("  %-22s %s\n  %-22s %s\n", "-h, --help", "print this help and exit", "--version",
              "print the program, muxlab's version and git commit, and exit");
}

// A flag whose value is a number in [min, max], stored through `target`.
template <typename T>
Flag number_flag(const char* name, const char* value_name, const char* help, std::uint64_t min,
                 std::uint64_t max, T& target) {
  return {name, value_name, help, [&target, min, max](std::string_view v) {
            std::uint64_t n = 0;
            if (!parse_number(v, min, max, n)) return false;
            target = static_cast<T>(n);
            return true;
          }};
}

Flag millis_flag(const char* name, const char* help, std::chrono::milliseconds& target) {
  return {name, "MS", help, [&target](std::string_view v) {
            std::uint64_t n = 0;
            if (!parse_number(v, 0, 3'600'000, n)) return false;
            target = std::chrono::milliseconds(n);
            return true;
          }};
}

// getopt_long(3) gives each long option a code; ours are kFirstCode + the flag's index.
constexpr int kFirstCode = 256;
constexpr int kHelpCode = 'h';
constexpr int kVersionCode = kFirstCode - 1;

}  // namespace

bool parse_number(std::string_view text, std::uint64_t min, std::uint64_t max, std::uint64_t& out) {
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return false;
  if (n < min || n > max) return false;
  out = n;
  return true;
}

ServerOptions parse_server_options(int argc, char** argv, const char* program, const char* summary,
                                   std::span<const ExtraFlag> extra) {
  ServerOptions o;
  std::vector<Flag> flags = {
      {"--host", "ADDR", "address to listen on (default 127.0.0.1; 0.0.0.0 or :: for all)",
       [&o](std::string_view v) {
         o.host = std::string(v);
         return !v.empty();
       }},
      number_flag("--port", "N", "TCP port (default 2000; 0 picks a free port)", 0, 65535, o.port),
      number_flag("--repeat", "R", "answer each line with its payload R times, 1..1000000 (default 1)", 1,
                  1'000'000, o.limits.repeat),
      {"--framing", "F", "line | raw (default line)",
       [&o](std::string_view v) {
         if (v == "line") o.limits.framing = Framing::line;
         else if (v == "raw") o.limits.framing = Framing::raw;
         else return false;
         return true;
       }},
      number_flag("--max-line", "B", "longest line payload accepted (default 65536)", 1, 1ull << 30,
                  o.limits.max_line),
      number_flag("--max-pending", "B", "unsent output held per connection (default 1048576)", 1,
                  1ull << 32, o.limits.max_pending),
      number_flag("--max-clients", "N", "connections served at once (default: what the model allows)", 1,
                  1'000'000, o.max_clients),
      {"--stats", nullptr, "print counters to stderr at exit",
       [&o](std::string_view) { return o.stats = true; }},
      {"--verbose", nullptr, "log each connection and each recv/send size to stderr",
       [&o](std::string_view) { return o.verbose = true; }},
      number_flag("--backlog", "N", "listen(2) backlog: connections the kernel queues for accept() (default SOMAXCONN)",
                  0, 1'000'000, o.backlog),
      millis_flag("--drain-ms", "after SIGINT/SIGTERM, time to finish what is owed (default 2000)", o.drain),
      millis_flag("--linger-ms", "after the server half-closes, time to wait for the client's EOF (default 2000)",
                  o.linger),
      number_flag("--sndbuf", "B", "socket send buffer of each connection, SO_SNDBUF (default: the kernel's)", 1,
                  1ull << 30, o.send_buffer),
  };
  for (const auto& e : extra) flags.push_back({e.name, e.value_name, e.help, e.apply});

  std::vector<option> longopts;
  for (std::size_t i = 0; i < flags.size(); ++i)
    longopts.push_back({flags[i].name + 2, flags[i].value_name ? required_argument : no_argument, nullptr,
                        kFirstCode + static_cast<int>(i)});
  longopts.push_back({"help", no_argument, nullptr, kHelpCode});
  longopts.push_back({"version", no_argument, nullptr, kVersionCode});
  longopts.push_back({nullptr, 0, nullptr, 0});

  // The option that getopt_long() just refused, as the user wrote it.
  const auto offending = [&](int code) -> std::string {
    if (code >= kFirstCode) return flags[static_cast<std::size_t>(code - kFirstCode)].name;
    if (code == kHelpCode || code == kVersionCode) return code == kHelpCode ? "--help" : "--version";
    if (code > 0) return std::string("-") + static_cast<char>(code);
    std::string arg = argv[optind - 1];
    return arg.substr(0, arg.find('='));
  };

  bool help = false, version = false;
  opterr = 0;  // we print the one line ourselves
  optind = 0;  // GNU: start afresh (a test may parse many times)
  for (int code; (code = ::getopt_long(argc, argv, ":h", longopts.data(), nullptr)) != -1;) {
    if (code == '?' && (optopt >= kFirstCode || optopt == kHelpCode || optopt == kVersionCode))
      usage_error(program, "option " + offending(optopt) + " takes no value");
    if (code == '?') usage_error(program, "unknown option '" + offending(optopt) + "'");
    if (code == ':') usage_error(program, "option " + offending(optopt) + " needs a value");
    if (code == kHelpCode) {
      help = true;
    } else if (code == kVersionCode) {
      version = true;
    } else {
      const Flag& flag = flags[static_cast<std::size_t>(code - kFirstCode)];
      const std::string_view value = optarg != nullptr ? optarg : "";
      if (!flag.apply(value)) usage_error(program, "bad value '" + std::string(value) + "' for " + flag.name);
    }
  }
  if (optind < argc) usage_error(program, "unexpected argument '" + std::string(argv[optind]) + "'");
  if (help) {
    print_help(program, summary, flags);
    std::exit(0);
  }
  if (version) {
    print_version(program);
    std::exit(0);
  }
  if (o.limits.framing == Framing::raw && o.limits.repeat != 1)
    usage_error(program, "--repeat must be 1 with --framing raw");
  set_verbose(o.verbose);
  return o;
}

void print_version(const char* program) { std::printf("%s (muxlab %s, %s)\n", program, kVersion, kCommit); }

}  // namespace muxlab::core

#include "core/options.hpp"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "core/socket.hpp"

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
}

// A flag whose value is a number in [min, max], stored through `store`.
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
  bool help = false;
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
      millis_flag("--drain-ms", "after SIGINT/SIGTERM, time to finish what is owed (default 2000)", o.drain),
      millis_flag("--linger-ms", "after the server half-closes, time to wait for the client's EOF (default 2000)",
                  o.linger),
      number_flag("--sndbuf", "B", "socket send buffer of each connection, SO_SNDBUF (default: the kernel's)", 1,
                  1ull << 30, o.send_buffer),
  };
  for (const auto& e : extra) flags.push_back({e.name, e.value_name, e.help, e.apply});
  flags.push_back({"--help", nullptr, "print this help and exit", [&help](std::string_view) { return help = true; }});

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view name = arg;
    std::string_view value;
    bool inline_value = false;
    if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    const Flag* flag = nullptr;
    for (const auto& f : flags)
      if (name == f.name) flag = &f;
    if (flag == nullptr) usage_error(argv[0], "unknown option '" + std::string(arg) + "'");
    if (flag->value_name != nullptr && !inline_value) {
      if (i + 1 >= argc) usage_error(argv[0], "option " + std::string(name) + " needs a value");
      value = argv[++i];
    } else if (flag->value_name == nullptr && inline_value) {
      usage_error(argv[0], "option " + std::string(name) + " takes no value");
    }
    if (!flag->apply(value))
      usage_error(argv[0], "bad value '" + std::string(value) + "' for " + std::string(name));
  }
  if (help) {
    print_help(program, summary, flags);
    std::exit(0);
  }
  if (o.limits.framing == Framing::raw && o.limits.repeat != 1)
    usage_error(argv[0], "--repeat must be 1 with --framing raw");
  set_verbose(o.verbose);
  set_send_buffer(o.send_buffer);
  return o;
}

}  // namespace muxlab::core

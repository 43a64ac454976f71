#include "tests/bench/common.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace muxlab::bench_test {

std::string bin(const std::string& program) { return std::string(MUXLAB_BIN_DIR) + "/" + program; }

std::string source(const std::string& path) { return std::string(MUXLAB_SOURCE_DIR) + "/" + path; }

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

namespace {

// The value of "key": "..." in a JSON object's text, or "".
std::string string_field(const std::string& text, const std::string& key) {
  const std::string start = "\"" + key + "\": \"";
  const auto at = text.find(start);
  if (at == std::string::npos) return "";
  std::string value;
  for (auto i = at + start.size(); i < text.size() && text[i] != '"'; ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) ++i;
    value += text[i];
  }
  return value;
}

}  // namespace

std::string BenchmarkJson::error() const { return string_field(text, "error_message"); }

std::string BenchmarkJson::label() const { return string_field(text, "label"); }

double BenchmarkJson::number(const std::string& key) const {
  const std::string start = "\"" + key + "\": ";
  const auto at = text.find(start);
  if (at == std::string::npos) return std::nan("");
  return std::strtod(text.c_str() + at + start.size(), nullptr);
}

std::vector<BenchmarkJson> benchmarks_of(const std::string& json) {
  std::vector<BenchmarkJson> out;
  static const std::string kName = "\"name\": \"";
  for (auto at = json.find(kName); at != std::string::npos;) {
    const auto next = json.find(kName, at + 1);
    BenchmarkJson b;
    b.text = json.substr(at, next == std::string::npos ? std::string::npos : next - at);
    b.name = string_field(b.text, "name");
    out.push_back(b);
    at = next;
  }
  return out;
}

harness::RunResult run_echo_bench(const std::vector<std::string>& args) {
  std::vector<std::string> all = args;
  all.push_back("--benchmark_format=json");
  auto result = harness::run_program(bin("echo-bench"), all, std::chrono::seconds(90));
  EXPECT_TRUE(result.exit.exited && result.exit.code == 0) << "echo-bench exit " << result.exit.code << ":\n"
                                                           << result.err;
  return result;
}

// ---- CorruptingEcho --------------------------------------------------------

CorruptingEcho::CorruptingEcho() : listener_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0 ||
      ::listen(listener_.get(), 64) != 0 ||
      ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0)
    throw std::runtime_error("corrupting echo: cannot listen");
  port_ = ntohs(address.sin_port);
  thread_ = std::thread([this] { serve(); });
}

CorruptingEcho::~CorruptingEcho() {
  stop_ = true;
  thread_.join();
}

// Waits for the listener (or a connection) with a short timeout, so that the
// destructor's stop is seen; never a sleep.
void CorruptingEcho::serve() {
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    core::Fd client(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (client) echo(client.get());
  }
}

void CorruptingEcho::echo(int fd) {
  std::uint64_t offset = 0;
  char buffer[64 * 1024];
  while (!stop_) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t k = ::recv(fd, buffer, sizeof buffer, 0);
    if (k <= 0) return;
    const auto n = static_cast<std::size_t>(k);
    if (offset <= 99 && 99 < offset + n) buffer[99 - offset] ^= 0x20;  // the 100th byte: 'a' becomes 'A'
    offset += n;
    for (std::size_t sent = 0; sent < n;) {
      const ssize_t s = ::send(fd, buffer + sent, n - sent, MSG_NOSIGNAL);
      if (s <= 0) return;
      sent += static_cast<std::size_t>(s);
    }
  }
}

}  // namespace muxlab::bench_test

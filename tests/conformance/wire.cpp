#include "tests/conformance/wire.hpp"

#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/fd.hpp"
#include "harness/child.hpp"

namespace muxlab::conformance {

namespace {

std::string errno_text(const char* call) { return std::string(call) + ": " + std::strerror(errno); }

// Where the conversation's next send() stops: the end of its current chunk.
std::size_t chunk_end(const Conversation& c, std::size_t& next_chunk, std::size_t& chunk_start) {
  if (c.chunks.empty()) return c.to_send.size();
  while (next_chunk < c.chunks.size() && c.sent >= chunk_start + c.chunks[next_chunk])
    chunk_start += c.chunks[next_chunk++];
  if (next_chunk == c.chunks.size()) return c.to_send.size();
  return std::min(c.to_send.size(), chunk_start + c.chunks[next_chunk]);
}

// Per-conversation loop state that callers need not see.
struct Progress {
  std::size_t next_chunk = 0;
  std::size_t chunk_start = 0;
  bool write_shut = false;
};

void shut_when_all_sent(Conversation& c, Progress& p) {
  if (!c.half_close || p.write_shut || c.sent < c.to_send.size()) return;
  p.write_shut = true;
  if (::shutdown(c.client.fd(), SHUT_WR) < 0) {
    c.error = errno_text("shutdown");
    c.done = true;
  }
}

void on_writable(Conversation& c, Progress& p) {
  const std::size_t end = chunk_end(c, p.next_chunk, p.chunk_start);
  ssize_t k = ::send(c.client.fd(), c.to_send.data() + c.sent, end - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (k > 0) {
    c.sent += static_cast<std::size_t>(k);
    shut_when_all_sent(c, p);
  } else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    c.error = errno_text("send");
    c.done = true;
  }
}

void on_readable(Conversation& c, std::vector<char>& buffer) {
  ssize_t k = ::recv(c.client.fd(), buffer.data(), buffer.size(), MSG_DONTWAIT);
  if (k < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
    c.error = errno_text("recv");
    c.done = true;
    return;
  }
  if (k == 0) {
    c.eof = true;
    c.done = true;
    return;
  }
  c.received.append(buffer.data(), static_cast<std::size_t>(k));
  if (c.received.size() >= c.reset_after) {
    c.client.reset();
    c.done = true;
  } else if (!c.half_close && c.received.size() >= c.expected.size()) {
    c.done = true;
  }
}

std::string describe_unfinished(const std::vector<Conversation>& conversations) {
  std::size_t left = 0;
  const Conversation* first = nullptr;
  for (const auto& c : conversations) {
    if (c.done) continue;
    ++left;
    if (first == nullptr) first = &c;
  }
  std::ostringstream out;
  out << "timed out with " << left << " of " << conversations.size() << " conversations unfinished";
  if (first != nullptr)
    out << "; the first has sent " << first->sent << " of " << first->to_send.size() << " bytes and read "
        << first->received.size() << " of " << first->expected.size();
  return out.str();
}

}  // namespace

void run_conversations(std::vector<Conversation>& conversations, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  std::vector<Progress> progress(conversations.size());
  for (std::size_t i = 0; i < conversations.size(); ++i) shut_when_all_sent(conversations[i], progress[i]);
  std::vector<pollfd> fds;
  std::vector<std::size_t> owner;
  std::vector<char> buffer(256 * 1024);
  for (;;) {
    fds.clear();
    owner.clear();
    for (std::size_t i = 0; i < conversations.size(); ++i) {
      const Conversation& c = conversations[i];
      if (c.done) continue;
      short events = POLLIN;
      if (c.sent < c.to_send.size()) events |= POLLOUT;
      fds.push_back({c.client.fd(), events, 0});
      owner.push_back(i);
    }
    if (fds.empty()) return;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) throw std::runtime_error(describe_unfinished(conversations));
    int rc = ::poll(fds.data(), fds.size(), static_cast<int>(left));
    if (rc < 0 && errno != EINTR) throw std::runtime_error(errno_text("poll"));
    for (std::size_t k = 0; rc > 0 && k < fds.size(); ++k) {
      Conversation& c = conversations[owner[k]];
      const short revents = fds[k].revents;
      if ((revents & POLLOUT) && !c.done) on_writable(c, progress[owner[k]]);
      if ((revents & (POLLIN | POLLERR | POLLHUP)) && !c.done) on_readable(c, buffer);
    }
  }
}

std::string converse(TestClient& client, std::string_view bytes, Clock::duration timeout) {
  std::vector<Conversation> one;
  one.emplace_back(std::move(client));
  one[0].to_send = std::string(bytes);
  try {
    run_conversations(one, timeout);
  } catch (...) {
    client = std::move(one[0].client);
    throw;
  }
  client = std::move(one[0].client);
  if (!one[0].error.empty()) throw std::runtime_error(one[0].error);
  return std::move(one[0].received);
}

ReplyChecker::ReplyChecker(std::string payload, std::size_t repeat)
    : payload_(std::move(payload)), total_(payload_.size() * repeat + 1) {}

std::size_t ReplyChecker::read_some(TestClient& client, std::size_t max, Clock::time_point deadline) {
  if (buffer_.size() < max) buffer_.resize(max);
  for (;;) {
    ssize_t k = ::recv(client.fd(), buffer_.data(), max, MSG_DONTWAIT);
    if (k == 0) {
      eof_ = true;
      return 0;
    }
    if (k < 0 && (errno == ECONNRESET || errno == EPIPE)) {
      reset_ = true;
      return 0;
    }
    if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
      throw std::runtime_error(errno_text("recv"));
    if (k > 0) {
      const auto n = static_cast<std::size_t>(k);
      for (std::size_t i = 0; i < n && matches_;) {  // a run of the payload at a time
        const std::size_t at = received_ + i;
        if (at + 1 >= total_) {
          matches_ = at + 1 == total_ && buffer_[i] == '\n';
          ++i;
          continue;
        }
        const std::size_t offset = at % payload_.size();
        const std::size_t run = std::min({n - i, payload_.size() - offset, total_ - 1 - at});
        matches_ = std::memcmp(buffer_.data() + i, payload_.data() + offset, run) == 0;
        i += run;
      }
      received_ += n;
      return n;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
      throw std::runtime_error("timed out reading a reply after " + std::to_string(received_) + " bytes");
    pollfd p{client.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left));
  }
}

std::vector<std::size_t> random_chunks(std::size_t n, std::size_t max_chunk, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<std::size_t> size(1, max_chunk);
  std::vector<std::size_t> chunks;
  for (std::size_t total = 0; total < n;) {
    chunks.push_back(std::min(size(rng), n - total));
    total += chunks.back();
  }
  return chunks;
}

ServerStats::ServerStats(std::string_view stderr_text) : text_(stderr_text) {
  std::istringstream lines(text_);
  for (std::string line; std::getline(lines, line);) {
    const auto space = line.find(' ');
    if (space == std::string::npos) continue;
    std::uint64_t value = 0;
    const char* first = line.data() + space + 1;
    const char* last = line.data() + line.size();
    auto [end, ec] = std::from_chars(first, last, value);
    if (ec == std::errc() && end == last && first != last) values_[line.substr(0, space)] = value;
  }
}

std::uint64_t ServerStats::operator[](const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end()) return it->second;
  ADD_FAILURE() << "no --stats counter '" << name << "' in:\n" << text_;
  return 0;
}

std::size_t raise_open_file_limit() { return harness::raise_open_file_limit(); }

bool ipv6_loopback_works() {
  core::Fd fd(::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in6 address{};
  address.sin6_family = AF_INET6;
  address.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
}

std::chrono::milliseconds cpu_time(pid_t pid) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(harness::process_cpu_time(pid));
}

std::size_t small_sndbuf_exchange(TestClient client) {
  const std::string payload(50'000, 's');
  client.send_all(payload + "\n");
  client.shutdown_write();
  ReplyChecker reply(payload, kSmallSndbufRepeat);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (reply.read_some(client, 4096, deadline) > 0) {
  }
  EXPECT_TRUE(reply.complete()) << "read " << reply.received() << " of " << reply.total();
  return reply.total();
}

std::string kilobyte_lines(char fill) {
  std::string lines;
  for (int i = 0; i < 64; ++i) lines += std::string(1023, fill) + "\n";
  return lines;
}

void send_until_pushed_back(TestClient& hog, std::string_view bytes, std::size_t most,
                            std::chrono::milliseconds quiet, Clock::duration limit, std::size_t& sent) {
  sent = 0;
  const auto deadline = Clock::now() + limit;
  for (;;) {
    const std::size_t k = hog.send_some(bytes.substr(sent % bytes.size()));
    sent += k;
    ASSERT_LT(sent, most) << "the server read " << sent << " bytes from a client that reads nothing";
    ASSERT_LT(Clock::now(), deadline) << "no push-back after " << sent << " bytes";
    if (k > 0) continue;
    pollfd p{hog.fd(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(quiet.count())) == 0) return;  // pushed back
  }
}

}  // namespace muxlab::conformance

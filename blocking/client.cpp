// echo-client - the blocking client, counterpart of tmc.py; and, with
// --interactive, a client that watches stdin and the socket at once.
//
// By default it connects, sends MESSAGE and a '\n', half-closes (shutdown
// SHUT_WR: "I have no more to say", while still reading), then reads until EOF,
// printing the size of every recv(). Against `blocking-server --repeat 10000`
// the one reply arrives in many pieces of changing size: TCP delivers a byte
// stream, not the server's send() calls, which is why a client reads in a loop
// until EOF.
//
// --interactive is UNP's str_cli with select(), done right: lines typed or piped
// on stdin are sent as they come, replies are printed as they arrive, and one
// poll() waits for whichever is ready first (see run_interactive()).
//
// Usage:   echo-client HOST PORT MESSAGE [--bufsize B] [--quiet]
//          echo-client --interactive HOST PORT [--bufsize B] [--quiet]
// Course:  docs/01-the-pair.md; --interactive: docs/11-client-side.md.
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "core/fd.hpp"
#include "core/log.hpp"
#include "core/options.hpp"

using namespace muxlab::core;

namespace {

constexpr const char* kUsage =
    "usage: echo-client HOST PORT MESSAGE [options]\n"
    "       echo-client --interactive HOST PORT [options]\n";

struct Options {
  std::size_t bufsize = 1'000'000;  // as much as tmc.py asks of each recv()
  bool quiet = false;
  bool interactive = false;
  std::vector<const char*> operands;  // HOST PORT [MESSAGE]
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr, "echo-client: %s (try --help)\n", message.c_str());
  std::exit(2);
}

void print_help() {
  std::printf(
      "%s"
      "Sends MESSAGE and a newline, half-closes, and reads the reply until EOF,\n"
      "printing the size of every recv() and then a summary of the chunks.\n"
      "With --interactive, sends what is typed or piped on stdin as it comes and\n"
      "prints the replies on stdout as they arrive; at the end of stdin it\n"
      "half-closes, reads every reply to EOF, and prints the summary on stderr.\n\n"
      "options:\n"
      "  --bufsize B     bytes asked of each recv() (default 1000000)\n"
      "  --interactive   send stdin instead of MESSAGE (one poll() on stdin and the socket)\n"
      "  --quiet         print only the summary (with --interactive: only the replies)\n"
      "  -h, --help      print this help and exit\n"
      "  --version       print the program, muxlab's version and git commit, and exit\n",
      kUsage);
}

// getopt_long(3), as every muxlab program: --bufsize 4 and --bufsize=4, options
// before or after the operands, and -- ends the options.
Options parse_command_line(int argc, char** argv) {
  enum { kBufsize = 256, kQuiet, kInteractive, kVersion };
  const option longopts[] = {{"bufsize", required_argument, nullptr, kBufsize},
                             {"quiet", no_argument, nullptr, kQuiet},
                             {"interactive", no_argument, nullptr, kInteractive},
                             {"help", no_argument, nullptr, 'h'},
                             {"version", no_argument, nullptr, kVersion},
                             {nullptr, 0, nullptr, 0}};
  // The option getopt_long() just refused, as the user wrote it.
  const auto refused = [&]() -> std::string {
    if (optopt > 0 && optopt < kBufsize && optopt != 'h') return std::string("-") + static_cast<char>(optopt);
    const std::string arg = argv[optind - 1];
    return arg.substr(0, arg.find('='));
  };
  Options o;
  opterr = 0;  // we print the one line ourselves
  for (int code; (code = ::getopt_long(argc, argv, ":h", longopts, nullptr)) != -1;) {
    switch (code) {
      case kBufsize: {
        std::uint64_t n = 0;
        if (!parse_number(optarg, 1, 1ull << 30, n)) usage_error("bad value '" + std::string(optarg) + "' for --bufsize");
        o.bufsize = static_cast<std::size_t>(n);
        break;
      }
      case kQuiet: o.quiet = true; break;
      case kInteractive: o.interactive = true; break;
      case 'h':
        print_help();
        std::exit(0);
      case kVersion:
        print_version("echo-client");
        std::exit(0);
      case ':': usage_error("option " + refused() + " needs a value");
      default:  // '?'
        if (optopt >= kBufsize || optopt == 'h') usage_error("option " + refused() + " takes no value");  // --quiet=x
        usage_error("unknown option '" + refused() + "'");
    }
  }
  o.operands.assign(argv + optind, argv + argc);
  if (o.interactive && o.operands.size() != 2) usage_error("--interactive expects HOST PORT, no MESSAGE");
  if (!o.interactive && o.operands.size() != 3) usage_error("expected HOST PORT MESSAGE");
  return o;
}

// Tries every address getaddrinfo() gives for host (IPv6 and IPv4 alike).
Fd connect_to(const char* host, const char* port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host, port, &hints, &found); rc != 0) die("cannot resolve %s: %s", host, ::gai_strerror(rc));
  int last_errno = 0;
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    Fd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd && ::connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      ::freeaddrinfo(found);
      return fd;
    }
    last_errno = errno;
  }
  ::freeaddrinfo(found);
  errno = last_errno;
  die_errno("cannot connect to %s port %s", host, port);
}

void print_summary(std::FILE* out, std::vector<std::size_t> chunks) {
  std::size_t total = 0;
  for (std::size_t c : chunks) total += c;
  std::sort(chunks.begin(), chunks.end());
  if (chunks.empty()) {
    std::fprintf(out, "chunks 0, total 0 bytes\n");
  } else {
    std::fprintf(out, "chunks %zu, min %zu, median %zu, max %zu, total %zu bytes\n", chunks.size(), chunks.front(),
                 chunks[chunks.size() / 2], chunks.back(), total);
  }
}

// send() may take only part of what it is given: loop until all of it is out
// (what Python's sendall() does for you).
void send_all(int sock, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t k = ::send(sock, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) die_errno("send");
    bytes.remove_prefix(static_cast<std::size_t>(k));
  }
}

// tmc.py's way: one message, then the whole reply.
void run_once(int sock, const Options& options) {
  send_all(sock, std::string(options.operands[2]) + "\n");
  // Half-close: the server sees EOF after our line, and we can still read.
  ::shutdown(sock, SHUT_WR);

  std::vector<char> buffer(options.bufsize);
  std::vector<std::size_t> chunks;
  for (;;) {
    ssize_t k = ::recv(sock, buffer.data(), buffer.size(), 0);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) die_errno("recv");
    if (k == 0) break;  // EOF: the server has sent everything and closed
    chunks.push_back(static_cast<std::size_t>(k));
    if (!options.quiet) std::printf("received %zd bytes\n", k);
  }
  print_summary(stdout, chunks);
}

// --interactive. One poll() watches stdin and the socket, and three rules keep
// the client from deadlocking or losing replies, however much is piped in:
//   - the socket is always watched for replies. A client that only sends until
//     it has sent everything deadlocks with a server that answers as it reads:
//     the server blocks sending replies nobody reads, stops reading, and our
//     send() then blocks for ever;
//   - stdin is read only once everything read before has been sent: what the
//     server does not take yet waits in the socket's buffer and in one chunk of
//     ours, never in a pile that grows;
//   - at the end of stdin, shutdown(SHUT_WR), not close(): the server sees EOF,
//     answers the last line, and we still read every reply until its EOF.
// The socket is nonblocking, so a send() takes what fits and never stalls the
// loop; stdin keeps its mode (it may be the shell's terminal) and is read only
// when poll() says a read will not block.
void run_interactive(int sock, const Options& options) {
  if (::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK) < 0) die_errno("fcntl O_NONBLOCK");
  std::vector<char> input(64 * 1024);
  std::string_view unsent;  // read from stdin, not yet taken by send()
  bool stdin_open = true;
  std::vector<char> reply(options.bufsize);
  std::vector<std::size_t> chunks;
  for (;;) {
    pollfd fds[2] = {
        {stdin_open && unsent.empty() ? STDIN_FILENO : -1, POLLIN, 0},  // a negative fd is skipped
        {sock, static_cast<short>(POLLIN | (unsent.empty() ? 0 : POLLOUT)), 0},
    };
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      die_errno("poll");
    }
    if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t k = ::recv(sock, reply.data(), reply.size(), 0);
      if (k == 0) break;  // EOF: every reply is in
      if (k > 0) {
        chunks.push_back(static_cast<std::size_t>(k));
        std::fwrite(reply.data(), 1, static_cast<std::size_t>(k), stdout);
        std::fflush(stdout);  // as they arrive, also into a pipe
      } else if (errno != EAGAIN && errno != EINTR) {
        die_errno("recv");
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ssize_t k = ::read(STDIN_FILENO, input.data(), input.size());
      if (k > 0) {
        unsent = std::string_view(input.data(), static_cast<std::size_t>(k));
      } else if (k == 0) {
        stdin_open = false;
        ::shutdown(sock, SHUT_WR);  // all read before is sent (stdin is read only then)
      } else if (errno != EAGAIN && errno != EINTR) {
        die_errno("read stdin");
      }
    }
    if (!unsent.empty()) {  // at once: usually the socket has room, which saves a poll()
      ssize_t k = ::send(sock, unsent.data(), unsent.size(), MSG_NOSIGNAL);
      if (k > 0) unsent.remove_prefix(static_cast<std::size_t>(k));  // maybe only part: the rest waits for POLLOUT
      else if (k < 0 && errno != EAGAIN && errno != EINTR) die_errno("send");
    }
  }
  if (!options.quiet) print_summary(stderr, chunks);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_command_line(argc, argv);
  Fd sock = connect_to(options.operands[0], options.operands[1]);
  if (options.interactive) run_interactive(sock.get(), options);
  else run_once(sock.get(), options);
  return 0;
}

#include "core/signals.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "core/log.hpp"

namespace muxlab::core {

namespace {

// Lock-free atomics are safe in a handler, and threaded-server's workers read the
// flag too (a volatile sig_atomic_t would be a data race there).
std::atomic<bool> g_stop{false};
static_assert(std::atomic<bool>::is_always_lock_free);
int g_pipe[2] = {-1, -1};
std::atomic<int> g_listen_fd{-1};
std::atomic<int> g_client_fd{-1};
std::atomic<long> g_drain_ms{2000};

// Only async-signal-safe calls in here: write and shutdown (signal-safety(7)), and
// setitimer, which POSIX does not list but is a plain system call on Linux.
void on_stop_signal(int) {
  const int saved_errno = errno;  // a handler must not disturb the errno the main code reads
  if (!g_stop.exchange(true)) {
    char byte = 's';
    ssize_t ignored = ::write(g_pipe[1], &byte, 1);  // nonblocking: a full pipe is still "readable"
    (void)ignored;
    if (int fd = g_listen_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
    if (int fd = g_client_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RD);
    const long ms = g_drain_ms.load();
    itimerval timer{};
    timer.it_value.tv_sec = ms / 1000;
    timer.it_value.tv_usec = (ms % 1000) * 1000 + (ms == 0 ? 1 : 0);
    ::setitimer(ITIMER_REAL, &timer, nullptr);
  }
  errno = saved_errno;
}

// The drain time is over: a client that still blocks us is cut off.
void on_drain_timeout(int) {
  const int saved_errno = errno;
  if (int fd = g_client_fd.load(); fd >= 0) ::shutdown(fd, SHUT_RDWR);
  errno = saved_errno;
}

void install(int signo, void (*handler)(int)) {
  struct sigaction sa {};
  sa.sa_handler = handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR
  if (::sigaction(signo, &sa, nullptr) < 0) die_errno("sigaction");
}

}  // namespace

void install_signal_handlers() {
  // A send() to a peer that has gone raises SIGPIPE, whose default action kills the
  // process. Every send() also passes MSG_NOSIGNAL; the ignore covers writev()/write()
  // in code that cannot (libevent).
  ::signal(SIGPIPE, SIG_IGN);
  if (::pipe2(g_pipe, O_NONBLOCK | O_CLOEXEC) < 0) die_errno("pipe2");
  install(SIGINT, on_stop_signal);
  install(SIGTERM, on_stop_signal);
  install(SIGALRM, on_drain_timeout);
}

bool stop_requested() { return g_stop.load(); }
int stop_fd() { return g_pipe[0]; }

void shut_on_stop(int listen_fd, int client_fd) {
  g_listen_fd.store(listen_fd);
  g_client_fd.store(client_fd);
}

void set_stop_drain(std::chrono::milliseconds drain) { g_drain_ms.store(static_cast<long>(drain.count())); }

}  // namespace muxlab::core

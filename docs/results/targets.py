#!/usr/bin/python3
"""targets.py - the project's performance targets (issues 4, 9, 10 and 11),
checked against a full echo-bench run; prints a Markdown section.

    /usr/bin/python3 docs/results/targets.py docs/results/results.json > docs/results/targets.md

The targets are the project's business, not the reader's: they live here, beside
the kept run, and not in the report that bench/report.py writes for everyone.
A target is met or missed when the noise (the repetitions' range) keeps the
figure on one side of the goal, and "within noise" when the range straddles it.
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("report", os.path.join(HERE, "..", "..", "bench", "report.py"))
report = importlib.util.module_from_spec(spec)
spec.loader.exec_module(report)


class Measured:
    """A figure with the range its repetitions allow: one benchmark's, or a ratio of two."""

    def __init__(self, value, lo, hi):
        self.value, self.lo, self.hi = value, lo, hi


def figure(a):
    return Measured(a.median, a.lo, a.hi) if a is not None else None


def ratio(a, b):
    if a is None or b is None or b.lo <= 0:
        return None
    return Measured(a.median / b.median, a.lo / b.hi, a.hi / b.lo)


def verdict(r, goal, at_least):
    if r is None:
        return "not measured"
    if (r.lo >= goal) if at_least else (r.hi <= goal):
        return "**met**"
    if (r.hi < goal) if at_least else (r.lo > goal):
        return "**missed**"
    return "within noise of the goal" + (" (median met)" if (r.value >= goal if at_least else r.value <= goal)
                                         else " (median missed)")


def main():
    res = report.Results(sys.argv[1])
    cell = res.cell
    rows = []

    def target(issue, what, r, goal, at_least, unit=""):
        measured = "–" if r is None else f"{report.fmt(r.value)}{unit} ({report.fmt(r.lo)}–{report.fmt(r.hi)})"
        goal_text = ("≥ " if at_least else "≤ ") + f"{goal:g}{unit}"
        rows.append([issue, what, measured, goal_text, verdict(r, goal, at_least)])

    def reported(issue, what, r, unit=""):  # a figure asked for, with no goal
        measured = "–" if r is None else f"{report.fmt(r.value)}{unit} ({report.fmt(r.lo)}–{report.fmt(r.hi)})"
        rows.append([issue, what, measured, "reported", "–"])

    pingpong = lambda m, metric, c, b=64: cell("PingPong", m, metric, conns=c, bytes=b)
    eff = lambda m, c: pingpong(m, "msgs_per_server_cpu_s", c)
    idle = lambda m, metric, k: cell("IdleScaling", m, metric, idle=k)
    bulk = lambda m, metric="bytes_per_server_cpu_s": cell("Bulk", m, metric, window=4 << 20)
    reached = [k for k in res.param_values("IdleScaling", "idle") if idle("epoll", "rtt_p50_us", k)]
    largest = max(reached) if reached else None

    # Issue 4: epoll against libevent and the floor.
    for c in (100, 1000):
        target(4, f"epoll / libevent, messages per server-CPU-second, {c} conns 64 B",
               ratio(eff("epoll", c), eff("libevent", c)), 1.2, True)
    for c in (100, 1000):
        target(4, f"epoll / libevent, bytes per server-CPU-second, {c} conns 16 KiB",
               ratio(pingpong("epoll", "bytes_per_server_cpu_s", c, 16384),
                     pingpong("libevent", "bytes_per_server_cpu_s", c, 16384)), 1.5, True)
    target(4, "epoll round trip, 1 conn, / the floor's",
           ratio(pingpong("epoll", "rtt_p50_us", 1), pingpong("floor", "rtt_p50_us", 1)), 1.2, False)
    target(4, "epoll round trip at 10,000 idle / at none",
           ratio(idle("epoll", "rtt_p50_us", 10000), idle("epoll", "rtt_p50_us", 0)), 1.1, False)
    target(4, "epoll bulk MB/s / the floor's",
           ratio(bulk("epoll", "bytes_per_second"), bulk("floor", "bytes_per_second")), 0.8, True)

    # Issue 9: io_uring.
    target(9, "uring bulk bytes per server-CPU-second / the floor's", ratio(bulk("uring"), bulk("floor")), 1.2, True)
    target(9, "uring system calls per message, 1000 conns",
           figure(pingpong("uring", "server_syscalls_per_msg", 1000)), 0.25, False)
    for c in (10, 100, 1000):
        target(9, f"uring / epoll, messages per server-CPU-second, {c} conns",
               ratio(eff("uring", c), eff("epoll", c)), 1.0, True)
    target(9, "uring RSS per idle connection at 10,000 / epoll's",
           ratio(idle("uring", "rss_per_idle_conn_bytes", 10000), idle("epoll", "rss_per_idle_conn_bytes", 10000)),
           1.0, False)
    target(9, "uring round trip at 10,000 idle / at none",
           ratio(idle("uring", "rtt_p50_us", 10000), idle("uring", "rtt_p50_us", 0)), 1.1, False)

    # Issue 10: the libraries.
    for m in ("epoll", "epoll-edge", "poll", "uring"):
        target(10, f"{m} bulk bytes per server-CPU-second / the floor's", ratio(bulk(m), bulk("floor")), 0.95, True)
    for lib in ("libevent", "libuv", "asio"):
        for c in (100, 1000):
            target(10, f"epoll / {lib}, messages per server-CPU-second, {c} conns",
                   ratio(eff("epoll", c), eff(lib, c)), 1.0, True)
        target(10, f"epoll / {lib}, bulk bytes per server-CPU-second", ratio(bulk("epoll"), bulk(lib)), 1.0, True)
    target(10, "epoll RSS per idle connection at 10,000",
           figure(idle("epoll", "rss_per_idle_conn_bytes", 10000)), 256, False, " B")
    for lib in ("libevent", "libuv", "asio"):
        reported(10, f"{lib} RSS per idle connection at 10,000", figure(idle(lib, "rss_per_idle_conn_bytes", 10000)),
                 " B")

    # Issue 11: the largest idle count.
    if largest:
        for m in ("epoll", "uring"):
            target(11, f"{m} round trip at {report.fmt(largest)} idle (the largest) / at none",
                   ratio(idle(m, "rtt_p50_us", largest), idle(m, "rtt_p50_us", 0)), 1.1, False)
        target(11, f"epoll RSS per idle connection at {report.fmt(largest)}",
               figure(idle("epoll", "rss_per_idle_conn_bytes", largest)), 256, False, " B")

    print("## Targets of the project's issues\n")
    print("Each measured figure is the median of the repetitions, with their range in brackets (for a ratio: the "
          "smallest and largest ratio the ranges allow). Met or missed: the whole range is on one side of the "
          "goal; within noise: it straddles the goal.\n")
    print(report.md_table(["issue", "target", "measured", "goal", "verdict"], rows))
    print()


if __name__ == "__main__":
    main()

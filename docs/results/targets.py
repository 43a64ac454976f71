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


class Ratio:
    """a / b with the range the repetitions allow (a single figure when b is None)."""

    def __init__(self, a, b=None):
        self.ok = a is not None and (b is None or (b.median and b.lo > 0))
        if not self.ok:
            return
        if b is None:
            self.value, self.lo, self.hi = a.median, a.lo, a.hi
        else:
            self.value, self.lo, self.hi = a.median / b.median, a.lo / b.hi, a.hi / b.lo


def verdict(r, goal, at_least):
    if not r.ok:
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
        measured = "–" if not r.ok else f"{report.fmt(r.value)}{unit} ({report.fmt(r.lo)}–{report.fmt(r.hi)})"
        rows.append([issue, what, measured, ("≥ " if at_least else "≤ ") + f"{goal:g}{unit}", verdict(r, goal, at_least)])

    idle_ks = [k for k in res.param_values("IdleScaling", "idle")
               if cell("IdleScaling", "epoll", "rtt_p50_us", idle=k)]
    largest = max(idle_ks) if idle_ks else None
    bulk = lambda m, metric="bytes_per_server_cpu_s": cell("Bulk", m, metric, window=4 << 20)
    eff = lambda m, c: cell("PingPong", m, "msgs_per_server_cpu_s", conns=c, bytes=64)

    # Issue 4: epoll against libevent and the floor.
    for c in (100, 1000):
        target(4, f"epoll / libevent, messages per server-CPU-second, {c} conns 64 B", Ratio(eff("epoll", c), eff("libevent", c)), 1.2, True)
    for c in (100, 1000):
        target(4, f"epoll / libevent, bytes per server-CPU-second, {c} conns 16 KiB",
               Ratio(cell("PingPong", "epoll", "bytes_per_server_cpu_s", conns=c, bytes=16384),
                     cell("PingPong", "libevent", "bytes_per_server_cpu_s", conns=c, bytes=16384)), 1.5, True)
    target(4, "epoll round trip, 1 conn, / the floor's", Ratio(cell("PingPong", "epoll", "rtt_p50_us", conns=1, bytes=64),
                                                                cell("PingPong", "floor", "rtt_p50_us", conns=1, bytes=64)), 1.2, False)
    target(4, "epoll round trip at 10,000 idle / at none", Ratio(cell("IdleScaling", "epoll", "rtt_p50_us", idle=10000),
                                                                 cell("IdleScaling", "epoll", "rtt_p50_us", idle=0)), 1.1, False)
    target(4, "epoll bulk MB/s / the floor's", Ratio(bulk("epoll", "bytes_per_second"), bulk("floor", "bytes_per_second")), 0.8, True)

    # Issue 9: io_uring.
    target(9, "uring bulk bytes per server-CPU-second / the floor's", Ratio(bulk("uring"), bulk("floor")), 1.2, True)
    target(9, "uring system calls per message, 1000 conns",
           Ratio(cell("PingPong", "uring", "server_syscalls_per_msg", conns=1000, bytes=64)), 0.25, False)
    for c in (10, 100, 1000):
        target(9, f"uring / epoll, messages per server-CPU-second, {c} conns", Ratio(eff("uring", c), eff("epoll", c)), 1.0, True)
    target(9, "uring RSS per idle connection at 10,000 / epoll's",
           Ratio(cell("IdleScaling", "uring", "rss_per_idle_conn_bytes", idle=10000),
                 cell("IdleScaling", "epoll", "rss_per_idle_conn_bytes", idle=10000)), 1.0, False)
    target(9, "uring round trip at 10,000 idle / at none", Ratio(cell("IdleScaling", "uring", "rtt_p50_us", idle=10000),
                                                                 cell("IdleScaling", "uring", "rtt_p50_us", idle=0)), 1.1, False)

    # Issue 10: the libraries.
    for m in ("epoll", "epoll-edge", "poll", "uring"):
        target(10, f"{m} bulk bytes per server-CPU-second / the floor's", Ratio(bulk(m), bulk("floor")), 0.95, True)
    for lib in ("libevent", "libuv", "asio"):
        for c in (100, 1000):
            target(10, f"epoll / {lib}, messages per server-CPU-second, {c} conns", Ratio(eff("epoll", c), eff(lib, c)), 1.0, True)
        target(10, f"epoll / {lib}, bulk bytes per server-CPU-second", Ratio(bulk("epoll"), bulk(lib)), 1.0, True)
    target(10, "epoll RSS per idle connection at 10,000",
           Ratio(cell("IdleScaling", "epoll", "rss_per_idle_conn_bytes", idle=10000)), 256, False, " B")

    # Issue 11: the largest idle count.
    if largest:
        for m in ("epoll", "uring"):
            target(11, f"{m} round trip at {report.fmt(largest)} idle (the largest) / at none",
                   Ratio(cell("IdleScaling", m, "rtt_p50_us", idle=largest), cell("IdleScaling", m, "rtt_p50_us", idle=0)),
                   1.1, False)
        target(11, f"epoll RSS per idle connection at {report.fmt(largest)}",
               Ratio(cell("IdleScaling", "epoll", "rss_per_idle_conn_bytes", idle=largest)), 256, False, " B")

    print("## Targets of the project's issues\n")
    print("Each measured figure is the median of the repetitions, with their range in brackets (for a ratio: the "
          "smallest and largest ratio the ranges allow). Met or missed: the whole range is on one side of the "
          "goal; within noise: it straddles the goal.\n")
    print(report.md_table(["issue", "target", "measured", "goal", "verdict"], rows))
    print()


if __name__ == "__main__":
    main()

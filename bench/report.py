#!/usr/bin/python3
"""report.py - turn echo-bench's JSON into a report to decide by.

    /usr/bin/python3 bench/report.py RESULTS.json --out DIR [--baseline OLD.json]
                                     [--notes NOTES.md]... [--command "..."]
    /usr/bin/python3 bench/report.py RESULTS.json --table [--baseline OLD.json]

Writes DIR/report.md and its PNG plots, or (--table) prints the comparison
table, 100 columns wide. Every figure is the median of the run's repetitions
(--benchmark_repetitions) with its spread, and two figures that the noise does
not tell apart are not ranked. With --baseline, every figure gets its change
against the older run, marked significant or not. Needs Debian's
python3-matplotlib and python3-scipy: use /usr/bin/python3, not a python3 from a
virtualenv without them.
"""
import argparse
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import textwrap
from collections import defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Colours, markers and line styles of the models we know; the list of models
# itself comes from the JSON (harness/models.hpp, through echo-bench's context),
# and a model without an entry here gets one from FALLBACK_COLOURS.
STYLE = {  # select/poll families share a hue with their libevent twin
    "blocking": ("#8c564b", "s", "-"), "threaded": ("#e377c2", "D", "-"),
    "nonblocking": ("#7f7f7f", "x", "-"), "select": ("#d62728", "v", "-"),
    "poll": ("#ff7f0e", "^", "-"), "epoll": ("#1f77b4", "o", "-"),
    "epoll-edge": ("#17becf", "P", "-"), "uring": ("#9edae5", "*", "-"),
    "libevent": ("#2ca02c", "o", "--"), "libevent-poll": ("#bcbd22", "^", "--"),
    "libevent-select": ("#9467bd", "v", "--"), "libuv": ("#98df8a", "h", "--"),
    "asio": ("#c5b0d5", "p", "--"), "floor": ("#000000", "*", ":"), "target": ("#000000", "X", "-."),
}
# The model every other one's cost per message is a ratio to (the raw Linux
# readiness loop the libraries and io_uring are weighed against).
REFERENCE = "epoll"
FALLBACK_COLOURS = ["#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#5254a3", "#8ca252", "#bd9e39"]

# What each server runs on, for "Portability and code"; a model not named here
# is pointed to its own README (as text: the report may be anywhere).
RUNS_ON = {
    "blocking-server": "any POSIX system; one client at a time",
    "threaded-server": "any POSIX system (pthreads); a thread per connection",
    "nonblocking-server": "any POSIX system; burns a CPU while idle",
    "select-server": "any POSIX system, Windows; at most FD_SETSIZE (1024) descriptors",
    "poll-server": "any POSIX system",
    "epoll-server": "Linux only",
    "uring-server": "Linux 5.19 or later, where io_uring is not disabled",
    "libevent-server": "Linux, the BSDs, macOS, Windows (epoll, kqueue, IOCP...)",
    "libuv-server": "Linux, the BSDs, macOS, Windows (epoll, kqueue, IOCP)",
    "asio-server": "Linux, the BSDs, macOS, Windows (epoll, kqueue, IOCP)",
    "floor-server": "any POSIX system (pthreads); the benchmark's reference, not a model",
}


# ---- reading the JSON ----------------------------------------------------------

def parse_name(run_name):
    """BM_PingPong/epoll/conns:1/bytes:64/iterations:2/real_time -> ("PingPong", "epoll", {...})"""
    parts = run_name.split("/")
    params = {}
    for p in parts[2:]:
        if ":" in p:
            k, v = p.split(":", 1)
            if k != "iterations":
                params[k] = int(v)
    return parts[0][3:], parts[1], params


class Cell:
    """One figure of one benchmark over its repetitions."""

    def __init__(self, values):
        self.values = sorted(values)
        self.median = statistics.median(self.values)
        self.lo, self.hi = self.values[0], self.values[-1]
        self.n = len(self.values)

    def spread(self):
        """Half the range of the repetitions, relative to the median; None with one."""
        if self.n < 2 or self.median == 0:
            return None
        return (self.hi - self.lo) / 2 / abs(self.median)


class Results:
    def __init__(self, path):
        with open(path) as f:
            data = json.load(f)
        self.path = path
        self.context = data.get("context", {})
        self.runs = defaultdict(list)  # (workload, model, params) -> [benchmark dicts]
        self.errors = {}               # (workload, model, params) -> message
        for b in data.get("benchmarks", []):
            if b.get("run_type") != "iteration":
                continue
            w, m, p = parse_name(b["run_name"])
            key = (w, m, tuple(sorted(p.items())))
            if b.get("error_occurred"):
                self.errors[key] = b.get("error_message", "error")
            else:
                self.runs[key].append(b)
        listed = [m for m in self.context.get("muxlab_models", "").split(",") if m]
        present = {k[1] for k in list(self.runs) + list(self.errors)}
        self.order = listed + sorted(present - set(listed))

    def cell(self, workload, model, metric, **params):
        runs = self.runs.get((workload, model, tuple(sorted(params.items()))), [])
        values = [r[metric] for r in runs if metric in r]
        return Cell(values) if values else None

    def by_repetition(self, workload, model, metric, **params):
        """{i: value of the i-th run}: echo-bench's repetitions are runs of one name, in the order they ran."""
        runs = self.runs.get((workload, model, tuple(sorted(params.items()))), [])
        return {i: r[metric] for i, r in enumerate(r for r in runs if metric in r)}

    def models(self, workload=None):
        present = {k[1] for k in self.runs if workload is None or k[0] == workload}
        return [m for m in self.order if m in present]

    def param_values(self, workload, name, **fixed):
        vals = set()
        for (w, _, params) in list(self.runs) + list(self.errors):
            p = dict(params)
            if w == workload and name in p and all(p.get(k) == v for k, v in fixed.items()):
                vals.add(p[name])
        return sorted(vals)

    def repetitions(self):
        return max((len(v) for v in self.runs.values()), default=0)

    def sources(self):
        """model -> (binary, folder), from echo-bench's context."""
        out = {}
        for entry in self.context.get("muxlab_model_sources", "").split(","):
            parts = entry.split(":")
            if len(parts) == 3:
                out[parts[0]] = (parts[1], parts[2])
        return out


# ---- statistics -------------------------------------------------------------------

def differs(a, b):
    """Whether the noise tells a from b: True, False, or None (no repetitions).

    With three repetitions each, the Mann-Whitney U test can do no better than
    p = 0.1, which it reaches exactly when the two ranges do not overlap: that is
    the criterion then. With four or more each, the test at p < 0.05."""
    if a is None or b is None or a.n < 2 or b.n < 2:
        return None
    if min(a.n, b.n) >= 4:
        from scipy.stats import mannwhitneyu
        return mannwhitneyu(a.values, b.values, alternative="two-sided").pvalue < 0.05
    return a.hi < b.lo or b.hi < a.lo


def ratio_text(a, b):
    """a / b to the precision the noise allows ("1.5x", "0.93x"), "≈1x" when the
    noise covers 1."""
    if a is None or b is None or not b.median:
        return "–"
    r = a.median / b.median
    if a.n < 2 or b.n < 2 or b.lo <= 0:
        return f"{r:.2f}x"
    lo, hi = a.lo / b.hi, a.hi / b.lo
    if lo <= 1 <= hi:
        return "≈1x"
    width = max(hi - lo, 1e-9)  # the last digit printed is the first one the noise moves
    decimals = min(3, max(0, math.floor(-math.log10(width)) + 1))
    return f"{r:.{decimals}f}x"


def change(old, new):
    """The change from old to new: '+12%' when the noise tells them apart,
    '(+3%)' when it does not, '+3%?' without repetitions."""
    if old is None or new is None or not old.median:
        return "–"
    pct = (new.median / old.median - 1) * 100
    text = f"{pct:+.0f}%"
    sig = differs(old, new)
    return text if sig else (f"({text})" if sig is False else text + "?")


def best_group(res, fig, models):
    """(best, ties, rest): the best model for a figure, the ones the noise does
    not tell apart from it, and the others, each (model, cell), best first."""
    if fig.metric == "server_syscalls_per_msg":  # a library's count is not the others'
        models = [m for m in models if m not in LIBRARY_COUNTED]
    cells = [(m, fig.cell(res, m)) for m in models]
    cells = [(m, c) for m, c in cells if c is not None]
    if not cells:
        return None, [], []
    cells.sort(key=lambda mc: mc[1].median, reverse=fig.higher_is_better)
    best = cells[0]
    ties = [mc for mc in cells[1:] if differs(best[1], mc[1]) is False]
    rest = [mc for mc in cells[1:] if mc not in ties]
    return best, ties, rest


def ranking_stability(res, fig, models):
    """(pairs kept, pairs) over every repetition: how often two models' order held."""
    reps = {m: fig.by_repetition(res, m) for m in models}
    reps = {m: r for m, r in reps.items() if len(r) >= 2}
    names = list(reps)
    kept = total = 0
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            a, b = reps[names[i]], reps[names[j]]
            common = set(a) & set(b)
            if len(common) < 2:
                continue
            signs = {(a[k] > b[k]) - (a[k] < b[k]) for k in common}
            total += 1
            kept += len(signs) == 1
    return kept, total


# ---- formatting -------------------------------------------------------------------

def fmt(v):
    """A number in a few characters: 221k, 4.41, 52.0, 3.0e-04, 0."""
    if v is None:
        return "–"
    a = abs(v)
    if a == 0:
        return "0"
    for above, scale, suffix in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if a >= above:
            return f"{v / scale:.3g}{suffix}" if a < scale * 1000 or suffix == "G" else f"{v / scale:.0f}{suffix}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 0.01:
        return f"{v:.3g}"
    return f"{v:.1e}"


def cell_text(c, scale=1.0, compact=False):
    if c is None:
        return "–"
    sp = c.spread()
    if sp is None:
        return fmt(c.median * scale)
    return fmt(c.median * scale) + ("±" if compact else " ±") + f"{sp * 100:.0f}%"


def growth_text(c):
    """A machine-wide growth per connection: '≈0' where its runs do not all
    show one (other work on the machine moves such a figure both ways)."""
    return "≈0" if c is not None and c.lo <= 0 else cell_text(c)


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def link(text, anchor):
    return f"[{text}]({anchor})"


# ---- the figures compared -------------------------------------------------------------

class Figure:
    """One figure of one benchmark: what the tables compare model by model."""

    def __init__(self, label, workload, metric, params, higher_is_better, scale=1.0, server_side=False):
        self.label, self.workload, self.metric, self.params = label, workload, metric, params
        self.higher_is_better, self.scale, self.server_side = higher_is_better, scale, server_side

    def cell(self, res, model):
        return res.cell(self.workload, model, self.metric, **self.params)

    def by_repetition(self, res, model):
        return res.by_repetition(self.workload, model, self.metric, **self.params)

    def text(self, res, model, compact=False):
        c = self.cell(res, model)
        if c is None and self.server_side and model == "target":
            return "not measured"
        return cell_text(c, self.scale, compact)


def busy_conns(res):
    conns = res.param_values("PingPong", "conns", bytes=64)
    return 100 if 100 in conns else (max(conns) if conns else 100)


def summary_idle(res):
    ks = res.param_values("IdleScaling", "idle")
    return 1000 if 1000 in ks else (max(ks) if ks else 1000)


def summary_figures(res):
    busy, idle = busy_conns(res), summary_idle(res)
    return [
        Figure(("msgs/s", f"{busy} conns"), "PingPong", "items_per_second", {"conns": busy, "bytes": 64}, True),
        Figure(("CPU us/msg", f"{busy} conns"), "PingPong", "server_cpu_us_per_msg",
               {"conns": busy, "bytes": 64}, False, server_side=True),
        Figure(("rtt us", "1 conn"), "PingPong", "rtt_p50_us", {"conns": 1, "bytes": 64}, False),
        Figure(("rtt us", f"{idle} idle"), "IdleScaling", "rtt_p50_us", {"idle": idle}, False),
        Figure(("idle CPU", "share"), "IdleCpu", "server_cpu_share", {"conns": 100}, False, server_side=True),
        Figure(("bulk", "MB/s"), "Bulk", "bytes_per_second", {"window": 4 << 20}, True, 1e-6),
        Figure(("calls/msg", f"{busy} conns"), "PingPong", "server_syscalls_per_msg",
               {"conns": busy, "bytes": 64}, False, server_side=True),
    ]


def best_lines(res, figures, models):
    """'msgs/s: epoll-edge (ties: epoll, poll)' for every figure."""
    lines = []
    for fig in figures:
        best, ties, _ = best_group(res, fig, models)
        if best is None:
            continue
        tie_text = f" (not told apart from it: {', '.join(m for m, _ in ties)})" if ties else ""
        lines.append(f"{' '.join(fig.label)}: {best[0]}{tie_text}")
    return lines


def print_table(res, base=None):
    figures = summary_figures(res)
    models = res.models()
    header = [["model"] + [f.label[0] for f in figures], [""] + [f.label[1] for f in figures]]
    rows = [[m] + [f.text(res, m, compact=True) for f in figures] for m in models]
    widths = [max(len(r[i]) for r in rows + header) for i in range(len(header[0]))]
    line = lambda r: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    for h in header:
        print(line(h))
    for r in rows:
        print(line(r))
    reps = res.repetitions()
    if calls_note(models):
        print(textwrap.fill(calls_note(models), 100))
    print(f"Median of {reps} repetitions ±half their range." if reps > 1 else
          "One repetition: no spread measured, nothing ranked against noise.")
    if reps > 1 and len(models) > 1:
        print("Best, and what the noise does not tell apart from it:")
        for text in best_lines(res, figures, [m for m in models if m != "target"]):
            print(textwrap.fill(text, 100, initial_indent="  ", subsequent_indent="    "))
        kept, total = ranking_stability(res, figures[1], [m for m in models if m != "target"])
        if total:
            print(f"Ranking by CPU per message: {kept} of {total} pairs of models kept their order in every repetition.")
    if base is not None:
        print()
        print(f"Change against {base.path} (in parentheses: inside the noise):")
        rows = [[m] + [change(f.cell(base, m), f.cell(res, m)) for f in figures] for m in models]
        widths = [max(len(r[i]) for r in rows + header) for i in range(len(header[0]))]
        for h in header:
            print(line(h))
        for r in rows:
            print(line(r))
    for warning in run_warnings(res):
        print(textwrap.fill("WARNING: " + warning, 100, subsequent_indent="  "))
    if res.errors:
        n = len(res.errors)
        print(f"{n} benchmark{'s' if n > 1 else ''} skipped or failed (the report lists why).")


def run_warnings(res):
    """What makes this run's figures measure something else than the models."""
    ctx, out = res.context, []
    if "muxlab_build_warning" in ctx:
        out.append(ctx["muxlab_build_warning"])
    elif "debug" in ctx.get("muxlab_build_type", "").lower():
        out.append("muxlab was built as Debug: these figures measure that build, not the models")
    load, cpus = ctx.get("load_avg"), ctx.get("num_cpus")
    if isinstance(load, list) and load and cpus and load[0] > cpus and "FIFO 1" not in ctx.get("muxlab_scheduling", ""):
        out.append(f"the machine was busy (load average {load[0]:.1f} on {cpus} CPUs) and the run was not at "
                   "real-time priority: woken servers waited for the CPU, and the figures measure that wait "
                   "(--muxlab_realtime, bench/README.md)")
    return out


# ---- plots ---------------------------------------------------------------------------

class Plots:
    def __init__(self, res, out):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib import patheffects, ticker
        self.res, self.out, self.plt, self.ticker, self.effects = res, out, plt, ticker, patheffects
        self.made = set()

    def style(self, m):
        if m in STYLE:
            return STYLE[m]
        i = self.res.order.index(m) if m in self.res.order else len(self.res.order)
        return FALLBACK_COLOURS[i % len(FALLBACK_COLOURS)], "o", "-"

    def save(self, fig, name):
        fig.savefig(os.path.join(self.out, name), dpi=110, bbox_inches="tight")
        self.plt.close(fig)
        self.made.add(name)

    def log_axis(self, ax, axis, values):
        """A log axis with labelled ticks at 1, 2, 5 x 10^k across the values, so
        that it always reads, however narrow the range."""
        values = [v for v in values if v and v > 0]
        if not values:
            return
        lo, hi = min(values), max(values)
        steps = (1, 2, 5) if hi / lo < 1000 else (1,)  # wider ranges: one tick a decade
        ticks = [m * 10 ** e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 1)
                 for m in steps]
        inside = [t for t in ticks if lo / 1.5 <= t <= hi * 1.5]
        if len(inside) < 2:
            inside = [t for t in ticks if lo / 3 <= t <= hi * 3]
        getattr(ax, f"set_{axis}scale")("log")
        target = ax.xaxis if axis == "x" else ax.yaxis
        target.set_major_locator(self.ticker.FixedLocator(inside))
        target.set_major_formatter(self.ticker.FuncFormatter(lambda v, _: fmt(v)))
        target.set_minor_locator(self.ticker.NullLocator())
        getattr(ax, f"set_{axis}lim")(min(inside + [lo]) / 1.2, max(inside + [hi]) * 1.2)

    def series(self, ax, xs, cells, m, scale=1.0):
        """Medians with min-max whiskers; a line only through three points or more
        (fewer: markers alone, a line would suggest a trend)."""
        pts = [(x, c) for x, c in zip(xs, cells) if c is not None]
        if not pts:
            return []
        colour, marker, ls = self.style(m)
        x = [p[0] for p in pts]
        y = [p[1].median * scale for p in pts]
        err = [[(p[1].median - p[1].lo) * scale for p in pts], [(p[1].hi - p[1].median) * scale for p in pts]]
        ax.errorbar(x, y, yerr=err if any(e > 0 for e in err[0] + err[1]) else None, color=colour, marker=marker,
                    linestyle=ls if len(pts) >= 3 else "none", label=m, capsize=2,
                    linewidth=2.0 if m in ("epoll", "uring", "floor") else 1.2)
        return y + [p[1].lo * scale for p in pts] + [p[1].hi * scale for p in pts]

    def bars(self, ax, names, cells, scale=1.0, log=False):
        """Bars of medians with min-max whiskers; on a log axis a zero has no bar
        but a '0' where it would stand. A log axis only where the values other
        than zero span more than a decade: over less it would show one tick."""
        nonzero = [c.median for c in cells if c is not None and c.median > 0]
        log = log and len(nonzero) >= 2 and max(nonzero) > 10 * min(nonzero)
        values = []
        for i, (m, c) in enumerate(zip(names, cells)):
            if c is None:
                continue
            v = c.median * scale
            if log and v <= 0:
                continue
            ax.bar(i, v, color=self.style(m)[0])
            if c.n > 1:  # black on a white edge: seen on any bar
                ax.vlines(i, c.lo * scale, c.hi * scale, color="k", linewidth=1.2,
                          path_effects=[self.effects.withStroke(linewidth=3, foreground="white")])
            values += [v, c.hi * scale] + ([c.lo * scale] if c.lo > 0 else [])
        if log:
            self.log_axis(ax, "y", values)
            bottom = ax.get_ylim()[0]
            for i, c in enumerate(cells):
                if c is not None and c.median <= 0:
                    ax.text(i, bottom * 1.1, "0", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
        ax.set_xlim(-0.6, len(names) - 0.4)  # every slot, a bar or a '0', inside the frame

    def not_measured(self, ax):
        """An empty panel says why: the server was not ours (--muxlab_target)."""
        ax.set_xticks([])
        ax.set_yticks([])
        ax.text(0.5, 0.5, "not measured\n(a server echo-bench did not start)", ha="center", va="center",
                transform=ax.transAxes, color="#555555")

    def whisker_note(self):
        reps = self.res.repetitions()
        return f"median of {reps} runs, whiskers: min-max" if reps > 1 else "one run, no spread measured"

    # -- the figures

    def pingpong(self):
        res = self.res
        sizes = res.param_values("PingPong", "bytes")
        if not sizes:
            return
        fig, axes = self.plt.subplots(len(sizes), 2, figsize=(13, 4.8 * len(sizes)), squeeze=False)
        for row, size in enumerate(sizes):
            conns = res.param_values("PingPong", "conns", bytes=size)
            ys = [[], []]
            for m in res.models("PingPong"):
                ys[0] += self.series(axes[row][0], conns, [res.cell("PingPong", m, "items_per_second", conns=c, bytes=size) for c in conns], m)
                ys[1] += self.series(axes[row][1], conns, [res.cell("PingPong", m, "msgs_per_server_cpu_s", conns=c, bytes=size) for c in conns], m)
            axes[row][0].set_title(f"{size}-byte messages: messages per second")
            axes[row][1].set_title(f"{size}-byte messages: per second of server CPU (higher = cheaper)")
            for ax, y in zip(axes[row], ys):
                self.log_axis(ax, "x", conns)
                if y:
                    self.log_axis(ax, "y", y)
                else:
                    self.not_measured(ax)
                ax.set_xlabel("connections, one message in flight each")
                ax.grid(True, alpha=0.3)
            axes[row][0].set_ylabel("messages/s")
            axes[row][1].set_ylabel("messages / server CPU second")
        axes[0][0].legend(fontsize=8, ncol=2, title=self.whisker_note(), title_fontsize=8)
        self.save(fig, "pingpong.png")

    def latency(self):
        """The round-trip distribution at one connection: a CDF read at its tail."""
        res = self.res
        from_load = [("p0", 0), ("p10", 10), ("p25", 25), ("p50", 50), ("p75", 75), ("p90", 90), ("p99", 99),
                     ("p99_9", 99.9), ("p99_99", 99.99)]
        models = [m for m in res.models("PingPong") if res.cell("PingPong", m, "rtt_p50_us", conns=1, bytes=64)]
        if not models:
            return
        fig, ax = self.plt.subplots(figsize=(10, 5.5))
        ys = lambda p: -math.log10(1 - p / 100)  # 0, 1 (90 %), 2 (99 %), 3 (99.9 %)...
        xs_all = []
        for m in models:
            pts = [(res.cell("PingPong", m, f"rtt_{name}_us", conns=1, bytes=64), p) for name, p in from_load]
            pts = [(c.median, ys(p)) for c, p in pts if c is not None]
            colour, marker, ls = self.style(m)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=colour, marker=marker, linestyle=ls, label=m,
                    markersize=4, linewidth=2.0 if m in ("epoll", "uring", "floor") else 1.2)
            xs_all += [p[0] for p in pts]
        ticks = [0, 50, 90, 99, 99.9, 99.99]
        ax.set_yticks([ys(t) for t in ticks], [f"{t:g} %" for t in ticks])
        self.log_axis(ax, "x", xs_all)
        ax.set_xlabel("round trip, microseconds (one connection, 64-byte messages)")
        ax.set_ylabel("share of messages at most this slow")
        ax.set_title("Latency distribution (median of the runs at each percentile)")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        self.save(fig, "latency.png")

    def cpu(self):
        """CPU against throughput, and CPU while idle."""
        res = self.res
        busy = busy_conns(res)
        models = [m for m in res.models("PingPong")
                  if res.cell("PingPong", m, "server_cpu_us_per_msg", conns=busy, bytes=64)]
        idle_models = res.models("IdleCpu")
        if not models and not idle_models:
            return
        fig, axes = self.plt.subplots(1, 2, figsize=(14, 5.2))
        xs, ys = [], []
        for m in models:
            x = res.cell("PingPong", m, "items_per_second", conns=busy, bytes=64)
            y = res.cell("PingPong", m, "server_cpu_us_per_msg", conns=busy, bytes=64)
            colour, marker, _ = self.style(m)
            axes[0].errorbar([x.median], [y.median], xerr=[[x.median - x.lo], [x.hi - x.median]],
                             yerr=[[y.median - y.lo], [y.hi - y.median]], color=colour, marker=marker, label=m,
                             capsize=2, linestyle="none", markersize=8)
            xs += [x.lo, x.hi]
            ys += [y.lo, y.hi]
        if models:
            axes[0].set_xlabel(f"messages per second, {busy} connections, 64 B (right: more)")
            axes[0].set_ylabel("server CPU per message, us (down: cheaper)")
            axes[0].set_title("CPU against throughput (" + self.whisker_note() + ")")
            axes[0].grid(True, alpha=0.3)
            axes[0].legend(fontsize=8, ncol=2)
        if idle_models:
            cells = [res.cell("IdleCpu", m, "server_cpu_share", conns=100) for m in idle_models]
            self.bars(axes[1], idle_models, cells, log=True)
            axes[1].set_ylabel("server CPU seconds per second" + (" (log)" if axes[1].get_yscale() == "log" else ""))
            axes[1].set_title("CPU while idle: 100 connections open, nothing sent")
        self.save(fig, "cpu.png")

    def idle_scaling(self):
        res = self.res
        ks = res.param_values("IdleScaling", "idle")
        models = res.models("IdleScaling")
        if not models:
            return
        fig, axes = self.plt.subplots(2, 2, figsize=(14, 10))
        ys = [[], []]
        for m in models:
            ys[0] += self.series(axes[0][0], ks, [res.cell("IdleScaling", m, "rtt_p50_us", idle=k) for k in ks], m)
            ys[1] += self.series(axes[0][1], ks, [res.cell("IdleScaling", m, "server_cpu_us_per_msg", idle=k) for k in ks], m)
        for ax, y, title, label in ((axes[0][0], ys[0], "Round trip (p50) of the one active connection", "microseconds"),
                                    (axes[0][1], ys[1], "Server CPU per message", "microseconds of server CPU")):
            ax.set_xscale("symlog", linthresh=100)
            ax.set_xticks(ks, [fmt(k) for k in ks])
            ax.xaxis.set_minor_locator(self.ticker.NullLocator())
            if y:
                self.log_axis(ax, "y", y)
            else:
                self.not_measured(ax)
            ax.set_xlabel("idle connections alongside (K)")
            ax.set_ylabel(label)
            ax.set_title(title)
            ax.grid(True, alpha=0.3)
        axes[0][0].legend(fontsize=8, ncol=2, title=self.whisker_note(), title_fontsize=8)
        # Memory at the largest K each model reached: the server's, then the kernel's.
        # Server memory spans a thread's stack to a few hundred bytes: a log scale.
        for ax, metric, title, log in ((axes[1][0], "rss_per_idle_conn_bytes", "Server RSS per idle connection", True),
                                       (axes[1][1], "kernel_slab_per_idle_conn_bytes",
                                        "Kernel slab per idle connection (both ends)", False)):
            names, cells = [], []
            for m in models:
                reached = [k for k in ks if k > 0 and res.cell("IdleScaling", m, metric, idle=k)]
                if reached:
                    names.append(f"{m} ({fmt(max(reached))})")
                    cells.append(res.cell("IdleScaling", m, metric, idle=max(reached)))
            ax.set_title(title + ", at the largest K")
            if names:
                self.bars(ax, [n.split(" ")[0] for n in names], cells, log=log)
                ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
                ax.set_ylabel("bytes" + (" (log)" if ax.get_yscale() == "log" else ""))
                ax.grid(True, axis="y", alpha=0.3)
            else:
                self.not_measured(ax)
        self.save(fig, "idle_scaling.png")

    def chunking(self):
        res = self.res
        kbs = res.param_values("Chunking", "reply_kb")
        recvs = res.param_values("Chunking", "recv")
        if not kbs:
            return
        fig, axes = self.plt.subplots(len(recvs), len(kbs), figsize=(max(7, 5.2 * len(kbs)), 4.3 * len(recvs)),
                                      squeeze=False)
        for i, rv in enumerate(sorted(recvs, reverse=True)):
            for j, kb in enumerate(kbs):
                ax = axes[i][j]
                models = [m for m in res.models("Chunking") if res.cell("Chunking", m, "chunk_median", reply_kb=kb, recv=rv)]
                for x, m in enumerate(models):
                    g = lambda k: res.cell("Chunking", m, k, reply_kb=kb, recv=rv).median
                    c = self.style(m)[0]
                    ax.vlines(x, g("chunk_min"), g("chunk_max"), color=c, linewidth=1)
                    ax.vlines(x, g("chunk_p10"), g("chunk_p90"), color=c, linewidth=7, alpha=0.5)
                    ax.plot(x, g("chunk_median"), marker="o", color=c)
                    ax.text(x, g("chunk_max") * 1.3, f"{g('recv_calls_per_reply'):.3g}", ha="center", fontsize=7)
                ax.set_xticks(range(len(models)), models, rotation=45, ha="right", fontsize=7)
                self.log_axis(ax, "y", [1, rv * 4])
                ax.grid(True, axis="y", alpha=0.3)
                ax.set_title(f"reply {kb} KiB, recv({rv // 1024} KiB)", fontsize=10)
                if j == 0:
                    ax.set_ylabel("bytes per recv()")
        fig.suptitle("Bytes per recv() (the number above: recv() calls per reply)", fontsize=11, y=1.0)
        fig.tight_layout()
        self.save(fig, "chunking.png")

    def bulk(self):
        res = self.res
        models = res.models("Bulk")
        if not models:
            return
        fig, axes = self.plt.subplots(1, 2, figsize=(14, 4.8))
        self.bars(axes[0], models, [res.cell("Bulk", m, "bytes_per_second", window=4 << 20) for m in models], 1e-6)
        axes[0].set_ylabel("MB/s echoed")
        axes[0].set_title("Bulk raw echo, one connection (" + self.whisker_note() + ")")
        measured = [m for m in models if res.cell("Bulk", m, "bytes_per_server_cpu_s", window=4 << 20)]
        self.bars(axes[1], measured, [res.cell("Bulk", m, "bytes_per_server_cpu_s", window=4 << 20) for m in measured], 1e-6)
        axes[1].set_ylabel("MB per server CPU second")
        axes[1].set_title("Bytes per second of server CPU (higher = cheaper)")
        for ax in axes:
            ax.grid(True, axis="y", alpha=0.3)
        self.save(fig, "bulk.png")

    def all(self):
        for draw in (self.pingpong, self.latency, self.cpu, self.idle_scaling, self.chunking, self.bulk):
            draw()
        return self.made


# ---- which model when ------------------------------------------------------------------

def names(group):
    return ", ".join(m for m, _ in group)


def pick_text(best, ties):
    return best[0] + (f" (tied: {names(ties)})" if ties else "")


def one_at_a_time(res):
    """Models that serve one client at a time (ping-pong with one connection only,
    where others ran with more): blocking-server. Not a pick for anything."""
    many = {m for (w, m, p) in res.runs if w == "PingPong" and dict(p).get("conns", 1) > 1}
    return [m for m in res.models("PingPong") if many and m not in many]


# Servers whose --stats count what the library's callbacks see, not the
# system calls it makes (each library's README says what): their calls/msg are
# not compared with the others'.
LIBRARY_COUNTED = ("libevent", "libevent-poll", "libevent-select", "libuv", "asio")
CALLS_NOTE = ("calls/msg of " + ", ".join(LIBRARY_COUNTED) + ": what the library's callbacks see, not every "
              "system call it makes (their READMEs)")


def calls_note(models):
    """CALLS_NOTE as a sentence, where a library is among `models`; else ""."""
    return CALLS_NOTE[0].upper() + CALLS_NOTE[1:] + "." if any(m in LIBRARY_COUNTED for m in models) else ""


# Models whose limit the figures of a quick run do not show.
LIMITS = {"select": "at most FD_SETSIZE (1024) descriptors",
          "libevent-select": "at most FD_SETSIZE (1024) descriptors"}


def advice(res):
    """Rows (situation, pick, why, see) from this run's figures."""
    models = [m for m in res.models() if m not in ("floor", "target") and m not in one_at_a_time(res)]
    rows = []
    idle_cpu = {m: res.cell("IdleCpu", m, "server_cpu_share", conns=100) for m in models}
    sleepers = [m for m in models if idle_cpu[m] is None or idle_cpu[m].median < 0.1]
    burners = [m for m in models if idle_cpu[m] is not None and idle_cpu[m].median >= 0.1]

    def burner_note(fig):
        """Where a model that burns a CPU while idle is as good as the pick (which never does)."""
        best_all, ties_all, _ = best_group(res, fig, models)
        hit = [m for m, _ in ([best_all] if best_all else []) + ties_all if m in burners]
        return f"; {', '.join(hit)} as good, but burning a whole CPU while idle" if hit else ""

    # Latency with one connection.
    lat = Figure(("rtt",), "PingPong", "rtt_p50_us", {"conns": 1, "bytes": 64}, False)
    best, ties, _ = best_group(res, lat, sleepers)
    if best:
        p99 = res.cell("PingPong", best[0], "rtt_p99_us", conns=1, bytes=64)
        why = f"{fmt(best[1].median)} us round trip (p50), {fmt(p99.median if p99 else None)} us at p99, one connection"
        fast = [m for m in burners if res.cell("PingPong", m, "rtt_p50_us", conns=1, bytes=64)]
        if fast:
            c = res.cell("PingPong", fast[0], "rtt_p50_us", conns=1, bytes=64)
            why += f"; {fast[0]} answers in {fmt(c.median)} us but burns a whole CPU while idle"
        rows.append(["Few connections, lowest latency", pick_text(best, ties), why,
                     link("latency", "#latency") + ", " + link("plot", "latency.png")])

    # Many busy connections: server CPU per message at the most connections run.
    conns = res.param_values("PingPong", "conns", bytes=64)
    if conns:
        c = max(conns)
        eff = Figure(("",), "PingPong", "server_cpu_us_per_msg", {"conns": c, "bytes": 64}, False)
        best, ties, rest = best_group(res, eff, sleepers)
        if best:
            worst = rest[-1] if rest else None
            why = f"{fmt(best[1].median)} us of server CPU per message with {c} busy connections"
            if worst:
                why += f" ({worst[0]}: {fmt(worst[1].median)} us)"
            why += burner_note(eff)
            rows.append([f"Many busy connections ({c}), small messages", pick_text(best, ties), why,
                         link("ping-pong", "#ping-pong") + ", " + link("plot", "cpu.png")])

    # The kernel's work: system calls per message, where the servers count them.
    if conns:
        c = max(conns)
        calls = Figure(("",), "PingPong", "server_syscalls_per_msg", {"conns": c, "bytes": 64}, False)
        best, ties, rest = best_group(res, calls, sleepers)
        if best and rest:
            why = (f"{fmt(best[1].median)} system calls per message with {c} busy connections "
                   f"({rest[-1][0]}: {fmt(rest[-1][1].median)}), from the servers' own counts" + burner_note(calls))
            rows.append(["Fewest system calls", pick_text(best, ties), why, link("ping-pong", "#ping-pong")])

    # Many idle connections: flat round trip at the largest K, then memory.
    ks = [k for k in res.param_values("IdleScaling", "idle") if k > 0]
    reached = [k for k in ks if sum(1 for m in models if res.cell("IdleScaling", m, "rtt_p50_us", idle=k)) >= 2]
    if reached:
        k = max(reached)
        flat, grew = [], []
        for m in models:
            at_k = res.cell("IdleScaling", m, "rtt_p50_us", idle=k)
            at_0 = res.cell("IdleScaling", m, "rtt_p50_us", idle=0) or res.cell("PingPong", m, "rtt_p50_us", conns=1, bytes=64)
            if at_k is None or at_0 is None:
                continue
            factor = at_k.median / at_0.median
            (flat if factor < 1.5 or differs(at_k, at_0) is False else grew).append((m, factor))
        memory = {m: res.cell("IdleScaling", m, "rss_per_idle_conn_bytes", idle=k) for m, _ in flat}
        flat.sort(key=lambda mf: memory[mf[0]].median if memory[mf[0]] else float("inf"))
        if flat:
            lean = [m for m, _ in flat if memory[m] is not None]
            held = lambda m: f" ({fmt(memory[m].median)} B)" if memory[m] else ""
            why = (f"round trip at {fmt(k)} idle within 1.5x of none for " + ", ".join(m + held(m) for m, _ in flat)
                   + ("; in parentheses, server memory per idle connection" if lean else ""))
            if grew:
                why += "; grew: " + ", ".join(f"{m} {f:.0f}x" for m, f in sorted(grew, key=lambda mf: mf[1]))
            rows.append([f"Many connections ({fmt(k)}), mostly idle", lean[0] if lean else flat[0][0], why,
                         link("idle connections", "#idle-connections") + ", " + link("plot", "idle_scaling.png")])

    # Large messages, then bulk.
    big = [b for b in res.param_values("PingPong", "bytes") if b > 64]
    if big and conns:
        b, c = max(big), max(res.param_values("PingPong", "conns", bytes=max(big)))
        eff = Figure(("",), "PingPong", "bytes_per_server_cpu_s", {"conns": c, "bytes": b}, True)
        best, ties, _ = best_group(res, eff, sleepers)
        if best:
            size = f"{b // 1024} KiB" if b % 1024 == 0 else f"{b} B"
            rows.append([f"Large messages ({size})", pick_text(best, ties),
                         f"{fmt(best[1].median)}B moved per second of server CPU at {c} connections" + burner_note(eff),
                         link("ping-pong", "#ping-pong")])
    bulk = Figure(("",), "Bulk", "bytes_per_server_cpu_s", {"window": 4 << 20}, True)
    best, ties, rest = best_group(res, bulk, sleepers)
    if best:
        why = f"{fmt(best[1].median)}B echoed per second of server CPU"
        if rest:
            why += f" ({rest[-1][0]}: {fmt(rest[-1][1].median)}B)"
        why += burner_note(bulk)
        rows.append(["Bulk transfers", pick_text(best, ties), why,
                     link("bulk", "#bulk") + ", " + link("plot", "bulk.png")])

    # A CPU budget while nothing happens.
    if any(idle_cpu.values()):
        why = ("every model that sleeps in the kernel uses next to no CPU with 100 idle connections"
               + (f"; {', '.join(burners)} burn{'s' if len(burners) == 1 else ''} "
                  f"{fmt(idle_cpu[burners[0]].median)} of a CPU" if burners else ""))
        rows.append(["A CPU budget while idle", "anything but " + ", ".join(burners) if burners else "any",
                     why, link("CPU", "#cpu") + ", " + link("plot", "cpu.png")])

    # A pick with a limit this run may not show says so.
    for row in rows:
        picked = row[1].replace("(tied:", ",").replace(")", "").split(",")
        limited = [m for m in LIMITS if m in (p.strip() for p in picked)]
        if limited:
            row[2] += "; " + "; ".join(f"{m}: {LIMITS[m]}" for m in limited)

    # Portability and code.
    rows.append(["Portability, code to read", "see the table",
                 "what each runs on, and how many lines its server takes",
                 link("portability and code", "#portability-and-code")])
    return rows


# ---- the Markdown page --------------------------------------------------------------

def machine(res):
    ctx = res.context
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        model = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Model name")), "?")
        virt = next((l.split(":", 1)[1].strip() for l in lscpu.splitlines() if l.startswith("Hypervisor vendor")), None)
    except OSError:
        model, virt = "?", None
    load = ctx.get("load_avg", "?")
    if isinstance(load, list):
        load = ", ".join(f"{x:.2f}" for x in load)
    return "\n".join([
        f"- CPU: {model}, {ctx.get('num_cpus', os.cpu_count())} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz"
        + (f" (virtual machine, {virt})" if virt else ""),
        f"- kernel: {platform.system()} {platform.release()}",
        f"- run: {ctx.get('date', '?')} on {ctx.get('host_name', '?')}; load average at the start: {load}",
        f"- muxlab {ctx.get('muxlab_version', '?')}, commit {ctx.get('muxlab_commit', '?')}, "
        f"build {ctx.get('muxlab_build_type', '?')}",
        f"- pinning: {ctx.get('muxlab_pinning', '?')}; scheduling: {ctx.get('muxlab_scheduling', '?')}",
        f"- measured time per benchmark: {ctx.get('muxlab_seconds_per_benchmark', '?')} s, "
        f"repetitions: {res.repetitions()}; RLIMIT_NOFILE {ctx.get('muxlab_rlimit_nofile', '?')}",
        f"- kernel memory read from: {ctx.get('muxlab_kernel_memory', '?')}",
    ] + ([f"- target: {ctx['muxlab_target']} (a server echo-bench did not start: its CPU and memory are "
          "not measured)"] if "muxlab_target" in ctx else []))


def noise(res):
    keys = {"PingPong": ["items_per_second", "rtt_p50_us", "server_cpu_us_per_msg"],
            "IdleScaling": ["rtt_p50_us"], "Bulk": ["bytes_per_second"], "Chunking": ["items_per_second"]}
    out = []
    for w, metrics in keys.items():
        for metric in metrics:
            sp = [res.cell(w, m, metric, **dict(p)) for (ww, m, p) in res.runs if ww == w]
            sp = sorted(c.spread() for c in sp if c is not None and c.spread() is not None)
            if sp:
                out.append([f"{w} {metric}", len(sp), f"±{statistics.median(sp) * 100:.0f} %",
                            f"±{sp[int(0.9 * (len(sp) - 1))] * 100:.0f} %", f"±{sp[-1] * 100:.0f} %"])
    return out


def bold_best(res, fig, models):
    """The cell text of every model, bold where it is the best or tied with it."""
    best, ties, _ = best_group(res, fig, [m for m in models if m not in ("floor", "target")])
    top = {m for m, _ in ([best] if best else []) + ties} if res.repetitions() > 1 else set()
    return {m: (f"**{fig.text(res, m)}**" if m in top else fig.text(res, m)) for m in models}


def source_lines(folder, binary):
    """Lines of a model's server file that are neither blank nor comments."""
    stem = binary.removesuffix("-server").replace("-", "_")
    for name in (f"{stem}_server.cpp", "server.cpp"):
        path = os.path.join(ROOT, folder, name)
        if os.path.exists(path):
            with open(path) as f:
                lines = [l.strip() for l in f]
            return os.path.join(folder, name), sum(1 for l in lines if l and not l.startswith("//"))
    return None, None


def section_side_by_side(res, models):
    figures = summary_figures(res)
    cols = {f.label: bold_best(res, f, models) for f in figures}
    busy = busy_conns(res)
    tput = lambda m: res.cell("PingPong", m, "items_per_second", conns=busy, bytes=64)
    eff = lambda m: res.cell("PingPong", m, "msgs_per_server_cpu_s", conns=busy, bytes=64)
    rows = [[m] + [cols[f.label][m] for f in figures] + [ratio_text(eff(m), eff(REFERENCE)),
                                                         ratio_text(tput(m), tput("floor"))]
            for m in models]
    header = ["model"] + [" ".join(f.label) for f in figures] + [f"msgs/CPU-s x {REFERENCE}", "msgs/s x floor"]
    md = ["## Side by side", "",
          "Each figure: the median of the repetitions ±half their range. **Bold**: the best in its column, and "
          "every figure the noise does not tell apart from it (not ranked against each other). "
          f"msgs/CPU-s x {REFERENCE}: messages per second of server CPU with {busy} connections, as a multiple of "
          f"{REFERENCE}-server's (above 1: cheaper per message than raw {REFERENCE}); msgs/s x floor: messages per "
          "second against the floor's. Ratios are printed to the precision the noise allows; ≈1x: the noise "
          "covers 1." + (" " + calls_note(models) if calls_note(models) else ""), "", md_table(header, rows), ""]
    if res.repetitions() > 1 and len(models) > 1:
        stable = []
        for fig in figures:
            kept, total = ranking_stability(res, fig, [m for m in models if m != "target"])
            if total:
                stable.append(f"{' '.join(fig.label)} {kept} of {total}")
        md += ["How stable the ranking was: of the pairs of models, how many kept their order in every repetition "
               "(the i-th run of one against the i-th run of the other): " + "; ".join(stable) + ". A pair that "
               "swapped places at least once is read as equal where their ranges overlap.", ""]
    return md


def section_baseline(res, base):
    md = ["## Change against the baseline", "",
          f"Against `{base.path}` (commit {base.context.get('muxlab_commit', '?')}, "
          f"{base.repetitions()} repetitions). A change in parentheses is inside the noise (the two runs' "
          "repetitions overlap, or the Mann-Whitney U test gives p ≥ 0.05 with four or more each); "
          "a `?` has no repetitions to tell.", ""]
    metrics = {"PingPong": [("items_per_second", "msgs/s"), ("server_cpu_us_per_msg", "CPU us/msg"),
                            ("rtt_p50_us", "rtt p50"), ("rtt_p99_us", "rtt p99")],
               "IdleScaling": [("rtt_p50_us", "rtt p50"), ("server_cpu_us_per_msg", "CPU us/msg"),
                               ("rss_per_idle_conn_bytes", "RSS/idle conn")],
               "Chunking": [("items_per_second", "replies/s"), ("server_cpu_us_per_reply", "CPU us/reply")],
               "Bulk": [("bytes_per_second", "bytes/s"), ("bytes_per_server_cpu_s", "bytes/CPU-s")],
               "IdleCpu": [("server_cpu_share", "idle CPU")]}
    for w, ms in metrics.items():
        rows = []
        for key in sorted((k for k in res.runs if k[0] == w), key=lambda k: (res.order.index(k[1]) if k[1] in res.order else 99, k[2])):
            _, m, p = key
            params = dict(p)
            row = ["/".join([m] + [f"{k}:{v}" for k, v in p])]
            for metric, _ in ms:
                new, old = res.cell(w, m, metric, **params), base.cell(w, m, metric, **params)
                row += [cell_text(new), change(old, new)]
            rows.append(row)
        if rows:
            header = [f"BM_{w}"] + [h for _, label in ms for h in (label, "change")]
            md += [f"### {w}", "", md_table(header, rows), ""]
    return md


def section_portability(res, models):
    rows = []
    for m in models:
        binary, folder = res.sources().get(m, (None, None))
        if not binary:
            continue
        path, lines = source_lines(folder, binary)
        rows.append([m, f"`{binary}`", RUNS_ON.get(binary, f"see {folder}/README.md"),
                     f"{lines} (`{path}`)" if lines else "–"])
    return ["## Portability and code", "",
            "Lines: the server's own file, without blank lines and comments (what every server shares lives in "
            "core/ and is not counted).", "", md_table(["model", "program", "runs on", "lines"], rows), ""]


def write_report(res, out, notes, command, base):
    os.makedirs(out, exist_ok=True)
    plots = Plots(res, out).all()
    models = res.models()
    g = lambda m, w, k, **p: res.cell(w, m, k, **p)
    md = ["# muxlab: every I/O model on the same work", ""]
    if command:
        md += [f"Made by `{command}`.", ""]
    md += ["Every figure is measured by `echo-bench` (bench/README.md) against a server it started as a child "
           "process; every echoed byte is checked.", ""]
    for warning in run_warnings(res):
        md += [f"> **Warning:** {warning}.", ""]
    if res.repetitions() < 2:
        md += ["> **One repetition:** no spread measured, so nothing here is told apart from noise. "
               "Run with `--benchmark_repetitions=3` (bench/side_by_side.sh does).", ""]

    candidates = [m for m in models if m not in ("floor", "target")]
    if len(candidates) > 1:
        md += ["## Which model when", "",
               "From this run's figures. A tie means the noise could not tell those models apart; the links lead "
               "to the table or plot that shows it."
               + "".join(f" {m} serves one client at a time: it is no pick here." for m in one_at_a_time(res)), "",
               md_table(["if you have", "pick", "because (this run)", "see"], advice(res)), ""]
    md += section_side_by_side(res, models)
    if base is not None:
        md += section_baseline(res, base)
    md += ["## Machine", "", machine(res), ""]
    for path in notes or []:
        with open(path) as f:
            md += [f.read(), ""]

    if "pingpong.png" in plots:
        md += ["## Ping-pong", "",
               "C connections, one message in flight on each. Left: what the load generator got; on two CPUs it is "
               "often the bottleneck, so the right-hand plot (messages per second of *server* CPU) is the fair "
               "comparison of the servers' cost. System calls per message are the server's own count (--stats: "
               "wakeups, recv, send, epoll_ctl where counted; uring-server's io_uring_enter calls), over its life; "
               + CALLS_NOTE + ".",
               "", "![ping-pong](pingpong.png)", ""]
        rows = []
        for m in res.models("PingPong"):
            for b in res.param_values("PingPong", "bytes"):
                for c in res.param_values("PingPong", "conns", bytes=b):
                    ips = g(m, "PingPong", "items_per_second", conns=c, bytes=b)
                    if ips is None:
                        continue
                    cc = lambda k: cell_text(g(m, "PingPong", k, conns=c, bytes=b))
                    rows.append([m, c, b, cell_text(ips), cc("rtt_p50_us"), cc("rtt_p99_us"), cc("server_cpu_us_per_msg"),
                                 cc("msgs_per_server_cpu_s"), cc("server_syscalls_per_msg"),
                                 ratio_text(g(m, "PingPong", "msgs_per_server_cpu_s", conns=c, bytes=b),
                                            g(REFERENCE, "PingPong", "msgs_per_server_cpu_s", conns=c, bytes=b))])
        md += [md_table(["model", "conns", "bytes", "msgs/s", "rtt p50 us", "rtt p99 us", "server CPU us/msg",
                         "msgs/server-CPU-s", "syscalls/msg", f"msgs/CPU-s x {REFERENCE}"], rows), ""]

    if "latency.png" in plots:
        md += ["## Latency", "",
               "The distribution of round trips with one connection (64-byte messages), from the load generator's "
               "histogram (buckets of 1.6 %). The y axis is stretched towards the tail: each step is ten times "
               "rarer.", "", "![latency](latency.png)", ""]
        pts = ["p50", "p90", "p99", "p99_9"]
        rows = [[m] + [cell_text(g(m, "PingPong", f"rtt_{p}_us", conns=1, bytes=64)) for p in pts]
                + [cell_text(g(m, "PingPong", "rtt_p100_us", conns=1, bytes=64))]
                for m in res.models("PingPong") if g(m, "PingPong", "rtt_p50_us", conns=1, bytes=64)]
        md += [md_table(["model", "p50 us", "p90 us", "p99 us", "p99.9 us", "max us"], rows), ""]

    if "cpu.png" in plots:
        busy = busy_conns(res)
        md += ["## CPU", "",
               f"Left: each model's server CPU per message against the messages per second it served, {busy} "
               "connections (down and right is better). Right: the server's CPU with 100 connections open and "
               "nothing sent, on a log scale where the figures span more than a decade (a zero then has no bar, but "
               "a 0): the busy poller burns a whole CPU doing nothing; "
               "the others sleep in the kernel.", "", "![cpu](cpu.png)", ""]
        rows = [[m, cell_text(g(m, "IdleCpu", "server_cpu_share", conns=100)),
                 cell_text(g(m, "PingPong", "server_cpu_us_per_msg", conns=busy, bytes=64)),
                 cell_text(g(m, "PingPong", "items_per_second", conns=busy, bytes=64))]
                for m in models if g(m, "IdleCpu", "server_cpu_share", conns=100)
                or g(m, "PingPong", "server_cpu_us_per_msg", conns=busy, bytes=64)]
        md += [md_table(["model", "idle CPU share", f"server CPU us/msg, {busy} conns", f"msgs/s, {busy} conns"], rows), ""]

    if "idle_scaling.png" in plots:
        ks = res.param_values("IdleScaling", "idle")
        md += ["## Idle connections", "",
               "One connection in ping-pong (64 B) while K others stay open and silent. select and poll hand the "
               "kernel every descriptor on every call, and scan them all afterwards; epoll and io_uring keep the "
               "interest in the kernel and return only what is ready. Memory per idle connection: the server's RSS "
               "growth over K; the kernel's slab growth over K (the socket structures of both ends of each connection, "
               "from /proc/slabinfo, else /proc/meminfo) and its socket buffers' growth over K (/proc/net/sockstat), "
               "both machine-wide, so only from 1000 up: what a deployment pays per connection whatever it picks. A model stops where it cannot go on: the skips say why.", "",
               "![idle scaling](idle_scaling.png)", ""]
        rows = []
        for m in res.models("IdleScaling"):
            row = [m]
            for k in ks:
                c = g(m, "IdleScaling", "rtt_p50_us", idle=k)
                row.append(cell_text(c) if c else ("skipped" if ("IdleScaling", m, (("idle", k),)) in res.errors else "–"))
            reached = [k for k in ks if g(m, "IdleScaling", "rtt_p50_us", idle=k)]
            top = max(reached) if reached else None
            row += [cell_text(g(m, "IdleScaling", "server_cpu_us_per_msg", idle=top)) if top is not None else "–",
                    cell_text(g(m, "IdleScaling", "rss_per_idle_conn_bytes", idle=top)) if top else "–",
                    cell_text(g(m, "IdleScaling", "kernel_slab_per_idle_conn_bytes", idle=top)) if top else "–",
                    growth_text(g(m, "IdleScaling", "kernel_buffers_per_idle_conn_bytes", idle=top)) if top else "–",
                    fmt(top) if top is not None else "–"]
            rows.append(row)
        md += [md_table(["model"] + [f"rtt p50 us, K={fmt(k)}" for k in ks]
                        + ["server CPU us/msg at largest K", "RSS B/idle conn", "kernel slab B/idle conn",
                           "kernel socket buffers B/idle conn", "largest K"], rows), ""]

    if "chunking.png" in plots:
        md += ["## Chunking", "",
               "The server runs with `--repeat R`; the client sends one line and reads the reply with recv() calls "
               "of at most 1 MiB or 64 KiB, as `echo-client --bufsize` does. However large the buffer, a recv() "
               "returns what has arrived: a client must loop (the lesson of Matloff's tms.py/tmc.py). The server's "
               "sends per reply are from its `--stats`. In the plot, each model's recv() sizes: a thin line from the "
               "smallest to the largest, a bar from the 10th to the 90th percentile, a dot at the median.", "",
               "![chunking](chunking.png)", ""]
        rows = []
        for m in res.models("Chunking"):
            for kb in res.param_values("Chunking", "reply_kb"):
                for rv in sorted(res.param_values("Chunking", "recv", reply_kb=kb), reverse=True):
                    cc = lambda k: g(m, "Chunking", k, reply_kb=kb, recv=rv)
                    if cc("items_per_second") is None:
                        continue
                    rows.append([m, kb, rv // 1024, cell_text(cc("items_per_second")),
                                 cell_text(cc("recv_calls_per_reply")), cell_text(cc("chunk_min")),
                                 cell_text(cc("chunk_median")), cell_text(cc("chunk_max")),
                                 cell_text(cc("server_partial_sends_per_reply")),
                                 cell_text(cc("server_send_calls_per_reply")), cell_text(cc("server_cpu_us_per_reply"))])
        md += [md_table(["model", "reply KiB", "recv KiB", "replies/s", "recv calls/reply", "chunk min",
                         "chunk median", "chunk max", "server partial sends/reply", "server sends/reply",
                         "server CPU us/reply"], rows), ""]

    if "bulk.png" in plots:
        md += ["## Bulk", "", "`--framing raw`, one connection, the load generator writing 256 KiB "
               "chunks with up to 4 MiB in flight and checking every byte that comes back.", "", "![bulk](bulk.png)", ""]
        w = 4 << 20
        rows = [[m, cell_text(g(m, "Bulk", "bytes_per_second", window=w), 1e-6),
                 ratio_text(g(m, "Bulk", "bytes_per_second", window=w), g("floor", "Bulk", "bytes_per_second", window=w)),
                 cell_text(g(m, "Bulk", "bytes_per_server_cpu_s", window=w)),
                 ratio_text(g(m, "Bulk", "bytes_per_server_cpu_s", window=w),
                            g(REFERENCE, "Bulk", "bytes_per_server_cpu_s", window=w)),
                 cell_text(g(m, "Bulk", "server_cpu_share", window=w)), cell_text(g(m, "Bulk", "client_cpu_share", window=w)),
                 cell_text(g(m, "Bulk", "server_bytes_per_recv", window=w)),
                 cell_text(g(m, "Bulk", "server_bytes_per_send", window=w)),
                 cell_text(g(m, "Bulk", "server_bytes_per_wakeup", window=w))]
                for m in res.models("Bulk")]
        md += [md_table(["model", "MB/s", "x floor", "bytes per server-CPU-s", f"bytes/CPU-s x {REFERENCE}", "server CPU share",
                         "load-gen CPU share", "server bytes/recv", "server bytes/send", "server bytes/wakeup"], rows), ""]

    md += section_portability(res, models)
    md += ["## Noise", "", f"Each benchmark ran {res.repetitions()} time(s). Spread: half the range of one "
           "benchmark's repetitions, over their median; the table gives its median, 90th percentile and maximum "
           "across benchmarks.", ""]
    nz = noise(res)
    md += [md_table(["figure", "benchmarks", "median spread", "p90 spread", "max spread"], nz) if nz
           else "Only one repetition: no spread measured.", ""]
    if res.errors:
        md += ["## Skipped or failed", "", md_table(["benchmark", "why"],
               [[f"BM_{w}/{m}/" + "/".join(f"{k}:{v}" for k, v in p), msg] for (w, m, p), msg in sorted(res.errors.items())]), ""]
    md += [f"_Generated {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by bench/report.py._", ""]
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md))
    return os.path.join(out, "report.md")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("json")
    ap.add_argument("--out", default="build/report")
    ap.add_argument("--table", action="store_true", help="print the comparison table only")
    ap.add_argument("--baseline", help="an older echo-bench JSON: every figure gets its change against it")
    ap.add_argument("--notes", action="append", help="a Markdown file to include after the machine (repeatable)")
    ap.add_argument("--command", help="the command that made the JSON, quoted in the report")
    args = ap.parse_args()
    res = Results(args.json)
    base = Results(args.baseline) if args.baseline else None
    if args.table:
        print_table(res, base)
        return 0
    print(write_report(res, args.out, args.notes, args.command, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())

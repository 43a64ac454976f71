#!/usr/bin/python3
"""report.py - turn echo-bench's JSON into a report a person reads.

    /usr/bin/python3 bench/report.py RESULTS.json --out DIR [--notes NOTES.md] [--command "..."]
    /usr/bin/python3 bench/report.py RESULTS.json --table     # the comparison table only, on stdout

Writes DIR/report.md and its PNG plots (matplotlib, Debian's python3-matplotlib:
use /usr/bin/python3, not a python3 from a virtualenv without it). With
--benchmark_repetitions=N each figure is the median of the N runs, and the
spread (max - min) / median is stated.
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
from collections import defaultdict

# Models in reading order; the reference lines last.
MODELS = ["blocking", "threaded", "nonblocking", "select", "poll", "epoll", "epoll-edge",
          "libevent", "libevent-poll", "libevent-select", "floor"]
STYLE = {  # colour, marker, line style: select/poll families share a hue with their libevent twin
    "blocking": ("#8c564b", "s", "-"), "threaded": ("#e377c2", "D", "-"),
    "nonblocking": ("#7f7f7f", "x", "-"), "select": ("#d62728", "v", "-"),
    "poll": ("#ff7f0e", "^", "-"), "epoll": ("#1f77b4", "o", "-"),
    "epoll-edge": ("#17becf", "P", "-"), "libevent": ("#2ca02c", "o", "--"),
    "libevent-poll": ("#bcbd22", "^", "--"), "libevent-select": ("#9467bd", "v", "--"),
    "floor": ("#000000", "*", ":"),
}


# ---- reading the JSON ----------------------------------------------------------

def parse_name(run_name):
    """BM_PingPong/epoll/conns:1/bytes:64/iterations:1/real_time -> ("PingPong", "epoll", {...})"""
    parts = run_name.split("/")
    params = {}
    for p in parts[2:]:
        if ":" in p:
            k, v = p.split(":", 1)
            if k != "iterations":
                params[k] = int(v)
    return parts[0][3:], parts[1], params


class Results:
    def __init__(self, path):
        with open(path) as f:
            data = json.load(f)
        self.context = data.get("context", {})
        self.runs = defaultdict(list)  # (workload, model, params) -> [benchmark dicts]
        self.errors = {}               # (workload, model, params) -> message
        for b in data.get("benchmarks", []):
            if b.get("run_type") != "iteration":
                continue
            key = parse_name(b["run_name"])
            key = (key[0], key[1], tuple(sorted(key[2].items())))
            if b.get("error_occurred"):
                self.errors[key] = b.get("error_message", "error")
            else:
                self.runs[key].append(b)

    def get(self, workload, model, metric, **params):
        """Median over repetitions, or None."""
        runs = self.runs.get((workload, model, tuple(sorted(params.items()))))
        if not runs:
            return None
        values = [r[metric] for r in runs if metric in r]
        return statistics.median(values) if values else None

    def values(self, workload, model, metric, **params):
        runs = self.runs.get((workload, model, tuple(sorted(params.items()))))
        return [r[metric] for r in runs or [] if metric in r]

    def spread(self, workload, model, metric, **params):
        runs = self.runs.get((workload, model, tuple(sorted(params.items()))))
        values = [r[metric] for r in runs or [] if metric in r]
        if len(values) < 2 or statistics.median(values) == 0:
            return None
        return (max(values) - min(values)) / abs(statistics.median(values))

    def models(self, workload=None):
        present = {k[1] for k in self.runs if workload is None or k[0] == workload}
        return [m for m in MODELS if m in present] + sorted(present - set(MODELS))

    def param_values(self, workload, name, **fixed):
        vals = set()
        for (w, _, params) in self.runs:
            p = dict(params)
            if w == workload and name in p and all(p.get(k) == v for k, v in fixed.items()):
                vals.add(p[name])
        return sorted(vals)

    def repetitions(self):
        return max((len(v) for v in self.runs.values()), default=0)


# ---- formatting -----------------------------------------------------------------

def fmt(v, unit=""):
    if v is None:
        return "–"
    a = abs(v)
    if a >= 1e9:
        s = f"{v / 1e9:.2f} G"
    elif a >= 1e6:
        s = f"{v / 1e6:.2f} M"
    elif a >= 1e4:
        s = f"{v / 1e3:.1f} k"
    elif a >= 100:
        s = f"{v:.0f} "
    elif a >= 1:
        s = f"{v:.2f} "
    elif a == 0:
        s = "0 "
    else:
        s = f"{v:.2g} "
    return (s + unit).strip()


def ratio(a, b):
    return None if a is None or not b else a / b


def fmt_ratio(r):
    return "–" if r is None else f"{r:.2f}x"


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# ---- the comparison table (side by side and the report's summary) ---------------

def summary_columns(res):
    """(header, getter) pairs; the connection counts follow what was run."""
    conns = res.param_values("PingPong", "conns", bytes=64)
    busy = 100 if 100 in conns else (max(conns) if conns else 100)
    idle = res.param_values("IdleScaling", "idle")
    big_idle = max(idle) if idle else 1000
    return busy, big_idle, [
        (f"msgs/s {busy} conns 64 B", lambda m: res.get("PingPong", m, "items_per_second", conns=busy, bytes=64), ""),
        (f"msgs per server-CPU-s {busy} conns", lambda m: res.get("PingPong", m, "msgs_per_server_cpu_s", conns=busy, bytes=64), ""),
        (f"server CPU us/msg {busy} conns", lambda m: res.get("PingPong", m, "server_cpu_us_per_msg", conns=busy, bytes=64), ""),
        ("rtt p50 1 conn (us)", lambda m: res.get("PingPong", m, "rtt_p50_us", conns=1, bytes=64), ""),
        (f"rtt p50 at {big_idle} idle (us)", lambda m: res.get("IdleScaling", m, "rtt_p50_us", idle=big_idle), ""),
        ("idle CPU share", lambda m: res.get("IdleCpu", m, "server_cpu_share", conns=100), ""),
        ("bulk MB/s", lambda m: mb(res.get("Bulk", m, "bytes_per_second", window=4 << 20)), ""),
    ]


def mb(v):
    return None if v is None else v / 1e6


def print_table(res):
    busy, big_idle, cols = summary_columns(res)
    models = res.models()
    header = ["model"] + [c[0] for c in cols] + ["x libevent", "x floor"]
    rows = []
    ref_l = res.get("PingPong", "libevent", "items_per_second", conns=busy, bytes=64)
    ref_f = res.get("PingPong", "floor", "items_per_second", conns=busy, bytes=64)
    for m in models:
        v = res.get("PingPong", m, "items_per_second", conns=busy, bytes=64)
        rows.append([m] + [fmt(g(m)) for _, g, _ in cols] + [fmt_ratio(ratio(v, ref_l)), fmt_ratio(ratio(v, ref_f))])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    print(f"(x libevent / x floor: msgs/s at {busy} connections, 64 B, as a ratio to libevent-server and to the floor)")
    if res.errors:
        print("skipped or failed:")
        for (w, m, p), msg in sorted(res.errors.items()):
            print(f"  BM_{w}/{m} {dict(p)}: {msg}")


# ---- plots ---------------------------------------------------------------------------

def plot_all(res, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = {}

    def line(ax, xs, ys, m):
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            c, mk, ls = STYLE.get(m, ("#333333", ".", "-"))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=c, marker=mk, linestyle=ls, label=m,
                    linewidth=2.2 if m in ("epoll", "libevent", "floor") else 1.3)

    def finish(fig, name):
        path = os.path.join(out, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made[name] = True

    # 1. Ping-pong: throughput and efficiency against connections.
    sizes = res.param_values("PingPong", "bytes")
    if sizes:
        fig, axes = plt.subplots(len(sizes), 2, figsize=(13, 4.8 * len(sizes)), squeeze=False)
        for row, size in enumerate(sizes):
            conns = res.param_values("PingPong", "conns", bytes=size)
            for m in res.models("PingPong"):
                line(axes[row][0], conns, [res.get("PingPong", m, "items_per_second", conns=c, bytes=size) for c in conns], m)
                line(axes[row][1], conns, [res.get("PingPong", m, "msgs_per_server_cpu_s", conns=c, bytes=size) for c in conns], m)
            axes[row][0].set_title(f"Ping-pong, {size} B messages: messages per second")
            axes[row][1].set_title(f"{size} B: messages per server-CPU second (higher = cheaper)")
            for ax in axes[row]:
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlabel("connections, one message in flight each")
                ax.grid(True, which="both", alpha=0.3)
            axes[row][0].set_ylabel("messages/s")
            axes[row][1].set_ylabel("messages / server CPU second")
        axes[0][1].legend(fontsize=8, ncol=2)
        finish(fig, "pingpong.png")

    # 2. Idle scaling: the select/poll-versus-epoll picture.
    ks = res.param_values("IdleScaling", "idle")
    if ks:
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
        pos = list(range(len(ks)))
        for m in res.models("IdleScaling"):
            line(axes[0], pos, [res.get("IdleScaling", m, "rtt_p50_us", idle=k) for k in ks], m)
            line(axes[1], pos, [res.get("IdleScaling", m, "server_cpu_us_per_msg", idle=k) for k in ks], m)
        for ax, title, ylab in ((axes[0], "Round trip (p50) of 1 active connection", "microseconds"),
                                (axes[1], "Server CPU per message", "microseconds of server CPU")):
            ax.set_xticks(pos, [str(k) for k in ks])
            ax.set_yscale("log")
            ax.set_xlabel("idle connections alongside")
            ax.set_ylabel(ylab)
            ax.set_title(title)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=8, ncol=2)
        # RSS per idle connection at the largest K each model reached.
        names, vals = [], []
        for m in res.models("IdleScaling"):
            reached = [k for k in ks if res.get("IdleScaling", m, "rss_per_idle_conn_bytes", idle=k) is not None]
            if reached:
                names.append(f"{m}\n({max(reached)})")
                vals.append(max(1.0, res.get("IdleScaling", m, "rss_per_idle_conn_bytes", idle=max(reached))))
        if names:
            axes[2].bar(range(len(names)), vals, color=[STYLE.get(n.split("\n")[0], ("#333",))[0] for n in names])
            axes[2].set_xticks(range(len(names)), names, fontsize=7, rotation=45)
            axes[2].set_yscale("log")
            axes[2].axhline(1024, color="k", linestyle=":", linewidth=1)
            axes[2].text(len(names) - 0.5, 1100, "1 KiB", ha="right", fontsize=8)
            axes[2].set_ylabel("bytes of server RSS")
            axes[2].set_title("Server RSS per idle connection (at the largest K)")
        finish(fig, "idle_scaling.png")

    # 3. Chunking: the recv() sizes a client sees, per model.
    kbs = res.param_values("Chunking", "reply_kb")
    recvs = res.param_values("Chunking", "recv")
    if kbs:
        fig, axes = plt.subplots(len(recvs), len(kbs), figsize=(5.2 * len(kbs), 4.3 * len(recvs)), squeeze=False)
        for i, rv in enumerate(sorted(recvs, reverse=True)):
            for j, kb in enumerate(kbs):
                ax = axes[i][j]
                models = [m for m in res.models("Chunking") if res.get("Chunking", m, "chunk_median", reply_kb=kb, recv=rv)]
                for x, m in enumerate(models):
                    g = lambda k: res.get("Chunking", m, k, reply_kb=kb, recv=rv)
                    c = STYLE.get(m, ("#333",))[0]
                    ax.vlines(x, g("chunk_min"), g("chunk_max"), color=c, linewidth=1)
                    ax.vlines(x, g("chunk_p10"), g("chunk_p90"), color=c, linewidth=7, alpha=0.5)
                    ax.plot(x, g("chunk_median"), marker="o", color=c)
                    ax.text(x, g("chunk_max") * 1.3, f"{g('recv_calls_per_reply'):.3g}", ha="center", fontsize=7)
                ax.set_xticks(range(len(models)), models, rotation=45, fontsize=7)
                ax.set_yscale("log")
                ax.set_ylim(0.7, max(rv, 1) * 6)
                ax.grid(True, axis="y", which="both", alpha=0.3)
                ax.set_title(f"reply {kb} KiB, recv({rv // 1024} KiB)", fontsize=10)
                if j == 0:
                    ax.set_ylabel("bytes per recv()")
        fig.suptitle("Chunk sizes: min-max line, p10-p90 bar, median dot; number above = recv() calls per reply")
        finish(fig, "chunking.png")

    # 4. CPU: per message under load, and when nothing happens.
    busy, _, _ = summary_columns(res)
    models = res.models()
    per_msg = [(m, res.get("PingPong", m, "server_cpu_us_per_msg", conns=busy, bytes=64),
                res.get("PingPong", m, "client_cpu_us_per_msg", conns=busy, bytes=64)) for m in models]
    per_msg = [p for p in per_msg if p[1] is not None]
    idle = [(m, res.get("IdleCpu", m, "server_cpu_share", conns=100)) for m in models]
    idle = [p for p in idle if p[1] is not None]
    if per_msg or idle:
        fig, axes = plt.subplots(1, 2, figsize=(14, 4.8))
        if per_msg:
            x = range(len(per_msg))
            axes[0].bar([i - 0.2 for i in x], [p[1] for p in per_msg], 0.4, label="server",
                        color=[STYLE.get(p[0], ("#333",))[0] for p in per_msg])
            axes[0].bar([i + 0.2 for i in x], [p[2] or 0 for p in per_msg], 0.4, label="load generator",
                        color="#cccccc", edgecolor="#888888")
            axes[0].set_xticks(list(x), [p[0] for p in per_msg], rotation=45, fontsize=8)
            axes[0].set_ylabel("microseconds of CPU per message")
            axes[0].set_title(f"CPU per message, {busy} connections, 64 B (lower is better)")
            axes[0].legend(fontsize=8)
        if idle:
            floor = 1e-5
            axes[1].bar(range(len(idle)), [max(floor, p[1]) for p in idle],
                        color=[STYLE.get(p[0], ("#333",))[0] for p in idle])
            axes[1].set_xticks(range(len(idle)), [p[0] for p in idle], rotation=45, fontsize=8)
            axes[1].set_yscale("log")
            axes[1].set_ylim(floor / 2, 2)
            for i, p in enumerate(idle):
                axes[1].text(i, max(floor, p[1]) * 1.3, "0" if p[1] == 0 else (f"{p[1]:.1e}" if p[1] < 0.01 else f"{p[1]:.2f}"),
                             ha="center", fontsize=7)
            axes[1].set_ylabel("server CPU seconds per second (log)")
            axes[1].set_title("Idle CPU: 100 connections open, no traffic")
        finish(fig, "cpu.png")

    # 5. Bulk.
    bulk = [(m, mb(res.get("Bulk", m, "bytes_per_second", window=4 << 20))) for m in models]
    bulk = [b for b in bulk if b[1] is not None]
    if bulk:
        fig, ax = plt.subplots(figsize=(9, 4.3))
        ax.bar(range(len(bulk)), [b[1] for b in bulk], color=[STYLE.get(b[0], ("#333",))[0] for b in bulk])
        for i, (m, v) in enumerate(bulk):  # the repetitions' range, when there are several
            vals = [x / 1e6 for x in res.values("Bulk", m, "bytes_per_second", window=4 << 20)]
            if len(vals) > 1:
                ax.vlines(i, min(vals), max(vals), color="k", linewidth=1.5)
        ax.set_xticks(range(len(bulk)), [b[0] for b in bulk], rotation=45, fontsize=8)
        floor = dict(bulk).get("floor")
        if floor:
            ax.axhline(floor, color="k", linestyle=":", linewidth=1)
            ax.axhline(0.8 * floor, color="r", linestyle=":", linewidth=1)
            ax.text(-0.4, 0.8 * floor, "0.8 x floor", ha="left", va="bottom", fontsize=8, color="r")
        ax.set_ylabel("MB/s echoed")
        ax.set_title("Bulk raw echo, one connection streaming both ways (black: range over repetitions)")
        finish(fig, "bulk.png")
    return made


# ---- targets (issue 4, part 5) ------------------------------------------------------------

def targets(res):
    rows = []

    def add(name, measured, goal, higher_is_better, detail):
        if measured is None:
            rows.append([name, "not measured", goal_text(goal, higher_is_better), "–", detail])
            return
        met = measured >= goal if higher_is_better else measured <= goal
        margin = (measured / goal - 1) * 100
        rows.append([name, f"{measured:.0f}" if measured >= 100 else f"{measured:.2f}", goal_text(goal, higher_is_better),
                     ("**met**" if met else "**missed**") + f" ({margin:+.0f} % vs target)", detail])

    def goal_text(goal, hib):
        return ("≥ " if hib else "≤ ") + f"{goal:g}"

    for c in (100, 1000):
        e = res.get("PingPong", "epoll", "msgs_per_server_cpu_s", conns=c, bytes=64)
        l = res.get("PingPong", "libevent", "msgs_per_server_cpu_s", conns=c, bytes=64)
        add(f"epoll / libevent, msgs per server-CPU-s, {c} conns 64 B", ratio(e, l), 1.2, True,
            f"epoll {fmt(e)}, libevent {fmt(l)}; msgs/s {fmt(res.get('PingPong', 'epoll', 'items_per_second', conns=c, bytes=64))}"
            f" vs {fmt(res.get('PingPong', 'libevent', 'items_per_second', conns=c, bytes=64))}")
    for c in (100, 1000):
        e = res.get("PingPong", "epoll", "bytes_per_server_cpu_s", conns=c, bytes=16384)
        l = res.get("PingPong", "libevent", "bytes_per_server_cpu_s", conns=c, bytes=16384)
        add(f"epoll / libevent, bytes per server-CPU-s, {c} conns 16 KiB", ratio(e, l), 1.5, True,
            f"epoll {fmt(e, 'B')}, libevent {fmt(l, 'B')}")
    e = res.get("PingPong", "epoll", "rtt_p50_us", conns=1, bytes=64)
    f = res.get("PingPong", "floor", "rtt_p50_us", conns=1, bytes=64)
    add("epoll rtt p50 1 conn / floor's", ratio(e, f), 1.2, False, f"epoll {fmt(e, 'us')}, floor {fmt(f, 'us')}")
    k = 10000
    a = res.get("IdleScaling", "epoll", "rtt_p50_us", idle=k)
    z = res.get("IdleScaling", "epoll", "rtt_p50_us", idle=0)
    others = []
    for m in ("poll", "select", "nonblocking", "libevent-poll", "libevent-select"):
        reached = [kk for kk in res.param_values("IdleScaling", "idle") if kk > 0 and res.get("IdleScaling", m, "rtt_p50_us", idle=kk)]
        r = ratio(res.get("IdleScaling", m, "rtt_p50_us", idle=max(reached)), res.get("IdleScaling", m, "rtt_p50_us", idle=0)) if reached else None
        if r is not None:
            others.append(f"{m} {r:.2f}x at {max(reached)}")
    add(f"epoll rtt p50 at {k} idle / at 0", ratio(a, z), 1.1, False,
        f"{fmt(a, 'us')} vs {fmt(z, 'us')}; for comparison: " + ("; ".join(others) or "–"))
    r = res.get("IdleScaling", "epoll", "rss_per_idle_conn_bytes", idle=k)
    add(f"epoll RSS per idle conn at {k} (bytes)", r, 1024, False,
        f"server RSS {fmt(res.get('IdleScaling', 'epoll', 'server_rss_bytes', idle=k), 'B')} with {k} idle")
    e = res.get("Bulk", "epoll", "bytes_per_second", window=4 << 20)
    f = res.get("Bulk", "floor", "bytes_per_second", window=4 << 20)
    ee = res.get("Bulk", "epoll", "bytes_per_server_cpu_s", window=4 << 20)
    fe = res.get("Bulk", "floor", "bytes_per_server_cpu_s", window=4 << 20)
    add("epoll bulk / floor bulk", ratio(e, f), 0.8, True,
        f"epoll {fmt(mb(e))} MB/s, floor {fmt(mb(f))} MB/s; per server-CPU-second {fmt_ratio(ratio(ee, fe))}")
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
    lines = [f"- CPU: {model}, {ctx.get('num_cpus', os.cpu_count())} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz"
             + (f" (virtual machine, {virt})" if virt else ""),
             f"- kernel: {platform.system()} {platform.release()}",
             f"- run: {ctx.get('date', '?')} on {ctx.get('host_name', '?')}; load average at start {ctx.get('load_avg', '?')}",
             f"- pinning: {ctx.get('muxlab_pinning', 'unknown')}; scheduling: {ctx.get('muxlab_scheduling', 'unknown')}",
             f"- measured time per benchmark: {ctx.get('muxlab_seconds_per_benchmark', '?')} s, "
             f"repetitions: {res.repetitions()}; RLIMIT_NOFILE {ctx.get('muxlab_rlimit_nofile', '?')}",
             f"- Google Benchmark library build: {ctx.get('library_build_type', '?')} (the timing loop is one "
             "iteration per benchmark, so its build type does not matter)"]
    return "\n".join(lines)


def noise(res):
    keys = {"PingPong": ["items_per_second", "rtt_p50_us", "server_cpu_us_per_msg"],
            "IdleScaling": ["rtt_p50_us"], "Bulk": ["bytes_per_second"], "Chunking": ["items_per_second"]}
    out = []
    for w, metrics in keys.items():
        for metric in metrics:
            sp = [res.spread(w, m, metric, **dict(p)) for (ww, m, p) in res.runs if ww == w]
            sp = sorted(s for s in sp if s is not None)
            if sp:
                out.append([f"{w} {metric}", len(sp), f"{statistics.median(sp) * 100:.0f} %",
                            f"{sp[int(0.9 * (len(sp) - 1))] * 100:.0f} %", f"{sp[-1] * 100:.0f} %"])
    return out


def write_report(res, out, notes, command):
    os.makedirs(out, exist_ok=True)
    plots = plot_all(res, out)
    busy, big_idle, cols = summary_columns(res)
    md = ["# muxlab: every I/O model on the same work", ""]
    md += [f"Made by `{command}`." if command else "", "",
           "Every figure is measured by `echo-bench` (bench/README.md) against a server started as a child process; "
           "every echoed byte is checked. With repetitions, a figure is the median and the noise section gives the spread.",
           "", "## Machine", "", machine(res), ""]

    md += ["## Side by side", ""]
    header = ["model"] + [c[0] for c in cols] + ["msgs/s x libevent", "msgs/s x floor", "rtt x floor", "bulk x floor"]
    rows = []
    g = lambda m, w, k, **p: res.get(w, m, k, **p)
    for m in res.models():
        v = g(m, "PingPong", "items_per_second", conns=busy, bytes=64)
        rtt = g(m, "PingPong", "rtt_p50_us", conns=1, bytes=64)
        bk = g(m, "Bulk", "bytes_per_second", window=4 << 20)
        rows.append([m] + [fmt(c[1](m)) for c in cols] + [
            fmt_ratio(ratio(v, g("libevent", "PingPong", "items_per_second", conns=busy, bytes=64))),
            fmt_ratio(ratio(v, g("floor", "PingPong", "items_per_second", conns=busy, bytes=64))),
            fmt_ratio(ratio(rtt, g("floor", "PingPong", "rtt_p50_us", conns=1, bytes=64))),
            fmt_ratio(ratio(bk, g("floor", "Bulk", "bytes_per_second", window=4 << 20)))])
    md += [md_table(header, rows), ""]

    if res.runs:
        md += ["## Targets (issue 4)", "", md_table(["target", "measured", "goal", "verdict", "detail"], targets(res)), ""]
    if notes and os.path.exists(notes):
        with open(notes) as f:
            md += [f.read(), ""]

    if "pingpong.png" in plots:
        md += ["## Ping-pong: messages per second against connections", "",
               "C connections, one message in flight on each. Left: what the load generator got; on two CPUs it is "
               "often the bottleneck, so the right-hand plot (messages per second of *server* CPU) is the fair "
               "comparison of the servers' cost.", "", "![ping-pong](pingpong.png)", ""]
        rows = []
        for m in res.models("PingPong"):
            for b in res.param_values("PingPong", "bytes"):
                for c in res.param_values("PingPong", "conns", bytes=b):
                    ips = g(m, "PingPong", "items_per_second", conns=c, bytes=b)
                    if ips is None:
                        continue
                    eff = g(m, "PingPong", "msgs_per_server_cpu_s", conns=c, bytes=b)
                    rows.append([m, c, b, fmt(ips), fmt(g(m, "PingPong", "bytes_per_second", conns=c, bytes=b), "B/s"),
                                 fmt(g(m, "PingPong", "rtt_p50_us", conns=c, bytes=b)),
                                 fmt(g(m, "PingPong", "rtt_p99_us", conns=c, bytes=b)),
                                 fmt(g(m, "PingPong", "server_cpu_us_per_msg", conns=c, bytes=b)),
                                 fmt(g(m, "PingPong", "client_cpu_us_per_msg", conns=c, bytes=b)),
                                 fmt(eff),
                                 fmt_ratio(ratio(eff, g("libevent", "PingPong", "msgs_per_server_cpu_s", conns=c, bytes=b))),
                                 fmt_ratio(ratio(ips, g("floor", "PingPong", "items_per_second", conns=c, bytes=b)))])
        md += [md_table(["model", "conns", "bytes", "msgs/s", "bytes/s", "rtt p50 us", "rtt p99 us",
                         "server CPU us/msg", "load-gen CPU us/msg", "msgs/server-CPU-s", "eff. x libevent",
                         "msgs/s x floor"], rows), ""]

    if "idle_scaling.png" in plots:
        ks = res.param_values("IdleScaling", "idle")
        md += ["## Idle connections: the select/poll-versus-epoll picture", "",
               "One connection in ping-pong (64 B) while K others stay open and silent. select and poll hand the "
               "kernel every descriptor on every call, and scan them all afterwards; epoll keeps the interest list "
               "in the kernel and returns only the ready ones. Memory per idle connection is the server's RSS growth "
               "divided by K.", "", "![idle scaling](idle_scaling.png)", ""]
        rows = []
        for m in res.models("IdleScaling"):
            row = [m]
            for k in ks:
                v = g(m, "IdleScaling", "rtt_p50_us", idle=k)
                row.append(fmt(v) if v is not None else ("skipped" if ("IdleScaling", m, (("idle", k),)) in res.errors else "–"))
            for k in ks:
                row.append(fmt(g(m, "IdleScaling", "server_cpu_us_per_msg", idle=k)))
            reached = [k for k in ks if k > 0 and g(m, "IdleScaling", "server_cpu_us_per_msg", idle=k) is not None]
            c0 = g(m, "IdleScaling", "server_cpu_us_per_msg", idle=0)
            if reached and c0 is not None:
                k = max(reached)
                slope = (g(m, "IdleScaling", "server_cpu_us_per_msg", idle=k) - c0) * 1000 / k
                row.append(f"{slope:.1f} (K={k})")
            else:
                row.append("–")
            row.append(fmt(g(m, "IdleScaling", "rss_per_idle_conn_bytes", idle=max(reached or ks)), "B")
                       + (f" (K={max(reached)})" if reached and max(reached) != max(ks) else ""))
            rows.append(row)
        md += [md_table(["model"] + [f"rtt p50 us, K={k}" for k in ks] + [f"CPU us/msg, K={k}" for k in ks]
                        + ["server CPU ns per msg per idle conn", "RSS per idle conn"], rows), ""]

    if "chunking.png" in plots:
        md += ["## Chunking: a short request, a long reply", "",
               "The server runs with `--repeat R`; the client sends one line and reads the reply with recv() calls "
               "of at most 1 MiB or 64 KiB, as `echo-client --bufsize` does. However large the buffer, a recv() "
               "returns what has arrived: a client must loop (Matloff's tms.py/tmc.py lesson). The server's partial "
               "sends are from its `--stats`.", "", "![chunking](chunking.png)", ""]
        rows = []
        for m in res.models("Chunking"):
            for kb in res.param_values("Chunking", "reply_kb"):
                for rv in sorted(res.param_values("Chunking", "recv", reply_kb=kb), reverse=True):
                    gg = lambda k: g(m, "Chunking", k, reply_kb=kb, recv=rv)
                    if gg("items_per_second") is None:
                        continue
                    rows.append([m, kb, rv // 1024, fmt(gg("items_per_second")), fmt(gg("bytes_per_second"), "B/s"),
                                 fmt(gg("recv_calls_per_reply")), fmt(gg("chunk_min")), fmt(gg("chunk_median")),
                                 fmt(gg("chunk_max")), fmt(gg("server_partial_sends_per_reply")),
                                 fmt(gg("server_send_calls_per_reply")), fmt(gg("server_cpu_us_per_reply"))])
        md += [md_table(["model", "reply KiB", "recv KiB", "replies/s", "bytes/s", "recv calls/reply", "chunk min",
                         "chunk median", "chunk max", "server partial sends/reply", "server sends/reply",
                         "server CPU us/reply"], rows), ""]

    if "cpu.png" in plots:
        md += ["## CPU", "", "Left: CPU per message at " + str(busy) + " connections (server and load generator). "
               "Right: the server's CPU share with 100 connections open and no traffic (log scale): the busy poller "
               "burns a whole CPU doing nothing; the readiness models sleep in the kernel.", "", "![cpu](cpu.png)", ""]
        rows = [[m, fmt(g(m, "IdleCpu", "server_cpu_share", conns=100)), fmt(g(m, "IdleCpu", "server_cpu_s", conns=100), "s")]
                for m in res.models("IdleCpu")]
        md += [md_table(["model", "idle CPU share", "server CPU s in the window"], rows), ""]

    if "bulk.png" in plots:
        md += ["## Bulk raw echo", "", "`--framing raw`, one connection, the load generator writing 256 KiB "
               "chunks with up to 4 MiB in flight and checking every byte that comes back.", "", "![bulk](bulk.png)", ""]
        fl = g("floor", "Bulk", "bytes_per_second", window=4 << 20)
        rows = [[m, fmt(mb(g(m, "Bulk", "bytes_per_second", window=4 << 20))),
                 fmt_ratio(ratio(g(m, "Bulk", "bytes_per_second", window=4 << 20), fl)),
                 fmt(g(m, "Bulk", "server_cpu_share", window=4 << 20)),
                 fmt(g(m, "Bulk", "client_cpu_share", window=4 << 20)),
                 fmt(g(m, "Bulk", "bytes_per_server_cpu_s", window=4 << 20), "B"),
                 fmt(g(m, "Bulk", "server_bytes_per_recv", window=4 << 20), "B"),
                 fmt(g(m, "Bulk", "server_bytes_per_send", window=4 << 20), "B"),
                 fmt(g(m, "Bulk", "server_bytes_per_wakeup", window=4 << 20), "B")]
                for m in res.models("Bulk")]
        md += [md_table(["model", "MB/s", "x floor", "server CPU share", "load-gen CPU share", "bytes per server-CPU-s",
                         "server bytes/recv", "server bytes/send", "server bytes/wakeup"], rows), ""]

    md += ["## Noise", "", f"Each benchmark ran {res.repetitions()} time(s). Spread = (max - min) / median over the "
           "repetitions of one benchmark; the table gives its median, 90th percentile and maximum across benchmarks.", ""]
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
    ap.add_argument("--notes", help="a Markdown file to include after the targets")
    ap.add_argument("--command", help="the command that made the JSON, quoted in the report")
    args = ap.parse_args()
    res = Results(args.json)
    if args.table:
        print_table(res)
        return 0
    print(write_report(res, args.out, args.notes, args.command))
    return 0


if __name__ == "__main__":
    sys.exit(main())

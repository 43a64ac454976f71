#!/usr/bin/env bash
# make.sh - the full run kept in docs/results/: every model and library, three
# repetitions interleaved at random, every idle count up to the largest the
# machine's descriptor limit allows; then the report, with notes.md and the
# project's targets (targets.py) beside it.
#
# Usage (from anywhere, after a Release build: cmake -S . -B build -G Ninja
# -DCMAKE_BUILD_TYPE=Release && ninja -C build):
#          docs/results/make.sh [BUILD]                default: build
# It takes about a quarter of an hour on two cores. Run it on a machine as quiet as you
# can find (uptime): it runs at real-time priority, but the kernel's own work for
# loopback (softirqs) still competes with everything else.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=$root/docs/results
python=/usr/bin/python3   # Debian's, with python3-matplotlib and python3-scipy

ulimit -n "$(ulimit -Hn)"
echo "load before the run: $(uptime)"
start=$SECONDS
"$build/bin/echo-bench" --muxlab_realtime --muxlab_progress \
    --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
    --benchmark_out="$out/results.json" --benchmark_out_format=json >/dev/null
minutes=$(( (SECONDS - start + 30) / 60 ))
echo "load after the run: $(uptime)"

# One benchmark a line, figures to six significant digits: a smaller file to keep.
"$python" - "$out/results.json" <<'EOF'
import json, sys
path = sys.argv[1]
data = json.load(open(path))
short = lambda v: float(f"{v:.6g}") if isinstance(v, float) else v
with open(path, "w") as f:
    f.write('{"context": ' + json.dumps(data["context"]) + ',\n "benchmarks": [\n')
    f.write(",\n".join(json.dumps({k: short(v) for k, v in b.items()}) for b in data["benchmarks"]))
    f.write("\n]}\n")
EOF

"$python" "$out/targets.py" "$out/results.json" >"$out/targets.md"
rm -f "$out"/*.png
"$python" "$root/bench/report.py" "$out/results.json" --out "$out" --notes "$out/notes.md" --notes "$out/targets.md" \
    --command "docs/results/make.sh ($minutes minutes)"

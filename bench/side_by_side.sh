#!/usr/bin/env bash
# side_by_side.sh - every model on the same short workload: one table, one report.
#
# Runs echo-bench's quick set (--muxlab_quick: ping-pong at 1 and 100 connections,
# 1000 idle connections, idle CPU, a tms.py-style chunked reply, bulk raw echo)
# against every server found in BUILD/bin, with a line per benchmark as it starts,
# then prints one comparison table and writes the JSON and the report to OUT.
# It builds nothing: build first (README). Models not built are skipped, and said so.
#
# Usage:   bench/side_by_side.sh [BUILD [OUT]]      defaults: build, BUILD/report
#          MUXLAB_BENCH_ARGS="--benchmark_repetitions=3" bench/side_by_side.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-$build/report}
bench=$build/bin/echo-bench
python=/usr/bin/python3   # Debian's, which has python3-matplotlib (a pyenv python3 may not)

if [[ ! -x $bench ]]; then
  echo "error: $bench not found: build first (cmake -B build && ninja -C build)" >&2
  exit 1
fi
mkdir -p "$out"

found=() missing=()
for server in blocking-server threaded-server nonblocking-server select-server poll-server \
              epoll-server libevent-server floor-server; do
  if [[ -x $build/bin/$server ]]; then found+=("$server"); else missing+=("$server"); fi
done
echo "servers: ${found[*]}"
if ((${#missing[@]})); then echo "not built (their benchmarks are skipped): ${missing[*]}"; fi

total=$("$bench" --muxlab_quick --benchmark_list_tests ${MUXLAB_BENCH_ARGS:-} | wc -l)
reps=$(grep -o 'benchmark_repetitions=[0-9]*' <<<"${MUXLAB_BENCH_ARGS:-}" | cut -d= -f2 || true)
total=$((total * ${reps:-1}))
echo "running $total benchmarks (each starts its server, measures, stops it); console log: $out/console.txt"
start=$SECONDS
# Progress lines come on stderr ("  running BM_..."): number them as they come.
"$bench" --muxlab_quick --muxlab_progress ${MUXLAB_BENCH_ARGS:-} \
    --benchmark_out="$out/results.json" --benchmark_out_format=json >"$out/console.txt" \
    2> >(awk -v total="$total" '/^  running /{ n++; sub(/^  running /, ""); printf "[%d/%d] %s\n", n, total, $0; fflush(); next } { print; fflush() }' >&2)
wait  # for the progress filter's last lines
echo "done in $((SECONDS - start)) s"
echo
"$python" "$root/bench/report.py" "$out/results.json" --table
echo
"$python" "$root/bench/report.py" "$out/results.json" --out "$out" \
    --command "bench/side_by_side.sh ${1:-build} ${2:-}" >/dev/null
echo "report: $out/report.md (plots beside it), raw figures: $out/results.json"

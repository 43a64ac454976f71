#!/usr/bin/env bash
# side_by_side.sh - every model on the same short workload: one table, one report.
#
# Runs echo-bench's quick set (--muxlab_quick: ping-pong at 1 and 100 connections,
# 1000 idle connections, idle CPU, a tms.py-style chunked reply, bulk raw echo)
# three times over, interleaved at random, against every server of the model
# list (echo-bench --muxlab_list_models) found in BUILD/bin, with a line per
# benchmark as it starts; then prints the comparison table and writes the JSON
# and the report to OUT. It builds nothing: build first (README). Models not
# built are skipped, and said so.
#
# The load generator and the servers run at real-time priority (SCHED_FIFO,
# --muxlab_realtime) where allowed: on a machine doing other work a woken server
# otherwise waits for the CPU, and the figures measure that wait (bench/README.md).
#
# Usage:   bench/side_by_side.sh [BUILD [OUT]]      defaults: build, BUILD/report
#          MUXLAB_REALTIME=0 bench/side_by_side.sh                 (the default scheduler)
#          MUXLAB_BENCH_ARGS="--muxlab_seconds=0.5" bench/side_by_side.sh   (more echo-bench flags)
#          MUXLAB_BASELINE=old/results.json bench/side_by_side.sh         (changes against an older run)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-$build/report}
bench=$build/bin/echo-bench
python=/usr/bin/python3   # Debian's, which has python3-matplotlib and python3-scipy
repetitions=3

if [[ ! -x $bench ]]; then
  echo "side_by_side.sh: $bench not found: build first (cmake -B build && ninja -C build)" >&2
  exit 1
fi
mkdir -p "$out"
# K idle connections need K descriptors on each side: the hard limit, if the soft one is lower.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

found=() missing=()
for server in $("$bench" --muxlab_list_models | cut -f2 | sort -u); do
  if [[ -x $build/bin/$server ]]; then found+=("$server"); else missing+=("$server"); fi
done
echo "servers: ${found[*]}" | fold -s -w 100
if ((${#missing[@]})); then echo "not built (their benchmarks are skipped): ${missing[*]}" | fold -s -w 100; fi

args=(--muxlab_quick --benchmark_repetitions=$repetitions --benchmark_enable_random_interleaving=true)
if [[ ${MUXLAB_REALTIME:-1} != 0 ]]; then args+=(--muxlab_realtime); fi
args+=(${MUXLAB_BENCH_ARGS:-})
# (The build's warning, if any, comes once: from the run below.)
total=$("$bench" "${args[@]}" --benchmark_list_tests 2> >(grep -v '^echo-bench: warning: ' >&2) | wc -l)
echo "running $total benchmarks ($repetitions repetitions, in random order; each starts its server, measures,"
echo "stops it); console log: $out/console.txt"
start=$SECONDS
# echo-bench's stderr: the run's context (machine, commit, build: lines up to 500
# columns), a line as each benchmark starts ("  running BM_...") and any warning.
# The terminal gets the progress, numbered as it comes, and the warnings; the
# context joins the console log (both writers append: neither overwrites the
# other). Bash's read takes a pipe a line at a time, where awk would wait for a
# block of them.
show_progress() {
  local n=0 line
  while IFS= read -r line; do
    case $line in
      "  running "*) echo "[$((++n))/$total] ${line#  running }" ;;
      "***WARNING*** Library was built as DEBUG"*)
        echo "note: Google Benchmark warns that its library \"was built as DEBUG\": Debian builds it so. It"
        echo "      says nothing of muxlab's build, and does not slow a benchmark of one timed window." ;;
      "echo-bench:"* | "***WARNING"* | "muxlab_scheduling: SCHED_OTHER (SCHED_FIFO refused"*)
        echo "$line" | fold -s -w 100 ;;
      *) echo "$line" >>"$out/console.txt" ;;
    esac
  done
}
: >"$out/console.txt"
"$bench" "${args[@]}" --muxlab_progress \
    --benchmark_out="$out/results.json" --benchmark_out_format=json >>"$out/console.txt" 2> >(show_progress >&2)
wait  # for the progress filter's last lines
echo "done in $((SECONDS - start)) s"
echo
baseline=()
if [[ -n ${MUXLAB_BASELINE:-} ]]; then baseline=(--baseline "$MUXLAB_BASELINE"); fi
"$python" "$root/bench/report.py" "$out/results.json" --table "${baseline[@]}"
echo
"$python" "$root/bench/report.py" "$out/results.json" --out "$out" "${baseline[@]}" \
    --command "bench/side_by_side.sh${1:+ $1}${2:+ $2}" >/dev/null
echo "report: $out/report.md (which model when, plots, every figure's spread)"
echo "raw figures: $out/results.json"

#!/usr/bin/env bash
# draw.sh - draws the course's pictures from their sources, each beside its source:
#   NAME.dot -> NAME.svg   graphviz:   dot -Tsvg NAME.dot -o NAME.svg
#   NAME.py  -> NAME.svg   matplotlib: python3 NAME.py NAME.svg   (style.py is their shared look)
#
# Usage: docs/pictures/draw.sh           draw every picture (after editing a source; commit both)
#        docs/pictures/draw.sh --check   draw each into a scratch directory and compare it
#                                        with the committed one (the docs test runs this)
# Exit 0: all drawn (and, with --check, the same); 1: a source failed to draw or a
# committed picture differs from its source; 77: graphviz or matplotlib is missing.
set -euo pipefail
cd "$(dirname "$0")"

check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: draw.sh [--check]" >&2; exit 2 ;;
esac

# Debian's python3 (the one with python3-matplotlib), whatever python3 is first on PATH.
python=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1  # no __pycache__ left beside the sources
if ! command -v dot > /dev/null; then echo "draw.sh: graphviz (dot) is not installed" >&2; exit 77; fi
if ! "$python" -c 'import matplotlib' 2> /dev/null; then echo "draw.sh: python3-matplotlib is not installed" >&2; exit 77; fi

out=.
if $check; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi

status=0
for source in *.dot *.py; do
  [ "$source" = style.py ] && continue
  name=${source%.*}
  case "$source" in
    *.dot) dot -Tsvg "$source" -o "$out/$name.svg" || { echo "draw.sh: $source does not draw" >&2; status=1; continue; } ;;
    *.py) "$python" "$source" "$out/$name.svg" || { echo "draw.sh: $source does not draw" >&2; status=1; continue; } ;;
  esac
  if $check && ! cmp -s "$out/$name.svg" "$name.svg"; then
    echo "draw.sh: $name.svg is not what $source draws: run docs/pictures/draw.sh and commit the result" >&2
    status=1
  fi
done
exit $status

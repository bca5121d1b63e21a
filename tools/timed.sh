#!/usr/bin/env bash
# Run a command and append "<seconds> <name> (<CPU seconds> s of CPU)" to $TIMINGS (default
# _build/timings.txt), keeping the command's exit status: `make test` prints the list, slowest
# first, at the end. The CPU seconds (user + system, of the command and everything it started)
# show how much of the two cores a part used: parts that run side by side share them.
# Usage: tools/timed.sh "book build" python tools/build_book.py
name=$1
shift
start=$(date +%s)
status=0
"$@" || status=$?
wall=$(( $(date +%s) - start ))
# `times` prints this shell's and then its children's user and system time, e.g. "0m1.5s 0m0.2s"
# (redirected to a file: in a pipe or $(...) it would run in a subshell, which has no children).
usage=$(mktemp)
times > "$usage"
cpu=$(tail -n 1 "$usage" | awk '{
  total = 0
  for (field = 1; field <= 2; field++) {
    split($field, part, "m"); sub("s", "", part[2]); total += part[1] * 60 + part[2]
  }
  printf "%d", total + 0.5 }')
rm -f "$usage"
timings=${TIMINGS:-_build/timings.txt}
mkdir -p "$(dirname "$timings")"
note=""
[ "$status" -ne 0 ] && note=" (failed, exit status $status)"
echo "$wall $name ($cpu s of CPU)$note" >> "$timings"
exit "$status"

#!/usr/bin/env bash
# Run a command and append "<seconds> <name>" to $TIMINGS (default _build/timings.txt),
# keeping the command's exit status: `make test` prints the list, slowest first, at the end.
# Usage: tools/timed.sh "book build" python tools/build_book.py
name=$1
shift
start=$(date +%s)
status=0
"$@" || status=$?
timings=${TIMINGS:-_build/timings.txt}
mkdir -p "$(dirname "$timings")"
note=""
[ "$status" -ne 0 ] && note=" (failed, exit status $status)"
echo "$(( $(date +%s) - start )) $name$note" >> "$timings"
exit "$status"

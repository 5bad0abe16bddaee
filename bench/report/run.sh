#!/bin/sh
# Streaming benchmark for `tcpq report`: generates a csv trace of ROWS rows (default 5 million)
# once, then reads it with `tcpq report --format json` under /usr/bin/time -v and prints rows/s
# and peak RSS. Not part of the tests. Usage: bench/report/run.sh [ROWS]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rows=${1:-5000000}
file=${TMPDIR:-/tmp}/tcpq-bench-report-$rows.csv
tcpq=$root/artifacts/tcpq/tcpq   # the build users run (Native AOT); TCPQ_BINARY=... for another

[ -n "${TCPQ_BINARY:-}" ] && tcpq=$TCPQ_BINARY
[ -x "$tcpq" ] || "$root/scripts/setup" >/dev/null
if [ ! -s "$file" ]; then
    echo "generating $file ..." >&2
    python3 "$here/gen.py" "$rows" > "$file.tmp" && mv "$file.tmp" "$file"
fi
lines=$(($(wc -l < "$file") - 1))
size=$(du -m "$file" | cut -f1)

for format in json text; do
    /usr/bin/time -v "$tcpq" report "$file" --format "$format" > /dev/null 2> "$file.time"
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$file.time")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$file.time")
    secs=$(echo "$wall" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
    awk -v rows="$lines" -v s="$secs" -v rss="$rss" -v mb="$size" -v f="$format" 'BEGIN {
        printf "report --format %-4s  %d rows (%d MB) in %.2f s: %.0f rows/s, %.0f MB/s, peak RSS %.0f MB\n", f, rows, mb, s, rows / s, mb / s, rss / 1024 }'
done
rm -f "$file.time"

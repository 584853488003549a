#!/usr/bin/env bash
# The README's ingest figures, end to end: starts stockd (durable, its own temp data dir) on a
# loopback port, drives it with stockload, and prints each run's JSON line plus the server's CPU
# time per event by thread (from /proc/<pid>/task/*/stat). Also measures the disk's fsync cost.
# Needs a build with benchmarks: scripts/build.sh (the default). Usage: benchmarks/ingest.sh [SECONDS]
# Expectation: batched ~100-150k events/s on 2 shared cores; single ~10k requests/s (fsync-bound).
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
seconds=${1:-8}
port=${STOCKD_BENCH_PORT:-18099}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
export STOCKD_TOKEN=bench

echo "# fsync cost of this disk (4 KiB writes with O_DSYNC)"
dd if=/dev/zero of="$work/dd" bs=4k count=500 oflag=dsync 2>&1 | tail -1

cpu_ticks() {  # utime+stime per thread name, summed
  for t in /proc/"$1"/task/*; do
    echo "$(cat "$t/comm") $(awk '{print $14+$15}' "$t/stat")"
  done | awk '{a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort
}

run() {  # run NAME CONFIG_BODY STOCKLOAD_ARGS...
  local name=$1 config=$2
  shift 2
  rm -rf "$work/data"
  printf '%s\n[[locations]]\nid = "main"\n' "$config" > "$work/stockd.toml"
  build/apps/stockd --config "$work/stockd.toml" --data "$work/data" \
    --listen "127.0.0.1:$port" > "$work/stockd.log" 2>&1 &
  pid=$!
  wait_ready "$work/stockd.log" "$pid"
  cpu_ticks "$pid" > "$work/before"
  local out
  out=$(build/apps/stockload --target "127.0.0.1:$port" --duration "$seconds" --skus 10000 "$@")
  cpu_ticks "$pid" > "$work/after"
  echo "# $name"
  echo "$out"
  local events
  events=$(echo "$out" | sed -E 's/.*"events_accepted":([0-9]+).*/\1/')
  # CPU microseconds per accepted event, per server thread (ticks are 1/100 s).
  join "$work/before" "$work/after" | awk -v n="$events" \
    '{ if (n > 0 && $3 > $2) printf "  cpu_us_per_event %-16s %.2f\n", $1, ($3-$2)*10000/n }'
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

run "batched" "" --mode batched
run "single" "" --mode single
run "rate 50k, checkpoint_records_per_commit_max = 64 (default)" "" --mode batched --rate 50000
run "rate 50k, checkpoint_records_per_commit_max = 256" \
  $'[engine]\ncheckpoint_records_per_commit_max = 256' --mode batched --rate 50000
run "rate 50k, checkpoint_records_per_commit_max = 1024" \
  $'[engine]\ncheckpoint_records_per_commit_max = 1024' --mode batched --rate 50000
run "rate 50k, checkpoints off (10 min interval)" \
  $'[engine]\ncheckpoint_interval_ms = 600000' --mode batched --rate 50000

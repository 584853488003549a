#!/usr/bin/env bash
# Where the ack tail at a steady rate comes from: stockload open loop at RATE events/s (batches
# of 1,000, 10,000 SKUs) against a fresh durable stockd for SECONDS per run, once per
# `engine.checkpoint_interval_ms` value (1,000 is the default; 600,000 is "checkpoints off" for
# a run this short). Prints each run's ack latency (p50/p99/max). Runs must be long against the
# interval, or a run sees one checkpoint round or none.
# Usage: benchmarks/checkpoint_tail.sh [SECONDS, default 24] [RATE, default 50000]. Needs a
# build with benchmarks (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
seconds=${1:-24}
rate=${2:-50000}
port=${STOCKD_BENCH_PORT:-18130}
bench_workdir
export STOCKD_TOKEN=bench

for interval in 1000 3000 5000 600000; do
  rm -rf "$work/data"
  printf '[engine]\ncheckpoint_interval_ms = %s\n[[locations]]\nid = "main"\n' "$interval" \
    > "$work/stockd.toml"
  build/apps/stockd --config "$work/stockd.toml" --data "$work/data" \
    --listen "127.0.0.1:$port" > "$work/stockd.log" 2>&1 &
  pid=$!
  wait_ready "$work/stockd.log" "$pid"
  out=$(build/apps/stockload --target "127.0.0.1:$port" --duration "$seconds" --skus 10000 \
    --mode batched --rate "$rate")
  echo "checkpoint_interval_ms = $interval: accepted $(field events_per_s "$out") events/s," \
    "ack p50 $(field p50 "$out") ms, p99 $(field p99 "$out") ms, max $(field max "$out") ms"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
done

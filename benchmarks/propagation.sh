#!/usr/bin/env bash
# Issue 5's propagation target: a channel that is not rate-limited shows a change within 250 ms
# (p99) while stockd ingests at half its maximum. Starts stockd (durable, its own temp data dir)
# with the config `stocksim run` expects (steady, no till), then
#   1. the ingest maximum M: stockload closed loop, batches of 1,000, 8 connections, SECONDS/2 s,
#      at location DC (no channel sells it, so the load costs ingest and the engine, not pushes);
#   2. stockload open loop at FRACTION x M (default 0.5) at DC, and beside it
#      `stocksim run --scenario steady` (its world on L1/L2 with the three channel emulators in
#      process): its probe lowers one SKU every 500 ms and times acknowledged -> shown per
#      channel. The webhook channel (10 calls/s of 100 items for ~50 SKUs) is the one with room
#      to spare; shopify's cost bucket and amazon's 5 calls/s pace theirs.
# Prints the load's accepted rate and ack latency, and each channel's propagation p50/p99/max.
# Everything runs on the same 2 shared cores (stockd, stockload, stocksim and its emulators).
# Usage: benchmarks/propagation.sh [SECONDS, default 20] [FRACTION, default 0.5]. Needs a build
# with benchmarks (scripts/build.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
seconds=${1:-20}
fraction=${2:-0.5}
port=${STOCKD_BENCH_PORT:-18120}
bench_workdir
export STOCKD_TOKEN=bench STOCKSIM_SHOPIFY_TOKEN=shpat_stocksim STOCKSIM_AMAZON_TOKEN='Atza|stocksim'
export STOCKSIM_WEBHOOK_SECRET=stocksim-webhook-secret

build/apps/stocksim config --scenario steady --pos-rate 0 > "$work/stockd.toml"
build/apps/stockd --config "$work/stockd.toml" --data "$work/data" \
  --listen "127.0.0.1:$port" > "$work/stockd.log" 2>&1 &
pid=$!
wait_ready "$work/stockd.log" "$pid"
load() {
  build/apps/stockload --target "127.0.0.1:$port" --locations DC --skus 10000 --batch 1000 "$@"
}

max=$(load --duration $((seconds / 2 > 1 ? seconds / 2 : 2)) | tail -1)
m=$(field events_per_s "$max")
rate=$(awk -v m="$m" -v f="$fraction" 'BEGIN {printf "%.0f", m * f}')
echo "# ingest maximum (closed loop, 8 connections, batches of 1,000): $m events/s"
echo "# open loop at $fraction x = $rate events/s for $((seconds + 10)) s, stocksim steady beside it"
load --duration $((seconds + 10)) --rate "$rate" > "$work/load.json" &
loader=$!
sleep 2
build/apps/stocksim run --scenario steady --pos-rate 0 --duration-s "$seconds" \
  --stockd "http://127.0.0.1:$port" --token bench --json "$work/sim.json" > "$work/sim.txt" 2>&1 ||
  echo "(stocksim run exited non-zero: see below)"
wait "$loader"
out=$(tail -1 "$work/load.json")
echo "  load: accepted $(field events_per_s "$out") events/s, ack p50 $(echo "$out" |
  sed -E 's/.*"p50":([0-9.]+).*/\1/') ms, p99 $(echo "$out" | sed -E 's/.*"p99":([0-9.]+).*/\1/') ms," \
  "503 answers $(field overloaded "$out"), errors $(field errors "$out")"
for ch in shopify amazon webhook; do
  p=$(tr -d '\n' < "$work/sim.json" | sed -E "s/.*\"$ch\":\{[^}]*\"propagation\":\{\"count\":([0-9]+),\"p50_ms\":([0-9.]+),\"p99_ms\":([0-9.]+),\"max_ms\":([0-9.]+).*/\1 \2 \3 \4/")
  read -r count p50 p99 pmax <<< "$p"
  printf "  %-8s propagation over %s probes: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n" \
    "$ch" "$count" "$p50" "$p99" "$pmax"
done
grep -E -A6 "lost|converged|CONVERGED" "$work/sim.txt" | head -24 | sed 's/^/  stocksim: /'

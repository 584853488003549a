#!/usr/bin/env bash
# Reconciliation against the Shopify emulator's read budget (issue 7 figure): a catalog of SKUS
# (default 100,000) on the emulator (sku search on, as the real API; bucket 2,000 points
# restoring RESTORE/s, default 1,000, Shopify Plus), stockd with one shopify channel whose stock
# it loads and pushes, then
#   1. one run started by hand with no target cycle (as fast as the budget allows): its
#      full-cycle time, the points its reads cost and their share of the budget the bucket
#      restored meanwhile (plus what it held at the start);
#   2. drift: N hand edits on random SKUs while runs go on a CYCLE-second target cycle; the time
#      from each edit to its detection (the channel's hand_edit count in /v1/status rising).
# Expectation: a read of 250 SKUs costs 252 points, so 100,000 SKUs cost ~100,800 points:
# ~100 s at 1,000 points/s; detection waits on average about half a cycle.
# Needs a build with benchmarks: scripts/build.sh.
# Usage: benchmarks/reconcile.sh [SKUS] [RESTORE] [CYCLE] [EDITS]
set -euo pipefail
cd "$(dirname "$0")/.."
skus=${1:-100000}
restore=${2:-1000}
cycle=${3:-60}
edits=${4:-5}
port=${STOCKD_BENCH_PORT:-18110}
shop_port=$((port + 1))
work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export STOCKD_TOKEN=bench SHOP_TOKEN=shpat_stocksim
auth=(-H "Authorization: Bearer bench")
api() { curl -sf "${auth[@]}" "$@"; }
shop_stats() { curl -sf "http://127.0.0.1:$shop_port/_emulator/stats"; }
num() { sed -E "s/.*\"$1\":([0-9.]+).*/\1/"; }
now_ms() { date +%s%3N; }

build/apps/stocksim emulate shopify --port "$shop_port" --sku-search on \
  --restore-rate "$restore" > "$work/shop.log" 2>&1 &
pids+=($!)
sleep 0.5
# The catalog on the shop, at 0.
awk -v n="$skus" 'BEGIN { printf "{\"items\":["; for (i = 0; i < n; i++) {
  printf "%s{\"sku\":\"SKU-%06d\",\"quantity\":0}", (i ? "," : ""), i }; printf "]}" }' \
  > "$work/catalog.json"
curl -sf -X POST --data-binary @"$work/catalog.json" \
  "http://127.0.0.1:$shop_port/_emulator/quantities" > /dev/null

start_stockd() {  # $1: reconcile_cycle_s
  cat > "$work/stockd.toml" <<TOML
[[locations]]
id = "main"

[[channels]]
id = "shop"
connector = "shopify"
endpoint = "http://127.0.0.1:$shop_port/admin/api/2026-04/graphql.json"
credentials = "env:SHOP_TOKEN"
shopify_location = "gid://shopify/Location/1"
locations = ["main"]
reconcile_policy = "alert"
reconcile_cycle_s = $1
TOML
  build/apps/stockd --config "$work/stockd.toml" --data "$work/data" \
    --listen "127.0.0.1:$port" >> "$work/stockd.log" 2>&1 &
  stockd=$!
  pids+=("$stockd")
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/readyz" > /dev/null 2>&1 && return
    sleep 0.1
  done
  echo "stockd did not start:"; cat "$work/stockd.log"; exit 1
}
channel() { api "http://127.0.0.1:$port/v1/status" | sed -E 's/.*"channels":\[(.*)\].*/\1/'; }

start_stockd 0
echo "loading $skus SKUs into stockd and the shop..."
for ((first = 0; first < skus; first += 5000)); do
  awk -v a="$first" -v n="$skus" 'BEGIN { for (i = a; i < a + 5000 && i < n; i++)
    printf "{\"id\":\"r%d\",\"source\":\"bench\",\"type\":\"received\",\"sku\":\"SKU-%06d\",\"location\":\"main\",\"qty\":%d,\"occurred_at\":\"2026-11-27T10:00:00Z\"}\n", i, i, 5 + i % 50 }' |
    api -X POST -H "Content-Type: application/x-ndjson" --data-binary @- \
      "http://127.0.0.1:$port/v1/events" > /dev/null
done
loaded=$(now_ms)
until c=$(channel) && [ "$(echo "$c" | num out_of_sync)" = 0 ] &&
      [ "$(echo "$c" | num skus)" = "$skus" ] && [ "$(echo "$c" | sed -E 's/.*"queued":\{([^}]*)\}.*/\1/')" = '"urgent":0,"normal":0,"bulk":0' ]; do
  sleep 1
done
echo "pushed and in sync after $(( ($(now_ms) - loaded) / 1000 )) s"

# 1. One run by hand, as fast as the budget allows.
before=$(shop_stats)
t0=$(now_ms)
run=$(api -X POST "http://127.0.0.1:$port/v1/admin/reconcile/shop" | sed -E 's/.*"run":"([^"]*)".*/\1/')
until api "http://127.0.0.1:$port/v1/reconciliation/runs/$run" > "$work/run.json" 2>/dev/null; do
  sleep 0.5
done
t1=$(now_ms)
after=$(shop_stats)
summary=$(head -c 2000 "$work/run.json")
points_before=$(echo "$before" | sed -E 's/.*"points_actual":([0-9.]+).*/\1/')
points_after=$(echo "$after" | sed -E 's/.*"points_actual":([0-9.]+).*/\1/')
awk -v d="$(echo "$summary" | num duration_ms)" -v read="$(echo "$summary" | num skus_read)" \
    -v calls="$(echo "$summary" | num read_calls)" -v pb="$points_before" -v pa="$points_after" \
    -v r="$restore" -v wall=$((t1 - t0)) 'BEGIN {
  used = pa - pb; budget = 2000 + r * d / 1000;
  printf "full cycle: %d SKUs read in %.1f s (%d read calls, %.0f SKUs/s; %.1f s until served)\n", read, d / 1000, calls, read * 1000 / d, wall / 1000;
  printf "budget: %.0f points used of %.0f available (2,000 held + %d/s restored): %.1f %%\n", used, budget, r, 100 * used / budget }'
echo "run: $(head -c 600 "$work/run.json")"

# 2. Drift to detection on a paced cycle.
kill "$stockd"; wait "$stockd" 2>/dev/null || true
start_stockd "$cycle"
sleep 2
echo "drift: $edits hand edits, one at a random moment in each ${cycle}s cycle..."
for ((e = 0; e < edits; e++)); do
  sleep $((RANDOM % cycle))
  sku=$(printf "SKU-%06d" $(( (RANDOM * 32768 + RANDOM) % skus )))
  seen=$(channel | sed -E 's/.*"hand_edit":([0-9]+).*/\1/')
  curl -sf -X POST --data-binary "{\"items\":[{\"sku\":\"$sku\",\"quantity\":999}]}" \
    "http://127.0.0.1:$shop_port/_emulator/quantities" > /dev/null
  t=$(now_ms)
  until [ "$(channel | sed -E 's/.*"hand_edit":([0-9]+).*/\1/')" -gt "$seen" ]; do
    sleep 0.2
  done
  echo "edit $((e + 1)) ($sku): detected after $(( ($(now_ms) - t) )) ms"
done | tee "$work/drift.txt"
sed -E 's/.* after ([0-9]+) ms/\1/' "$work/drift.txt" | sort -n |
  awk -v cycle="$cycle" '{ v[NR] = $1 } END {
    printf "detection: median %.1f s, max %.1f s over %d edits (cycle %s s)\n",
           v[int((NR + 1) / 2)] / 1000, v[NR] / 1000, NR, cycle }'
echo "stockd channel: $(channel | head -c 1500)"

#!/usr/bin/env bash
# API efficiency of a channel under full load (issue 4 benchmarks), measured by the channel's
# emulator: starts `stocksim emulate webhook` (token bucket RATE/s, burst RATE, 100 items per
# call at most) and stockd with one webhook channel paced at the same rate, drives stockd with
# stockload over 10,000 SKUs (far more availability changes than the channel can take), and
# prints, over the load window: calls/s against the emulator's rate (utilisation), items per
# call against the batch maximum, and the 429s the emulator answered (steady state: 0).
# Needs a build with benchmarks: scripts/build.sh. Usage: benchmarks/channel_push.sh [SECONDS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
seconds=${1:-15}
rate=${2:-10}
port=${STOCKD_BENCH_PORT:-18098}
hook_port=$((port + 1))
work=$(mktemp -d)
trap 'kill "$pid" "$hook" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
export STOCKD_TOKEN=bench HOOK_SECRET=stocksim-webhook-secret

build/apps/stocksim emulate webhook --port "$hook_port" --create-unknown --rate "$rate" \
  --burst "$rate" > "$work/hook.log" 2>&1 &
hook=$!
cat > "$work/stockd.toml" <<TOML
[[locations]]
id = "main"

[[channels]]
id = "wholesale"
connector = "webhook"
endpoint = "http://127.0.0.1:$hook_port/inventory"
credentials = "env:HOOK_SECRET"
locations = ["main"]
requests_per_second = $rate
burst = $rate
batch_size = 100
TOML
build/apps/stockd --config "$work/stockd.toml" --data "$work/data" --listen "127.0.0.1:$port" \
  > "$work/stockd.log" 2>&1 &
pid=$!
wait_ready "$work/stockd.log" "$pid"

stats() { curl -s "http://127.0.0.1:$hook_port/_emulator/stats"; }
# Warm-up: the first seconds fill the queues; the window starts once the channel is saturated.
build/apps/stockload --target "127.0.0.1:$port" --duration $((seconds + 3)) --skus 10000 \
  --mode batched --rate ${STOCKD_BENCH_EVENTS:-20000} > "$work/load.json" &
load=$!
sleep 3
before=$(stats)
sleep "$seconds"
after=$(stats)
wait "$load"
calls=$(( $(field calls "$after") - $(field calls "$before") ))
items=$(( $(field items "$after") - $(field items "$before") ))
throttled=$(( $(field throttled "$after") - $(field throttled "$before") ))
awk -v c="$calls" -v i="$items" -v t="$throttled" -v s="$seconds" -v r="$rate" 'BEGIN {
  printf "window %ds at %s calls/s allowed: %d calls, %.2f calls/s, utilisation %.1f %%\n", s, r, c, c / s, 100 * c / (s * r);
  printf "items per call %.1f of 100 (%.1f %%), 429s answered: %d\n", (c ? i / c : 0), (c ? i / c : 0), t }'
echo "stockload: $(cat "$work/load.json")"
echo "emulator: $(stats)"
echo "stockd channel: $(curl -s -H "Authorization: Bearer bench" "http://127.0.0.1:$port/v1/status" | sed -E 's/.*"channels":\[(.*)\].*/\1/')"

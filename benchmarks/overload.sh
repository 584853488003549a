#!/usr/bin/env bash
# The README's overload figures: stockd offered 10x the rate it sustains. Starts stockd (durable,
# its own temp data dir) on a loopback port with an in-flight bound, then with stockload:
#   1. sustainable: closed loop, 16 connections: R, the most it accepts when kept busy (the
#                   engine applying events is the bottleneck, so some requests may already be
#                   refused: the acknowledged ones wait for no more than in_flight_max events);
#   2. flood:       open loop at 10 x R over 1,024 connections (stockload's most): what it accepts, how many requests
#                   it refuses with 503 + Retry-After;
#   3. recovery:    closed loop again, as in 1: the rate once the flood is over;
# and stockd's peak resident memory (VmHWM of /proc/PID/status) after each step (it includes
# the LMDB pages the process has touched, so it grows with the journal), and RssAnon, its heap
# alone: what the in-flight bound has to keep bounded. Every answer is checked
# by stockload (200 with one result per event, or 503); a run with errors fails.
# "sent" is what stockload managed to send: on 2 shared cores it may fall well short of 10 x R,
# and its open-loop latency then includes its own backlog; the figure says so.
# Pinning (STOCKD_BENCH_PIN=1, the default when taskset exists and there are 2+ CPUs): stockd
# runs on CPU 0 only and stockload on CPU 1 only, so the client never takes the CPU stockd's
# sustainable rate was measured with, and a flood of 10 x R is within one core's reach. R is
# then a one-core stockd's rate. STOCKD_BENCH_PIN=0 shares every CPU, as before.
# Usage: benchmarks/overload.sh [SECONDS per step, default 10]. Needs a build with benchmarks.
# Expectation: the flood's accepted rate near R (a refusal costs reading the body, not parsing
# it), peak memory bounded by in_flight_max and the connections' bodies, the recovery at ~R.
set -euo pipefail
cd "$(dirname "$0")/.."
. benchmarks/lib.sh
seconds=${1:-10}
port=${STOCKD_BENCH_PORT:-18097}
batch=${STOCKD_BENCH_BATCH:-100}
in_flight_max=${STOCKD_BENCH_IN_FLIGHT:-20000}
flood_connections=${STOCKD_BENCH_FLOOD_CONNECTIONS:-1024}
bench_workdir
export STOCKD_TOKEN=bench
pin=${STOCKD_BENCH_PIN:-auto}
if [ "$pin" = auto ]; then
  pin=0
  if command -v taskset > /dev/null && [ "$(nproc)" -ge 2 ]; then pin=1; fi
fi
server_cpu=()
client_cpu=()
if [ "$pin" = 1 ]; then
  server_cpu=(taskset -c 0)
  client_cpu=(taskset -c 1)
fi

printf '[engine]\nin_flight_max = %s\n\n[[locations]]\nid = "main"\n' "$in_flight_max" \
  > "$work/stockd.toml"
"${server_cpu[@]}" build/apps/stockd --config "$work/stockd.toml" --data "$work/data" \
  --listen "127.0.0.1:$port" > "$work/stockd.log" 2>&1 &
pid=$!
wait_ready "$work/stockd.log" "$pid"

memory() {  # VmHWM and VmRSS of stockd in MiB, and RssAnon: the heap, without LMDB's file pages
  awk '/^VmHWM|^VmRSS|^RssAnon/ {printf "%s %.1f MiB  ", $1, $2/1024}' /proc/"$pid"/status
}
step() {  # step NAME STOCKLOAD_ARGS...
  local name=$1
  shift
  local out
  out=$("${client_cpu[@]}" build/apps/stockload --target "127.0.0.1:$port" --duration "$seconds" --skus 10000 \
    --batch "$batch" "$@")
  echo "# $name"
  echo "$out"
  echo "  accepted $(field events_per_s "$out") events/s, 503 answers $(field overloaded "$out"),"\
    "errors $(field errors "$out"), p99 $(echo "$out" | sed -E 's/.*"p99":([0-9.]+).*/\1/') ms;" \
    "$(memory)"
  if [ "$(field errors "$out")" != "0" ] || [ "$(field transport_errors "$out")" != "0" ]; then
    echo "overload: stockload saw errors in '$name'" >&2
    exit 1
  fi
  last=$out
}

echo "# stockd in_flight_max = $in_flight_max, batches of $batch events, ${seconds}s per step," \
  "$([ "$pin" = 1 ] && echo "stockd on CPU 0, stockload on CPU 1" || echo "CPUs shared")"
step "sustainable (closed loop, 16 connections)" --connections 16
sustained=$(field events_per_s "$last")
offered=$(awk -v r="$sustained" 'BEGIN {printf "%.0f", 10 * r}')
step "flood: offered $offered events/s = 10 x sustainable (open loop, $flood_connections connections)" \
  --connections "$flood_connections" --rate "$offered"
sent=$(awk -v q="$(field requests "$last")" -v b="$batch" -v d="$(field duration_s "$last")" \
  'BEGIN {printf "%.0f", q * b / d}')
echo "  sent $sent events/s (of $offered offered)"
flood_accepted=$(field events_per_s "$last")
step "recovery (closed loop, 16 connections)" --connections 16
echo "# summary: sustainable $sustained events/s; at 10x offered: accepted $flood_accepted" \
  "events/s ($(awk -v a="$flood_accepted" -v s="$sustained" 'BEGIN {printf "%.0f", 100*a/s}')%" \
  "of sustainable), sent $sent events/s; after: $(field events_per_s "$last") events/s with" \
  "$(field overloaded "$last") 503s; $(memory)"

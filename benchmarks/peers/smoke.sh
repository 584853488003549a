#!/usr/bin/env bash
# CTest peer_bench_stockd_smoke: peer_bench against the real stockd, small. Its own checks must
# hold (exit 0: nothing oversold, the stored quantities read back equal to what was answered),
# every attempt must be answered 201 or 409 insufficient, and exactly min(stock, demand) granted
# per SKU (undersold 0). A wrong token must make it fail rather than report figures.
# Usage: smoke.sh STOCKD_BINARY PEER_BENCH_BINARY
set -euo pipefail
stockd=$1
bench=$2
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$work/stockd.log" ] && tail -20 "$work/stockd.log" >&2; exit 1; }

printf '[[locations]]\nid = "main"\n' > "$work/stockd.toml"
# A free port is only free until someone binds it (other tests start servers in parallel): when
# stockd exits before it is ready, try again on another port, a few times.
start_stockd() {
  local port_try
  for _ in $(seq 1 200); do
    port_try=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port_try") 2>/dev/null; then port=$port_try; return 0; fi
  done
  fail "no free loopback port"
}
port=""
for attempt in 1 2 3 4 5; do
  start_stockd
  rm -rf "$work/data"
  STOCKD_TOKEN=smoke "$stockd" --config "$work/stockd.toml" --data "$work/data" \
    --listen "127.0.0.1:$port" > "$work/stockd.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 300); do
    grep -q "^stockd: ready:" "$work/stockd.log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  grep -q "^stockd: ready:" "$work/stockd.log" && break
  if kill -0 "$pid" 2>/dev/null; then fail "stockd not ready within 30 s"; fi
  wait "$pid" 2>/dev/null || true
  pid=""
  echo "stockd exited before it was ready (attempt $attempt, port $port):" >&2
  tail -3 "$work/stockd.log" >&2
done
[ -n "$pid" ] || fail "stockd did not start in 5 attempts"

args=(run --peer stockd --target "127.0.0.1:$port" --clients 8 --rounds 2 --attempts 2000
      --skus 200 --stock 2 --hot-skus 5 --hot-stock 100 --verify 50)
for spread in uniform hot; do
  STOCKD_TOKEN=smoke "$bench" "${args[@]}" --spread "$spread" >> "$work/runs.jsonl" ||
    fail "peer_bench ($spread) exited $?"
done
cat "$work/runs.jsonl"
[ "$(wc -l < "$work/runs.jsonl")" = 2 ] || fail "expected one line per spread"
for field in '"oversold":0,' '"undersold":0,' '"failed":0,' '"verify_mismatches":0,' \
             '"attempts":4000,'; do
  [ "$(grep -c -- "$field" "$work/runs.jsonl")" = 2 ] || fail "a run lacks $field"
done
grep -q '"verified":110,' "$work/runs.jsonl" || fail "hot run did not read back 5 hot + 50 SKUs x 2"
"$bench" report "$work/runs.jsonl" > "$work/table.md" || fail "report failed"
grep -q '^| hot | stockd |' "$work/table.md" || fail "report has no hot stockd row"

if STOCKD_TOKEN=wrong "$bench" "${args[@]}" --spread uniform > "$work/wrong.out" 2>&1; then
  fail "a wrong token was not noticed"
fi
grep -q 401 "$work/wrong.out" || fail "the wrong token's failure does not say 401"
echo PASS

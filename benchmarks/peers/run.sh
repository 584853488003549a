#!/usr/bin/env bash
# Peers side by side (issue 5, item 5): the same reservation workload (reserve-if-available,
# qty 1, 50 concurrent clients, uniform and hot-SKU spreads; benchmarks/peers/peer_bench.cpp
# says exactly what) against
#   - stockd's POST /v1/reservations (fresh data dir, durable LMDB as shipped),
#   - Redis 7 with an atomic Lua script, appendonly with appendfsync always, then everysec,
#   - PostgreSQL 15 with a conditional UPDATE, synchronous_commit = on,
# each started here on a free loopback port from Debian's packages, seeded with the same stock,
# measured in this one run and stopped afterwards. Prints the table (throughput, p50/p99,
# oversold, stockd's ratio to each) and writes every run's JSON line to $PEERS_OUT
# (default build/peers/results.jsonl), the table beside it (results.md), and stockd's own
# counters (/v1/status, CPU per thread) to the work log.
#
# Usage (root, Debian 12): benchmarks/peers/run.sh
# Environment: PEERS_CLIENTS (50), PEERS_ROUNDS (5), PEERS_ATTEMPTS (20000 per round),
#   PEERS_SPREADS ("uniform hot"), PEERS_ONLY ("stockd redis-always redis-everysec postgres"),
#   STOCKD_BUILD_DIR (build), PEERS_OUT, PEERS_KEEP=1 keeps the work dir,
#   PEERS_TMPDIR (/tmp): where every peer keeps its data. /dev/shm (tmpfs, where fsync costs
#   nothing) is a diagnostic, not a durable result: it shows what each peer costs without the
#   disk, i.e. how much of the durable figure is fsync.
# It installs redis-server, postgresql and libpq-dev when missing (deliberately not in
# scripts/install-deps.sh: only this benchmark needs them). Every server this script measures is
# its own, in a temp dir on a free port; where apt starts Debian's system services on install
# (no policy-rc.d forbidding it, unlike this project's machines), those are left alone.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
build=${STOCKD_BUILD_DIR:-build}
clients=${PEERS_CLIENTS:-50}
rounds=${PEERS_ROUNDS:-5}
attempts=${PEERS_ATTEMPTS:-20000}
spreads=${PEERS_SPREADS:-uniform hot}
only=${PEERS_ONLY:-stockd redis-always redis-everysec postgres}
out=${PEERS_OUT:-$build/peers/results.jsonl}
# The workload. Uniform: 10,000 SKUs of 1 unit, 20,000 draws a round (demand 2 per SKU).
# Hot: 10 SKUs of 1,000 units take 90% of the draws (1,800 each), 9,990 SKUs of 1 unit the rest.
# 1,000 stays under stockd's 1,024 active reservations per SKU x location.
workload=(--clients "$clients" --rounds "$rounds" --attempts "$attempts" --skus 10000 --stock 1
          --hot-skus 10 --hot-share 0.9 --hot-stock 1000 --verify 200 --seed 1)

log() { echo "peers: $*" >&2; }
die() { log "$*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (installs packages, runs PostgreSQL as the postgres user)"

# --- packages ---------------------------------------------------------------------------------
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
[ -n "$(pg_bin)" ] && [ -x "$(pg_bin)/initdb" ] || missing+=(postgresql)
pkg-config --exists libpq 2>/dev/null || missing+=(libpq-dev)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" \
    >/dev/null || {
    apt-get -o DPkg::Lock::Timeout=600 update >/dev/null
    apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
fi
scripts/install-deps.sh >/dev/null
bin=$(pg_bin)
id postgres >/dev/null 2>&1 || die "no postgres user after installing postgresql"

# --- build ------------------------------------------------------------------------------------
export CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# Configure again so a tree configured before libpq-dev was installed picks it up.
cmake -S . -B "$build" -DSTOCKD_BENCHMARKS=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j2 --target stockd peer_bench >/dev/null ||
  die "build failed: cmake --build $build --target stockd peer_bench"
bench=$root/$build/benchmarks/peer_bench
stockd_bin=$root/$build/apps/stockd

# --- servers ----------------------------------------------------------------------------------
work=$(mktemp -d "${PEERS_TMPDIR:-/tmp}/stockd-peers.XXXXXX")
chmod 755 "$work"  # PostgreSQL runs as postgres and keeps its cluster under here
pids=()
pg_running=""
cleanup() {
  for p in "${pids[@]}"; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  if [ -n "$pg_running" ]; then
    runuser -u postgres -- "$bin/pg_ctl" -D "$work/pg" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "${PEERS_KEEP:-0}" = 1 ]; then log "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {  # a loopback port nobody listens on (checked, not reserved)
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 30000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  die "no free loopback port"
}

wait_for() {  # wait_for WHAT SECONDS COMMAND...: polls COMMAND until it succeeds
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$what did not come up within ${seconds}s"
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  local kept=()
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}

cpu_ticks() {  # utime+stime per thread name, summed (ticks of 1/100 s)
  for t in /proc/"$1"/task/*; do
    echo "$(cat "$t/comm" 2>/dev/null) $(awk '{print $14+$15}' "$t/stat" 2>/dev/null)"
  done | awk 'NF == 2 {a[$1]+=$2} END {for (k in a) print k, a[k]}' | sort
}

mkdir -p "$(dirname "$out")"
: > "$out"
status=0

run_bench() {  # run_bench LABEL PEER PORT SPREAD [extra peer_bench args]
  local label=$1 peer=$2 port=$3 spread=$4
  shift 4
  log "$spread: $label"
  local rc=0
  "$bench" run --peer "$peer" --label "$label" --target "127.0.0.1:$port" --spread "$spread" \
    "${workload[@]}" "$@" >> "$out" || rc=$?
  if [ "$rc" != 0 ]; then
    log "$spread: $label: peer_bench exited $rc (2: oversold or read-back mismatch)"
    status=1
  fi
}

export STOCKD_TOKEN=peers-bench
run_stockd() {  # run_stockd SPREAD
  local port
  port=$(free_port)
  rm -rf "$work/stockd-data"
  printf '[[locations]]\nid = "main"\n' > "$work/stockd.toml"
  "$stockd_bin" --config "$work/stockd.toml" --data "$work/stockd-data" \
    --listen "127.0.0.1:$port" > "$work/stockd-$1.log" 2>&1 &
  local pid=$!
  pids+=("$pid")
  wait_for stockd 30 grep -q "^stockd: ready:" "$work/stockd-$1.log"
  cpu_ticks "$pid" > "$work/cpu-before"
  run_bench stockd stockd "$port" "$1"
  cpu_ticks "$pid" > "$work/cpu-after"
  {
    # Seeding and read-back included: CPU per attempt is a slight overestimate.
    echo "# stockd, $1 spread: server CPU by thread during the run (caf.multiplexer: CAF 0.17's" \
      "name for its scheduler workers, i.e. the actors)"
    join "$work/cpu-before" "$work/cpu-after" |
      awk -v n=$((rounds * attempts)) '$3 > $2 {printf "  %-16s %6.2f s  %6.1f us per attempt\n",
        $1, ($3-$2)/100, ($3-$2)*10000/n}'
    echo "# stockd, $1 spread: /v1/status after the run"
    curl -s -H "Authorization: Bearer $STOCKD_TOKEN" "http://127.0.0.1:$port/v1/status" || true
    echo
  } >> "$work/stockd-profile.txt"
  stop_pid "$pid"
}

run_redis() {  # run_redis always|everysec SPREAD
  local mode=$1 spread=$2 port dir
  port=$(free_port)
  dir="$work/redis-$mode-$spread"
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes \
    --appendfsync "$mode" --save "" --daemonize no --logfile "$dir/redis.log" &
  local pid=$!
  pids+=("$pid")
  wait_for "redis ($mode)" 30 redis-cli -h 127.0.0.1 -p "$port" ping
  run_bench "redis-$mode" redis "$port" "$spread"
  stop_pid "$pid"
}

pg_port=""
start_postgres() {
  pg_port=$(free_port)
  mkdir -p "$work/pg"
  chown postgres: "$work/pg"
  runuser -u postgres -- "$bin/initdb" -D "$work/pg" -A trust -U postgres >"$work/initdb.log" 2>&1 ||
    die "initdb failed: $(tail -5 "$work/initdb.log")"
  # synchronous_commit and fsync as shipped (on), stated so the table says what it measured.
  runuser -u postgres -- "$bin/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $work/pg -c synchronous_commit=on \
        -c fsync=on -c max_connections=$((clients + 20))" start >/dev/null ||
    die "postgres did not start: $(tail -5 "$work/pg/server.log")"
  pg_running=1
}

run_postgres() {  # run_postgres SPREAD: a fresh table per spread
  [ -n "$pg_port" ] || start_postgres
  PGOPTIONS='-c client_min_messages=warning' \
    "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'DROP TABLE IF EXISTS stock' >/dev/null
  run_bench postgres postgres "$pg_port" "$1"
}

for spread in $spreads; do
  for peer in $only; do
    case $peer in
      stockd) run_stockd "$spread" ;;
      redis-always) run_redis always "$spread" ;;
      redis-everysec) run_redis everysec "$spread" ;;
      postgres) run_postgres "$spread" ;;
      *) die "unknown peer '$peer' in PEERS_ONLY" ;;
    esac
  done
done

echo "# fsync cost of this disk (4 KiB writes with O_DSYNC)"
dd if=/dev/zero of="$work/dd" bs=4k count=500 oflag=dsync 2>&1 | tail -1
echo "# $clients clients, $rounds rounds of $attempts attempts per spread; data on" \
  "$(df --output=fstype "$work" | tail -1) ($work); JSON lines: $out"
"$bench" report "$out" | tee "${out%.jsonl}.md"
cp "$work/stockd-profile.txt" "$(dirname "$out")/stockd-profile.txt" 2>/dev/null || true
exit "$status"

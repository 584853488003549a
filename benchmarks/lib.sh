# Shared by the benchmark scripts (`. benchmarks/lib.sh` from the repository root).

# wait_ready LOG PID: waits up to 10 s for stockd's "stockd: ready:" line in LOG (the exact
# line: "Address already in use" also contains "ready"). Fails, printing the log, when stockd
# exits first or is not ready by then, so no benchmark measures a stockd that is not running.
wait_ready() {
  local log=$1 pid=$2
  for _ in $(seq 1 100); do
    grep -q "^stockd: ready:" "$log" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "stockd did not get ready:" >&2
  cat "$log" >&2
  return 1
}

# field NAME JSON: a number from a one-line JSON summary (stockload's, an emulator's stats).
field() {
  echo "$2" | sed -E "s/.*\"$1\":([0-9.]+).*/\1/"
}

# bench_workdir: a fresh temporary directory in $work, and an EXIT trap that stops the stockd
# whose pid the script keeps in $pid (empty until it starts one) and removes the directory.
bench_workdir() {
  work=$(mktemp -d)
  pid=
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
}

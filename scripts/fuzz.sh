#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang 14, ASan+UBSan) into ./build-fuzz and runs each for
# a bounded time: scripts/fuzz.sh [seconds-per-target] (default 60). Each target starts from a
# copy of its seed corpus (fuzz/corpus/<target>/; the repo's corpus does not grow), with its
# dictionary when there is one. Fails if any target finds a crash, a sanitizer report, a
# timeout, an out-of-memory or a violated property; the input is kept under
# build-fuzz/findings/<target>/ (see the README, "Fuzzing", for what to do with it).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
targets=(event_decoder snapshot_decoder config url http_request shopify_webhook)
build_dir=build-fuzz
jobs=${STOCKD_JOBS:-2}

scripts/install-deps.sh
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++-14 \
  -DSTOCKD_FUZZ=ON -DSTOCKD_TESTS=OFF -DSTOCKD_BENCHMARKS=OFF "${launcher[@]}" >/dev/null
cmake --build "$build_dir" -j"$jobs" --target "${targets[@]/#/fuzz_}"

run_dir="$build_dir/fuzz-run"
rm -rf "$run_dir"
summary=()
failed=0
for target in "${targets[@]}"; do
  corpus="$run_dir/corpus/$target"
  findings="$build_dir/findings/$target"
  mkdir -p "$corpus" "$findings"
  cp fuzz/corpus/"$target"/* "$corpus"/
  dict=()
  if [ -f fuzz/"$target".dict ]; then
    dict=(-dict=fuzz/"$target".dict)
  fi
  log="$run_dir/$target.log"
  echo "fuzz: $target for ${seconds}s"
  status=0
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a blow-up is a finding too.
  # detect_leaks stays on (libFuzzer's default), as in scripts/test-sanitizers.sh.
  UBSAN_OPTIONS=print_stacktrace=1 \
    "$build_dir/fuzz/fuzz_$target" "$corpus" "${dict[@]}" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
    >"$log" 2>&1 || status=$?
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ]; then
    failed=1
    tail -n 60 "$log"
    summary+=("$(printf '%-18s %8s executions  FAILED (exit %d, input in %s)' "$target" \
      "${executions:-?}" "$status" "$findings")")
  else
    summary+=("$(printf '%-18s %8s executions  ok' "$target" "${executions:-?}")")
  fi
done
echo "fuzz: ${seconds}s per target"
printf '  %s\n' "${summary[@]}"
exit "$failed"

#!/usr/bin/env bash
# A long sweep of the deterministic simulation (tests/simulation/simulation_tests.cpp):
#   scripts/simulate.sh [N] [FIRST]
# runs N seeds (default 5000) starting at seed FIRST (default: the test's own first seed), in two
# processes side by side (one per core), and prints each process's summary (seeds, steps,
# events, restarts, faults injected by kind). A failing seed is printed with the command that
# replays it alone: STOCKD_SIM_SEED=<seed> build/tests/simulation/simulation_tests
# (add STOCKD_SIM_TRACE=1 for its steps). Builds only the test's target, into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
first=${2:-}
build_dir=${STOCKD_BUILD_DIR:-build}
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTOCKD_TESTS=ON >/dev/null
fi
cmake --build "$build_dir" -j"${STOCKD_JOBS:-2}" --target simulation_tests
bin="$build_dir/tests/simulation/simulation_tests"
# The test's first seed, unless given: read from the source so the two never drift apart.
if [[ -z "$first" ]]; then
  first=$(sed -n 's/^constexpr std::uint32_t first_seed = \(0x[0-9a-fA-F]*\);.*/\1/p' \
    tests/simulation/simulation_tests.cpp)
fi
first=$((first))
half=$((count / 2))
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
start=$(date +%s)
STOCKD_SIM_FIRST=$first STOCKD_SIM_SEEDS=$half \
  "$bin" "the deterministic simulation*" >"$logs/a" 2>&1 & a=$!
STOCKD_SIM_FIRST=$((first + half)) STOCKD_SIM_SEEDS=$((count - half)) \
  "$bin" "the deterministic simulation*" >"$logs/b" 2>&1 & b=$!
status=0
wait $a || status=1
wait $b || status=1
cat "$logs/a" "$logs/b"
echo "simulate.sh: $count seed(s) from $first in $(( $(date +%s) - start )) s: $([[ $status == 0 ]] && echo passed || echo FAILED)"
exit $status

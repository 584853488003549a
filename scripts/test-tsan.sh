#!/usr/bin/env bash
# The actor and simulation suites built with ThreadSanitizer (g++ -fsanitize=thread) into
# ./build-tsan, and run: actors_tests and simulation_tests. Only those two targets are built
# (and the libraries they link), so this takes a fraction of the full sanitizer build. Run by
# CI after scripts/test-sanitizers.sh.
#
# libcaf_core is Debian's build, not instrumented: TSan cannot see the synchronization inside
# it, so reports whose every frame of one side is inside libcaf would be false positives;
# scripts/tsan.supp lists the suppressions, each with the reason (empty while none is needed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${STOCKD_BUILD_DIR:-build-tsan}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTOCKD_TSAN=ON -DSTOCKD_TESTS=ON \
  -DSTOCKD_BENCHMARKS=OFF >/dev/null
cmake --build "$build_dir" -j"${STOCKD_JOBS:-2}" --target actors_tests simulation_tests
root=$(pwd)
cd "$build_dir"
# Fewer random seeds than the plain run: under TSan each runs ~5-15x slower. The plain run
# (scripts/test.sh) keeps the full counts.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp" \
  STOCKD_ACTOR_RANDOM_STREAMS=${STOCKD_ACTOR_RANDOM_STREAMS:-200} \
  STOCKD_SIM_SEEDS=${STOCKD_SIM_SEEDS:-40} \
  ctest --output-on-failure -j2 --timeout 900 -R '^(actors_tests|simulation_tests):'

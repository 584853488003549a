#!/usr/bin/env bash
# The actor and simulation suites built with ThreadSanitizer (g++ -fsanitize=thread) into
# ./build-tsan, and run: actors_tests and simulation_tests. Only those two targets are built
# (and the libraries they link), so this takes a fraction of the full sanitizer build. Run by
# CI (.ci/run) after scripts/test-sanitizers.sh.
#
# libcaf_core is built with TSan too, by scripts/build-caf-tsan.sh from Debian's own CAF 0.17.6
# tarball into $build_dir/caf-tsan (cached by a stamp; cold: 11 min on 2 busy cores, 6.5
# CPU-minutes). Debian's libcaf_core.so is not instrumented: TSan could not see the mailbox's
# synchronization and reported every message hand-off as a race. The configure takes CAF's
# headers and library from that prefix only (STOCKD_CAF_PREFIX), the tests load it through their
# RPATH (checked below), and scripts/tsan.supp is empty. A race inside an actor handler still
# reports: a deliberate one (two actors incrementing one int) stopped with exit 66.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
build_dir=${STOCKD_BUILD_DIR:-build-tsan}
caf_prefix=$(realpath -m "$build_dir/caf-tsan/install")
scripts/build-caf-tsan.sh "$caf_prefix"
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-/work} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSTOCKD_TSAN=ON -DSTOCKD_TESTS=ON \
  -DSTOCKD_BENCHMARKS=OFF -DSTOCKD_CAF_PREFIX="$caf_prefix" "${launcher[@]}" >/dev/null
nice cmake --build "$build_dir" -j"${STOCKD_JOBS:-2}" --target actors_tests simulation_tests
# The tests must load the TSan libcaf_core, not Debian's.
for t in actors_tests simulation_tests; do
  exe=$(find "$build_dir" -name "$t" -type f -executable | head -1)
  if ! ldd "$exe" | grep -q "libcaf_core.* => $caf_prefix/lib/"; then
    echo "test-tsan: $exe does not load $caf_prefix/lib/libcaf_core.so:" >&2
    ldd "$exe" | grep caf >&2
    exit 1
  fi
done
root=$(pwd)
cd "$build_dir"
# Fewer random seeds than the plain run: under TSan each runs ~5-15x slower. The plain run
# (scripts/test.sh) keeps the full counts.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$root/scripts/tsan.supp" \
  STOCKD_ACTOR_RANDOM_STREAMS=${STOCKD_ACTOR_RANDOM_STREAMS:-200} \
  STOCKD_SIM_SEEDS=${STOCKD_SIM_SEEDS:-40} \
  ctest --output-on-failure -j2 --timeout 900 -R '^(actors_tests|simulation_tests):'

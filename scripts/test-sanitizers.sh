#!/usr/bin/env bash
# The whole test suite again, built with AddressSanitizer + UndefinedBehaviorSanitizer (leak
# detection on; a UBSan finding aborts). Slower to build (~15 min on 2 cores); run by CI after
# scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
STOCKD_BUILD_DIR=build-asan scripts/build.sh -DSTOCKD_SANITIZE=ON -DSTOCKD_TESTS=ON \
  -DSTOCKD_BENCHMARKS=OFF
cd build-asan
# The random HTTP test runs 100 seeds here (plus its regression seeds) instead of 300: under the
# sanitizers both the server and the client are several times slower (300 seeds took ~3 min).
# The plain run (scripts/test.sh) keeps the full counts.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  STOCKD_RANDOM_HTTP_SEEDS=${STOCKD_RANDOM_HTTP_SEEDS:-100} \
  ctest --output-on-failure -j2 --timeout 900

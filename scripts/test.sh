#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to the whole test suite: installs the packages,
# builds everything (tests and benchmarks included, so they cannot rot), runs every test.
# The slow suites (tag [.slow]) are not part of it; see the README.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
STOCKD_BUILD_DIR=build scripts/build.sh -DSTOCKD_TESTS=ON -DSTOCKD_BENCHMARKS=ON
cd build
ctest --output-on-failure -j2 --timeout 900

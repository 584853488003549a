#!/usr/bin/env bash
# Configures and builds stockd into ./build (RelWithDebInfo: optimized, assertions on).
# Extra arguments go to CMake, e.g. scripts/build.sh -DSTOCKD_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${STOCKD_BUILD_DIR:-build}
jobs=${STOCKD_JOBS:-2}   # 2 cores here; CAF+Beast units need ~0.8 GB each
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build_dir" -j"$jobs"

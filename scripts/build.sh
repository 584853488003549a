#!/usr/bin/env bash
# Configures and builds stockd into ./build (RelWithDebInfo: optimized, assertions on).
# Extra arguments go to CMake, e.g. scripts/build.sh -DSTOCKD_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${STOCKD_BUILD_DIR:-build}
jobs=${STOCKD_JOBS:-2}   # 2 cores here; CAF+Beast units need ~0.8 GB each
# ccache, when a developer has it (the project does not install it): unchanged sources are cache
# hits across checkouts and build dirs (paths relative to /, the working dir not hashed).
launcher=()
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-/} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" "$@" >/dev/null
cmake --build "$build_dir" -j"$jobs"

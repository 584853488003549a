#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running stockd on its embedded defaults:
# installs the packages, builds, and starts the server (127.0.0.1:8080, data in ./data).
# Arguments go to stockd, e.g. scripts/run.sh --listen 127.0.0.1:9090 --config my.toml
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
STOCKD_BUILD_DIR=build scripts/build.sh -DSTOCKD_TESTS=OFF -DSTOCKD_BENCHMARKS=OFF
exec build/apps/stockd "$@"

#!/usr/bin/env bash
# Installs every Debian 12 package stockd needs to build, test and benchmark. Idempotent: when
# everything is present it changes nothing and takes a second. Run as root (or with sudo).
set -euo pipefail

packages=(
  g++ cmake make pkg-config          # toolchain
  libcaf-dev                         # CAF 0.17.6: the actor engine
  libboost-dev                       # Boost 1.74 headers: Asio + Beast (HTTP)
  libsimdjson-dev                    # simdjson 3.0.1: JSON ingest
  liblmdb-dev lmdb-utils             # LMDB 0.9.24: journal and checkpoints (+ mdb_stat for ops)
  libssl-dev                         # OpenSSL 3: token hashing, HTTPS to channel APIs
  ca-certificates                    # the system CA store the HTTPS client verifies against
  libtomlplusplus-dev                # toml++ 3.3: the config file
  catch2                             # Catch2 2.13: tests
  libbenchmark-dev                   # Google Benchmark 1.7: hot-path benchmarks
  curl                               # the README's examples and scripts
  clang-14 libclang-rt-14-dev        # scripts/fuzz.sh: libFuzzer and clang's ASan/UBSan runtimes
  libpq-dev                          # benchmarks/peers: peer_bench's PostgreSQL client, built and
                                     # smoke-tested with the suite so it cannot rot
  chromium fonts-liberation          # tests only: e2e dashboard_tests render GET / headless
                                     # (--dump-dom, --screenshot); Liberation: legible glyphs
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

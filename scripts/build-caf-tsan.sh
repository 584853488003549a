#!/usr/bin/env bash
# Builds libcaf_core 0.17.6 with ThreadSanitizer from Debian's own upstream tarball and installs
# it (library + headers) into a prefix inside the TSan build dir, for scripts/test-tsan.sh.
#
# Why: Debian's libcaf_core.so is not instrumented, so TSan cannot see the synchronization of
# CAF's mailbox (the sender builds a message, the receiver reads it after the library's
# lock-free queue handed it over) and reports every such hand-off as a race. With CAF itself
# built with -fsanitize=thread, the hand-off's atomics are visible and those reports go away,
# while races in stockd's actor handlers still report.
#
# Usage: scripts/build-caf-tsan.sh <prefix>   (default build-tsan/caf-tsan/install)
# Only libcaf_core: actors_tests and simulation_tests do not link libcaf_io (nor does any stockd
# target: cmake/dependencies.cmake makes only caf::core). Examples, tools, unit tests, OpenSSL,
# OpenCL, Python and the I/O module are off. Same compiler as the TSan test build (g++ 12,
# RelWithDebInfo: -O2 -g), through ccache when present.
#
# Cached: the prefix holds a stamp with the tarball's sha256, the flags and the compiler; when
# it matches, nothing is downloaded or rebuilt (a second or less).
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(realpath -m "${1:-build-tsan/caf-tsan/install}")
work=$(dirname "$prefix")

version=0.17.6
tarball=actor-framework_${version}.orig.tar.gz
pool=http://deb.debian.org/debian/pool/main/a/actor-framework
# The sha256 Debian's signed source description (actor-framework_0.17.6-2.1.dsc, the source of
# bookworm's libcaf-dev 0.17.6-2.1+b1) gives for the tarball. Debian's patches are not applied:
# its .debian.tar.xz was not in the pool (404 on 2026-11-28), and none is needed here: the
# upstream core compiles with g++ 12 as is, and the installed headers are byte-identical to
# /usr/include/caf (build_config.hpp included; only the I/O and OpenSSL modules' are absent).
sha256=e2bf5bd243f08bb7d8adde197cfe3e6d71314ed3378fe0692f8932f4c3b3928c

cxx=${CXX:-g++}
cxx_flags="-std=c++11 -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan"
build_type=RelWithDebInfo
stamp_text="tarball=$sha256
cxx=$($cxx --version | head -1)
cxx_flags=$cxx_flags
build_type=$build_type
modules=core"
stamp=$prefix/.stockd-caf-tsan-stamp
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$stamp_text" ] \
   && [ -f "$prefix/lib/libcaf_core.so" ] && [ -f "$prefix/include/caf/all.hpp" ]; then
  echo "build-caf-tsan: $prefix is up to date (CAF $version, TSan)"
  exit 0
fi

mkdir -p "$work"
if ! echo "$sha256  $work/$tarball" | sha256sum -c --quiet - 2>/dev/null; then
  echo "build-caf-tsan: downloading $pool/$tarball"
  curl -sSfL --retry 3 -o "$work/$tarball.part" "$pool/$tarball"
  mv "$work/$tarball.part" "$work/$tarball"
  if ! echo "$sha256  $work/$tarball" | sha256sum -c --quiet -; then
    echo "build-caf-tsan: $tarball does not match Debian's sha256 $sha256" >&2
    rm -f "$work/$tarball"
    exit 1
  fi
fi
rm -rf "$work/src" "$work/build" "$prefix"
mkdir -p "$work/src"
tar -xzf "$work/$tarball" -C "$work/src" --strip-components=1

launcher=()
if command -v ccache >/dev/null; then
  # One cache key for every checkout: the paths under /work are made relative.
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-/work} CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$work/src" -B "$work/build" -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" \
  -DCMAKE_BUILD_TYPE=$build_type -DCMAKE_CXX_FLAGS="$cxx_flags" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_INSTALL_LIBDIR=lib -DCAF_LOG_LEVEL=QUIET \
  -DCAF_NO_IO=ON -DCAF_NO_EXAMPLES=ON -DCAF_NO_TOOLS=ON -DCAF_NO_UNIT_TESTS=ON \
  -DCAF_NO_OPENSSL=ON -DCAF_NO_OPENCL=ON -DCAF_NO_PYTHON=ON -DCAF_NO_SUMMARY=ON \
  -DCAF_BUILD_STATIC=OFF -DCAF_BUILD_STATIC_ONLY=OFF >/dev/null
nice cmake --build "$work/build" -j"${STOCKD_JOBS:-2}"
cmake --install "$work/build" >/dev/null
printf '%s\n' "$stamp_text" > "$stamp"
echo "build-caf-tsan: installed CAF $version (TSan) into $prefix"

#!/usr/bin/env bash
# Instructions per engine::apply call at two commits, counted by callgrind (repeatable on a busy
# machine, unlike wall-clock time): builds bench_engine at each commit in a temporary worktree
# and prints callgrind's inclusive instruction count of engine::apply divided by its calls.
#   benchmarks/apply_instructions.sh BEFORE AFTER      e.g. 76a991e 7757eaa
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: $0 BEFORE_COMMIT AFTER_COMMIT" >&2; exit 2; }
command -v valgrind >/dev/null || apt-get install -y valgrind >/dev/null
work=$(mktemp -d)
trap 'git worktree remove --force "$work/src" 2>/dev/null || true; rm -rf "$work"' EXIT
for commit in "$1" "$2"; do
  git worktree remove --force "$work/src" 2>/dev/null || true
  git worktree add -q --detach "$work/src" "$commit"
  cmake -S "$work/src" -B "$work/build-$commit" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$work/build-$commit" -j"${STOCKD_JOBS:-2}" --target bench_engine >/dev/null
  valgrind --tool=callgrind --callgrind-out-file="$work/cg.$commit" \
    "$work/build-$commit/benchmarks/bench_engine" --benchmark_min_time=0.05 >/dev/null 2>&1
  # In the caller tree, the line just above "* ...engine::apply(" is its caller bm_apply_mix,
  # with the inclusive cost first and the call count in "(Nx)".
  callgrind_annotate --tree=caller --inclusive=yes "$work/cg.$commit" 2>/dev/null |
    awk -v c="$commit" '/\* .*engine::apply\(/ && prev ~ /bm_apply_mix/ && !done {
      split(prev, f, " "); cost = f[1]; gsub(",", "", cost);
      n = prev; sub(/.*\(/, "", n); sub(/x\).*/, "", n); gsub(",", "", n);
      printf "%s: %.0f instructions per apply (%s calls)\n", c, cost / n, n; done = 1 }
      { prev = $0 }'
done

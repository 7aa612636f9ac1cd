#!/usr/bin/env bash
# Runs every test: installs what is missing, builds the `dev` preset (g++, warnings as
# errors) and runs CTest - unit, property, hw (skips without /dev/kvm), scenario, fuzz-corpus
# and layering tests. With --ci it also builds the `fuzz` preset (clang-14, libFuzzer,
# ASan+UBSan) and runs each fuzz target for a short smoke ($SNPLAB_FUZZ_SECONDS, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

ci=0
for a in "$@"; do
  case "$a" in
    --ci) ci=1 ;;
    *) echo "usage: scripts/test.sh [--ci]" >&2; exit 2 ;;
  esac
done

scripts/setup.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
ctest --preset all -j2

if [ "$ci" -eq 1 ]; then
  seconds="${SNPLAB_FUZZ_SECONDS:-60}"
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz
  for bin in build/fuzz/fuzz/snplab_fuzz_*; do
    [ -x "$bin" ] || continue
    name="$(basename "$bin")"
    target="${name#snplab_fuzz_}"
    work="build/fuzz/corpus-$target"
    mkdir -p "$work"
    echo "fuzz smoke: $name for ${seconds}s"
    # A fresh working corpus seeded from the checked-in one; crashes land in build/fuzz.
    extra=()
    while read -r t dir; do
      [ "$t" = "$target" ] && [ -d "$dir" ] && extra+=("$dir")
    done < <(grep -v '^#' fuzz/shared-seeds.txt)
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="build/fuzz/" "$work" "fuzz/corpus/$target" "${extra[@]}" 2>&1 | tail -n 12
  done
fi

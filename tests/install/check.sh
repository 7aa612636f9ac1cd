#!/usr/bin/env bash
# Installs the build tree BUILD into a fresh prefix, builds tests/install/consumer against it
# with find_package(snplab) and again with pkg-config alone, and runs both; then builds
# examples/out-of-tree-race against it and runs its race: the buggy profile found (exit 0) and
# replayed from the printed replay string, the fixed profile clean (exit 0).
#
# With --shared as the third argument it first builds SRC itself with shared libraries
# (BUILD_SHARED_LIBS=ON, release, no tests) and checks that installed tree the same way.
set -euo pipefail
build="$1"
src="$2"
mode="${3:-static}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "$mode" = "--shared" ]; then
  cmake -S "$src" -B "$work/shared-build" -G Ninja -DBUILD_SHARED_LIBS=ON -DSNPLAB_BUILD_TESTS=OFF \
    -DSNPLAB_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$work/shared-build" >/dev/null
  build="$work/shared-build"
fi
cmake --install "$build" --prefix "$work/prefix" >/dev/null
if [ "$mode" = "--shared" ]; then
  test -f "$work/prefix/lib/libsnplab_scenarios.so"
  # The installed tool finds its libraries through its RPATH, with nothing in LD_LIBRARY_PATH.
  env -u LD_LIBRARY_PATH "$work/prefix/bin/snplab" profiles >/dev/null
fi
test -x "$work/prefix/bin/snplab"
test -f "$work/prefix/lib/cmake/snplab/snplabConfig.cmake"
test -f "$work/prefix/include/snp/uapi/uapi.h"
cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --exists snplab
for lib in $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --libs-only-l snplab | tr ' ' '\n' | grep -- '-lsnplab'); do
  test -f "$work/prefix/lib/lib${lib#-l}.a" || test -f "$work/prefix/lib/lib${lib#-l}.so" \
    || { echo "pkg-config names ${lib#-l}, not installed" >&2; exit 1; }
done
# The same program built with nothing but pkg-config's flags.
c++ -std=c++20 -o "$work/pc_consumer" "$src/tests/install/consumer/main.cc" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs snplab)
"$work/pc_consumer"

# The example: a race of its own through the public scenario API.
cmake -S "$src/examples/out-of-tree-race" -B "$work/example" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/example" >/dev/null
race="$work/example/out-of-tree-race"
"$race" list >"$work/list.txt"
grep -qx 'launch-finish-set-regs' "$work/list.txt" || { echo "example: its scenario is not listed" >&2; exit 1; }
grep -qx 'certs-toctou' "$work/list.txt" || { echo "example: the built-in scenarios are not listed" >&2; exit 1; }
"$race" run launch-finish-set-regs >"$work/buggy.txt" || { cat "$work/buggy.txt" >&2; exit 1; }
grep -q '^launch-finish-set-regs under launch-finish-unlocked-vcpus: data-race found after' "$work/buggy.txt" \
  || { cat "$work/buggy.txt" >&2; exit 1; }
replay="$(sed -n 's/^replay: //p' "$work/buggy.txt" | head -n 1)"
# docs/write-a-race.md quotes this run: its replay string must still be the one the run prints.
grep -qF "$replay" "$src/docs/write-a-race.md" \
  || { echo "docs/write-a-race.md does not show the example's replay string $replay" >&2; exit 1; }
"$race" replay "$replay" >"$work/replay.txt" || { cat "$work/replay.txt" >&2; exit 1; }
grep -q '^finding data-race' "$work/replay.txt" || { cat "$work/replay.txt" >&2; exit 1; }
test "$(grep 'trace hash' "$work/buggy.txt")" = "$(grep 'trace hash' "$work/replay.txt")"
"$race" run launch-finish-set-regs --profile upstream >"$work/fixed.txt" || { cat "$work/fixed.txt" >&2; exit 1; }
grep -q '^launch-finish-set-regs under upstream: clean over [0-9]* schedules.*then dfs, preemption bound 2: [0-9]* schedules), the bounded space exhausted' "$work/fixed.txt" \
  || { cat "$work/fixed.txt" >&2; exit 1; }
"$race" run launch-finish-set-regs --profile upstream --strategy dfs --budget 100000 >"$work/dfs.txt" \
  || { cat "$work/dfs.txt" >&2; exit 1; }
grep -q 'the bounded space exhausted' "$work/dfs.txt" || { cat "$work/dfs.txt" >&2; exit 1; }
echo "install check ($mode): ok (example: $(head -n 1 "$work/buggy.txt"))"

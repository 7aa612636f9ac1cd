#!/usr/bin/env bash
# Installs the build tree BUILD into a fresh prefix, builds tests/install/consumer against it
# with find_package(snplab) and again with pkg-config alone, and runs both.
set -euo pipefail
build="$1"
src="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/snplab"
test -f "$work/prefix/lib/cmake/snplab/snplabConfig.cmake"
test -f "$work/prefix/include/snp/uapi/uapi.h"
cmake -S "$src/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --exists snplab
for lib in $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --libs-only-l snplab | tr ' ' '\n' | grep -- '-lsnplab'); do
  test -f "$work/prefix/lib/lib${lib#-l}.a" || { echo "pkg-config names ${lib#-l}, not installed" >&2; exit 1; }
done
# The same program built with nothing but pkg-config's flags.
c++ -std=c++20 -o "$work/pc_consumer" "$src/tests/install/consumer/main.cc" \
  $(PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig" pkg-config --cflags --libs snplab)
"$work/pc_consumer"
echo "install check: ok"

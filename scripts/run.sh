#!/usr/bin/env bash
# The main job: install what is missing, build snplab (release preset) and run its main
# command. Extra arguments go to `snplab` (default: `scenario run --all`, the race catalogue).
# Only the results are printed: the configure and build output goes to build/release/build.log,
# shown (its last lines) when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p build/release
log=build/release/build.log
step() {
  if ! "$@" >>"$log" 2>&1; then
    echo "snplab run: '$*' failed; the last lines of $log:" >&2
    tail -n 40 "$log" >&2
    exit 1
  fi
}
: >"$log"
[ -t 2 ] && echo "snplab run: building the release preset (log: $log)" >&2
step cmake --preset release
step cmake --build --preset release --target snplab
if [ "$#" -eq 0 ]; then set -- scenario run --all; fi
exec build/release/scenarios/snplab "$@"

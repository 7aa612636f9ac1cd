#!/usr/bin/env bash
# The main job: install what is missing, build snplab (release preset) and run its main
# command. Extra arguments go to `snplab` (default: `scenario run --all`, the race catalogue).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build --preset release --target snplab
if [ "$#" -eq 0 ]; then set -- scenario run --all; fi
exec build/release/scenarios/snplab "$@"

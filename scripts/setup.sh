#!/usr/bin/env bash
# Installs every Debian 12 package snplab needs to build, test, benchmark and fuzz.
# Idempotent: packages already installed are not touched, and apt is not called at all
# when nothing is missing. Needs root (or sudo) only when something must be installed.
set -euo pipefail

packages=(
  # toolchains: g++ 12 for the default build, clang 14 + compiler-rt for libFuzzer/ASan
  g++ clang-14 libclang-rt-14-dev llvm-14 cmake ninja-build pkg-config
  # test and benchmark frameworks
  libgtest-dev libgmock-dev librapidcheck-dev libbenchmark-dev
  # libraries the model and tools use
  libssl-dev libtbb-dev libfmt-dev libboost-dev libboost-context-dev
  # KVM uAPI headers for the hw backend
  linux-libc-dev
  # reference data: Debian's OVMF images (vectors/measure/debian-ovmf.jsonl) and a JSON
  # reader for the vector files
  ovmf nlohmann-json3-dev
  # the command-line parser, and the man page made from its --help
  libcli11-dev help2man
  # the test that validates every --json document against docs/schemas.json
  python3 python3-jsonschema
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi

echo "snplab setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
  else
    echo "snplab setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"

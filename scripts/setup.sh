#!/usr/bin/env bash
# setup.sh: installs every Debian package that the build, the program and the tests need.
# Idempotent: apt-get runs only for packages that are missing. Nothing is fetched from anywhere else.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev            # libFuzzer + sanitizers
  clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev
  libopenblas-dev
  python3 python3-mido python3-numpy  # independent MIDI reader for the writer test; .npz reading
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

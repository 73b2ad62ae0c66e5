#!/usr/bin/env bash
# setup.sh: installs every Debian package that the build, the program and the tests need.
# Idempotent: apt-get runs only for packages that are missing. Apart from Debian, only the web studio's npm packages
# are fetched (`npm ci` in web/: pinned by web/package-lock.json, install scripts off), and only when missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  clang libclang-rt-14-dev            # libFuzzer + sanitizers
  clang-format
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev
  libopenblas-dev
  python3 python3-mido python3-numpy  # independent MIDI reader for the writer test; .npz reading
  libcpp-httplib-dev libsqlite3-dev   # the studio server (xlstm-music serve)
  libfluidsynth-dev fluid-soundfont-gm  # WAV audio for the studio (optional at build time)
  nodejs chromium                     # the studio's browser tests (tests/browser, playwright-core drives Chromium)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# npm comes with nodejs from some sources (NodeSource) and as its own Debian package otherwise.
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The web studio's npm packages (the notation renderer embedded in the binary, playwright-core for the browser
# tests): `npm ci` when web/node_modules is missing or older than the lock file. No browser is downloaded
# (never `npx playwright install`): the tests use Debian's Chromium.
web="$(cd "$(dirname "$0")/.." && pwd)/web"
if [ -f "$web/package-lock.json" ] && command -v npm >/dev/null 2>&1; then
  if [ ! -f "$web/node_modules/.package-lock.json" ] || [ "$web/package-lock.json" -nt "$web/node_modules/.package-lock.json" ]; then
    echo "setup: npm ci in web/"
    (cd "$web" && npm ci --ignore-scripts --omit=optional --no-audit --no-fund)
  else
    echo "setup: web/node_modules up to date"
  fi
fi

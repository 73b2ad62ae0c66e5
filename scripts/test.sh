#!/usr/bin/env bash
# test.sh: the project's whole test suite, as CI runs it (.ci/run calls exactly this).
#  1. setup (Debian packages), 2. release build + every test (ctest),
#  3. parser/tokenizer tests under AddressSanitizer + UndefinedBehaviorSanitizer,
#  4. a short libFuzzer run of the MIDI reader (clang), 5. the web studio's browser tests in Chromium.
# Corpus tests use ../shared/datasets when it exists and skip with a message when it does not.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

jobs=$(nproc)
echo "== release build"
bash scripts/build.sh build

echo "== sanitizer build (address, undefined): parser and tokenizer tests"
XM_TARGETS="test_midi test_tokens" bash scripts/build.sh build-asan -DXM_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -j "$jobs" -R '^(midi|tokens)\.' )

if [ -f fuzz/CMakeLists.txt ]; then
  echo "== libFuzzer: MIDI reader, ${XM_FUZZ_SECONDS:-60} s"
  XM_TARGETS="fuzz_midi" bash scripts/build.sh build-fuzz -DXM_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo
  bash fuzz/run.sh build-fuzz "${XM_FUZZ_SECONDS:-60}"
fi

echo "== all tests (release build)"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== browser tests: the web studio in Chromium (tests/browser)"
chromium_bin=${XM_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium_bin" ]; then
  echo "browser tests SKIPPED: no Chromium at $chromium_bin (scripts/setup.sh installs Debian's chromium)"
else
  rc=0
  XM_BINARY="$PWD/build/xlstm-music" XM_ARTIFACTS="$PWD/build/test-artifacts" XM_CHROMIUM="$chromium_bin" \
    node tests/browser/studio.test.mjs || rc=$?
  if [ "$rc" -eq 77 ]; then
    echo "browser tests SKIPPED (see above)"
  elif [ "$rc" -ne 0 ]; then
    exit "$rc"
  fi
fi

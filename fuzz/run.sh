#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR SECONDS: runs the MIDI libFuzzer target (built beforehand, e.g. by scripts/test.sh:
# cmake -DXM_FUZZ=ON with clang) for SECONDS, one process, from a seed corpus of samples/*.mid and, when
# present, ../shared/datasets/midi-edge-cases. Seeds, the growing corpus and crash artifacts live in
# BUILD_DIR/fuzz-work (never in the repository). Builds nothing. Exits non-zero when the fuzzer finds a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -ne 2 ]; then
  echo "usage: fuzz/run.sh BUILD_DIR SECONDS" >&2
  exit 2
fi
build=$1
seconds=$2
bin="$build/fuzz/fuzz_midi"
if [ ! -x "$bin" ]; then
  echo "fuzz/run.sh: $bin not found; build it first:" >&2
  echo "  XM_TARGETS=fuzz_midi bash scripts/build.sh $build -DXM_FUZZ=ON -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++" >&2
  exit 2
fi
work="$build/fuzz-work"
rm -rf "$work/seeds"
mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
cp samples/*.mid "$work/seeds/"
edge=../shared/datasets/midi-edge-cases
if [ -d "$edge" ]; then
  # valid/ and invalid/ hold distinct names; prefix them anyway so that nothing is overwritten.
  for f in "$edge"/valid/*.mid "$edge"/invalid/*.mid; do
    [ -f "$f" ] && cp "$f" "$work/seeds/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
fi
echo "fuzz/run.sh: $(ls "$work/seeds" | wc -l) seeds, $(ls "$work/corpus" | wc -l) corpus inputs, ${seconds} s"
status=0
"$bin" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -dict=fuzz/midi.dict -artifact_prefix="$work/artifacts/" "$work/corpus" "$work/seeds" || status=$?
if [ $status -ne 0 ]; then
  echo "fuzz/run.sh: the fuzzer failed (exit $status); reproducers in $work/artifacts/:" >&2
  ls -l "$work/artifacts/" >&2 || true
  exit $status
fi
echo "fuzz/run.sh: no crash in ${seconds} s"

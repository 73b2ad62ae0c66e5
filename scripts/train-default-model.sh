#!/usr/bin/env bash
# train-default-model.sh: reproduces models/default.safetensors, the multi-genre REMI model that
# `xlstm-music generate` uses without --model. Needs ../shared/datasets (POP909, JSB chorales, Nottingham,
# Groove MIDI; never VGMIDI or SymbTr, whose licenses forbid shipping). About an hour on 2 CPU cores.
# Usage: bash scripts/train-default-model.sh [OUT_DIR]   (default: out/default-model)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/default-model}
D=${XM_DATASETS:-../shared/datasets}
BIN=${XM_BINARY:-build/xlstm-music}
[ -x "$BIN" ] || bash scripts/build.sh build >/dev/null
mkdir -p "$OUT"
"$BIN" data prepare --input "$D/pop909:pop" --input "$D/jsb-chorales:chorale" --input "$D/nottingham/MIDI:folk" \
  --input "$D/groove-midi:drums" --out "$OUT/corpus" --transpose -3..3 --quiet
"$BIN" train --data "$OUT/corpus" --preset small --out "$OUT/multi.safetensors" --steps 5000 --batch 8 --seq 512 \
  --warmup 200 --eval-every 500 --eval-windows 128 --checkpoint-every 250 --threads 2 --seed 1
echo "model: $OUT/multi.safetensors (copy it to models/default.safetensors to make it the default)"

#!/usr/bin/env bash
# experiments.sh: reruns the five model-family experiments of docs/results.md (issue 6): JSB note-wise,
# the multi-genre corpus, length extrapolation, generated against held-out music, note tuples against REMI.
# Needs ../shared/datasets. On the 2-core development machine it takes about 100 minutes (two one-thread
# trainings at a time, then the longer JSB run). Every number in docs/results.md comes from a file this script writes under OUT.
# Usage: bash scripts/experiments.sh [OUT_DIR]   (default: out/experiments)
#        XM_STAGE=speed|train|eval|gen|plots runs one stage only (the stages after training read its models).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/experiments}
D=${XM_DATASETS:-../shared/datasets}
BIN=${XM_BINARY:-build/xlstm-music}
BENCH=${XM_BENCH:-build/bench}
STAGE=${XM_STAGE:-all}
[ -x "$BIN" ] && [ -x "$BENCH/family_generation" ] && [ -x "$BENCH/experiment_plots" ] ||
  bash scripts/build.sh build >/dev/null
mkdir -p "$OUT"
X="$(cd "$OUT" && pwd)"
stage() { [ "$STAGE" = all ] || [ "$STAGE" = "$1" ]; }

# ---- corpora ----
if [ ! -f "$X/jsb/index.json" ]; then
  # JSB chorales, note-wise (S, A, T, B per 16th), official 229/76/77 split; training split transposed -5..6.
  "$BIN" data prepare --input "$D/jsb-chorales" --tokenizer jsb --transpose -5..6 --out "$X/jsb" --quiet
  # The default model's corpus (REMI) and the same pieces as note tuples.
  for tok in remi tuples; do
    "$BIN" data prepare --input "$D/pop909:pop" --input "$D/jsb-chorales:chorale" --input "$D/nottingham/MIDI:folk" \
      --input "$D/groove-midi:drums" --tokenizer $tok --transpose -3..3 --out "$X/multi-$tok" --quiet
  done
  # POP909 alone (same hash split, so its valid pieces are the multi corpus's pop valid pieces): long pieces
  # for length extrapolation.
  "$BIN" data prepare --input "$D/pop909:pop" --out "$X/pop-remi" --quiet
fi

# ---- training speed of each family alone on the machine: 12 steps on one thread; docs/results.md quotes the
# median step tokens/s of each log. The step counts of the training runs below come from these figures.
if stage speed; then
  for f in xlstm lstm transformer tuple; do
    if [ $f = tuple ]; then data=multi-tuples; else data=multi-remi; fi
    "$BIN" train --data "$X/$data" --preset small --family $f --out "$X/speed-multi-$f.safetensors" --steps 12 \
      --batch 8 --seq 512 --eval-every 0 --eval-windows 4 --threads 1 --quiet > /dev/null
    [ $f = tuple ] && continue
    "$BIN" train --data "$X/jsb" --preset small --family $f --out "$X/speed-jsb-$f.safetensors" --steps 12 \
      --batch 4 --seq 1024 --eval-every 0 --eval-windows 4 --threads 1 --quiet > /dev/null
  done
fi

# ---- training: matched size (the small preset of each family) and matched time ----
# Steps: each run gets the same single-core time budget (JSB 10 min, multi-genre 12 min), converted to steps
# with the family's training speed of the speed stage (docs/results.md lists them).
# Learning rate 1e-3 (the preset's); the LSTM also at 3e-3. Two runs at a time, one thread each.
if stage train; then
  cat > "$X/jobs.txt" <<EOF
multi-xlstm multi-remi xlstm 726 8 512
multi-lstm multi-remi lstm 951 8 512
multi-lstm-lr3 multi-remi lstm 951 8 512 3e-3
multi-transformer multi-remi transformer 875 8 512
multi-tuple multi-tuples tuple 745 8 512
jsb-xlstm jsb xlstm 487 4 1024
jsb-lstm jsb lstm 735 4 1024
jsb-transformer jsb transformer 630 4 1024
EOF
  export BIN X
  # NAME.out ends with the run's CPU and wall seconds ("U user W wall"), which docs/results.md quotes.
  xargs -P 2 -L 1 bash -c 'TIMEFORMAT="%U user %R wall"; { time "$BIN" train --data "$X/$1" --preset small \
    --family $2 --out "$X/$0.safetensors" --steps $3 --batch $4 --seq $5 --lr ${6:-1e-3} --warmup 50 --eval-every 0 \
    --eval-windows 64 --checkpoint-every 100 --threads 1 --seed 1 --quiet > "$X/$0.out" 2>&1; } 2>> "$X/$0.out"' \
    < "$X/jobs.txt"
  # A longer xLSTM run on JSB (experiment 1: how far more time takes it): 1,500 steps, the whole validation
  # split every 250 steps.
  TIMEFORMAT="%U user %R wall"
  { time "$BIN" train --data "$X/jsb" --preset small --family xlstm --out "$X/jsb-xlstm-long.safetensors" \
      --steps 1500 --batch 4 --seq 1024 --warmup 50 --eval-every 250 --eval-windows 0 --checkpoint-every 100 \
      --threads 1 --seed 1 --quiet > "$X/jsb-xlstm-long.out" 2>&1; } 2>> "$X/jsb-xlstm-long.out"
fi

FAMILIES="xlstm lstm transformer"
if stage eval; then
  for f in $FAMILIES lstm-lr3; do
    # 1. JSB: every chorale as one sequence (--positions longer than any chorale), valid and test.
    if [ $f != lstm-lr3 ]; then
      jsb=$f
      [ $f = xlstm ] && jsb="xlstm xlstm-long"
      for j in $jsb; do
        for split in valid test; do
          "$BIN" eval --model "$X/jsb-$j.safetensors" --data "$X/jsb" --split $split --positions 4096 --bucket 256 \
            --batch 4 --threads 1 --json --quiet > "$X/eval-jsb-$j-$split.json"
        done
      done
    fi
    # 2. Multi-genre: windows of 512 tokens from the zero state (as in training), per genre.
    "$BIN" eval --model "$X/multi-$f.safetensors" --data "$X/multi-remi" --split valid --no-carry --threads 1 \
      --json --quiet > "$X/eval-multi-$f.json"
    # 3. Length extrapolation: POP909 validation pieces, each one sequence cut at 8,192 tokens.
    "$BIN" eval --model "$X/multi-$f.safetensors" --data "$X/pop-remi" --split valid --positions 8192 --bucket 512 \
      --batch 1 --threads 1 --json --quiet > "$X/eval-extrap-$f.json"
  done
  # 5. Note tuples against REMI: the same pieces, compared per note and per second.
  "$BIN" eval --model "$X/multi-tuple.safetensors" --data "$X/multi-tuples" --split valid --no-carry --threads 1 \
    --json --quiet > "$X/eval-multi-tuple.json"
  # 2. Generation speed and memory at 1k, 4k and 16k steps, batch 1, one thread; one process per model, so
  # that the peak RSS is that model's.
  for f in $FAMILIES tuple; do
    "$BENCH/family_generation" --lengths 1024,4096,16384 --threads 1 --out "$X/family-generation-$f.json" \
      $f="$X/multi-$f.safetensors"
  done
fi

# 4. Generated against held-out music: 16 pieces of 16 bars per family and genre (key and tempo chosen by the
# model), against the test split's original files of that genre.
if stage gen; then
  for g in folk pop; do
    ref="$X/reference-$g"
    rm -rf "$ref" && mkdir -p "$ref"
    python3 - "$X/multi-remi/index.json" "$g" "$ref" <<'EOF'
import json, os, sys
index, genre, ref = sys.argv[1], sys.argv[2], sys.argv[3]
base = os.path.dirname(os.path.abspath(index))
for p in json.load(open(index))["pieces"]:
    if p["split"] == "test" and p["tags"].get("genre") == genre:
        src = os.path.join(p["input"], p["source"])
        if not os.path.isabs(src): src = os.path.abspath(src)
        os.symlink(src, os.path.join(ref, "%05d.mid" % p["id"]))
EOF
    for f in $FAMILIES tuple; do
      rm -rf "$X/gen-$g-$f" && mkdir -p "$X/gen-$g-$f"
      "$BIN" generate --model "$X/multi-$f.safetensors" --genre $g --bars 16 --num 16 --top-p 0.95 --random-seed 1 \
        --threads 1 --out "$X/gen-$g-$f/piece.mid" --json > "$X/gen-$g-$f.json"
      "$BIN" eval --generated "$X/gen-$g-$f" --reference "$ref" --report "$X/report-$g-$f.md" --json --quiet \
        > "$X/metrics-$g-$f.json"
    done
  done
fi

if stage plots; then
  P="$BENCH/experiment_plots"
  "$P" loss --out "$X/loss-jsb.svg" --title "JSB chorales: training loss (same time budget)" \
    xLSTM="$X/jsb-xlstm.log.jsonl" LSTM="$X/jsb-lstm.log.jsonl" Transformer="$X/jsb-transformer.log.jsonl"
  "$P" loss --out "$X/loss-multi.svg" --title "Multi-genre REMI: training loss (same time budget)" \
    xLSTM="$X/multi-xlstm.log.jsonl" LSTM="$X/multi-lstm.log.jsonl" "LSTM, lr 3e-3=$X/multi-lstm-lr3.log.jsonl" \
    Transformer="$X/multi-transformer.log.jsonl"
  "$P" bars --out "$X/genres-multi.svg" --title "Validation NLL per token by genre" \
    xLSTM="$X/eval-multi-xlstm.json" LSTM="$X/eval-multi-lstm.json" "LSTM, lr 3e-3=$X/eval-multi-lstm-lr3.json" \
    Transformer="$X/eval-multi-transformer.json"
  "$P" position --out "$X/extrapolation.svg" --title "POP909 validation: NLL by position (trained at 512)" \
    --mark 512 --mark 2048 \
    xLSTM="$X/eval-extrap-xlstm.json" LSTM="$X/eval-extrap-lstm.json" Transformer="$X/eval-extrap-transformer.json"
  "$P" bars --out "$X/tuples-vs-remi.svg" --title "Bits per note, validation: note tuples vs REMI" \
    --metric bits_per_note "xLSTM REMI=$X/eval-multi-xlstm.json" "xLSTM tuples=$X/eval-multi-tuple.json"
fi
echo "experiments: results in $X"

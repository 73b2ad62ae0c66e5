#!/usr/bin/env bash
# run.sh: sets up, builds, and runs the main job on bundled defaults.
# Until a trained model ships, the main job inspects the bundled sample MIDI and tokenizes it (REMI),
# then writes the tokens back to MIDI in out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
bin=build/xlstm-music
sample=samples/sample.mid
mkdir -p out
echo "== xlstm-music inspect $sample"
"$bin" inspect "$sample" --limit 12
echo
echo "== xlstm-music tokenize $sample --tokenizer remi --json > out/sample.tokens.json"
"$bin" tokenize "$sample" --tokenizer remi --json > out/sample.tokens.json
"$bin" tokenize "$sample" --tokenizer remi > out/sample.tokens.txt
head -n 24 out/sample.tokens.txt
echo "..."
echo
echo "== xlstm-music detokenize out/sample.tokens.json --out out/sample.roundtrip.mid"
"$bin" detokenize out/sample.tokens.json --out out/sample.roundtrip.mid
"$bin" inspect out/sample.roundtrip.mid --limit 0

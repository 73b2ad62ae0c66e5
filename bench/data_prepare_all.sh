#!/usr/bin/env bash
# data_prepare_all.sh [BIN] [TOKENIZER] [EXTRA FLAGS...]: runs `xlstm-music data prepare` over every dataset in
# ../shared/datasets, one at a time and then all together, writing only under a temp folder (never the
# repository), and prints one table row per run from its report.json. Figures go to docs/data.md.
# Not a test: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build/xlstm-music}
tok=${2:-remi}
shift $(( $# > 2 ? 2 : $# ))
extra=("$@")
data=${XM_SHARED_DIR:-../shared}/datasets
tmp=$(mktemp -d /tmp/xm-data-prepare-all.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

row() {  # name report.json
  python3 - "$1" "$2" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
r = json.load(open(path))
s = r["splits"]
why = "; ".join(f"{n} {k}" for k, n in sorted(r["skipped"]["by_reason"].items(), key=lambda kv: -kv[1])) or "-"
print(f"| {name} | {r['files']['found']} | {r['pieces']} | {s['train']['pieces']}/{s['valid']['pieces']}/{s['test']['pieces']} "
      f"| {r['tokens']} | {s['train']['original_tokens']}/{s['valid']['tokens']}/{s['test']['tokens']} "
      f"| {r['skipped']['total']} | {why} | {r['seconds']['total']:.2f} | {r['files_per_s']:.0f} | {r['tokens_per_s']:.0f} |")
EOF
}

echo "tokenizer $tok, flags: ${extra[*]:-(none)}, cores: $(nproc)"
echo "| input | files | pieces | train/valid/test pieces | tokens written | original tokens train/valid/test | skipped | why | seconds | files/s | tokens/s |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
all=()
for d in pop909 nottingham groove-midi jsb-chorales symbtr-makam vgmidi midi-edge-cases; do
  [ -d "$data/$d" ] || { echo "| $d | (not found) |"; continue; }
  all+=(--input "$data/$d")
  "$bin" data prepare --input "$data/$d" --out "$tmp/$d" --tokenizer "$tok" --quiet "${extra[@]}" >/dev/null
  row "$d" "$tmp/$d/report.json"
  rm -rf "${tmp:?}/$d"
done
if [ ${#all[@]} -gt 0 ]; then
  "$bin" data prepare "${all[@]}" --out "$tmp/all" --tokenizer "$tok" --quiet "${extra[@]}" >/dev/null
  row "all together" "$tmp/all/report.json"
fi

#!/usr/bin/env bash
# run.sh: the main job. Sets up (Debian packages, the studio's npm files), builds, composes two pieces with the
# shipped default model (models/default.safetensors) into out/, then opens the web studio on
# http://127.0.0.1:8080 (Ctrl-C stops it). XM_NO_SERVE=1 skips the studio; XM_PORT changes its port.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh build >/dev/null
bin=build/xlstm-music
mkdir -p out
echo "== xlstm-music generate --genre folk --key D --tempo 112 --bars 16 --out out/folk.mid --musicxml out/folk.musicxml"
"$bin" generate --genre folk --key D --tempo 112 --bars 16 --random-seed 7 --out out/folk.mid --musicxml out/folk.musicxml
echo
echo "== xlstm-music generate --seed-midi samples/sample.mid --genre pop --bars 8 --num 2 --out out/sample-continued.mid"
"$bin" generate --seed-midi samples/sample.mid --genre pop --bars 8 --num 2 --random-seed 3 --out out/sample-continued.mid
echo
if [ "${XM_NO_SERVE:-0}" = 1 ]; then
  echo "XM_NO_SERVE=1: not starting the studio (run: $bin serve)"
  exit 0
fi
port=${XM_PORT:-8080}
echo "== xlstm-music serve --port $port   (the studio: open http://127.0.0.1:$port ; Ctrl-C stops it)"
exec "$bin" serve --port "$port" --db out/studio/studio.db

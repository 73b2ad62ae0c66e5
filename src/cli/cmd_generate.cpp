// cmd_generate.cpp: `xlstm-music generate`: flags -> gen::GenerateOptions, the seed MIDI, the model (or the
// default one), the output files (MIDI, optional MusicXML; written atomically after generation), the summary.
// Thin: sampling, controls and stopping rules are in generate/generate.h.
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "generate/generate.h"
#include "midi/midi_io.h"
#include "music/musicxml.h"
#include "nn/runtime.h"

namespace {

using xm::UsageError;
namespace fs = std::filesystem;

const char* kUsage =
    "usage: xlstm-music generate [--model MODEL] [--seed-midi SEED.mid] (--bars N | --seconds T | --max-tokens N)\n"
    "                            --out OUT.mid [flags]\n"
    "\n"
    "Generates music with a trained model: continues SEED.mid (the output holds the seed followed by its\n"
    "continuation) or starts from the conditioning tokens alone; samples with grammar masks (only ids that\n"
    "can follow), a scale and a pitch range, temperature / top-k / top-p, until a stopping rule fires. With\n"
    "--num N > 1 the N variations are sampled as one batch and written to OUT-1.mid ... OUT-N.mid. Output\n"
    "files are written atomically once generation is done. See docs/generation.md.\n"
    "\n"
    "flags:\n"
    "  --model FILE          the model (default: $XLSTM_MUSIC_MODEL, else models/default.safetensors)\n"
    "  --seed-midi FILE      a MIDI file to continue\n"
    "  --genre G, --mood M   conditioning tokens (names the model knows; see `xlstm-music inspect MODEL`)\n"
    "  --key K               key token and the scale's tonic: C, F#m, \"Bb major\", \"A minor\" (default: the\n"
    "                        seed's estimated key; none without a seed)\n"
    "  --scale S             allow only pitches of scale S on the key's tonic (C without --key): major, dorian,\n"
    "                        pentatonic_minor, raga_yaman, makam_hicaz, ... (drums exempt)\n"
    "  --pitch-range LO..HI  allow only pitches LO..HI (MIDI numbers, drums exempt)\n"
    "  --tempo BPM           the tempo token and the tempo written into the file (default: the seed's; without\n"
    "                        a seed, the model's)\n"
    "  --bars N              stop after N new bars\n"
    "  --seconds T           stop after T new seconds of music\n"
    "  --max-tokens N        stop after N new tokens (steps for note-tuple models)\n"
    "  --stop-prob P         also stop when the model's P(end of piece) >= P (0 = off, default)\n"
    "  --temperature T       sampling temperature > 0 (default 1)\n"
    "  --top-k K             sample among the K most likely allowed ids (0 = off, default)\n"
    "  --top-p P             nucleus sampling, P in (0, 1] (1 = off, default)\n"
    "  --num N               variations, one batch (default 1)\n"
    "  --random-seed N       the sampler's seed: the same command gives the same files (default 1)\n"
    "  --out FILE            OUT.mid (with --num N > 1: OUT-1.mid ... OUT-N.mid)\n"
    "  --musicxml FILE       also write MusicXML (likewise numbered)\n"
    "  --threads N           engine threads (default: all cores)\n"
    "  --json                print a JSON summary (files, tokens, invalid tokens, stop reasons, timings)\n"
    "\n"
    "exit: 0 done, 1 bad input or failed work (no model, a broken seed, an unwritable output), 2 usage error\n";

// OUT.mid -> OUT-i.mid when num > 1.
fs::path numbered(const fs::path& p, int i, int num) {
  if (num == 1) return p;
  fs::path q = p;
  q.replace_filename(p.stem().string() + "-" + std::to_string(i) + p.extension().string());
  return q;
}

void parse_pitch_range(const std::string& v, int* lo, int* hi) {
  const size_t dots = v.find("..");
  try {
    if (dots == std::string::npos) throw 0;
    size_t a = 0, b = 0;
    *lo = std::stoi(v.substr(0, dots), &a);
    *hi = std::stoi(v.substr(dots + 2), &b);
    if (a != dots || b != v.size() - dots - 2) throw 0;
  } catch (...) {
    throw UsageError("flag --pitch-range: '" + v + "' is not LO..HI (e.g. 48..84)");
  }
  if (*lo < 0 || *hi > 127 || *lo > *hi)
    throw UsageError("flag --pitch-range: '" + v + "' must satisfy 0 <= LO <= HI <= 127");
}

int run_generate(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv,
                  {"--model", "--seed-midi", "--genre", "--mood", "--key", "--scale", "--tempo", "--bars", "--seconds",
                   "--max-tokens", "--stop-prob", "--temperature", "--top-k", "--top-p", "--num", "--random-seed",
                   "--out", "--musicxml", "--pitch-range", "--threads"},
                  {"--json"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  xm::gen::GenerateOptions o;
  const fs::path out = a.require("--out");
  std::vector<std::string> lengths;
  for (const char* f : {"--bars", "--seconds", "--max-tokens"})
    if (a.has(f)) lengths.push_back(f);
  if (lengths.empty()) throw UsageError("give a length: one of --bars N, --seconds T or --max-tokens N");
  if (lengths.size() > 1) throw UsageError("flags " + lengths[0] + " and " + lengths[1] + " exclude each other: give one");
  o.bars = int(a.get_int("--bars", 0, 1, 1 << 20));
  o.seconds = a.get_double("--seconds", 0, 1e-3, 1e6);
  o.max_tokens = int(a.get_int("--max-tokens", 0, 1, 1 << 30));
  o.stop_prob = a.get_double("--stop-prob", 0, 0, 1);
  o.temperature = a.get_double("--temperature", 1.0, 1e-6, 1e6);
  o.top_k = int(a.get_int("--top-k", 0, 0, 1 << 30));
  o.top_p = a.get_double("--top-p", 1.0, 0, 1);
  if (!(o.top_p > 0)) throw UsageError("flag --top-p: must be in (0, 1]");
  o.num = int(a.get_int("--num", 1, 1, 256));
  o.random_seed = uint64_t(a.get_int("--random-seed", 1, 0, (1LL << 62)));
  o.tempo_bpm = a.get_double("--tempo", 0, 10, 1000);
  if (a.has("--pitch-range")) parse_pitch_range(a.require("--pitch-range"), &o.pitch_min, &o.pitch_max);
  o.genre = a.get_or("--genre", "");
  o.mood = a.get_or("--mood", "");
  o.key = a.get_or("--key", "");
  o.scale = a.get_or("--scale", "");
  const long long threads = a.get_int("--threads", 0, 1, 4096);
  const bool as_json = a.has("--json");

  fs::path model = a.get_or("--model", "");
  if (model.empty()) {
    model = xm::gen::default_model_path();
    if (model.empty())
      throw xm::Error("no model: give --model FILE, set XLSTM_MUSIC_MODEL, or train the default one "
                      "(xlstm-music data prepare --input DIR --out CORPUS; xlstm-music train --data CORPUS "
                      "--preset small --out models/default.safetensors)");
  }
  xm::nn::set_threads(int(threads));
  xm::gen::Generator gen(model);
  gen.validate(o);  // usage errors (unknown genre, key, scale, ...) before reading the seed
  xm::midi::Score seed;
  const bool has_seed = a.has("--seed-midi");
  if (has_seed) {
    const std::string f = a.require("--seed-midi");
    try {
      seed = xm::midi::read_midi_file(f);
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      throw xm::Error(msg.rfind(f, 0) == 0 ? msg : f + ": " + msg);
    }
    if (seed.notes.empty()) throw xm::Error(f + ": the seed has no notes to continue");
  }
  xm::gen::GenerateResult r = gen.generate(has_seed ? &seed : nullptr, o);

  // Every file once generation is done; each write is atomic.
  xm::json pieces = xm::json::array();
  for (int i = 0; i < int(r.pieces.size()); ++i) {
    const xm::gen::Piece& p = r.pieces[size_t(i)];
    const fs::path mid = numbered(out, i + 1, o.num);
    xm::midi::write_midi_file(p.score, mid);
    xm::json j = {{"file", mid.string()},
                  {"notes", p.score.notes.size()},
                  {"tokens", p.tokens.size()},
                  {"seed_tokens", p.seed_tokens},
                  {"generated_tokens", p.generated_tokens},
                  {"invalid_tokens", p.invalid_tokens},
                  {"fallbacks", p.fallbacks},
                  {"stop_reason", p.stop_reason},
                  {"music_seconds", p.music_seconds},
                  {"duration_seconds", p.score.duration_s()}};
    if (a.has("--musicxml")) {
      const fs::path xml = numbered(a.require("--musicxml"), i + 1, o.num);
      xm::music::MusicXmlOptions mo;
      mo.title = mid.stem().string();
      xm::write_file_atomic(xml, xm::music::to_musicxml(p.score, mo));
      j["musicxml"] = xml.string();
    }
    pieces.push_back(j);
  }
  if (as_json) {
    xm::json s = {{"model", model.string()},
                  {"tokenizer", gen.tokenizer().name()},
                  {"family", gen.model().family()},
                  {"pieces", pieces},
                  {"wall_seconds", r.wall_seconds},
                  {"prefill_seconds", r.prefill_seconds},
                  {"tokens_per_s", r.tokens_per_s},
                  {"music_seconds_per_s", r.music_seconds_per_s}};
    std::printf("%s\n", s.dump(2).c_str());
    return 0;
  }
  int64_t tokens = 0;
  for (const auto& p : pieces) {
    std::printf("wrote %s: %zu notes, %lld new tokens, %.1f s of new music, stopped by %s", p["file"].get<std::string>().c_str(),
                p["notes"].get<size_t>(), (long long)p["generated_tokens"].get<int64_t>(),
                p["music_seconds"].get<double>(), p["stop_reason"].get<std::string>().c_str());
    const int inv = p["invalid_tokens"].get<int>();
    if (inv > 0) std::printf(", %d invalid tokens skipped", inv);
    if (p.contains("musicxml")) std::printf(" (+ %s)", p["musicxml"].get<std::string>().c_str());
    std::printf("\n");
    tokens += p["generated_tokens"].get<int64_t>();
  }
  std::printf("%lld tokens in %.2f s: %.0f tokens/s, %.1f s of music per second\n", (long long)tokens,
              r.wall_seconds, r.tokens_per_s, r.music_seconds_per_s);
  return 0;
}

xm::cli::Registrar reg({"generate", "generate music with a trained model (continue a seed or start fresh)", kUsage,
                        run_generate});

}  // namespace

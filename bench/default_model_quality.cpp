// default_model_quality.cpp: measures what docs/results.md reports for a generation model, per genre: the
// in-key rate when a key is asked for (conditioning tokens only, and with the scale mask), the share of
// invalid tokens, tempo exactness, note density and pitch range of the generated continuations against the
// corpus's validation pieces of that genre, and generation speed. Prints a table and writes JSON.
// Usage: default_model_quality [--model M] [--corpus DIR] [--num N] [--bars N] [--seed S] [--out JSON]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/json.h"
#include "data/corpus.h"
#include "generate/generate.h"
#include "music/analysis.h"
#include "nn/runtime.h"

using namespace xm;

namespace {

struct Stats {
  double notes_per_s = 0, pitch_range = 0;
  int pieces = 0;
};

// Mean over pieces of notes per second and pitch range (non-drum notes, or drum notes for drum pieces), for
// the notes at or after from_s.
void add_piece(Stats& s, const midi::Score& score, double from_s, bool drums) {
  int n = 0, lo = 128, hi = -1;
  double first = 1e300, last = 0;
  for (const auto& note : score.notes) {
    if (note.onset_s + 1e-9 < from_s || note.drum != drums) continue;
    ++n;
    lo = std::min(lo, note.pitch);
    hi = std::max(hi, note.pitch);
    first = std::min(first, note.onset_s);
    last = std::max(last, note.offset_s);
  }
  if (n < 2 || last <= first) return;
  s.notes_per_s += n / (last - first);
  s.pitch_range += hi - lo;
  s.pieces += 1;
}

// Counts the pitched notes from from_s on whose pitch class lies in the key's scale; adds all of them to *counted.
double in_key_notes(const midi::Score& score, double from_s, int tonic, bool minor, int* counted) {
  static const std::set<int> major{0, 2, 4, 5, 7, 9, 11};
  static const std::set<int> minor_set{0, 2, 3, 5, 7, 8, 10, 11};  // natural minor + the raised 7th
  int in = 0, n = 0;
  for (const auto& note : score.notes) {
    if (note.drum || note.onset_s + 1e-9 < from_s) continue;
    ++n;
    const int pc = ((note.pitch - tonic) % 12 + 12) % 12;
    in += (minor ? minor_set : major).count(pc) ? 1 : 0;
  }
  *counted += n;
  return in;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model = "models/default.safetensors", corpus_dir, out = "default_model_quality.json";
  int num = 8, bars = 8;
  uint64_t seed = 1;
  for (int i = 1; i < argc; ++i) {
    auto val = [&](const char* flag) -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", flag);
        std::exit(2);
      }
      return argv[++i];
    };
    if (!std::strcmp(argv[i], "--model")) model = val("--model");
    else if (!std::strcmp(argv[i], "--corpus")) corpus_dir = val("--corpus");
    else if (!std::strcmp(argv[i], "--num")) num = std::stoi(val("--num"));
    else if (!std::strcmp(argv[i], "--bars")) bars = std::stoi(val("--bars"));
    else if (!std::strcmp(argv[i], "--seed")) seed = std::stoull(val("--seed"));
    else if (!std::strcmp(argv[i], "--out")) out = val("--out");
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  try {
    nn::set_threads(1);
    gen::Generator g(model);
    std::unique_ptr<data::Corpus> corpus;
    if (!corpus_dir.empty()) corpus = std::make_unique<data::Corpus>(data::Corpus::open(corpus_dir));
    struct Setting {
      std::string genre, key;
      double tempo;
    };
    const std::vector<Setting> settings{{"pop", "C", 96}, {"chorale", "G", 80}, {"folk", "D", 120}, {"drums", "", 110}};
    json report = json::object();
    report["model"] = model;
    report["num"] = num;
    report["bars"] = bars;
    std::printf("%-8s %-4s %8s %8s %8s %8s %9s %9s %9s %9s %9s\n", "genre", "key", "in-key", "in-key+m", "invalid",
                "tempo=", "notes/s", "corpus", "range", "corpus", "tok/s");
    for (const auto& s : settings) {
      json row;
      const bool drums = s.genre == "drums";
      Stats gen_stats, corpus_stats;
      double in_key = 0, in_key_masked = 0, tok_s = 0, music_s = 0;
      int counted = 0, counted_masked = 0, invalid = 0, tempo_exact = 0;
      int64_t generated = 0;
      for (int masked = 0; masked < 2; ++masked) {
        if (masked && s.key.empty()) break;
        gen::GenerateOptions o;
        o.genre = s.genre;
        o.key = s.key;
        if (masked) o.scale = "major";
        o.tempo_bpm = s.tempo;
        o.bars = bars;
        o.num = num;
        o.temperature = 1.0;
        o.top_p = 0.95;
        o.random_seed = seed + masked;
        auto r = g.generate(nullptr, o);
        for (const auto& p : r.pieces) {
          if (!masked) {
            invalid += p.invalid_tokens;
            generated += p.generated_tokens;
            bool exact = !p.score.tempos.empty();
            for (const auto& t : p.score.tempos) exact = exact && std::fabs(t.bpm() - s.tempo) < 0.01;
            tempo_exact += exact ? 1 : 0;
            add_piece(gen_stats, p.score, 0.0, drums);
          }
          int tonic = 0;
          music::Key k;
          if (!s.key.empty() && music::parse_key(s.key, &k)) tonic = k.tonic;
          if (!s.key.empty()) {
            if (masked) in_key_masked += in_key_notes(p.score, 0.0, tonic, k.minor, &counted_masked);
            else in_key += in_key_notes(p.score, 0.0, tonic, k.minor, &counted);
          }
        }
        if (!masked) {
          tok_s = r.tokens_per_s;
          music_s = r.music_seconds_per_s;
        }
      }
      if (corpus) {
        auto tok = corpus->make_tokenizer();
        for (const auto* p : corpus->pieces(data::Split::Valid)) {
          if (p->genre != s.genre) continue;
          auto view = corpus->tokens(*p);
          std::vector<int32_t> ids(view.size());
          for (size_t i = 0; i < ids.size(); ++i) ids[i] = view[i];
          add_piece(corpus_stats, tok->decode(ids), 0.0, drums);
        }
      }
      auto mean = [](double sum, int n) { return n ? sum / n : std::nan(""); };
      row["in_key_rate"] = counted ? json(in_key / counted) : json();
      row["in_key_rate_scale_mask"] = counted_masked ? json(in_key_masked / counted_masked) : json();
      row["notes_counted"] = counted;
      row["invalid_tokens"] = invalid;
      row["generated_tokens"] = generated;
      row["invalid_share"] = generated ? double(invalid) / generated : 0.0;
      row["tempo_exact_share"] = double(tempo_exact) / num;
      row["notes_per_s"] = mean(gen_stats.notes_per_s, gen_stats.pieces);
      row["pitch_range"] = mean(gen_stats.pitch_range, gen_stats.pieces);
      row["corpus_notes_per_s"] = mean(corpus_stats.notes_per_s, corpus_stats.pieces);
      row["corpus_pitch_range"] = mean(corpus_stats.pitch_range, corpus_stats.pieces);
      row["corpus_pieces"] = corpus_stats.pieces;
      row["tokens_per_s"] = tok_s;
      row["music_seconds_per_s"] = music_s;
      report["genres"][s.genre] = row;
      auto f = [](const json& v, const char* fmt) {
        static char buf[32];
        if (v.is_null() || (v.is_number() && std::isnan(v.get<double>()))) return std::string("-");
        std::snprintf(buf, sizeof buf, fmt, v.get<double>());
        return std::string(buf);
      };
      std::printf("%-8s %-4s %8s %8s %8s %8s %9s %9s %9s %9s %9s\n", s.genre.c_str(),
                  s.key.empty() ? "-" : s.key.c_str(), f(row["in_key_rate"], "%.3f").c_str(),
                  f(row["in_key_rate_scale_mask"], "%.3f").c_str(), f(row["invalid_share"], "%.4f").c_str(),
                  f(row["tempo_exact_share"], "%.2f").c_str(), f(row["notes_per_s"], "%.2f").c_str(),
                  f(row["corpus_notes_per_s"], "%.2f").c_str(), f(row["pitch_range"], "%.1f").c_str(),
                  f(row["corpus_pitch_range"], "%.1f").c_str(), f(row["tokens_per_s"], "%.0f").c_str());
    }
    std::ofstream(out) << report.dump(2) << "\n";
    std::printf("wrote %s\n", out.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "default_model_quality: %s\n", e.what());
    return 1;
  }
  return 0;
}

// generate.h: music generation from a trained model of any family (model/seq_model.h): a seed Score (or none)
// is tokenized and fed into the recurrent state, then tokens are sampled with controls (genre, mood, key,
// tempo tokens; a scale/raga/makam pitch mask; a pitch range), grammar masks (only tokens that can follow),
// temperature / top-k / top-p, until a stopping rule fires (bars, seconds, tokens, the end-of-piece token, or
// the model's end probability passing a threshold); N variations run as one batch. The library API behind
// `xlstm-music generate` and the server's jobs. Not the command line, not MusicXML (music/musicxml.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "midi/score.h"
#include "model/seq_model.h"
#include "tokens/tokenizer.h"

namespace xm::gen {

struct GenerateOptions {
  // ---- controls ----
  std::string genre;        // "" = none; otherwise one of the model's genres (conditioning table)
  std::string mood;         // "" = none
  std::string key;          // "" = none; music::parse_key text ("C", "A minor", "F#m", ...)
  std::string scale;        // "" = none; a music/scales.h name (major, dorian, raga_yaman, makam_hicaz, ...);
                            // tonic from key (C when no key); pitches outside it are masked
  int pitch_min = 0, pitch_max = 127;  // pitches outside are masked (drums exempt)
  double tempo_bpm = 0;     // 0 = the seed's tempo, else the model's choice; written into the output file
  // ---- stopping (any that is set fires; without bars, seconds and max_tokens, max_tokens is 1024; with
  // bars or seconds but no max_tokens, a safety cap of kSafetyCap steps per row applies) ----
  int bars = 0;             // new bars after the seed
  double seconds = 0;       // new seconds of music after the seed
  int max_tokens = 0;       // new tokens (steps for note tuples)
  double stop_prob = 0;     // > 0: stop a row when P(end of piece) >= stop_prob (see docs/generation.md)
  // ---- sampling ----
  double temperature = 1.0; // > 0
  int top_k = 0;            // 0 = off
  double top_p = 1.0;       // (0, 1]; 1 = off
  int num = 1;              // variations, sampled as one batch
  uint64_t random_seed = 1;
  // ---- progress and cancellation (called from the generating thread) ----
  // progress in [0, 1]; return false to cancel (generate() then throws gen::Cancelled).
  std::function<bool(double)> on_progress;
};

struct Piece {
  midi::Score score;              // the seed (if any) followed by its continuation
  std::vector<int32_t> tokens;    // every id of the row, seed prefix included
  int64_t seed_tokens = 0;        // ids that came from the seed / controls
  int64_t generated_tokens = 0;   // ids sampled
  int64_t continuation_tick = 0;  // ticks before this belong to the seed (in score's ticks)
  int invalid_tokens = 0;         // sampled ids the decoder had to skip (aim: 0)
  int fallbacks = 0;              // steps where the masks left no id with a finite logit (EOS or the grammar's
                                  // first allowed id was taken instead; aim: 0)
  std::string stop_reason;        // "bars", "seconds", "max_tokens", "eos", "stop_prob", "context"
  double music_seconds = 0;       // seconds of generated music (after the seed)
};

struct GenerateResult {
  std::vector<Piece> pieces;  // opt.num of them
  double wall_seconds = 0;    // sampling loop incl. prefill
  double prefill_seconds = 0;
  double tokens_per_s = 0;        // generated ids of all rows / wall_seconds
  double music_seconds_per_s = 0; // generated seconds of music of all rows / wall_seconds
};

inline constexpr int64_t kSafetyCap = 65536;

struct Cancelled : std::runtime_error {
  Cancelled() : std::runtime_error("generation cancelled") {}
};

// A loaded model with its tokenizer and conditioning tables; generate() may run concurrently from several
// threads (each call has its own state).
class Generator {
 public:
  // Loads a model file of any family; throws xm::Error naming the file when it cannot be used for generation
  // (no tokenizer in its metadata, ...).
  explicit Generator(const std::filesystem::path& model_file);
  // A model already in memory (tests, the server); name stands in for the file in messages.
  Generator(std::unique_ptr<model::SeqModel> model, model::ModelMeta meta,
            const std::filesystem::path& name = "model");
  ~Generator();

  const std::filesystem::path& path() const { return path_; }
  const model::SeqModel& model() const { return *model_; }
  const tokens::Tokenizer& tokenizer() const { return *tok_; }
  const model::ModelMeta& meta() const { return meta_; }
  // {"name", "family", "tokenizer", "parameters", "genres": [...], "moods": [...], "training": {...}}
  json describe() const;

  // Checks every option (ranges, known genre/mood/key/scale names); throws xm::UsageError naming the option
  // by its CLI flag name (e.g. "--top-p") and the reason.
  void validate(const GenerateOptions& opt) const;
  // seed may be null. Throws xm::Error for a seed that cannot be tokenized, gen::Cancelled when cancelled.
  GenerateResult generate(const midi::Score* seed, const GenerateOptions& opt) const;

 private:
  void init(std::unique_ptr<model::SeqModel> model, model::ModelMeta meta);
  std::filesystem::path path_;
  std::unique_ptr<model::SeqModel> model_;
  std::unique_ptr<tokens::Tokenizer> tok_;
  model::ModelMeta meta_;
};

// The model `generate` uses without --model: $XLSTM_MUSIC_MODEL, else models/default.safetensors next to the
// binary's source tree or installed data dir; empty path when none exists.
std::filesystem::path default_model_path();

}  // namespace xm::gen

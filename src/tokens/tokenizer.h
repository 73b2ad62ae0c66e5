// tokenizer.h: the common interface of the four tokenizers (REMI-style, performance events, JSB note-wise,
// note tuples): encode a Score to token ids, decode ids back to a Score, and the vocabulary as JSON.
// Conditioning (genre, mood, key, tempo) enters as control tokens at the start of a sequence.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "midi/score.h"

namespace xm::tokens {

struct Conditioning {
  std::string genre;  // "" = none; must be in the tokenizer's genre list to get a token
  std::string mood;   // "" = none
  int key_tonic = -1; // pitch class, -1 = none
  bool key_minor = false;
  double tempo_bpm = 0.0;  // 0 = none
};

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;  // "remi", "performance", "jsb", "tuples"
  virtual int vocab_size() const = 0;
  // Note tuples: each step is fields_per_step() consecutive ids (one per field); 1 for flat tokenizers.
  virtual int fields_per_step() const { return 1; }
  virtual std::vector<int32_t> encode(const midi::Score& score, const Conditioning& cond = {}) const = 0;
  // Decodes ids; ids that cannot follow (or are out of range) are skipped and counted in *invalid.
  virtual midi::Score decode(const std::vector<int32_t>& ids, int* invalid = nullptr) const = 0;
  virtual std::string token_name(int32_t id) const = 0;
  // The whole vocabulary and options as JSON: {"tokenizer": name, "vocab_size", "tokens": [...], ...}.
  virtual json vocab_json() const = 0;
  // Special ids (or -1 when the tokenizer has none).
  virtual int32_t pad_id() const { return -1; }
  virtual int32_t bos_id() const { return -1; }
  virtual int32_t eos_id() const { return -1; }

  // ---- added by the tokenizers' implementation (the above is the agreed interface) ----
  // The ids every encode() starts with for these controls: BOS (when the tokenizer has one) and the
  // control tokens; a generator seeds an empty piece with it. For note tuples, whole steps.
  virtual std::vector<int32_t> control_prefix(const Conditioning& cond) const = 0;
  // The controls found at the start of a sequence (the inverse of control_prefix); unset fields stay unset.
  virtual Conditioning read_conditioning(const std::vector<int32_t>& ids) const = 0;
  // One padding step: {pad_id()} for flat tokenizers, fields_per_step() ids for note tuples.
  virtual std::vector<int32_t> pad_step() const { return {pad_id()}; }
};

// "remi", "performance", "jsb", "tuples"; options from the vocabulary JSON (or {} for defaults).
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const json& options = json::object());
// Rebuilds a tokenizer from its saved vocab_json().
std::unique_ptr<Tokenizer> tokenizer_from_json(const json& vocab);
std::vector<std::string> tokenizer_names();

// The fixed control tables shared by all tokenizers (their order is part of every vocabulary).
const std::vector<std::string>& genre_names();  // "pop", "rock", ..., the Groove MIDI styles, "other"
const std::vector<std::string>& mood_names();   // "happy", "sad", "calm", "tense"
// "Hip-Hop", "neworleans/funk" (a Groove style) -> "hiphop", "neworleans"; "" when not in genre_names().
std::string normalize_genre(const std::string& text);
// VGMIDI valence/arousal (each +1 or -1) -> "happy" (+,+), "tense" (-,+), "sad" (-,-), "calm" (+,-).
std::string mood_from_valence_arousal(int valence, int arousal);

}  // namespace xm::tokens

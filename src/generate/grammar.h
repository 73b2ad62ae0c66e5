// grammar.h: per-tokenizer grammars for generation: a small state machine per row that says which ids may come
// next (the allowed mask, with the pitch and tempo constraints), takes ids one by one, and keeps the musical
// clock (bars started, seconds and decoder ticks of the current onset) that the bars/seconds stopping rules use.
// Not a decoder (tokens/ decodes) and not the sampler (generate.cpp).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "tokens/tokenizer.h"

namespace xm::gen {

// Constraints applied to what the sampler may emit (never to what advance() accepts).
struct GrammarConstraints {
  std::array<bool, 128> pitch_ok;  // pitches the sampler may emit (drums exempt where the grammar knows them)
  GrammarConstraints() { pitch_ok.fill(true); }
};

class Grammar {
 public:
  virtual ~Grammar() = default;
  virtual std::unique_ptr<Grammar> clone() const = 0;

  // The field of the next id (0 for flat tokenizers; 0..fields-1 for note tuples).
  virtual int field() const { return 0; }
  // Whether id may follow what was taken so far. sampling = true adds the constraints: the pitch filter, the
  // forced tempo bin, EOS only once the continuation has a note, and never PAD, BOS or a control token
  // (controls are given, not sampled).
  virtual bool can_follow(int32_t id, bool sampling) const = 0;
  // mask[id] = can_follow(id, true) for every id of the vocabulary (mask has vocab_size() entries).
  void allowed(uint8_t* mask) const;
  // Takes one id; returns can_follow(id, false) as it was before taking it. An id that could not follow still
  // moves the state the way the decoder would read it.
  virtual bool advance(int32_t id) = 0;
  // True where the ids so far may end (no unfinished note or step): trimming a stopped row goes back to here.
  virtual bool at_boundary() const = 0;
  virtual bool ended() const = 0;  // EOS taken

  // ---- the musical clock, at the onset of the last time-moving id ----
  virtual int64_t bars() const = 0;     // bars started (REMI: Bar tokens; others: 4/4 bars of the onset + 1)
  virtual double seconds() const = 0;   // seconds of the onset (from the tempo tokens, or the continuation tempo)
  virtual int64_t tick() const = 0;     // the onset in the decoder's ticks

  // Call once after the prefix (seed or controls). bpm > 0: from the continuation's start the clock runs at
  // bpm and sampled tempo tokens are forced to its nearest bin. after_seed: continuation notes must start
  // after the seed's last onset. The continuation starts at continuation_tick() (decoder ticks).
  virtual void begin_continuation(double bpm, bool after_seed) = 0;
  virtual int64_t continuation_tick() const = 0;

  int vocab_size() const { return vocab_; }

 protected:
  // The sampler may end a piece only after the continuation has a note (a model given an unusual prefix
  // would otherwise often end at once, with nothing).
  void note_taken() { cont_note_ = cont_note_ || continuation_; }
  bool may_sample_end(bool sampling) const { return !sampling || cont_note_; }
  int vocab_ = 0;
  bool continuation_ = false, cont_note_ = false;
};

// The grammar of tok ("remi", "performance", "jsb", "tuples"); throws xm::Error for another tokenizer.
std::unique_ptr<Grammar> make_grammar(const tokens::Tokenizer& tok, const GrammarConstraints& c = {});

// Nearest tempo bin of bpm among bins_bpm (log distance); -1 when bins_bpm is empty.
int nearest_tempo_bin(const std::vector<double>& bins_bpm, double bpm);

}  // namespace xm::gen

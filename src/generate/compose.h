// compose.h: the output score of one generated row: the decoded ids placed after the user's seed (the seed's
// own notes, tracks and tempo map kept exactly; the continuation's notes mapped into its ticks and parts) and
// the tempo written into the file. Not the sampler (generate.cpp) and not a MIDI writer (midi/).
#pragma once
#include <cstdint>
#include <string>

#include "midi/score.h"

namespace xm::gen {

struct ComposeInput {
  std::string tokenizer;           // "remi", "performance", "jsb", "tuples"
  const midi::Score* seed = nullptr;  // the seed as read (null: no seed, or one without notes)
  int64_t continuation_tick = 0;   // in the decoder's ticks: decoded notes at or after it are the continuation
  double bpm = 0;                  // the continuation's tempo (0: the decoded tempo tokens stay)
};

struct ComposeOutput {
  midi::Score score;
  int64_t continuation_tick = 0;  // in score's ticks
  double music_seconds = 0;       // from continuation_tick to the last continuation note's end
};

// decoded: tokenizer.decode() of the whole row (seed prefix included).
ComposeOutput compose(const midi::Score& decoded, const ComposeInput& in);

}  // namespace xm::gen

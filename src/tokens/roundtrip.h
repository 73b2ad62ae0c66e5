// roundtrip.h: how exactly decode(encode(x)) restores x, for any tokenizer: share of notes restored
// exactly on the tokenizer's own grid, onset timing error in ms, velocity error. Used by the corpus
// tests and bench/tokens_roundtrip. Not a musical similarity measure.
#pragma once
#include <cstdint>
#include <string>

#include "midi/score.h"
#include "tokens/tokenizer.h"

namespace xm::tokens {

struct RoundtripStats {
  int64_t pieces = 0;
  int64_t tokens = 0;         // ids produced by encode
  int64_t invalid = 0;        // ids decode skipped (0 for what encode produced)
  int64_t notes = 0;          // reference notes (what the tokenizer is asked to keep)
  int64_t decoded_notes = 0;
  // Same pitch (and drum flag), onset and duration on the tokenizer's grid: 1/steps_per_quarter of a
  // quarter for remi, tuples (and 1/4 for jsb); 10 ms for performance (after the sustain pedal).
  int64_t exact = 0;
  int64_t unmatched = 0;      // no decoded note of that pitch at all
  // Onset (ms) and velocity errors of note pairs: the notes of one pitch paired in order when the
  // decoded piece has as many, else each with the nearest decoded onset of its pitch. Onsets are
  // compared on the original's clock (grid tokenizers: decoded quarters through the original tempo
  // map, so tempo-bin drift does not count) or in seconds (performance).
  double onset_err_ms_sum = 0, onset_err_ms_max = 0;
  double velocity_err_sum = 0, velocity_err_max = 0;
  int64_t matched = 0;  // notes behind the two sums

  void add(const RoundtripStats& o);
  double exact_share() const { return notes ? double(exact) / double(notes) : 1.0; }
  double mean_onset_err_ms() const { return matched ? onset_err_ms_sum / double(matched) : 0.0; }
  double mean_velocity_err() const { return matched ? velocity_err_sum / double(matched) : 0.0; }
  json to_json() const;
};

// Encodes score, decodes the ids, and compares the decoded notes with score's notes.
RoundtripStats measure_roundtrip(const Tokenizer& tok, const midi::Score& score);

}  // namespace xm::tokens

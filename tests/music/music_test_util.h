// music_test_util.h: building small Scores by hand for the music tests (480 ticks per quarter, 120 BPM).
// Not a fixture loader: corpus tests read ../shared directly.
#pragma once
#include <initializer_list>

#include "midi/score.h"

namespace musictest {

inline xm::midi::Score empty_score(int tpq = 480) {
  xm::midi::Score s;
  s.ticks_per_quarter = tpq;
  s.tempos.push_back(xm::midi::TempoChange{0, 0.0, 500000});
  return s;
}

inline void add_note(xm::midi::Score& s, int pitch, int64_t on, int64_t off, int velocity = 80) {
  xm::midi::Note n;
  n.pitch = pitch;
  n.velocity = velocity;
  n.onset_tick = on;
  n.offset_tick = off;
  s.notes.push_back(n);
  if (off > s.end_tick) s.end_tick = off;
}

// Notes sounding together over [on, off).
inline void add_chord(xm::midi::Score& s, std::initializer_list<int> pitches, int64_t on, int64_t off) {
  for (int p : pitches) add_note(s, p, on, off);
}

inline void add_time_signature(xm::midi::Score& s, int64_t tick, int num, int den) {
  xm::midi::TimeSignature ts;
  ts.tick = tick;
  ts.numerator = num;
  ts.denominator = den;
  s.time_signatures.push_back(ts);
}

}  // namespace musictest

// analysis.h: music analysis over a midi::Score: beat-grid quantisation, bar/beat positions from the time
// signatures, chord recognition, key estimation. Scales, ragas and makams are in scales.h.
// Not a notation engine (MusicXML layout lives elsewhere).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "midi/score.h"

namespace xm::music {

// ---- beat grid -------------------------------------------------------------------------------------
struct QuantizeOptions {
  int steps_per_quarter = 4;  // 4 = 16th notes
  bool triplets = true;       // also consider the triplet grid (3 per eighth); pick the nearer per note
  bool keep_min_duration = true;  // a note never quantises to zero length (at least one step)
};
// Snaps onsets and offsets to the grid (ticks), recomputes seconds from the tempo map. Notes keep their order.
midi::Score quantize(const midi::Score& score, const QuantizeOptions& opt = {});

// Where a tick falls in the meter: bars counted from 0 using the time signatures (4/4 when none).
struct BarPosition {
  int bar = 0;              // 0-based bar index
  int64_t bar_start_tick = 0;
  int64_t ticks_per_bar = 0;
  int64_t tick_in_bar = 0;  // 0 .. ticks_per_bar-1
  double beat = 0.0;        // 0-based beat in the bar, in the signature's denominator unit
  int numerator = 4;
  int denominator = 4;
};

class MeterMap {
 public:
  explicit MeterMap(const midi::Score& score);
  BarPosition at(int64_t tick) const;
  int64_t bar_start(int bar) const;  // tick where bar (0-based) begins
  int64_t ticks_per_quarter() const { return tpq_; }

 private:
  struct Segment {
    int64_t tick;   // start tick (on a bar line)
    int first_bar;  // bar index at tick
    int numerator, denominator;
    int64_t ticks_per_bar;
  };
  int64_t tpq_ = 480;
  std::vector<Segment> segments_;
};

// ---- chords ----------------------------------------------------------------------------------------
enum class ChordQuality {
  None,  // no chord ("N")
  Major,
  Minor,
  Diminished,
  Augmented,
  Dominant7,
  Major7,
  Minor7,
  HalfDiminished7,
  Sus2,
  Sus4,
};
constexpr int kNumChordQualities = 11;

struct Chord {
  int root = -1;  // pitch class 0..11 (C = 0); -1 with ChordQuality::None
  ChordQuality quality = ChordQuality::None;
  bool operator==(const Chord&) const = default;
};

std::string chord_quality_name(ChordQuality q);  // "maj", "min", "dim", "aug", "7", "maj7", "min7", "hdim7", "sus2", "sus4", "N"
std::string chord_name(const Chord& c);           // "C:maj", "F#:min7", "N"
// Recognises a chord from pitch-class weights (e.g. duration-weighted note counts).
Chord recognize_chord(const std::array<double, 12>& pitch_class_weight);

enum class ChordSpanUnit { Beat, HalfBar, Bar };
struct ChordSpan {
  int64_t start_tick = 0;
  int64_t end_tick = 0;
  Chord chord;
};
// One chord per beat (or half bar, or bar), from the non-drum notes sounding in each span.
std::vector<ChordSpan> recognize_chords(const midi::Score& score, ChordSpanUnit unit = ChordSpanUnit::Beat);

// ---- key ------------------------------------------------------------------------------------------
struct Key {
  int tonic = 0;  // pitch class
  bool minor = false;
  double correlation = 0.0;  // of the winning profile
  bool operator==(const Key& o) const { return tonic == o.tonic && minor == o.minor; }
};
std::string key_name(const Key& k);                 // "C major", "F# minor"
bool parse_key(const std::string& text, Key* out);  // "C", "c", "Cm", "C minor", "F#:min", "Bb major", ...
// Duration-weighted pitch-class histogram of the non-drum notes.
std::array<double, 12> pitch_class_histogram(const midi::Score& score);
// Krumhansl-Schmuckler (or better) over the whole piece.
Key estimate_key(const midi::Score& score);

}  // namespace xm::music

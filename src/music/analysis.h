// analysis.h: music analysis over a midi::Score: beat-grid quantisation and beat-phase alignment, bar/beat
// positions from the time signatures, chord recognition, key estimation. Scales, ragas, makams: scales.h.
// Not a notation engine (MusicXML layout lives elsewhere).
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "midi/score.h"

namespace xm::music {

// ---- beat grid -------------------------------------------------------------------------------------
struct QuantizeOptions {
  int steps_per_quarter = 4;  // 4 = 16th notes
  bool triplets = true;       // also the triplet grid (3 per eighth); the nearer point wins
  bool keep_min_duration = true;  // a note never quantises to zero length (at least one step)
};
// Snaps onsets and offsets to the grid (ticks), recomputes seconds from the tempo map. Notes keep their order.
midi::Score quantize(const midi::Score& score, const QuantizeOptions& opt = {});

// Performance-aligned files (POP909, for one) put their beats at a constant offset from the tick grid.
// estimate_beat_phase: the tick (0 .. ticks_per_quarter-1) where the beats fall, from where note onsets
// cluster; 0 unless another phase is clearly better. align_beats: the score shifted later by
// (ticks_per_quarter - phase) % ticks_per_quarter so that beats fall on multiples of a quarter (events at
// tick 0 that set the start, such as tempo and time signature, stay there). shift_ticks: that shift.
int64_t estimate_beat_phase(const midi::Score& score);
midi::Score align_beats(const midi::Score& score);
midi::Score shift_ticks(const midi::Score& score, int64_t delta);

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

// Tuning of the recogniser (defaults measured on POP909: docs/music-analysis.md).
struct ChordOptions {
  double bass_weight = 0.2;     // score bonus x (share of the span whose lowest note is the root)
  double bass_tone_weight = 0.1;  // the same for the chord's other notes in the bass (inversions)
  double change_penalty = 0.2;  // Viterbi cost of a chord change between neighbouring spans; 0 = spans alone
  double no_chord_score = 0.3;  // score of N when notes sound (templates score a cosine in 0..1)
};
std::vector<ChordSpan> recognize_chords(const midi::Score& score, ChordSpanUnit unit, const ChordOptions& opt);
// pitch-class weights plus bass weights (how long each pitch class was the lowest sounding note).
Chord recognize_chord(const std::array<double, 12>& pitch_class_weight, const std::array<double, 12>& bass_weight,
                      const ChordOptions& opt);
// The building blocks of recognize_chords: span boundaries [start, end) in ticks from the meter (a beat is
// the signature's denominator note, three of them in compound meters; a half bar rounds up to whole
// beats), the profiles of each span, and the smoothed chord per span.
struct ChordProfile {
  std::array<double, 12> weight{};  // ticks each pitch class sounds in the span
  std::array<double, 12> bass{};    // ticks each pitch class is the lowest sounding note
};
std::vector<std::pair<int64_t, int64_t>> chord_span_bounds(const midi::Score& score, ChordSpanUnit unit);
std::vector<ChordProfile> chord_profiles(const midi::Score& score,
                                         const std::vector<std::pair<int64_t, int64_t>>& spans);
std::vector<Chord> recognize_chord_sequence(const std::vector<ChordProfile>& profiles, const ChordOptions& opt);
// Parses a chord label in Harte syntax as annotations write it ("C:maj", "Bb:min7", "F#:maj7/5", "N"),
// folding extended qualities into ours (maj6 -> maj, min9 -> min7, dim7 -> dim, sus4(b7) -> sus4, ...) and
// dropping the inversion's bass. False for labels outside that table.
bool parse_chord_label(const std::string& label, Chord* out);
// The chord's pitch classes, root first ({} for N).
std::vector<int> chord_pitch_classes(const Chord& c);

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

// Published key profiles, each correlated (Pearson) with the histogram rotated to all 24 keys.
enum class KeyProfile {
  KrumhanslKessler,  // "krumhansl": probe-tone ratings, 1982
  Temperley,         // "temperley": Kostka-Payne corpus, 2007
  AlbrechtShanahan,  // "albrecht": 2013
  AardenEssen,       // "aarden": Essen folk songs, 2003
  BellmanBudge,      // "bellman": 2005
};
// The profile estimate_key(score) uses: the one that measured best on POP909 (docs/music-analysis.md).
constexpr KeyProfile kDefaultKeyProfile = KeyProfile::AlbrechtShanahan;
std::string key_profile_name(KeyProfile p);
bool parse_key_profile(const std::string& name, KeyProfile* out);
Key estimate_key(const midi::Score& score, KeyProfile profile);
Key estimate_key_from_histogram(const std::array<double, 12>& histogram, KeyProfile profile = kDefaultKeyProfile);
// All 24 keys, best first, each with its correlation.
std::array<Key, 24> rank_keys(const std::array<double, 12>& histogram, KeyProfile profile = kDefaultKeyProfile);
// MIREX weighted key score of an estimate against a reference: 1 same key, 0.5 a fifth apart (same mode),
// 0.3 relative, 0.2 parallel, 0 otherwise.
double mirex_key_score(const Key& estimated, const Key& reference);

}  // namespace xm::music

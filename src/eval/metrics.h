// metrics.h: music metrics of one piece (a midi::Score): pitch-class histogram and entropy, pitch range, note
// density, inter-onset interval, velocity, polyphony, scale consistency, groove consistency, empty-beat rate,
// repetition and self-similarity; exact definitions in docs/evaluation.md. Not the comparison of two sets of
// pieces (compare.h) and not a likelihood (likelihood.h).
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "midi/score.h"

namespace xm::eval {

// Every value is NaN where the piece cannot define it (no pitched notes, fewer than two bars, ...).
struct MusicFeatures {
  int64_t notes = 0;          // all notes (drums included)
  int64_t pitched_notes = 0;  // notes not on the drum channel
  int bars = 0;               // bars from bar 0 to the bar holding the end of the last note
  int64_t beats = 0;          // quarter-note beats from tick 0 to the end of the last note
  double end_seconds = 0;     // end of the last note, seconds from the start of the piece

  std::array<double, 12> pitch_class_histogram{};  // share of pitched notes per pitch class (sums to 1)
  double pitch_range = NAN;          // highest - lowest pitched note, semitones
  double pitch_class_entropy = NAN;  // Shannon entropy of the histogram, bits (0 .. log2 12)
  double notes_per_bar = NAN;        // notes / bars
  double notes_per_second = NAN;     // notes / end_seconds
  double ioi_mean = NAN;             // mean time between consecutive distinct onsets, seconds
  double velocity_mean = NAN;        // mean note-on velocity
  double polyphony = NAN;            // pitched notes sounding on average while at least one sounds
  double scale_consistency = NAN;    // largest share of pitched notes inside one major or minor scale
  double groove_consistency = NAN;   // 1 - mean normalised Hamming distance of neighbouring bars' onset grids
  double empty_beat_rate = NAN;      // share of beats in which no note sounds
  double repetition = NAN;           // share of non-empty bars whose note pattern occurred in an earlier bar
  double self_similarity = NAN;      // mean Jaccard similarity of the note patterns of all pairs of bars
};

struct FeatureOptions {
  int grid_per_quarter = 4;  // onset grid of the bar patterns (4 = 16th notes)
};

MusicFeatures compute_features(const midi::Score& score, const FeatureOptions& opt = {});

// The features compared between sets, in report order: name (JSON key, file names), what it measures, unit.
struct FeatureInfo {
  std::string name;   // "pitch_class_entropy"
  std::string title;  // "pitch-class entropy"
  std::string unit;   // "bits"; "" when unitless
  int dims = 1;       // 12 for the pitch-class histogram, 1 otherwise
};
const std::vector<FeatureInfo>& feature_table();
// The value of feature `name` (feature_table()) as a vector of dims numbers; false when undefined (NaN).
bool feature_value(const MusicFeatures& f, const std::string& name, std::vector<double>* out);

}  // namespace xm::eval

// Tests of chord recognition: every quality from its notes in root position and in inversions, names,
// smoothing across beats, silence as N. Hand-built scores; the POP909 accuracy is in test_corpus.cpp.
#include <vector>

#include "music/analysis.h"
#include "music_test_util.h"
#include "support/test_support.h"

using namespace xm;
using namespace musictest;
using music::Chord;
using music::ChordQuality;

namespace {

// The intervals of each quality, as a musician spells them (root first).
struct QualityCase {
  ChordQuality q;
  std::vector<int> intervals;
  std::vector<int> inversions;  // which inversions are unambiguous enough to test (0 = root position)
};

// Inversions left out, and why: a sus2 chord over its 2nd or 5th has the notes of a sus4 chord in root
// position (Csus2/G = Gsus4) and vice versa; an augmented triad is symmetric (C+ = E+ = G#+), so only the
// bass can tell its root and every inversion is another augmented triad in root position.
const std::vector<QualityCase>& cases() {
  static const std::vector<QualityCase> c = {
      {ChordQuality::Major, {0, 4, 7}, {0, 1, 2}},
      {ChordQuality::Minor, {0, 3, 7}, {0, 1, 2}},
      {ChordQuality::Diminished, {0, 3, 6}, {0, 1, 2}},
      {ChordQuality::Augmented, {0, 4, 8}, {0}},
      {ChordQuality::Dominant7, {0, 4, 7, 10}, {0, 1, 2, 3}},
      {ChordQuality::Major7, {0, 4, 7, 11}, {0, 1, 2, 3}},
      {ChordQuality::Minor7, {0, 3, 7, 10}, {0, 1, 2, 3}},
      {ChordQuality::HalfDiminished7, {0, 3, 6, 10}, {0, 1, 2, 3}},
      {ChordQuality::Sus2, {0, 2, 7}, {0}},
      {ChordQuality::Sus4, {0, 5, 7}, {0}},
  };
  return c;
}

// MIDI pitches of the chord on root pc `root` in inversion k: the k-th chord tone in the bass (octave 3),
// the rest stacked above it.
std::vector<int> voicing(int root, const std::vector<int>& intervals, int k) {
  std::vector<int> p;
  int base = 48 + root;
  p.push_back(base + intervals[size_t(k)]);
  for (size_t j = 0; j < intervals.size(); ++j)
    if (int(j) != k) p.push_back(base + intervals[j] + (int(j) < k ? 12 : 0));
  return p;
}

midi::Score one_bar_of(const std::vector<int>& pitches) {
  midi::Score s = empty_score();
  for (int p : pitches) add_note(s, p, 0, 1920);
  s.refresh_seconds();
  return s;
}

}  // namespace

TEST(music, chord_names) {
  EXPECT_EQ(music::chord_name(Chord{0, ChordQuality::Major}), "C:maj");
  EXPECT_EQ(music::chord_name(Chord{6, ChordQuality::Minor7}), "F#:min7");
  EXPECT_EQ(music::chord_name(Chord{10, ChordQuality::HalfDiminished7}), "Bb:hdim7");
  EXPECT_EQ(music::chord_name(Chord{7, ChordQuality::Dominant7}), "G:7");
  EXPECT_EQ(music::chord_name(Chord{}), "N");
  const char* expected[music::kNumChordQualities] = {"N",    "maj",  "min",   "dim",  "aug", "7",
                                                     "maj7", "min7", "hdim7", "sus2", "sus4"};
  for (int q = 0; q < music::kNumChordQualities; ++q)
    EXPECT_EQ(music::chord_quality_name(ChordQuality(q)), expected[q]);
  EXPECT_EQ(music::chord_pitch_classes(Chord{9, ChordQuality::Minor7}), (std::vector<int>{9, 0, 4, 7}));
}

TEST(music, chord_each_quality_in_inversions) {
  int checked = 0;
  for (const QualityCase& qc : cases()) {
    for (int root : {0, 2, 7, 10}) {
      for (int k : qc.inversions) {
        std::vector<int> pitches = voicing(root, qc.intervals, k);
        midi::Score s = one_bar_of(pitches);
        auto spans = music::recognize_chords(s, music::ChordSpanUnit::Beat);
        ASSERT_EQ(spans.size(), 4u);
        Chord want{root, qc.q};
        for (const auto& sp : spans)
          EXPECT_EQ(music::chord_name(sp.chord), music::chord_name(want))
              << "inversion " << k << ", bass pitch " << pitches[0];
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 4 * (3 + 3 + 3 + 1 + 4 + 4 + 4 + 4 + 1 + 1));
}

TEST(music, chord_open_voicings_and_doublings) {
  // C major spread over three octaves with the root doubled; G7 without its fifth; Dm7 with the third on top.
  EXPECT_EQ(music::chord_name(music::recognize_chords(one_bar_of({36, 48, 55, 64, 72}))[0].chord), "C:maj");
  EXPECT_EQ(music::chord_name(music::recognize_chords(one_bar_of({43, 59, 65, 67}))[0].chord), "G:7");
  EXPECT_EQ(music::chord_name(music::recognize_chords(one_bar_of({38, 57, 60, 65}))[0].chord), "D:min7");
  // Suspended chords in open position with the root in the bass.
  EXPECT_EQ(music::chord_name(music::recognize_chords(one_bar_of({38, 45, 52, 62}))[0].chord), "D:sus2");
  EXPECT_EQ(music::chord_name(music::recognize_chords(one_bar_of({41, 48, 58, 65}))[0].chord), "F:sus4");
}

TEST(music, chord_from_pitch_class_weights_alone) {
  std::array<double, 12> w{};
  w[9] = 2, w[0] = 1, w[4] = 1;  // A C E
  EXPECT_EQ(music::recognize_chord(w), (Chord{9, ChordQuality::Minor}));
  w = {};
  w[11] = 1, w[2] = 1, w[5] = 1, w[9] = 1;  // B D F A
  EXPECT_EQ(music::recognize_chord(w), (Chord{11, ChordQuality::HalfDiminished7}));
  EXPECT_EQ(music::recognize_chord(std::array<double, 12>{}), Chord{});
}

TEST(music, chord_sequence_changes_per_beat_and_silence_is_n) {
  // Bar 1: C major for two beats, G major for two; bar 2: rest; bar 3: A minor; a passing note in beat 2.
  midi::Score s = empty_score();
  add_chord(s, {48, 52, 55, 60}, 0, 960);
  add_note(s, 74, 480, 600);  // D: a passing tone over C major
  add_chord(s, {43, 50, 55, 59}, 960, 1920);
  add_chord(s, {45, 52, 57, 60}, 3840, 5760);
  s.refresh_seconds();
  auto spans = music::recognize_chords(s, music::ChordSpanUnit::Beat);
  ASSERT_EQ(spans.size(), 12u);
  std::vector<std::string> names;
  for (auto& sp : spans) names.push_back(music::chord_name(sp.chord));
  std::vector<std::string> want = {"C:maj", "C:maj", "G:maj", "G:maj", "N",     "N",
                                   "N",     "N",     "A:min", "A:min", "A:min", "A:min"};
  EXPECT_EQ(names, want);
  EXPECT_EQ(spans[2].start_tick, 960);
  EXPECT_EQ(spans[2].end_tick, 1440);
  // Per bar: bar 1 holds C and G equally; whichever wins, bar 3 is A minor and bar 2 is N.
  auto bars = music::recognize_chords(s, music::ChordSpanUnit::Bar);
  ASSERT_EQ(bars.size(), 3u);
  EXPECT_EQ(music::chord_name(bars[1].chord), "N");
  EXPECT_EQ(music::chord_name(bars[2].chord), "A:min");
}

TEST(music, chord_smoothing_ignores_a_one_beat_neighbour_note) {
  // Four beats of F major; in beat 3 the melody leans on Bb (a 4th) for the whole beat.
  midi::Score s = empty_score();
  add_chord(s, {41, 53, 57, 60}, 0, 1920);
  add_note(s, 70, 960, 1440);
  s.refresh_seconds();
  music::ChordOptions smooth;
  auto spans = music::recognize_chords(s, music::ChordSpanUnit::Beat, smooth);
  for (auto& sp : spans) EXPECT_EQ(music::chord_name(sp.chord), "F:maj");
  // Drums are ignored.
  midi::Score d = s;
  midi::Note kick;
  kick.pitch = 38, kick.drum = true, kick.channel = 9, kick.onset_tick = 0, kick.offset_tick = 1920;
  d.notes.push_back(kick);
  EXPECT_EQ(music::chord_name(music::recognize_chords(d)[0].chord), "F:maj");
}

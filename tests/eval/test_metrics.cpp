// Tests of the per-piece music metrics (eval/metrics.h) on small hand-built Scores whose values are worked out
// by hand in the comments. Not the set comparison (test_compare.cpp).
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "eval/metrics.h"

namespace {

using xm::eval::compute_features;
using xm::eval::MusicFeatures;

// 480 ticks per quarter, 120 BPM (0.5 s per quarter), 4/4 unless num/den say otherwise.
struct Builder {
  xm::midi::Score s;
  explicit Builder(int num = 4, int den = 4) {
    s.ticks_per_quarter = 480;
    s.tracks.push_back({});
    s.tempos.push_back({});
    xm::midi::TimeSignature ts;
    ts.numerator = num;
    ts.denominator = den;
    s.time_signatures.push_back(ts);
  }
  Builder& note(int pitch, int64_t onset, int64_t dur, int velocity = 80, bool drum = false) {
    xm::midi::Note n;
    n.pitch = pitch;
    n.velocity = velocity;
    n.onset_tick = onset;
    n.offset_tick = onset + dur;
    n.drum = drum;
    n.channel = drum ? 9 : 0;
    s.notes.push_back(n);
    return *this;
  }
  MusicFeatures features() {
    std::sort(s.notes.begin(), s.notes.end(), [](const auto& a, const auto& b) {
      return a.onset_tick != b.onset_tick ? a.onset_tick < b.onset_tick : a.pitch < b.pitch;
    });
    s.refresh_seconds();
    return compute_features(s);
  }
};

constexpr int64_t Q = 480;  // a quarter note in ticks

}  // namespace

TEST(eval, metrics_of_a_c_major_scale) {
  // C4 D4 E4 F4 G4 A4 B4 as legato quarter notes, velocities 60, 70, ..., 120.
  Builder b;
  const int pitches[7] = {60, 62, 64, 65, 67, 69, 71};
  for (int i = 0; i < 7; ++i) b.note(pitches[i], i * Q, Q, 60 + 10 * i);
  const MusicFeatures f = b.features();
  EXPECT_EQ(f.notes, 7);
  EXPECT_EQ(f.pitched_notes, 7);
  // Seven pitch classes once each: 1/7 each, entropy log2(7).
  for (int pc : {0, 2, 4, 5, 7, 9, 11}) EXPECT_NEAR(f.pitch_class_histogram[size_t(pc)], 1.0 / 7, 1e-12) << pc;
  for (int pc : {1, 3, 6, 8, 10}) EXPECT_EQ(f.pitch_class_histogram[size_t(pc)], 0.0) << pc;
  EXPECT_NEAR(f.pitch_class_entropy, std::log2(7.0), 1e-12);
  EXPECT_EQ(f.pitch_range, 11.0);         // B4 - C4
  EXPECT_EQ(f.scale_consistency, 1.0);    // all inside C major
  EXPECT_NEAR(f.velocity_mean, 90.0, 1e-12);  // (60 + 120) / 2
  EXPECT_NEAR(f.polyphony, 1.0, 1e-12);   // 7 x 480 sounding ticks over a union of 3360 ticks
  EXPECT_NEAR(f.ioi_mean, 0.5, 1e-12);    // a quarter at 120 BPM
  // Ends at tick 3360 = 3.5 s: 7 / 3.5 = 2 notes per second; bars 0 and 1 (1920 ticks each): 3.5 per bar.
  EXPECT_NEAR(f.end_seconds, 3.5, 1e-12);
  EXPECT_NEAR(f.notes_per_second, 2.0, 1e-12);
  EXPECT_EQ(f.bars, 2);
  EXPECT_NEAR(f.notes_per_bar, 3.5, 1e-12);
  // 7 beats, every one sounding.
  EXPECT_EQ(f.beats, 7);
  EXPECT_EQ(f.empty_beat_rate, 0.0);
  // Onset grids (16ths): bar 0 {0, 4, 8, 12}, bar 1 {0, 4, 8}: one position of 16 differs -> 1 - 1/16.
  EXPECT_NEAR(f.groove_consistency, 1.0 - 1.0 / 16, 1e-12);
  // The two bars share no (position, pitch): no repetition, similarity 0.
  EXPECT_EQ(f.repetition, 0.0);
  EXPECT_EQ(f.self_similarity, 0.0);
}

TEST(eval, metrics_of_a_c_major_scale_up_to_c5) {
  // C4 .. C5: 8 notes, C twice: histogram 2/8 for C and 1/8 for the six others:
  // entropy = -(1/4 log2 1/4 + 6/8 log2 1/8) = 0.5 + 2.25 = 2.75 bits; range 12; still all in C major.
  Builder b;
  const int pitches[8] = {60, 62, 64, 65, 67, 69, 71, 72};
  for (int i = 0; i < 8; ++i) b.note(pitches[i], i * Q, Q);
  const MusicFeatures f = b.features();
  EXPECT_NEAR(f.pitch_class_histogram[0], 0.25, 1e-12);
  EXPECT_NEAR(f.pitch_class_entropy, 2.75, 1e-12);
  EXPECT_EQ(f.pitch_range, 12.0);
  EXPECT_EQ(f.scale_consistency, 1.0);
  // Two full bars with the same onset grid {0, 4, 8, 12}: groove consistency 1.
  EXPECT_EQ(f.bars, 2);
  EXPECT_EQ(f.groove_consistency, 1.0);
}

TEST(eval, scale_consistency_of_a_chromatic_cluster) {
  // C C# D D# E: no major or (natural) minor scale holds more than three of five consecutive semitones
  // (C major: C D E; B major: C# D# E; Db major: C C# D#), so 3/5.
  Builder b;
  for (int i = 0; i < 5; ++i) b.note(60 + i, i * Q, Q);
  const MusicFeatures f = b.features();
  EXPECT_NEAR(f.scale_consistency, 0.6, 1e-12);
  EXPECT_NEAR(f.pitch_class_entropy, std::log2(5.0), 1e-12);
  EXPECT_EQ(f.pitch_range, 4.0);
}

TEST(eval, repetition_and_self_similarity_of_repeated_bars) {
  // Bars A A B A, A = C4 E4 G4 E4 and B = D4 F4 A4 F4 in quarters.
  Builder b;
  const int A[4] = {60, 64, 67, 64}, Bp[4] = {62, 65, 69, 65};
  const int* bars[4] = {A, A, Bp, A};
  for (int bar = 0; bar < 4; ++bar)
    for (int i = 0; i < 4; ++i) b.note(bars[bar][i], bar * 4 * Q + i * Q, Q);
  const MusicFeatures f = b.features();
  EXPECT_EQ(f.bars, 4);
  // Bars 1 and 3 repeat bar 0: 2 of 4 non-empty bars.
  EXPECT_NEAR(f.repetition, 0.5, 1e-12);
  // Pairs (0,1) (0,3) (1,3) are identical (Jaccard 1); the three pairs with B share nothing: 3/6.
  EXPECT_NEAR(f.self_similarity, 0.5, 1e-12);
  // Every bar has onsets {0, 4, 8, 12}.
  EXPECT_EQ(f.groove_consistency, 1.0);
  EXPECT_NEAR(f.notes_per_bar, 4.0, 1e-12);
}

TEST(eval, empty_beats_polyphony_and_ioi_with_a_rest) {
  // A C-E-G chord held for a whole bar (ticks 0-1920), a bar of rest, then C4 for a quarter at bar 2 (3840-4320).
  Builder b;
  b.note(60, 0, 4 * Q).note(64, 0, 4 * Q).note(67, 0, 4 * Q).note(60, 8 * Q, Q);
  const MusicFeatures f = b.features();
  // 9 quarter beats up to tick 4320; beats 4..7 silent: 4/9.
  EXPECT_EQ(f.beats, 9);
  EXPECT_NEAR(f.empty_beat_rate, 4.0 / 9, 1e-12);
  // Sounding 3 x 1920 + 480 = 6240 ticks over a union of 1920 + 480 = 2400 ticks: 2.6 notes.
  EXPECT_NEAR(f.polyphony, 2.6, 1e-12);
  // Distinct onsets at 0 s and 4 s: one gap of 4 s.
  EXPECT_NEAR(f.ioi_mean, 4.0, 1e-12);
  // 3 bars (the last note ends in bar 2): 4/3 notes per bar; 4 notes in 4.5 s.
  EXPECT_EQ(f.bars, 3);
  EXPECT_NEAR(f.notes_per_bar, 4.0 / 3, 1e-12);
  EXPECT_NEAR(f.notes_per_second, 4.0 / 4.5, 1e-12);
  // Onset grids {0}, {}, {0}: two neighbour pairs each 1/16 apart -> 1 - 1/16.
  EXPECT_NEAR(f.groove_consistency, 1.0 - 1.0 / 16, 1e-12);
  // Non-empty bars 0 {C4,E4,G4 at 0} and 2 {C4 at 0}: no repeat; Jaccard 1/3.
  EXPECT_EQ(f.repetition, 0.0);
  EXPECT_NEAR(f.self_similarity, 1.0 / 3, 1e-12);
}

TEST(eval, drums_count_for_rhythm_but_not_for_pitch) {
  // Drums only: kick (36) and snare (38) alternating eighths for one bar.
  Builder b;
  for (int i = 0; i < 8; ++i) b.note(i % 2 ? 38 : 36, i * Q / 2, Q / 4, 100, true);
  MusicFeatures f = b.features();
  EXPECT_EQ(f.pitched_notes, 0);
  EXPECT_TRUE(std::isnan(f.pitch_range));
  EXPECT_TRUE(std::isnan(f.pitch_class_entropy));
  EXPECT_TRUE(std::isnan(f.scale_consistency));
  EXPECT_TRUE(std::isnan(f.polyphony));
  std::vector<double> v;
  EXPECT_FALSE(xm::eval::feature_value(f, "pitch_class_histogram", &v));
  EXPECT_TRUE(xm::eval::feature_value(f, "notes_per_bar", &v));
  EXPECT_EQ(v, std::vector<double>{8.0});
  EXPECT_EQ(f.bars, 1);
  EXPECT_TRUE(std::isnan(f.groove_consistency));  // needs two bars
  // A drum E2 (40) and a pitched E2 at the same position are different pattern entries: bar 0 = {kick, E2 drum}
  // and bar 1 = {kick, E2 pitched} share only the kick: Jaccard 1/3.
  Builder c;
  c.note(36, 0, Q, 100, true).note(40, Q, Q, 100, true).note(36, 4 * Q, Q, 100, true).note(40, 5 * Q, Q, 100, false);
  f = c.features();
  EXPECT_NEAR(f.self_similarity, 1.0 / 3, 1e-12);
  EXPECT_EQ(f.pitched_notes, 1);
  EXPECT_EQ(f.pitch_range, 0.0);
}

TEST(eval, bars_follow_the_time_signature) {
  // 3/4: six quarter notes fill two bars of 12 sixteenths each, with the same onset grid {0, 4, 8}.
  Builder b(3, 4);
  for (int i = 0; i < 6; ++i) b.note(60 + i, i * Q, Q);
  const MusicFeatures f = b.features();
  EXPECT_EQ(f.bars, 2);
  EXPECT_NEAR(f.notes_per_bar, 3.0, 1e-12);
  EXPECT_EQ(f.groove_consistency, 1.0);
  // 6 notes in 3 s.
  EXPECT_NEAR(f.notes_per_second, 2.0, 1e-12);
}

TEST(eval, a_piece_without_notes_defines_nothing) {
  Builder b;
  const MusicFeatures f = b.features();
  EXPECT_EQ(f.notes, 0);
  for (const auto& info : xm::eval::feature_table()) {
    std::vector<double> v;
    EXPECT_FALSE(xm::eval::feature_value(f, info.name, &v)) << info.name;
  }
}

// Tests of the beat grid: quantisation to straight and triplet grids, beat-phase alignment, and the
// MeterMap's bars and beats across time-signature changes. Hand-built scores only.
#include "core/error.h"
#include "music/analysis.h"
#include "music_test_util.h"
#include "support/test_support.h"

using namespace xm;
using namespace musictest;

TEST(music, quantize_snaps_to_sixteenth_grid) {
  midi::Score s = empty_score();
  add_note(s, 60, 5, 230);     // -> 0 .. 240
  add_note(s, 62, 118, 365);   // -> 120 .. 360
  add_note(s, 64, 250, 470);   // -> 240 .. 480
  s.refresh_seconds();
  music::QuantizeOptions opt;
  opt.triplets = false;
  midi::Score q = music::quantize(s, opt);
  ASSERT_EQ(q.notes.size(), 3u);
  EXPECT_EQ(q.notes[0].onset_tick, 0);
  EXPECT_EQ(q.notes[0].offset_tick, 240);
  EXPECT_EQ(q.notes[1].onset_tick, 120);
  EXPECT_EQ(q.notes[1].offset_tick, 360);
  EXPECT_EQ(q.notes[2].onset_tick, 240);
  EXPECT_EQ(q.notes[2].offset_tick, 480);
  // Seconds follow the ticks (120 BPM: 480 ticks = 0.5 s).
  EXPECT_DOUBLE_EQ(q.notes[1].onset_s, 0.125);
  EXPECT_DOUBLE_EQ(q.notes[2].offset_s, 0.5);
  // Pitches and order untouched.
  EXPECT_EQ(q.notes[0].pitch, 60);
  EXPECT_EQ(q.notes[2].pitch, 64);
}

TEST(music, quantize_picks_nearer_of_straight_and_triplet) {
  // 16th grid = 120 ticks, 16th-triplet grid = 80 ticks.
  midi::Score s = empty_score();
  add_note(s, 60, 162, 318);  // triplet 160 (2 away) beats straight 120 (42); offset 320 (2) beats 360 (42)
  add_note(s, 61, 125, 235);  // straight 120 (5) beats triplet 160 (35); 240 is on both grids
  add_note(s, 62, 100, 200);  // 100: triplet 80 and straight 120 both 20 away, straight wins the tie;
                              // 200: triplet 160/240 and straight 240 all 40 away -> 240
  add_note(s, 63, 1275, 1290);  // 1280 is a triplet point (16 x 80), 5 away; 1320 straight is 45 away
  s.refresh_seconds();
  midi::Score q = music::quantize(s);
  EXPECT_EQ(q.notes[0].onset_tick, 160);
  EXPECT_EQ(q.notes[0].offset_tick, 320);
  EXPECT_EQ(q.notes[1].onset_tick, 120);
  EXPECT_EQ(q.notes[1].offset_tick, 240);
  EXPECT_EQ(q.notes[2].onset_tick, 120);
  EXPECT_EQ(q.notes[2].offset_tick, 240);
  // The offset snaps onto the onset: the note keeps one step of the grid its onset chose (triplet).
  EXPECT_EQ(q.notes[3].onset_tick, 1280);
  EXPECT_EQ(q.notes[3].offset_tick, 1360);

  // Without triplets the same notes go to the straight grid.
  music::QuantizeOptions straight;
  straight.triplets = false;
  midi::Score q2 = music::quantize(s, straight);
  EXPECT_EQ(q2.notes[0].onset_tick, 120);
  EXPECT_EQ(q2.notes[0].offset_tick, 360);
  EXPECT_EQ(q2.notes[3].onset_tick, 1320);
  EXPECT_EQ(q2.notes[3].offset_tick, 1440);  // kept one 16th long
}

TEST(music, quantize_eighth_grid_with_eighth_triplets) {
  // steps_per_quarter = 2: straight every 240 ticks, triplets every 160 (three per quarter).
  midi::Score s = empty_score();
  add_note(s, 60, 150, 330);  // 160 (triplet, 10 away) vs 240 (90) ; 320 (triplet, 10) vs 240 (90)
  add_note(s, 62, 470, 730);  // 480 (both); 720 (both)
  s.refresh_seconds();
  music::QuantizeOptions opt;
  opt.steps_per_quarter = 2;
  midi::Score q = music::quantize(s, opt);
  EXPECT_EQ(q.notes[0].onset_tick, 160);
  EXPECT_EQ(q.notes[0].offset_tick, 320);
  EXPECT_EQ(q.notes[1].onset_tick, 480);
  EXPECT_EQ(q.notes[1].offset_tick, 720);
}

TEST(music, quantize_handles_ticks_per_quarter_not_divisible_by_grid) {
  // 100 ticks per quarter, 16ths at 25, 16th triplets at 16.67 -> points rounded to 17, 33, 50, 67, 83.
  midi::Score s = empty_score(100);
  add_note(s, 60, 32, 68);
  s.refresh_seconds();
  midi::Score q = music::quantize(s);
  EXPECT_EQ(q.notes[0].onset_tick, 33);
  EXPECT_EQ(q.notes[0].offset_tick, 67);
}

TEST(music, quantize_rejects_bad_resolution) {
  midi::Score s = empty_score();
  add_note(s, 60, 0, 100);
  music::QuantizeOptions opt;
  opt.steps_per_quarter = 0;
  try {
    music::quantize(s, opt);
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps_per_quarter"), std::string::npos) << e.what();
  }
}

TEST(music, beat_phase_found_and_aligned) {
  // Eighth notes played 60 ticks after the grid's beats (a 32nd late), as in POP909's files.
  midi::Score s = empty_score();
  for (int i = 0; i < 64; ++i) add_note(s, 60 + (i % 5), 60 + i * 240, 60 + i * 240 + 200);
  for (int i = 0; i < 32; ++i) add_note(s, 36, 60 + i * 480, 60 + i * 480 + 400);  // bass on the beats
  s.refresh_seconds();
  EXPECT_EQ(music::estimate_beat_phase(s), 60);
  midi::Score a = music::align_beats(s);
  EXPECT_EQ(a.notes[0].onset_tick, 480);  // shifted later by 420: the beat now falls on a quarter
  EXPECT_EQ(a.notes[1].onset_tick, 720);
  EXPECT_EQ(a.tempos[0].tick, 0);
  EXPECT_DOUBLE_EQ(a.notes[0].onset_s, 0.5);
  // An already aligned score is left alone.
  midi::Score b = empty_score();
  for (int i = 0; i < 64; ++i) add_note(b, 60, i * 240, i * 240 + 200);
  EXPECT_EQ(music::estimate_beat_phase(b), 0);
  EXPECT_EQ(music::align_beats(b).notes[5].onset_tick, 5 * 240);
}

TEST(music, meter_map_defaults_to_four_four) {
  midi::Score s = empty_score();
  music::MeterMap m(s);
  music::BarPosition p = m.at(480 * 4 * 3 + 480 * 2 + 240);
  EXPECT_EQ(p.bar, 3);
  EXPECT_EQ(p.numerator, 4);
  EXPECT_EQ(p.denominator, 4);
  EXPECT_EQ(p.ticks_per_bar, 1920);
  EXPECT_DOUBLE_EQ(p.beat, 2.5);
  EXPECT_EQ(m.bar_start(3), 5760);
}

TEST(music, meter_map_across_time_signature_changes) {
  // Two bars of 4/4 (1920 each), two of 3/4 (1440), then 6/8 (1440, beats counted in eighths).
  midi::Score s = empty_score();
  add_time_signature(s, 0, 4, 4);
  add_time_signature(s, 3840, 3, 4);
  add_time_signature(s, 6720, 6, 8);
  music::MeterMap m(s);

  music::BarPosition p = m.at(3839);
  EXPECT_EQ(p.bar, 1);
  EXPECT_EQ(p.numerator, 4);
  EXPECT_EQ(p.tick_in_bar, 1919);

  p = m.at(3840);
  EXPECT_EQ(p.bar, 2);
  EXPECT_EQ(p.numerator, 3);
  EXPECT_EQ(p.denominator, 4);
  EXPECT_EQ(p.ticks_per_bar, 1440);
  EXPECT_EQ(p.bar_start_tick, 3840);
  EXPECT_DOUBLE_EQ(p.beat, 0.0);

  p = m.at(3840 + 1440 + 480);
  EXPECT_EQ(p.bar, 3);
  EXPECT_DOUBLE_EQ(p.beat, 1.0);

  p = m.at(6720 + 720);
  EXPECT_EQ(p.bar, 4);
  EXPECT_EQ(p.numerator, 6);
  EXPECT_EQ(p.denominator, 8);
  EXPECT_EQ(p.ticks_per_bar, 1440);
  EXPECT_DOUBLE_EQ(p.beat, 3.0);  // eighths

  p = m.at(6720 + 1440 * 3 + 240);
  EXPECT_EQ(p.bar, 7);
  EXPECT_DOUBLE_EQ(p.beat, 1.0);

  EXPECT_EQ(m.bar_start(0), 0);
  EXPECT_EQ(m.bar_start(1), 1920);
  EXPECT_EQ(m.bar_start(2), 3840);
  EXPECT_EQ(m.bar_start(3), 5280);
  EXPECT_EQ(m.bar_start(4), 6720);
  EXPECT_EQ(m.bar_start(6), 6720 + 2 * 1440);
}

TEST(music, meter_map_signature_inside_a_bar_cuts_it) {
  // 3/4 arriving after 960 ticks of a 4/4 bar: that bar is cut short and the 3/4 bar is bar 1.
  midi::Score s = empty_score();
  add_time_signature(s, 960, 3, 4);
  music::MeterMap m(s);
  music::BarPosition p = m.at(500);
  EXPECT_EQ(p.bar, 0);
  EXPECT_EQ(p.ticks_per_bar, 960);
  p = m.at(960);
  EXPECT_EQ(p.bar, 1);
  EXPECT_EQ(p.numerator, 3);
  EXPECT_EQ(m.bar_start(2), 960 + 1440);
}

TEST(music, chord_spans_follow_the_meter) {
  midi::Score s = empty_score();
  add_time_signature(s, 0, 4, 4);
  add_time_signature(s, 1920, 6, 8);
  add_note(s, 60, 0, 1920 + 1440);
  auto beats = music::chord_span_bounds(s, music::ChordSpanUnit::Beat);
  ASSERT_EQ(beats.size(), 6u);  // four quarters, then two dotted quarters
  EXPECT_EQ(beats[3], (std::pair<int64_t, int64_t>(1440, 1920)));
  EXPECT_EQ(beats[4], (std::pair<int64_t, int64_t>(1920, 2640)));
  auto halves = music::chord_span_bounds(s, music::ChordSpanUnit::HalfBar);
  ASSERT_EQ(halves.size(), 4u);
  EXPECT_EQ(halves[1], (std::pair<int64_t, int64_t>(960, 1920)));
  auto bars = music::chord_span_bounds(s, music::ChordSpanUnit::Bar);
  ASSERT_EQ(bars.size(), 2u);
  EXPECT_EQ(bars[1], (std::pair<int64_t, int64_t>(1920, 3360)));
}

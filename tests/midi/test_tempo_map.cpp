// test_tempo_map.cpp: TempoMap converts ticks to seconds exactly (no accumulated rounding), inverts it,
// handles the implied 120 BPM, same-tick tempos and SMPTE divisions. Not the file reader.
#include <cmath>

#include "midi/score.h"
#include "support/test_support.h"

using namespace xm::midi;

TEST(midi, tempo_map_piecewise_seconds) {
  // 480 ticks per quarter: 120 BPM, then 240 BPM from tick 960, then 60 BPM from tick 1440.
  TempoMap m(480, {{0, 0, 500000}, {960, 0, 250000}, {1440, 0, 1000000}});
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(0), 0.0);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(480), 0.5);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(960), 1.0);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(1200), 1.125);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(1440), 1.25);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(1920), 2.25);
  ASSERT_EQ(m.tempos().size(), 3u);
  EXPECT_DOUBLE_EQ(m.tempos()[2].seconds, 1.25);
  EXPECT_DOUBLE_EQ(m.bpm_at(0), 120.0);
  EXPECT_DOUBLE_EQ(m.bpm_at(1000), 240.0);
  EXPECT_DOUBLE_EQ(m.bpm_at(5000), 60.0);
  for (int64_t t = 0; t < 4000; ++t) EXPECT_EQ(m.seconds_to_ticks(m.ticks_to_seconds(t)), t);
  EXPECT_EQ(m.seconds_to_ticks(1.126), 1202);      // 960 + 0.126 s x 1920 ticks/s = 1201.92: the nearest tick
  EXPECT_EQ(m.seconds_to_ticks(2.0), 1440 + 360);  // 60 BPM after 1.25 s: 0.75 s x 480 ticks/s
}

TEST(midi, tempo_map_implied_start_and_same_tick) {
  // The first tempo at tick 960: 120 BPM before it. Two tempos at tick 960: the last wins.
  TempoMap m(480, {{960, 0, 1000000}, {960, 0, 250000}});
  ASSERT_EQ(m.tempos().size(), 2u);
  EXPECT_EQ(m.tempos()[0].tick, 0);
  EXPECT_EQ(m.tempos()[0].us_per_quarter, 500000u);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(960), 1.0);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(1440), 1.25);
  TempoMap empty(96, {});
  EXPECT_DOUBLE_EQ(empty.ticks_to_seconds(96), 0.5);
}

TEST(midi, tempo_map_is_exact_over_many_changes) {
  // 200000 tempo changes, one per tick at 1 tick per quarter, alternating 0.1 s and 0.3 s per tick:
  // summing doubles drifts; the map must give the exact value (integer microseconds / 10^6).
  std::vector<TempoChange> tempos;
  for (int64_t t = 0; t < 200000; ++t) tempos.push_back({t, 0, t % 2 ? 300000u : 100000u});
  TempoMap m(1, tempos);
  double naive = 0.0;
  int64_t us = 0;
  bool naive_drifted = false;
  for (int64_t t = 1; t <= 200000; ++t) {
    int64_t seg = (t - 1) % 2 ? 300000 : 100000;
    naive += double(seg) / 1e6;
    us += seg;
    double exact = double(us) / 1e6;
    if (t % 997 == 0 || t == 200000) {
      ASSERT_EQ(m.ticks_to_seconds(t), exact) << "tick " << t;
    }
    naive_drifted |= naive != exact;
  }
  EXPECT_TRUE(naive_drifted) << "the test would not catch accumulated rounding";
}

TEST(midi, tempo_map_smpte_ignores_tempo) {
  TempoMap m = TempoMap::smpte(25, 40, {{0, 0, 250000}});  // 1000 ticks per second
  EXPECT_TRUE(m.is_smpte());
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(500), 0.5);
  EXPECT_DOUBLE_EQ(m.ticks_to_seconds(12345), 12.345);
  EXPECT_EQ(m.seconds_to_ticks(0.5), 500);
  EXPECT_DOUBLE_EQ(m.bpm_at(0), 240.0);    // kept for display
  TempoMap df = TempoMap::smpte(29, 100);  // 29.97 drop frame: 2997.002997... ticks per second
  EXPECT_NEAR(df.ticks_to_seconds(30000), 30000.0 * 1001.0 / 3000000.0, 1e-12);
  EXPECT_EQ(df.seconds_to_ticks(df.ticks_to_seconds(777777)), 777777);
}

TEST(midi, names_of_pitches_and_keys) {
  EXPECT_EQ(pitch_name(60), "C4");
  EXPECT_EQ(pitch_name(61), "C#4");
  EXPECT_EQ(pitch_name(21), "A0");
  EXPECT_EQ(pitch_name(0), "C-1");
  EXPECT_EQ(key_name(0, false), "C major");
  EXPECT_EQ(key_name(-3, true), "C minor");
  EXPECT_EQ(key_name(2, false), "D major");
  EXPECT_EQ(key_name(7, true), "A# minor");
  EXPECT_EQ(key_name(-7, false), "Cb major");
}

// Corpus tests over 30 POP909 songs (101-130, outside the songs used to tune the options): the beat phase,
// chord agreement with chord_midi.txt and key agreement with key_audio.txt stay at what they measured
// (bench/music_accuracy has the figures for all 909). Skipped without ../shared/datasets/pop909.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "midi/midi_io.h"
#include "music/analysis.h"
#include "support/test_support.h"

using namespace xm;
namespace fs = std::filesystem;

namespace {

struct Row {
  double start, end;
  std::string label;
};

std::vector<Row> read_rows(const fs::path& p) {
  std::vector<Row> rows;
  std::ifstream in(p);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    Row r;
    if (ls >> r.start >> r.end >> r.label) rows.push_back(r);
  }
  return rows;
}

std::string song_dir_name(int i) {
  char id[16];
  std::snprintf(id, sizeof id, "%03d", i);
  return id;
}

}  // namespace

TEST(music, corpus_pop909_chords_keys_and_beat_phase) {
  XM_REQUIRE_DATASET(pop909, "pop909");
  const fs::path root = pop909 / "POP909";
  double agree = 0, root_agree = 0, total = 0, rooted = 0;
  int key_exact = 0, phase_ok = 0, songs = 0;
  for (int i = 101; i <= 130; ++i) {
    const std::string id = song_dir_name(i);
    const fs::path dir = root / id;
    midi::Score score = midi::read_midi_file(dir / (id + ".mid"));
    const int64_t tpq = score.ticks_per_quarter;
    ++songs;

    // The beat phase against the annotated beats (their ticks modulo a quarter, circular mean).
    const midi::TempoMap tm = score.tempo_map();
    double cs = 0, sn = 0;
    {
      std::ifstream in(dir / "beat_midi.txt");
      double t, a, b;
      while (in >> t >> a >> b) {
        double ang = 2 * M_PI * double(tm.seconds_to_ticks(t) % tpq) / double(tpq);
        cs += std::cos(ang), sn += std::sin(ang);
      }
    }
    double annotated = std::fmod(std::atan2(sn, cs) / (2 * M_PI) * double(tpq) + double(tpq), double(tpq));
    const int64_t phase = music::estimate_beat_phase(score);
    double d = std::fmod(std::fabs(annotated - double(phase)), double(tpq));
    phase_ok += std::min(d, double(tpq) - d) <= double(tpq) / 16.0;

    // Chords per beat on the aligned score, compared in the file's seconds.
    const int64_t shift = (tpq - phase) % tpq;
    midi::Score aligned = music::shift_ticks(score, shift);
    std::vector<music::ChordSpan> spans = music::recognize_chords(aligned, music::ChordSpanUnit::Beat);
    for (const Row& r : read_rows(dir / "chord_midi.txt")) {
      music::Chord ref;
      ASSERT_TRUE(music::parse_chord_label(r.label, &ref)) << id << ": " << r.label;
      double covered = 0;
      for (const music::ChordSpan& sp : spans) {
        double a = std::max(r.start, tm.ticks_to_seconds(std::max<int64_t>(sp.start_tick - shift, 0)));
        double b = std::min(r.end, tm.ticks_to_seconds(sp.end_tick - shift));
        if (b <= a) continue;
        covered += b - a;
        agree += sp.chord == ref ? b - a : 0;
        if (ref.quality != music::ChordQuality::None) root_agree += sp.chord.root == ref.root ? b - a : 0;
      }
      double gap = (r.end - r.start) - covered;  // outside our spans we say N
      if (gap > 0 && ref.quality == music::ChordQuality::None) agree += gap;
      total += r.end - r.start;
      if (ref.quality != music::ChordQuality::None) rooted += r.end - r.start;
    }

    // The key that lasts longest in the annotation.
    std::map<std::pair<int, bool>, double> key_time;
    for (const Row& r : read_rows(dir / "key_audio.txt")) {
      music::Key k;
      ASSERT_TRUE(music::parse_key(r.label, &k)) << id << ": " << r.label;
      key_time[{k.tonic, k.minor}] += r.end - r.start;
    }
    ASSERT_FALSE(key_time.empty()) << id;
    auto best = std::max_element(key_time.begin(), key_time.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    music::Key ref{best->first.first, best->first.second, 0.0};
    key_exact += music::estimate_key(score) == ref;
  }
  ASSERT_EQ(songs, 30);
  // Measured on these 30 songs: phase 30/30, root+quality 83.1 %, root 93.1 %, key 29/30.
  EXPECT_GE(phase_ok, 29);
  EXPECT_GE(agree / total, 0.81) << "root+quality agreement";
  EXPECT_GE(root_agree / rooted, 0.91) << "root agreement";
  EXPECT_GE(key_exact, 28);
  std::printf("POP909 101-130: beat phase %d/30, chords root+quality %.2f%% root %.2f%%, keys %d/30\n", phase_ok,
              100 * agree / total, 100 * root_agree / rooted, key_exact);
}

TEST(music, chord_label_parsing_covers_pop909_vocabulary) {
  music::Chord c;
  ASSERT_TRUE(music::parse_chord_label("F#:maj7/5", &c));
  EXPECT_EQ(c, (music::Chord{6, music::ChordQuality::Major7}));
  ASSERT_TRUE(music::parse_chord_label("Bb:sus4(b7)", &c));
  EXPECT_EQ(c, (music::Chord{10, music::ChordQuality::Sus4}));
  ASSERT_TRUE(music::parse_chord_label("Eb:maj6", &c));
  EXPECT_EQ(c, (music::Chord{3, music::ChordQuality::Major}));
  ASSERT_TRUE(music::parse_chord_label("C#:dim7", &c));
  EXPECT_EQ(c, (music::Chord{1, music::ChordQuality::Diminished}));
  ASSERT_TRUE(music::parse_chord_label("N", &c));
  EXPECT_EQ(c, music::Chord{});
  EXPECT_FALSE(music::parse_chord_label("C:weird", &c));
  EXPECT_FALSE(music::parse_chord_label("H:maj", &c));
}

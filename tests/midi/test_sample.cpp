// test_sample.cpp: the generator of samples/sample.mid ("Twinkle, Twinkle, Little Star", the traditional
// melody, arranged here for flute and piano; CC0) and the check that the committed file is exactly what
// the generator and our writer produce. Regenerate with XM_WRITE_SAMPLE=1 ./test_midi
// --gtest_filter='*sample*'.
#include <algorithm>
#include <cstdlib>

#include "core/io.h"
#include "midi/midi_io.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace xm::midi;

namespace {

constexpr int kQ = 480;  // ticks per quarter
constexpr int kBar = 4 * kQ;

Score make_sample() {
  Score s;
  s.format = 1;
  s.ticks_per_quarter = kQ;
  s.tracks = {{"Twinkle, Twinkle, Little Star", "", 0, 0},
              {"Melody", "Flute", 0, 0},
              {"Accompaniment", "Piano", 0, 0}};
  s.texts = {TextEvent{0, 0, 0, 2, "CC0 1.0 (public domain dedication), xlstm-music sample"}};
  s.tempos = {{0, 0, 600000}, {11 * kBar, 0, 750000}};  // 100 BPM, 80 BPM in the last bar
  s.time_signatures = {TimeSignature{0, 0, 4, 4, 24, 8}};
  s.key_signatures = {KeySignature{0, 0, 0, false}};

  // Melody, one bar per string: pitch names in octave 5, '-' makes the previous note a half note.
  const char* bars[12] = {"CCGG", "AAG-", "FFEE", "DDC-", "GGFF", "EED-",
                          "GGFF", "EED-", "CCGG", "AAG-", "FFEE", "DDC-"};
  auto pc = [](char c) {
    switch (c) {
      case 'C':
        return 0;
      case 'D':
        return 2;
      case 'E':
        return 4;
      case 'F':
        return 5;
      case 'G':
        return 7;
      default:
        return 9;  // 'A'
    }
  };
  auto add = [&](int pitch, int64_t on, int64_t len, int track, int channel, int program, int velocity) {
    Note n;
    n.pitch = pitch;
    n.velocity = velocity;
    n.channel = channel;
    n.program = program;
    n.track = track;
    n.onset_tick = on;
    n.offset_tick = on + len;
    s.notes.push_back(n);
  };
  for (int b = 0; b < 12; ++b) {
    for (int beat = 0; beat < 4; ++beat) {
      char c = bars[b][beat];
      if (c == '-') continue;
      bool half = beat < 3 && bars[b][beat + 1] == '-';
      add(72 + pc(c), b * kBar + beat * kQ, half ? 2 * kQ - 60 : kQ - 40, 1, 0, 73, beat == 0 ? 100 : 88);
    }
  }
  // Accompaniment: two chords a bar (bass note and a close triad), the pedal held through each bar.
  const char* chords[12][2] = {{"C", "C"}, {"F", "C"}, {"F", "C"}, {"G", "C"}, {"C", "F"}, {"C", "G"},
                               {"C", "F"}, {"C", "G"}, {"C", "C"}, {"F", "C"}, {"F", "C"}, {"G", "C"}};
  for (int b = 0; b < 12; ++b) {
    for (int h = 0; h < 2; ++h) {
      char c = chords[b][h][0];
      int bass = c == 'C' ? 48 : c == 'F' ? 41 : 43;
      std::vector<int> triad = c == 'C'   ? std::vector<int>{60, 64, 67}
                               : c == 'F' ? std::vector<int>{60, 65, 69}
                                          : std::vector<int>{59, 62, 67};
      int64_t on = b * kBar + h * 2 * kQ;
      add(bass, on, 2 * kQ - 20, 2, 1, 0, 72);
      for (int p : triad) add(p, on + kQ / 2, kQ + kQ / 2 - 20, 2, 1, 0, 58);
    }
    s.controls.push_back(ControlChange{b * kBar + 10, 0, 2, 1, 64, 127});
    s.controls.push_back(ControlChange{(b + 1) * kBar - 10, 0, 2, 1, 64, 0});
  }
  s.texts.push_back(TextEvent{11 * kBar, 0, 1, 6, "ritardando"});
  s.end_tick = 12 * kBar;
  std::sort(s.notes.begin(), s.notes.end(), [](const Note& a, const Note& b) {
    if (a.onset_tick != b.onset_tick) return a.onset_tick < b.onset_tick;
    return a.pitch < b.pitch;
  });
  s.refresh_seconds();
  return s;
}

}  // namespace

TEST(midi, sample_file_is_what_the_generator_writes) {
  fs::path path = xmtest::source_dir() / "samples" / "sample.mid";
  std::vector<uint8_t> bytes = write_midi_bytes(make_sample());
  if (const char* w = std::getenv("XM_WRITE_SAMPLE"); w && std::string(w) == "1") {
    xm::write_file_atomic(path, bytes.data(), bytes.size());
    std::cout << "wrote " << path << " (" << bytes.size() << " bytes)\n";
  }
  ASSERT_TRUE(fs::exists(path)) << path << " is missing (XM_WRITE_SAMPLE=1 regenerates it)";
  EXPECT_EQ(xm::read_file_bytes(path), bytes)
      << path << " differs from the generator (XM_WRITE_SAMPLE=1 regenerates it)";
}

TEST(midi, sample_file_reads_as_composed) {
  Score s = read_midi_file(xmtest::source_dir() / "samples" / "sample.mid");
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_EQ(s.format, 1);
  ASSERT_EQ(s.tracks.size(), 3u);
  EXPECT_EQ(s.tracks[1].name, "Melody");
  EXPECT_EQ(s.tracks[2].instrument, "Piano");
  size_t melody = 0, piano = 0;
  for (const Note& n : s.notes) (n.track == 1 ? melody : piano)++;
  EXPECT_EQ(melody, 42u);  // 12 bars of four quarters, one half note in six of them
  EXPECT_EQ(piano, 12u * 2 * 4);
  EXPECT_EQ(s.notes.front().pitch, 48);  // the bass C3 at tick 0 sorts before the melody's C5
  EXPECT_EQ(s.notes.front().onset_tick, 0);
  ASSERT_EQ(s.tempos.size(), 2u);
  EXPECT_DOUBLE_EQ(s.tempos[1].seconds, 11 * 4 * 0.6);
  EXPECT_DOUBLE_EQ(s.duration_s(), 11 * 4 * 0.6 + 4 * 0.75);
  ASSERT_EQ(s.key_signatures.size(), 1u);
  EXPECT_EQ(key_name(s.key_signatures[0].sharps, s.key_signatures[0].minor), "C major");
  for (const Note& n : s.notes) EXPECT_EQ(n.program, n.track == 1 ? 73 : 0);
}

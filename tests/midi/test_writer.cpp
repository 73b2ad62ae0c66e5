// test_writer.cpp: the MIDI writer on scores built in code (as a tokenizer's decoder builds them): what it
// writes reads back the same, format 0 and 1, programs without program-change events, long gaps, and the
// errors for what cannot be written. Not the corpus round trip (test_corpus.cpp).
#include <functional>

#include "core/error.h"
#include "core/io.h"
#include "midi/midi_io.h"
#include "midi/midi_test_util.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace xm::midi;

namespace {

Note note(int pitch, int64_t on, int64_t off, int track = 0, int channel = 0, int program = 0,
          int velocity = 80) {
  Note n;
  n.pitch = pitch;
  n.velocity = velocity;
  n.channel = channel;
  n.program = program;
  n.track = track;
  n.drum = channel == 9;
  n.onset_tick = on;
  n.offset_tick = off;
  return n;
}

// A score as a decoder would build it: notes sorted, seconds filled, no program-change events.
Score built_score() {
  Score s;
  s.ticks_per_quarter = 480;
  s.tracks = {{"Melody", "Flute", 0, 0}, {"Bass", "", 0, 0}, {"Drums", "", 0, 0}};
  s.tempos = {{0, 0, 600000}, {1920, 0, 400000}};
  s.time_signatures = {TimeSignature{0, 0, 3, 4, 24, 8}};
  s.key_signatures = {KeySignature{0, 0, 1, true}};
  s.notes = {note(72, 0, 480, 0, 0, 73),     note(72, 480, 480, 0, 0, 73),  // a zero-length note
             note(72, 480, 960, 0, 0, 73),   note(74, 960, 1440, 0, 0, 73, 100),
             note(76, 960, 1920, 0, 0, 73),  // overlaps the next E5
             note(76, 1440, 2400, 0, 0, 73), note(40, 0, 1920, 1, 1, 33),
             note(43, 1920, 2880, 1, 1, 34),  // a program change mid-piece
             note(36, 0, 60, 2, 9, 0, 120),  note(42, 480, 540, 2, 9, 0, 90)};
  s.controls = {ControlChange{0, 0, 1, 1, 7, 100}};
  s.pitch_bends = {PitchBend{960, 0, 0, 0, -4096}};
  s.texts = {TextEvent{2880, 0, 0, 6, "Fine"}};
  s.end_tick = 2880;
  std::stable_sort(s.notes.begin(), s.notes.end(), [](const Note& a, const Note& b) {
    if (a.onset_tick != b.onset_tick) return a.onset_tick < b.onset_tick;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    if (a.channel != b.channel) return a.channel < b.channel;
    if (a.track != b.track) return a.track < b.track;
    return a.offset_tick < b.offset_tick;
  });
  s.refresh_seconds();
  return s;
}

}  // namespace

TEST(midi, built_score_writes_and_reads_back) {
  Score s = built_score();
  std::vector<uint8_t> bytes = write_midi_bytes(s);
  Score r = read_midi_bytes(bytes.data(), bytes.size(), "built.mid");
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  EXPECT_EQ(r.format, 1);
  ASSERT_EQ(r.tracks.size(), 3u);
  EXPECT_EQ(r.tracks[0].name, "Melody");
  EXPECT_EQ(r.tracks[0].instrument, "Flute");
  EXPECT_EQ(r.tracks[2].name, "Drums");
  ASSERT_EQ(r.notes.size(), s.notes.size());
  for (size_t i = 0; i < s.notes.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(r.notes[i].pitch, s.notes[i].pitch);
    EXPECT_EQ(r.notes[i].velocity, s.notes[i].velocity);
    EXPECT_EQ(r.notes[i].onset_tick, s.notes[i].onset_tick);
    EXPECT_EQ(r.notes[i].offset_tick, s.notes[i].offset_tick);
    EXPECT_EQ(r.notes[i].program, s.notes[i].program);  // from program changes the writer added
    EXPECT_EQ(r.notes[i].track, s.notes[i].track);
    EXPECT_EQ(r.notes[i].drum, s.notes[i].drum);
    EXPECT_DOUBLE_EQ(r.notes[i].onset_s, s.notes[i].onset_s);
    EXPECT_DOUBLE_EQ(r.notes[i].offset_s, s.notes[i].offset_s);
  }
  EXPECT_DOUBLE_EQ(r.notes.back().offset_s, 0.6 * 4 + 0.4 * 2);  // 4 quarters at 0.6 s, 2 at 0.4 s
  EXPECT_EQ(r.programs.size(), 3u);                              // 73, 33, 34 (drums and 0 need none)
  EXPECT_EQ(r.tempos.size(), 2u);
  EXPECT_EQ(r.time_signatures.at(0).numerator, 3);
  EXPECT_EQ(r.key_signatures.at(0).sharps, 1);
  EXPECT_TRUE(r.key_signatures.at(0).minor);
  EXPECT_EQ(r.pitch_bends.at(0).value, -4096);
  EXPECT_EQ(r.texts.back().text, "Fine");
  EXPECT_EQ(r.end_tick, 2880);
  // Writing what was read gives the same bytes again (the writer is deterministic and idempotent).
  EXPECT_EQ(write_midi_bytes(r), bytes);
}

TEST(midi, format_0_puts_everything_in_one_track) {
  Score s = built_score();
  std::vector<uint8_t> bytes = write_midi_bytes(s, WriteOptions{0});
  EXPECT_EQ(bytes[9], 0);   // format 0
  EXPECT_EQ(bytes[11], 1);  // one track
  Score r = read_midi_bytes(bytes.data(), bytes.size(), "built0.mid");
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.format, 0);
  ASSERT_EQ(r.tracks.size(), 1u);
  EXPECT_EQ(r.tracks[0].name, "");  // track names belong to format 1 tracks
  ASSERT_EQ(r.notes.size(), s.notes.size());
  for (size_t i = 0; i < s.notes.size(); ++i) {
    EXPECT_EQ(r.notes[i].onset_tick, s.notes[i].onset_tick);
    EXPECT_EQ(r.notes[i].offset_tick, s.notes[i].offset_tick);
    EXPECT_EQ(r.notes[i].program, s.notes[i].program);
    EXPECT_EQ(r.notes[i].track, 0);
  }
}

TEST(midi, smpte_scores_and_long_gaps_are_written) {
  Score s;
  s.smpte = true;
  s.smpte_fps = 29;
  s.smpte_ticks_per_frame = 80;
  s.notes = {note(60, 0, 10),
             note(62, (int64_t(1) << 29) + 5, (int64_t(1) << 29) + 900)};  // a gap > 2^28 ticks
  s.end_tick = (int64_t(1) << 29) + 1000;
  s.refresh_seconds();
  std::vector<uint8_t> bytes = write_midi_bytes(s);
  EXPECT_EQ(bytes[12], 0xE3);  // -29
  EXPECT_EQ(bytes[13], 80);
  Score r = read_midi_bytes(bytes.data(), bytes.size(), "smpte.mid");
  EXPECT_TRUE(r.warnings.empty());
  EXPECT_EQ(r.ticks_per_quarter, 1199);  // a quarter at 120 BPM: 0.5 s x 29.97 x 80, rounded
  s.ticks_per_quarter = r.ticks_per_quarter;
  ASSERT_EQ(r.tracks.size(), 1u);  // a score without tracks is written with one
  s.tracks = {Track{"", "", 0, s.end_tick}};
  EXPECT_EQ(xmtest::score_diff(s, r), "");
  EXPECT_NEAR(r.notes[1].onset_s, double((int64_t(1) << 29) + 5) * 1001.0 / (30000.0 * 80.0), 1e-6);
}

TEST(midi, writer_errors_name_what_cannot_be_written) {
  auto error_of = [](const Score& s) {
    try {
      write_midi_bytes(s);
    } catch (const xm::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  Score s;
  s.notes = {note(60, 0, 10, 0, 0, 0, 0)};
  EXPECT_EQ(error_of(s), "MIDI writer: note 0: velocity 0 is out of range [1, 127]");
  s.notes = {note(60, 0, 10), note(128, 0, 10)};
  EXPECT_EQ(error_of(s), "MIDI writer: note 1: pitch 128 is out of range [0, 127]");
  s.notes = {note(60, 10, 5)};
  EXPECT_EQ(error_of(s), "MIDI writer: note 0: offset tick 5 is before its onset tick 10");
  s.notes = {note(60, -1, 5)};
  EXPECT_NE(error_of(s).find("note 0: tick -1 is out of range"), std::string::npos);
  s.notes = {};
  s.time_signatures = {TimeSignature{0, 0, 3, 6}};
  EXPECT_EQ(error_of(s), "MIDI writer: time signature 0: denominator 6 is not a power of two");
  s.time_signatures = {};
  s.ticks_per_quarter = 40000;
  EXPECT_NE(error_of(s).find("ticks_per_quarter 40000"), std::string::npos);
  // The file form adds the path, and writes nothing.
  fs::path d = xmtest::temp_dir("midi-write");
  try {
    write_midi_file(s, d / "x.mid");
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find((d / "x.mid").string()), std::string::npos);
  }
  EXPECT_FALSE(fs::exists(d / "x.mid"));
  s.ticks_per_quarter = 96;
  write_midi_file(s, d / "x.mid");
  EXPECT_EQ(read_midi_file(d / "x.mid").tracks.size(), 1u);
  fs::remove_all(d);
}

// The comparison every round-trip test relies on must see a change in any compared field.
TEST(midi, score_diff_sees_every_difference) {
  const Score s = built_score();
  EXPECT_EQ(xmtest::score_diff(s, s), "");
  std::vector<std::function<void(Score&)>> edits = {
      [](Score& x) { x.notes[3].velocity += 1; },
      [](Score& x) { x.notes[3].offset_tick += 1; },
      [](Score& x) { x.notes[3].onset_s += 1e-12; },
      [](Score& x) { x.notes[3].program = 5; },
      [](Score& x) { x.notes[3].track ^= 1; },
      [](Score& x) { x.notes.pop_back(); },
      [](Score& x) { x.tempos[1].us_per_quarter++; },
      [](Score& x) { x.tempos[1].track = 1; },
      [](Score& x) { x.time_signatures[0].numerator = 4; },
      [](Score& x) { x.key_signatures[0].minor = false; },
      [](Score& x) { x.texts[0].text = "fine"; },
      [](Score& x) { x.tracks[1].name = "bass"; },
      [](Score& x) { x.controls[0].value = 99; },
      [](Score& x) { x.pitch_bends[0].value = 0; },
      [](Score& x) { x.end_tick++; },
      [](Score& x) { x.ticks_per_quarter = 96; },
      [](Score& x) { x.sysex.push_back(SysEx{}); },
  };
  for (size_t i = 0; i < edits.size(); ++i) {
    Score t = s;
    edits[i](t);
    EXPECT_NE(xmtest::score_diff(s, t), "") << "edit " << i;
  }
}

// test_reader.cpp: the MIDI reader on small hand-made files: running status, note pairing, metas, sysex,
// chunks, format 2, SMPTE, programs, the sustain option, errors and recoveries, and that no damaged input
// crashes it. Not the corpus (test_corpus.cpp) or the edge-case manifest (test_edge_cases.cpp).
#include <random>

#include "core/error.h"
#include "midi/midi_io.h"
#include "midi/midi_test_util.h"
#include "support/test_support.h"

using namespace xm::midi;
using xmtest::Smf;

namespace {

Score read(const std::vector<uint8_t>& b, const ReadOptions& opt = {}) {
  return read_midi_bytes(b.data(), b.size(), "test.mid", opt);
}

std::string error_of(const std::vector<uint8_t>& b, const ReadOptions& opt = {}) {
  try {
    read(b, opt);
  } catch (const xm::Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool has_warning(const Score& s, const std::string& part) {
  for (const std::string& w : s.warnings)
    if (w.find(part) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST(midi, running_status_and_velocity_zero_note_off) {
  Score s = read(Smf(0, 96)
                     .track({0x00, 0x90, 60, 64,  // note-on C4
                             0x60, 60, 0,         // running status, velocity 0: off at 96
                             0x00, 62, 80,        // running status note-on D4
                             0x60, 0x80, 62, 64,  // note-off at 192
                             0x00, 0xFF, 0x2F, 0x00})
                     .done());
  EXPECT_TRUE(s.warnings.empty());
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[0].pitch, 60);
  EXPECT_EQ(s.notes[0].velocity, 64);
  EXPECT_EQ(s.notes[0].onset_tick, 0);
  EXPECT_EQ(s.notes[0].offset_tick, 96);
  EXPECT_DOUBLE_EQ(s.notes[0].offset_s, 0.5);  // 96 ticks per quarter at the implied 120 BPM
  EXPECT_EQ(s.notes[1].pitch, 62);
  EXPECT_EQ(s.notes[1].onset_tick, 96);
  EXPECT_EQ(s.notes[1].offset_tick, 192);
  EXPECT_EQ(s.end_tick, 192);
  EXPECT_EQ(s.tracks.at(0).events, 5);
}

TEST(midi, overlapping_same_pitch_notes_pair_first_in_first_out) {
  Score s = read(Smf(0, 96)
                     .track({0x00, 0x91, 60,   100, 0x0A, 0x91, 60, 50,  // two C4 on channel 1 at 0 and 10
                             0x0A, 0x81, 60,   0,   0x0A, 0x81, 60, 0,   // offs at 20 and 30
                             0x00, 0x81, 60,   0,                        // a third off: nothing open, ignored
                             0x00, 0xFF, 0x2F, 0x00})
                     .done());
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[0].onset_tick, 0);
  EXPECT_EQ(s.notes[0].offset_tick, 20);
  EXPECT_EQ(s.notes[0].velocity, 100);
  EXPECT_EQ(s.notes[1].onset_tick, 10);
  EXPECT_EQ(s.notes[1].offset_tick, 30);
  EXPECT_EQ(s.notes[1].channel, 1);
}

TEST(midi, open_notes_end_at_end_of_track_with_warning) {
  Score s =
      read(Smf(1, 96)
               .track({0x00, 0x90, 60, 100, 0x10, 0x90, 64, 100, 0x30, 0x80, 64, 0, 0x20, 0xFF, 0x2F, 0x00})
               .done());
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[0].pitch, 60);
  EXPECT_EQ(s.notes[0].offset_tick, 0x60);  // the end-of-track tick
  EXPECT_EQ(s.notes[1].offset_tick, 0x40);
  EXPECT_TRUE(has_warning(s, "1 note(s) still sounding at the end of track 0")) << s.warnings.size();
}

TEST(midi, meta_and_sysex_events_are_decoded) {
  Score s = read(Smf(1, 480)
                     .track({0x00, 0xFF, 0x03, 0x05, 'T',  'i',  't',  'l',  'e',   // track name
                             0x00, 0xFF, 0x54, 0x05, 0x60, 0x01, 0x02, 0x03, 0x04,  // SMPTE offset
                             0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,              // 500000 us
                             0x00, 0xFF, 0x58, 0x04, 0x06, 0x03, 0x24, 0x08,        // 6/8
                             0x00, 0xFF, 0x59, 0x02, 0xFD, 0x01,                    // 3 flats, minor
                             0x00, 0xFF, 0x7F, 0x03, 0x43, 0x7B, 0x00,              // sequencer specific
                             0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7,        // GM on
                             0x83, 0x60, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,        // 480: 250000 us
                             0x00, 0xF7, 0x02, 0xF3, 0x01,                          // an F7 escape
                             0x83, 0x60, 0xFF, 0x2F, 0x00})
                     .track({0x00, 0xFF, 0x03, 0x04, 'L',  'e',  'a',  'd',  0x00, 0xFF, 0x04, 0x05,
                             'F',  'l',  'u',  't',  'e',  0x00, 0xFF, 0x05, 0x02, 'l',  'a',  // lyric
                             0x00, 0xC0, 73,                                                   // flute
                             0x00, 0xB0, 64,   127,                                            // pedal down
                             0x00, 0xE0, 0x00, 0x50,                                           // pitch bend
                             0x00, 0x90, 72,   90,   0x87, 0x40, 0x80, 72,   0,                // 0..960
                             0x00, 0xFF, 0x06, 0x03, 'e',  'n',  'd',                          // marker
                             0x00, 0xFF, 0x2F, 0x00})
                     .done());
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
  ASSERT_EQ(s.tracks.size(), 2u);
  EXPECT_EQ(s.tracks[0].name, "Title");
  EXPECT_EQ(s.tracks[1].name, "Lead");
  EXPECT_EQ(s.tracks[1].instrument, "Flute");
  ASSERT_EQ(s.tempos.size(), 2u);
  EXPECT_EQ(s.tempos[1].tick, 480);
  EXPECT_EQ(s.tempos[1].us_per_quarter, 250000u);
  EXPECT_DOUBLE_EQ(s.tempos[1].seconds, 0.5);
  ASSERT_EQ(s.time_signatures.size(), 1u);
  EXPECT_EQ(s.time_signatures[0].numerator, 6);
  EXPECT_EQ(s.time_signatures[0].denominator, 8);
  EXPECT_EQ(s.time_signatures[0].clocks_per_click, 0x24);
  ASSERT_EQ(s.key_signatures.size(), 1u);
  EXPECT_EQ(s.key_signatures[0].sharps, -3);
  EXPECT_TRUE(s.key_signatures[0].minor);
  EXPECT_TRUE(s.smpte_offset.present);
  EXPECT_EQ(s.smpte_offset.hours, 0x60);
  EXPECT_EQ(s.smpte_offset.subframes, 4);
  ASSERT_EQ(s.sysex.size(), 2u);
  EXPECT_EQ(s.sysex[0].status, 0xF0);
  EXPECT_EQ(s.sysex[0].data, (std::vector<uint8_t>{0x7E, 0x7F, 0x09, 0x01, 0xF7}));
  EXPECT_EQ(s.sysex[1].status, 0xF7);
  EXPECT_EQ(s.sysex[1].tick, 480);
  ASSERT_EQ(s.texts.size(), 5u);  // two names, instrument, lyric, marker
  EXPECT_EQ(s.texts[3].type, 5);
  EXPECT_EQ(s.texts[3].text, "la");
  EXPECT_EQ(s.texts[4].type, 6);
  EXPECT_EQ(s.texts[4].tick, 960);
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_EQ(s.notes[0].program, 73);
  EXPECT_EQ(s.notes[0].track, 1);
  EXPECT_DOUBLE_EQ(s.notes[0].offset_s, 0.75);  // 0.5 s to tick 480, then 480 ticks at 240 BPM
  ASSERT_EQ(s.controls.size(), 1u);
  EXPECT_EQ(s.controls[0].controller, 64);
  ASSERT_EQ(s.pitch_bends.size(), 1u);
  EXPECT_EQ(s.pitch_bends[0].value, 0x50 * 128 - 8192);
  EXPECT_EQ(s.end_tick, 960);
  EXPECT_DOUBLE_EQ(s.duration_s(), 0.75);
}

TEST(midi, unknown_chunks_are_skipped_and_format_2_tracks_follow_each_other) {
  Score s = read(Smf(2, 96)
                     .raw({'X', 'Y', 'Z', 'W', 0, 0, 0, 3, 1, 2, 3})  // unknown chunk before the tracks
                     .track({0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00})
                     .track({0x00, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,  // 240 BPM for the second sequence
                             0x00, 0x90, 62, 100, 0x60, 0x80, 62, 0, 0x00, 0xFF, 0x2F, 0x00})
                     .done());
  EXPECT_TRUE(s.warnings.empty());
  EXPECT_EQ(s.format, 2);
  ASSERT_EQ(s.notes.size(), 2u);
  EXPECT_EQ(s.notes[1].onset_tick, 96);  // the second sequence starts where the first ended
  EXPECT_EQ(s.notes[1].offset_tick, 192);
  EXPECT_EQ(s.notes[1].track, 1);
  EXPECT_DOUBLE_EQ(s.notes[1].onset_s, 0.5);
  EXPECT_DOUBLE_EQ(s.notes[1].offset_s, 0.75);
  EXPECT_EQ(s.tracks[1].end_tick, 192);
  EXPECT_EQ(s.end_tick, 192);
}

TEST(midi, smpte_division_gives_fixed_tick_length) {
  // 0xE7 = -25 frames per second, 40 ticks per frame: 1000 ticks per second, tempo events do not matter.
  Score s = read(Smf(0, 0xE728)
                     .track({0x00, 0xFF, 0x51, 0x03, 0x0F, 0x42, 0x40,  // 60 BPM, ignored for seconds
                             0x00, 0x90, 60,   100,  0x83, 0x74, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00})
                     .done());
  EXPECT_TRUE(s.smpte);
  EXPECT_EQ(s.smpte_fps, 25);
  EXPECT_EQ(s.smpte_ticks_per_frame, 40);
  EXPECT_EQ(s.ticks_per_quarter, 500);  // a quarter at 120 BPM
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_EQ(s.notes[0].offset_tick, 500);
  EXPECT_DOUBLE_EQ(s.notes[0].offset_s, 0.5);
}

TEST(midi, program_of_a_note_is_its_channels_program_at_the_onset) {
  // Program changes in track 1 apply to channel 0 notes in track 2 (channels are shared between tracks).
  Score s = read(Smf(1, 96)
                     .track({0x00, 0xC0, 40, 0x64, 0xC0, 41, 0x00, 0xC1, 7, 0x00, 0xFF, 0x2F, 0x00})
                     .track({0x00, 0x90, 60, 100, 0x10, 0x80, 60, 0,  // 0: program 40
                             0x54, 0x90, 61, 100, 0x10, 0x80, 61, 0,  // 100: the change at 100 counts
                             0x00, 0x91, 62, 100, 0x10, 0x81, 62, 0,  // channel 1: 7
                             0x00, 0x92, 63, 100, 0x10, 0x82, 63, 0, 0x00, 0xFF, 0x2F, 0x00})  // channel 2: 0
                     .done());
  ASSERT_EQ(s.notes.size(), 4u);
  EXPECT_EQ(s.notes[0].program, 40);
  EXPECT_EQ(s.notes[1].program, 41);
  EXPECT_EQ(s.notes[2].program, 7);
  EXPECT_EQ(s.notes[3].program, 0);
}

TEST(midi, sustain_pedal_extends_released_notes_when_asked) {
  std::vector<uint8_t> f = Smf(0, 96)
                               .track({0x00, 0xB0, 64,   127,  // 0: pedal down
                                       0x00, 0x90, 60,   100, 0x00, 0x90, 64, 100,
                                       0x0A, 0x80, 60,   0,   // 10: C4 released under the pedal
                                       0x05, 0x80, 64,   0,   // 15: E4 released under the pedal
                                       0x0F, 0x90, 60,   90,  // 30: C4 struck again: ends the first
                                       0x0A, 0x80, 60,   0,   // 40: released again (pedal down)
                                       0x0A, 0xB0, 64,   0,   // 50: pedal up
                                       0x0A, 0x90, 67,   100, 0x0A, 0x80, 67, 0,  // 60-70: no pedal
                                       0x00, 0x99, 36,   100, 0x01, 0x89, 36, 0,  // drums: never extended
                                       0x00, 0xFF, 0x2F, 0x00})
                               .done();
  Score plain = read(f);
  ASSERT_EQ(plain.notes.size(), 5u);
  EXPECT_EQ(plain.notes[0].offset_tick, 10);
  ReadOptions opt;
  opt.extend_notes_under_sustain = true;
  // A drum on channel 9 with its own pedal must not be extended either.
  Score s = read(f, opt);
  ASSERT_EQ(s.notes.size(), 5u);
  // Sorted by onset: C4@0, E4@0, C4@30, G4@60, drum@70.
  EXPECT_EQ(s.notes[0].pitch, 60);
  EXPECT_EQ(s.notes[0].offset_tick, 30);  // until the same pitch was struck again
  EXPECT_EQ(s.notes[1].pitch, 64);
  EXPECT_EQ(s.notes[1].offset_tick, 50);  // until the pedal went up
  EXPECT_EQ(s.notes[2].onset_tick, 30);
  EXPECT_EQ(s.notes[2].offset_tick, 50);
  EXPECT_EQ(s.notes[3].offset_tick, 70);  // released after the pedal: unchanged
  EXPECT_EQ(s.notes[4].offset_tick, 71);  // drums: unchanged
  EXPECT_DOUBLE_EQ(s.notes[1].offset_s, 50.0 / 192.0);
}

TEST(midi, rejects_name_the_file_offset_and_reason) {
  EXPECT_EQ(error_of({}),
            "test.mid: byte 0: not a Standard MIDI File: the file is empty (hint: is this a MIDI file?)");
  EXPECT_NE(error_of({'R', 'I', 'F', 'X', 0, 0}).find("test.mid: byte 0: not a Standard MIDI File"),
            std::string::npos);
  EXPECT_NE(error_of({'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, 1}).find("byte 10: truncated header"),
            std::string::npos);
  EXPECT_NE(error_of({'M', 'T', 'h', 'd', 0, 0, 0, 2, 0, 1, 0, 1, 0, 96}).find("byte 4: header length 2"),
            std::string::npos);
  std::vector<uint8_t> f3 = Smf(3, 96).track({0x00, 0xFF, 0x2F, 0x00}).done();
  EXPECT_NE(error_of(f3).find("byte 8: unknown SMF format 3"), std::string::npos) << error_of(f3);
  std::vector<uint8_t> d0 = Smf(1, 0).track({0x00, 0xFF, 0x2F, 0x00}).done();
  EXPECT_NE(error_of(d0).find("byte 12: division is 0"), std::string::npos);
  std::vector<uint8_t> fps = Smf(1, 0xE928).track({0x00, 0xFF, 0x2F, 0x00}).done();  // -23 fps
  EXPECT_NE(error_of(fps).find("byte 12: SMPTE division with 23 frames"), std::string::npos) << error_of(fps);
  // Too many events for the caller's limit.
  std::vector<uint8_t> body;
  for (int i = 0; i < 300; ++i) body.insert(body.end(), {0x00, 0x90, 60, 100, 0x01, 0x80, 60, 0});
  body.insert(body.end(), {0x00, 0xFF, 0x2F, 0x00});
  ReadOptions small;
  small.max_events = 100;
  EXPECT_NE(error_of(Smf(0, 96).track(body).done(), small).find("max_events"), std::string::npos);
  EXPECT_EQ(read(Smf(0, 96).track(body).done()).notes.size(), 300u);
}

TEST(midi, damaged_tracks_are_recovered_with_warnings) {
  // Running status continued after a meta event: kept, with a warning.
  Score a =
      read(Smf(0, 96)
               .track({0x00, 0x90, 60, 100, 0x10, 0x80, 60, 0, 0x00, 0xFF, 0x01, 0x01, 'x', 0x00, 0x3C, 0x40})
               .done());
  EXPECT_TRUE(has_warning(a, "running status continued after a meta or sysex event"));
  EXPECT_EQ(a.notes.size(), 1u);  // 3C 40 was a note-off on the running status
  // A data byte with no status to run on (the track body starts at byte 22): the track ends there.
  Score b = read(Smf(0, 96).track({0x00, 0x3C, 0x40, 0x00, 0xFF, 0x2F, 0x00}).done());
  EXPECT_TRUE(has_warning(b, "byte 23: data byte 0x3C without a status"));
  // A meta whose length runs past the track; a five-byte delta; a truncated channel message.
  Score c = read(Smf(0, 96).track({0x00, 0x90, 60, 100, 0x00, 0xFF, 0x01, 0x7F, 'a'}).done());
  EXPECT_TRUE(has_warning(c, "has a length past the end of its track"));
  ASSERT_EQ(c.notes.size(), 1u);
  Score d = read(Smf(0, 96).track({0x80, 0x80, 0x80, 0x80, 0x01, 0x90, 60, 100}).done());
  EXPECT_TRUE(has_warning(d, "delta time longer than 4 bytes"));
  Score e = read(Smf(0, 96).track({0x00, 0x90, 60}).done());
  EXPECT_TRUE(has_warning(e, "ends inside a channel message"));
  // Fewer tracks than the header says; a chunk length past the end of the file.
  std::vector<uint8_t> f = Smf(1, 96).track({0x00, 0xFF, 0x2F, 0x00}).done();
  f[11] = 3;
  Score g = read(f);
  EXPECT_TRUE(has_warning(g, "the file ends after 1 of 3 tracks"));
  std::vector<uint8_t> h =
      Smf(0, 96).track({0x00, 0x90, 60, 100, 0x10, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00}).done();
  h[21] = 0x40;  // declares 64 bytes, 12 there
  Score hs = read(h);
  EXPECT_TRUE(has_warning(hs, "byte 18: track chunk declares 64 bytes but only 12 remain"));
  EXPECT_EQ(hs.notes.size(), 1u);
}

TEST(midi, riff_rmid_wrapper_is_unwrapped) {
  std::vector<uint8_t> smf =
      Smf(0, 96).track({0x00, 0x90, 60, 100, 0x10, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00}).done();
  uint32_t n = uint32_t(smf.size());
  std::vector<uint8_t> riff = {'R',
                               'I',
                               'F',
                               'F',
                               0,
                               0,
                               0,
                               0,
                               'R',
                               'M',
                               'I',
                               'D',
                               'd',
                               'a',
                               't',
                               'a',
                               uint8_t(n),
                               uint8_t(n >> 8),
                               uint8_t(n >> 16),
                               uint8_t(n >> 24)};
  riff.insert(riff.end(), smf.begin(), smf.end());
  Score s = read(riff);
  ASSERT_EQ(s.notes.size(), 1u);
  EXPECT_EQ(s.notes[0].offset_tick, 16);
}

// Every prefix and thousands of random corruptions of a rich file: the reader either returns a Score or
// throws xm::Error, and whatever it returns the writer can write and the reader reads back the same.
TEST(midi, damaged_inputs_never_crash_and_round_trip) {
  std::vector<uint8_t> good;
  {
    std::vector<uint8_t> body = {0x00, 0xFF, 0x03, 0x02, 'h',  'i',  0x00, 0xFF, 0x51,
                                 0x03, 0x07, 0xA1, 0x20, 0x00, 0xF0, 0x03, 0x7E, 0x7F,
                                 0xF7, 0x00, 0xC0, 0x05, 0x00, 0xB0, 0x40, 0x7F};
    for (int i = 0; i < 24; ++i)
      body.insert(body.end(), {0x00, 0x90, uint8_t(60 + i % 5), 100, 0x18, uint8_t(62 + i % 3), 90, 0x18,
                               0x80, uint8_t(60 + i % 5), 0, 0x00, 0xE0, uint8_t(i), 0x40});
    body.insert(body.end(), {0x00, 0xFF, 0x2F, 0x00});
    good = Smf(1, 96).track(body).track({0x00, 0xFF, 0x58, 0x04, 3, 2, 24, 8, 0x00, 0xFF, 0x2F, 0x00}).done();
  }
  size_t parsed = 0, rejected = 0;
  auto check = [&](const std::vector<uint8_t>& bytes) {
    Score s;
    try {
      s = read(bytes);
    } catch (const xm::Error&) {
      ++rejected;
      return;
    }
    ++parsed;
    if (s.tracks.empty()) s.tracks.emplace_back();  // the writer writes at least one track
    std::vector<uint8_t> out = write_midi_bytes(s);
    Score back = read(out);
    std::string d = xmtest::score_diff(s, back);
    ASSERT_EQ(d, "");
  };
  for (size_t n = 0; n <= good.size(); ++n) check(std::vector<uint8_t>(good.begin(), good.begin() + long(n)));
  std::mt19937 rng(20240601);
  for (int i = 0; i < 4000; ++i) {
    std::vector<uint8_t> b = good;
    int edits = 1 + int(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = 14 + rng() % (b.size() - 14);  // keep the header mostly intact so the tracks get exercised
      if (i % 10 == 0) at = rng() % b.size();
      b[at] = uint8_t(rng());
    }
    check(b);
  }
  EXPECT_GT(parsed, 3000u);
  EXPECT_GT(rejected, 10u);
}

// midi_test_util.h: helpers for the MIDI tests: build Standard MIDI File bytes by hand, list the corpus
// MIDI files, compare two Scores field by field. Not a second MIDI reader (mido_notes.py is that).
#pragma once
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <vector>

#include "midi/score.h"

namespace xmtest {

// Bytes of an SMF: header(format, division) then track({...}) for each MTrk (the length is filled in).
struct Smf {
  std::vector<uint8_t> bytes;
  int ntracks = 0;
  explicit Smf(int format = 1, uint16_t division = 96);
  Smf& track(std::initializer_list<uint8_t> body);
  Smf& track(const std::vector<uint8_t>& body);
  Smf& raw(std::initializer_list<uint8_t> b);  // anything appended as is (a chunk, garbage)
  std::vector<uint8_t> done();                 // with ntrks patched to the number of track() calls
};

// Every *.mid / *.midi (any case) under dir, sorted.
std::vector<std::filesystem::path> midi_files_under(const std::filesystem::path& dir);
// An evenly spread subset of at most n (all when n == 0 or n >= size).
std::vector<std::filesystem::path> spread(const std::vector<std::filesystem::path>& files, size_t n);
// How many corpus files the corpus tests take: XM_CORPUS_SAMPLE when set (0 = all); otherwise all, or
// 600 in a sanitizer build (which is about ten times slower).
size_t corpus_sample_size();

// The first difference between a and b in notes (every field, seconds exactly), tempos, meters, keys,
// texts, track names, controls, programs, pitch bends, sysex, division and end tick; "" when equal.
// With ignore_tracks, track indices are not compared (a format 0 copy of a format 1 score).
std::string score_diff(const xm::midi::Score& a, const xm::midi::Score& b, bool ignore_tracks = false);

}  // namespace xmtest

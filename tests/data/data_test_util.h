// data_test_util.h: helpers for the data tests: small generated MIDI corpora (fixed seeds), the
// Conditioning a prepared piece was encoded with, and reading a whole file. Not a corpus reader.
#pragma once
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "core/io.h"
#include "data/corpus.h"
#include "midi/midi_io.h"
#include "midi/score.h"
#include "tokens/tokenizer.h"

namespace xmtest {

// A one-track piece of n_notes eighth notes (pitches base..base+11, or GM drums on channel 10), 120 BPM.
inline xm::midi::Score make_piece(uint32_t seed, int n_notes, int base_pitch = 60, bool drums = false) {
  xm::midi::Score s;
  s.ticks_per_quarter = 480;
  s.tracks.push_back({});
  s.tracks[0].name = drums ? "drums" : "piano";
  xm::midi::TempoChange t;
  t.us_per_quarter = 500000;
  s.tempos.push_back(t);
  xm::midi::TimeSignature ts;
  s.time_signatures.push_back(ts);
  std::mt19937 rng(seed);
  int64_t tick = 0;
  for (int i = 0; i < n_notes; ++i) {
    xm::midi::Note n;
    n.pitch = drums ? int(35 + rng() % 12) : base_pitch + int(rng() % 12);
    n.velocity = 40 + int(rng() % 80);
    n.channel = drums ? 9 : 0;
    n.drum = drums;
    n.onset_tick = tick;
    n.offset_tick = tick + 240;
    s.notes.push_back(n);
    tick += 240 * int64_t(1 + rng() % 2);
  }
  s.end_tick = tick + 240;
  s.refresh_seconds();
  return s;
}

inline void write_piece(const std::filesystem::path& p, const xm::midi::Score& s) {
  std::filesystem::create_directories(p.parent_path());
  xm::midi::write_midi_file(s, p);
}

// The controls `data prepare` encodes a piece's sequence with (transposition moves the key).
inline xm::tokens::Conditioning conditioning_of(const xm::data::PieceInfo& p, int transpose) {
  xm::tokens::Conditioning c;
  c.genre = p.genre;
  c.mood = p.mood;
  if (p.key_tonic >= 0) {
    c.key_tonic = ((p.key_tonic + transpose) % 12 + 12) % 12;
    c.key_minor = p.key_minor;
  }
  c.tempo_bpm = p.tempo_bpm;
  return c;
}

// The piece moved by shift semitones, drums left alone (an independent re-implementation for checks).
inline xm::midi::Score shifted(xm::midi::Score s, int shift) {
  for (auto& n : s.notes)
    if (!n.drum) n.pitch += shift;
  return s;
}

inline std::string slurp(const std::filesystem::path& p) { return xm::read_file_text(p); }

}  // namespace xmtest

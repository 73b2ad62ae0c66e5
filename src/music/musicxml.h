// musicxml.h: MusicXML 4.0 (score-partwise) export of a Score: notes quantised to a grid, split into measures
// by the time signatures, tied across bar lines, chords for simultaneous notes, rests, key and time
// signatures, tempo; one part per track/program (drums as a percussion part). Opens in MuseScore and renders
// in Verovio / OpenSheetMusicDisplay. Not an importer.
#pragma once
#include <string>

#include "midi/score.h"

namespace xm::music {

struct MusicXmlOptions {
  std::string title = "xlstm-music";
  int divisions = 12;         // per quarter: 12 covers 16ths and eighth triplets
  int key_fifths = 99;        // 99: from the score's first key signature (or estimated when none)
  bool key_minor = false;
  // Added by the MusicXML export (additive): shift performance-aligned files so that beats fall on the
  // grid first (music::align_beats; a no-op on quantised files), and a grand staff (treble + bass) for
  // keyboard and harp parts whose notes lie on both sides of middle C.
  bool align_beats = true;
  bool grand_staff = true;
};

std::string to_musicxml(const midi::Score& score, const MusicXmlOptions& opt = {});

// The score as to_musicxml notates it: ticks_per_quarter = opt.divisions, every tick in divisions, notes
// snapped to the notation grid (per beat either straight or triplet), tempos, meters and keys converted.
// Onsets and pitches are exactly what the MusicXML holds (durations may change there where a staff would
// need more than four voices). Throws xm::Error for options out of range.
midi::Score quantize_for_musicxml(const midi::Score& score, const MusicXmlOptions& opt = {});

}  // namespace xm::music

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
};

std::string to_musicxml(const midi::Score& score, const MusicXmlOptions& opt = {});

}  // namespace xm::music

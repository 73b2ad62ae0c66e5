// musicxml_layout.h: the notation layout behind to_musicxml (internal to src/music): the grid (per beat
// straight or triplet), the measures with their keys and signatures, and the note values of one voice in one
// measure (ties, tuplets, beams). Not a public interface (musicxml.h is), and it writes no XML.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "midi/score.h"
#include "music/musicxml.h"

namespace xm::music::mxl {

// ---- the grid and the measures --------------------------------------------------------------------------

struct Measure {
  int64_t start = 0, len = 0;  // divisions
  int num = 4, den = 4;        // the signature it shows
  int64_t beat = 0;            // beat window: a quarter, or a dotted quarter in compound meters
  int64_t strong = 0;          // notes do not hide this boundary unless they start on it (half bar in 4/4)
  bool compound = false;
  int fifths = 0;
  bool minor = false;
};

struct Window {
  int64_t start = 0, len = 0;  // divisions
  bool compound = false;
  bool triplet_ok = false, triplet = false;
  int64_t err_straight[2] = {0, 0}, err_triplet[2] = {0, 0};  // onsets, offsets (scaled)
};

struct QNote {
  int64_t on = 0, off = 0;  // divisions
  midi::Note src;
};

struct Layout {
  int64_t D = 12;          // divisions per quarter
  int64_t unit = 3;        // straight grid step
  int64_t tunit = 2;       // triplet grid step (0: none)
  std::vector<Measure> measures;
  std::vector<Window> windows;
  std::vector<QNote> notes;
  std::vector<std::pair<int64_t, double>> tempos;  // division, BPM
  midi::Score aligned;
};

// The grid, the measures and the snapped notes of a score; throws xm::Error for options out of range.
Layout make_layout(const midi::Score& score, const MusicXmlOptions& opt);
// The window (from Layout::windows) that holds division div.
size_t window_at(const std::vector<Window>& w, int64_t div);

// Note types by index: 0 breve, 1 whole, 2 half, 3 quarter, 4 eighth, ... 9 256th.
extern const char* const kTypeNames[10];

struct Segment {
  int64_t start = 0, end = 0;  // in the measure
  int chord = -1;              // index into the voice's chords; -1 rest
  bool tied_in = false, tied_out = false;
};

struct Piece {
  int64_t start = 0, dur = 0;  // in the measure, divisions
  int type = 3, dots = 0;
  bool measure_rest = false;
  bool triplet = false, tuplet_start = false, tuplet_stop = false;
  int normal_type = 4;
  int chord = -1;
  bool tie_stop = false, tie_start = false;
  std::vector<std::string> beams;  // per level, from 1
  std::vector<int> accidental;     // per chord note: 99 none, else the alter to show
};

// One voice of one measure as note values: segs tile [0, m.len) in order; every piece gets its type, dots,
// 3:2 time modification and tuplet start/stop in triplet beats, ties between the pieces of a segment (and
// from/to the neighbouring measures as the segment says), and beams per beat.
std::vector<Piece> notate_voice(const Layout& L, const Measure& m, const std::vector<Segment>& segs);

}  // namespace xm::music::mxl

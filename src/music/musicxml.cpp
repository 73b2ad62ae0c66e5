// musicxml.cpp: MusicXML 4.0 score-partwise export (musicxml.h): parts and staves, voices per staff, pitch
// spelling and accidentals, and the XML text; the grid, measures and note values are in musicxml_layout.cpp.
// Not an importer, and not a layout engine: renderers place, stem and space the notes.
#include "music/musicxml.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <tuple>

#include "core/error.h"
#include "music/analysis.h"
#include "music/musicxml_layout.h"

namespace xm::music {

using namespace mxl;

namespace {

// ---- names ----------------------------------------------------------------------------------------------

const char* const kGmPrograms[128] = {
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet", "Celesta", "Glockenspiel", "Music Box",
    "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer", "Drawbar Organ", "Percussive Organ",
    "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica", "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics", "Acoustic Bass",
    "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1", "Slap Bass 2",
    "Synth Bass 1", "Synth Bass 2", "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings",
    "Pizzicato Strings", "Orchestral Harp", "Timpani", "String Ensemble 1", "String Ensemble 2",
    "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs", "Synth Voice", "Orchestra Hit", "Trumpet",
    "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1", "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
    "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)", "Pad 1 (new age)", "Pad 2 (warm)",
    "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)", "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)", "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba",
    "Bagpipe", "Fiddle", "Shanai", "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum",
    "Melodic Tom", "Synth Drum", "Reverse Cymbal", "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet",
    "Telephone Ring", "Helicopter", "Applause", "Gunshot"};

// General MIDI percussion 35..81: name, and where drum notation puts it (display step and octave, notehead).
struct DrumSpec {
  const char* name;
  const char* display;  // "F4"
  const char* notehead;  // "" for normal
};
const DrumSpec kDrums[47] = {
    {"Acoustic Bass Drum", "F4", ""}, {"Bass Drum 1", "F4", ""}, {"Side Stick", "C5", "x"},
    {"Acoustic Snare", "C5", ""}, {"Hand Clap", "C5", "slash"}, {"Electric Snare", "C5", ""},
    {"Low Floor Tom", "G4", ""}, {"Closed Hi-Hat", "G5", "x"}, {"High Floor Tom", "A4", ""},
    {"Pedal Hi-Hat", "D4", "x"}, {"Low Tom", "B4", ""}, {"Open Hi-Hat", "G5", "circle-x"},
    {"Low-Mid Tom", "D5", ""}, {"Hi-Mid Tom", "D5", ""}, {"Crash Cymbal 1", "A5", "x"}, {"High Tom", "E5", ""},
    {"Ride Cymbal 1", "F5", "x"}, {"Chinese Cymbal", "B5", "x"}, {"Ride Bell", "F5", "diamond"},
    {"Tambourine", "E5", "x"}, {"Splash Cymbal", "B5", "x"}, {"Cowbell", "E5", "triangle"},
    {"Crash Cymbal 2", "B5", "x"}, {"Vibraslap", "E4", "x"}, {"Ride Cymbal 2", "F5", "x"},
    {"Hi Bongo", "E5", "triangle"}, {"Low Bongo", "D5", "triangle"}, {"Mute Hi Conga", "C5", "triangle"},
    {"Open Hi Conga", "B4", "triangle"}, {"Low Conga", "A4", "triangle"}, {"High Timbale", "E5", "square"},
    {"Low Timbale", "D5", "square"}, {"High Agogo", "G5", "triangle"}, {"Low Agogo", "F5", "triangle"},
    {"Cabasa", "E4", "x"}, {"Maracas", "E4", "x"}, {"Short Whistle", "A5", "triangle"},
    {"Long Whistle", "A5", "triangle"}, {"Short Guiro", "F4", "x"}, {"Long Guiro", "F4", "x"},
    {"Claves", "E5", "x"}, {"Hi Wood Block", "G5", "triangle"}, {"Low Wood Block", "F5", "triangle"},
    {"Mute Cuica", "C5", "diamond"}, {"Open Cuica", "C5", "diamond"}, {"Mute Triangle", "A5", "triangle"},
    {"Open Triangle", "A5", "triangle"}};

struct DrumShow {
  std::string name;
  char step = 'C';
  int octave = 5;
  std::string notehead;
};
DrumShow drum_show(int pitch) {
  DrumShow d;
  if (pitch >= 35 && pitch <= 81) {
    const DrumSpec& s = kDrums[pitch - 35];
    d.name = s.name;
    d.step = s.display[0];
    d.octave = s.display[1] - '0';
    d.notehead = s.notehead;
    return d;
  }
  // Outside the GM kit: the natural note of the pitch, folded into the staff (E4..F5).
  static const char kStep[12] = {'C', 'C', 'D', 'D', 'E', 'F', 'F', 'G', 'G', 'A', 'A', 'B'};
  d.name = "Percussion " + std::to_string(pitch);
  d.step = kStep[pitch % 12];
  d.octave = (d.step == 'G' || d.step == 'A' || d.step == 'B') ? 4 : 5;
  d.notehead = "triangle";
  return d;
}

// Text for XML: invalid UTF-8 bytes are read as Latin-1 (MIDI names often are), control characters dropped,
// markup characters escaped.
std::string xml_text(const std::string& s) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool valid = len > 0 && i + len <= s.size();
    for (size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(s[i + k]) >> 6) == 2;
    if (valid && len == 2 && c < 0xC2) valid = false;  // overlong
    if (!valid) {  // one Latin-1 byte
      out += char(0xC0 | (c >> 6));
      out += char(0x80 | (c & 0x3F));
      ++i;
      continue;
    }
    if (len == 1) {
      if (c == '&') out += "&amp;";
      else if (c == '<') out += "&lt;";
      else if (c == '>') out += "&gt;";
      else if (c == '"') out += "&quot;";
      else if (c == '\'') out += "&apos;";
      else if (c >= 0x20 || c == '\t' || c == '\n') out += char(c);
    } else {
      out.append(s, i, len);
    }
    i += len;
  }
  return out;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// ---- pitch spelling ---------------------------------------------------------------------------------------

struct Spelled {
  char step = 'C';
  int alter = 0;
  int octave = 4;
};
// Positions on the line of fifths (F = -1, C = 0, G = 1, ...): twelve in a row around the key, so that a
// major key spells its chromatic notes as b3, b6, b7, #4, #1 and a minor one as #4, #6, #7, b2; clamped to
// Fb..B# so that no double accidental appears.
Spelled spell(int pitch, int fifths, bool minor) {
  int lo = minor ? fifths - 2 : fifths - 4;
  lo = std::clamp(lo, -7, 1);
  int pc = ((pitch % 12) + 12) % 12;
  int p = lo;
  while (((p * 7) % 12 + 12) % 12 != pc) ++p;
  int alter = (p + 1 >= 0) ? (p + 1) / 7 : -((-(p + 1) + 6) / 7);
  int n = p - 7 * alter;  // -1..5
  static const char kSteps[7] = {'F', 'C', 'G', 'D', 'A', 'E', 'B'};
  Spelled s;
  s.step = kSteps[n + 1];
  s.alter = alter;
  int natural = pitch - alter;
  s.octave = (natural >= 0 ? natural / 12 : -((-natural + 11) / 12)) - 1;
  return s;
}
// The alteration a key signature gives each step (index: C D E F G A B).
std::array<int, 7> key_alters(int fifths) {
  std::array<int, 7> a{};
  static const int kSharpOrder[7] = {3, 0, 4, 1, 5, 2, 6};  // F C G D A E B
  static const int kFlatOrder[7] = {6, 2, 5, 1, 4, 0, 3};   // B E A D G C F
  for (int i = 0; i < std::min(7, std::abs(fifths)); ++i)
    a[size_t(fifths > 0 ? kSharpOrder[i] : kFlatOrder[i])] = fifths > 0 ? 1 : -1;
  return a;
}
int step_index(char step) { return std::string("CDEFGAB").find(step); }

// ---- parts and voices -------------------------------------------------------------------------------------

struct VChord {
  int64_t on = 0, off = 0;
  std::vector<int> pitches;  // ascending
};

struct Part {
  int track = 0, program = 0, channel = 0;
  bool drum = false;
  std::string name;
  std::vector<size_t> notes;  // into Layout::notes
  int staves = 1;
  bool bass_clef = false;
  std::vector<int> drum_pitches;
  std::vector<std::vector<VChord>> voices[2];  // per staff: up to four voices of chords
};

constexpr int kVoicesPerStaff = 4;

// Chords (same onset and offset, no repeated pitch) spread over at most four voices; when all are busy the
// one that frees first is cut short at the new onset (onsets and pitches are never changed).
std::vector<std::vector<VChord>> assign_voices(std::vector<const QNote*> notes) {
  std::stable_sort(notes.begin(), notes.end(), [](const QNote* a, const QNote* b) {
    if (a->on != b->on) return a->on < b->on;
    if (a->off != b->off) return a->off > b->off;
    return a->src.pitch < b->src.pitch;
  });
  std::vector<VChord> chords;
  for (size_t i = 0; i < notes.size();) {
    size_t j = i;
    while (j < notes.size() && notes[j]->on == notes[i]->on && notes[j]->off == notes[i]->off) ++j;
    std::vector<VChord> group;
    for (size_t k = i; k < j; ++k) {
      int pitch = notes[k]->src.pitch;
      auto it = std::find_if(group.begin(), group.end(), [&](const VChord& c) {
        return std::find(c.pitches.begin(), c.pitches.end(), pitch) == c.pitches.end();
      });
      if (it == group.end()) it = group.insert(group.end(), VChord{notes[i]->on, notes[i]->off, {}});
      it->pitches.push_back(pitch);
    }
    for (VChord& c : group) chords.push_back(std::move(c));
    i = j;
  }
  std::vector<std::vector<VChord>> voices(kVoicesPerStaff);
  for (VChord& c : chords) {
    int pick = -1;
    for (int v = 0; v < kVoicesPerStaff && pick < 0; ++v)
      if (voices[size_t(v)].empty() || voices[size_t(v)].back().off <= c.on) pick = v;
    if (pick < 0) {
      int64_t best = 0;
      for (int v = 0; v < kVoicesPerStaff; ++v) {
        const VChord& last = voices[size_t(v)].back();
        if (last.on < c.on && (pick < 0 || last.off < best)) pick = v, best = last.off;
      }
      if (pick >= 0) voices[size_t(pick)].back().off = c.on;
    }
    if (pick < 0) {  // every voice starts a chord here: join one, at its length (without a repeated pitch if
                     // one allows it; a doubled key in the MIDI may still give one)
      int join = 0;
      for (int v = kVoicesPerStaff - 1; v >= 0; --v) {
        const std::vector<int>& ps = voices[size_t(v)].back().pitches;
        if (std::none_of(c.pitches.begin(), c.pitches.end(),
                         [&](int x) { return std::find(ps.begin(), ps.end(), x) != ps.end(); }))
          join = v;
      }
      VChord& last = voices[size_t(join)].back();
      last.pitches.insert(last.pitches.end(), c.pitches.begin(), c.pitches.end());
      std::sort(last.pitches.begin(), last.pitches.end());
      continue;
    }
    voices[size_t(pick)].push_back(std::move(c));
  }
  while (!voices.empty() && voices.back().empty()) voices.pop_back();
  if (voices.empty()) voices.resize(1);
  return voices;
}

std::vector<Part> make_parts(const Layout& L, const midi::Score& sc, const MusicXmlOptions& opt) {
  std::map<std::tuple<int, int, int>, size_t> index;  // (track, drum, program) -> part
  std::vector<Part> parts;
  for (size_t i = 0; i < L.notes.size(); ++i) {
    const midi::Note& n = L.notes[i].src;
    auto key = std::make_tuple(n.track, n.drum ? 1 : 0, n.drum ? 0 : std::clamp(n.program, 0, 127));
    auto it = index.find(key);
    if (it == index.end()) {
      Part p;
      p.track = n.track, p.drum = n.drum, p.program = std::get<2>(key), p.channel = std::clamp(n.channel, 0, 15);
      it = index.emplace(key, parts.size()).first;
      parts.push_back(p);
    }
    parts[it->second].notes.push_back(i);
  }
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) {
    return std::make_tuple(a.track, a.drum, a.program) < std::make_tuple(b.track, b.drum, b.program);
  });
  if (parts.empty()) parts.push_back(Part{});
  std::map<int, int> per_track;
  for (const Part& p : parts) ++per_track[p.track];
  for (Part& p : parts) {
    std::string track_name;
    if (p.track >= 0 && size_t(p.track) < sc.tracks.size()) track_name = trim(sc.tracks[size_t(p.track)].name);
    std::string kind = p.drum ? "Drums" : kGmPrograms[p.program];
    p.name = track_name.empty() ? kind : per_track[p.track] > 1 ? track_name + " (" + kind + ")" : track_name;
    std::vector<const QNote*> staff[2];
    int below = 0;
    for (size_t i : p.notes) below += L.notes[i].src.pitch < 60;
    const int n = int(p.notes.size());
    const bool keyboard = p.program <= 7 || (p.program >= 16 && p.program <= 23) || p.program == 46;
    if (!p.drum && opt.grand_staff && keyboard && n > 0 && below * 10 >= n && (n - below) * 10 >= n)
      p.staves = 2;
    p.bass_clef = !p.drum && p.staves == 1 && below * 2 > n;
    for (size_t i : p.notes) {
      const QNote& q = L.notes[i];
      staff[p.staves == 2 && q.src.pitch < 60 ? 1 : 0].push_back(&q);
      if (p.drum && std::find(p.drum_pitches.begin(), p.drum_pitches.end(), q.src.pitch) == p.drum_pitches.end())
        p.drum_pitches.push_back(q.src.pitch);
    }
    std::sort(p.drum_pitches.begin(), p.drum_pitches.end());
    for (int s = 0; s < p.staves; ++s) p.voices[s] = assign_voices(staff[s]);
  }
  return parts;
}

// ---- XML ---------------------------------------------------------------------------------------------------

class Writer {
 public:
  std::string out;
  void line(int depth, const std::string& s) {
    out.append(size_t(2 * depth), ' ');
    out += s;
    out += '\n';
  }
};

std::string fmt_bpm(double bpm) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", bpm);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

const char* accidental_name(int alter) {
  switch (alter) {
    case -2: return "flat-flat";
    case -1: return "flat";
    case 1: return "sharp";
    case 2: return "double-sharp";
    default: return "natural";
  }
}

void write_attributes(Writer& w, const Layout& L, const Part& p, size_t mi) {
  const Measure& m = L.measures[mi];
  const Measure* prev = mi > 0 ? &L.measures[mi - 1] : nullptr;
  const bool key = !prev || (!p.drum && (prev->fifths != m.fifths || prev->minor != m.minor));
  const bool time = !prev || prev->num != m.num || prev->den != m.den;
  if (!key && !time) return;
  w.line(3, "<attributes>");
  if (!prev) w.line(4, "<divisions>" + std::to_string(L.D) + "</divisions>");
  if (key) {
    if (p.drum)
      w.line(4, "<key print-object=\"no\"><fifths>0</fifths></key>");
    else
      w.line(4, "<key><fifths>" + std::to_string(m.fifths) + "</fifths><mode>" + (m.minor ? "minor" : "major") +
                    "</mode></key>");
  }
  if (time)
    w.line(4, "<time><beats>" + std::to_string(m.num) + "</beats><beat-type>" + std::to_string(m.den) +
                  "</beat-type></time>");
  if (!prev) {
    if (p.staves == 2) {
      w.line(4, "<staves>2</staves>");
      w.line(4, "<clef number=\"1\"><sign>G</sign><line>2</line></clef>");
      w.line(4, "<clef number=\"2\"><sign>F</sign><line>4</line></clef>");
    } else if (p.drum) {
      w.line(4, "<clef><sign>percussion</sign></clef>");
    } else if (p.bass_clef) {
      w.line(4, "<clef><sign>F</sign><line>4</line></clef>");
    } else {
      w.line(4, "<clef><sign>G</sign><line>2</line></clef>");
    }
  }
  w.line(3, "</attributes>");
}

void write_tempo(Writer& w, double bpm, bool grand) {
  w.line(3, "<direction placement=\"above\">");
  w.line(4, "<direction-type><metronome parentheses=\"no\"><beat-unit>quarter</beat-unit><per-minute>" +
                std::to_string(int(std::lround(bpm))) + "</per-minute></metronome></direction-type>");
  if (grand) w.line(4, "<staff>1</staff>");
  w.line(4, "<sound tempo=\"" + fmt_bpm(bpm) + "\"/>");
  w.line(3, "</direction>");
}

void write_piece(Writer& w, const Part& p, int part_no, const Piece& pc, const VChord* chord, int voice_no,
                 int staff_no, const Measure& m) {
  const size_t count = chord ? chord->pitches.size() : 1;
  for (size_t k = 0; k < count; ++k) {
    w.line(3, "<note>");
    if (k > 0) w.line(4, "<chord/>");
    int pitch = chord ? chord->pitches[k] : -1;
    DrumShow ds;
    if (!chord) {
      w.line(4, pc.measure_rest ? "<rest measure=\"yes\"/>" : "<rest/>");
    } else if (p.drum) {
      ds = drum_show(pitch);
      w.line(4, std::string("<unpitched><display-step>") + ds.step + "</display-step><display-octave>" +
                    std::to_string(ds.octave) + "</display-octave></unpitched>");
    } else {
      Spelled s = spell(pitch, m.fifths, m.minor);
      w.line(4, std::string("<pitch><step>") + s.step + "</step>" +
                    (s.alter ? "<alter>" + std::to_string(s.alter) + "</alter>" : "") + "<octave>" +
                    std::to_string(s.octave) + "</octave></pitch>");
    }
    w.line(4, "<duration>" + std::to_string(pc.dur) + "</duration>");
    if (chord && pc.tie_stop) w.line(4, "<tie type=\"stop\"/>");
    if (chord && pc.tie_start) w.line(4, "<tie type=\"start\"/>");
    if (chord && p.drum)
      w.line(4, "<instrument id=\"P" + std::to_string(part_no) + "-I" + std::to_string(pitch + 1) + "\"/>");
    w.line(4, "<voice>" + std::to_string(voice_no) + "</voice>");
    if (!pc.measure_rest) {
      w.line(4, std::string("<type>") + kTypeNames[pc.type] + "</type>");
      for (int d = 0; d < pc.dots; ++d) w.line(4, "<dot/>");
    }
    if (chord && !p.drum && k < pc.accidental.size() && pc.accidental[k] != 99)
      w.line(4, std::string("<accidental>") + accidental_name(pc.accidental[k]) + "</accidental>");
    if (pc.triplet)
      w.line(4, std::string("<time-modification><actual-notes>3</actual-notes><normal-notes>2</normal-notes>") +
                    "<normal-type>" + kTypeNames[pc.normal_type] + "</normal-type></time-modification>");
    if (chord && p.drum && !ds.notehead.empty()) w.line(4, "<notehead>" + ds.notehead + "</notehead>");
    if (p.staves == 2) w.line(4, "<staff>" + std::to_string(staff_no) + "</staff>");
    if (k == 0)
      for (size_t b = 0; b < pc.beams.size(); ++b)
        w.line(4, "<beam number=\"" + std::to_string(b + 1) + "\">" + pc.beams[b] + "</beam>");
    std::string nota;
    if (chord && pc.tie_stop) nota += "<tied type=\"stop\"/>";
    if (chord && pc.tie_start) nota += "<tied type=\"start\"/>";
    if (k == 0 && pc.tuplet_start) nota += "<tuplet type=\"start\" bracket=\"yes\"/>";
    if (k == 0 && pc.tuplet_stop) nota += "<tuplet type=\"stop\"/>";
    if (!nota.empty()) w.line(4, "<notations>" + nota + "</notations>");
    w.line(3, "</note>");
  }
}

struct VoiceMeasure {
  int staff = 0;  // 0-based
  int voice = 0;  // 0-based within the staff
  std::vector<Piece> pieces;
};

// The pieces of every voice of one staff in one measure, with accidentals set.
std::vector<VoiceMeasure> notate_staff(const Layout& L, const Part& p, int staff, size_t mi,
                                       std::vector<size_t>& cursor) {
  const Measure& m = L.measures[mi];
  const int64_t ms = m.start, me = m.start + m.len;
  std::vector<VoiceMeasure> out;
  const auto& voices = p.voices[staff];
  for (size_t v = 0; v < voices.size(); ++v) {
    const std::vector<VChord>& chords = voices[v];
    size_t& c = cursor[v];
    while (c < chords.size() && chords[c].off <= ms) ++c;
    std::vector<Segment> segs;
    int64_t pos = ms;
    for (size_t k = c; k < chords.size() && chords[k].on < me; ++k) {
      if (chords[k].on > pos) segs.push_back({pos - ms, chords[k].on - ms, -1, false, false});
      Segment s;
      s.start = std::max(chords[k].on, ms) - ms;
      s.end = std::min(chords[k].off, me) - ms;
      s.chord = int(k);
      s.tied_in = chords[k].on < ms;
      s.tied_out = chords[k].off > me;
      segs.push_back(s);
      pos = std::min(chords[k].off, me);
    }
    VoiceMeasure vm;
    vm.staff = staff, vm.voice = int(v);
    if (segs.empty()) {
      if (v > 0) continue;
      Piece r;
      r.dur = m.len, r.measure_rest = true;
      vm.pieces.push_back(r);
    } else {
      if (pos < me) segs.push_back({pos - ms, m.len, -1, false, false});
      vm.pieces = notate_voice(L, m, segs);
    }
    out.push_back(std::move(vm));
  }
  if (p.drum) return out;
  // Accidentals, in time order over the voices: shown where the alteration differs from what the key
  // signature or an earlier note of this measure (same step and octave) made it; tied continuations neither
  // show one nor change the state.
  struct Ref {
    int64_t start;
    Piece* piece;
    size_t k;
    int pitch;
  };
  std::vector<Ref> refs;
  for (VoiceMeasure& vm : out)
    for (Piece& pc : vm.pieces)
      if (pc.chord >= 0) {
        const VChord& ch = voices[size_t(vm.voice)][size_t(pc.chord)];
        pc.accidental.assign(ch.pitches.size(), 99);
        for (size_t k = 0; k < ch.pitches.size(); ++k) refs.push_back({pc.start, &pc, k, ch.pitches[k]});
      }
  std::stable_sort(refs.begin(), refs.end(), [](const Ref& a, const Ref& b) { return a.start < b.start; });
  const std::array<int, 7> key = key_alters(m.fifths);
  std::map<std::pair<int, int>, int> state;  // (step, octave) -> alter
  for (const Ref& r : refs) {
    if (r.piece->tie_stop) continue;
    Spelled s = spell(r.pitch, m.fifths, m.minor);
    const int si = step_index(s.step);
    auto it = state.find({si, s.octave});
    int current = it == state.end() ? key[size_t(si)] : it->second;
    if (s.alter != current) {
      r.piece->accidental[r.k] = s.alter;
      state[{si, s.octave}] = s.alter;
    }
  }
  return out;
}

}  // namespace

midi::Score quantize_for_musicxml(const midi::Score& score, const MusicXmlOptions& opt) {
  Layout L = make_layout(score, opt);
  midi::Score out;
  out.format = L.aligned.format;
  out.ticks_per_quarter = int(L.D);
  out.tracks = L.aligned.tracks;
  for (midi::Track& t : out.tracks) t.end_tick = 0;
  for (const QNote& q : L.notes) {
    midi::Note n = q.src;
    n.onset_tick = q.on, n.offset_tick = q.off;
    out.notes.push_back(n);
  }
  for (auto [d, bpm] : L.tempos) {
    midi::TempoChange t;
    t.tick = d;
    t.us_per_quarter = uint32_t(std::lround(60000000.0 / bpm));
    out.tempos.push_back(t);
  }
  for (size_t i = 0; i < L.measures.size(); ++i) {
    const Measure& m = L.measures[i];
    if (i == 0 || m.num != L.measures[i - 1].num || m.den != L.measures[i - 1].den) {
      midi::TimeSignature ts;
      ts.tick = m.start, ts.numerator = m.num, ts.denominator = m.den;
      out.time_signatures.push_back(ts);
    }
    if (i == 0 || m.fifths != L.measures[i - 1].fifths || m.minor != L.measures[i - 1].minor) {
      midi::KeySignature ks;
      ks.tick = m.start, ks.sharps = m.fifths, ks.minor = m.minor;
      out.key_signatures.push_back(ks);
    }
  }
  out.end_tick = L.measures.back().start + L.measures.back().len;
  out.refresh_seconds();
  return out;
}

std::string to_musicxml(const midi::Score& score, const MusicXmlOptions& opt) {
  const Layout L = make_layout(score, opt);
  const std::vector<Part> parts = make_parts(L, L.aligned, opt);
  Writer w;
  w.out.reserve(L.notes.size() * 400 + 4096);
  w.line(0, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>");
  w.line(0, "<!DOCTYPE score-partwise PUBLIC \"-//Recordare//DTD MusicXML 4.0 Partwise//EN\" "
            "\"http://www.musicxml.org/dtds/partwise.dtd\">");
  w.line(0, "<score-partwise version=\"4.0\">");
  w.line(1, "<work><work-title>" + xml_text(opt.title) + "</work-title></work>");
  w.line(1, "<identification>");
  w.line(2, "<encoding>");
  w.line(3, "<software>xlstm-music</software>");
  w.line(3, "<supports element=\"accidental\" type=\"yes\"/>");
  w.line(3, "<supports element=\"beam\" type=\"yes\"/>");
  w.line(3, "<supports element=\"stem\" type=\"no\"/>");
  w.line(2, "</encoding>");
  w.line(1, "</identification>");
  w.line(1, "<part-list>");
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part& p = parts[i];
    const std::string id = "P" + std::to_string(i + 1);
    w.line(2, "<score-part id=\"" + id + "\">");
    w.line(3, "<part-name>" + xml_text(p.name) + "</part-name>");
    if (p.drum) {
      for (int pitch : p.drum_pitches)
        w.line(3, "<score-instrument id=\"" + id + "-I" + std::to_string(pitch + 1) + "\"><instrument-name>" +
                      xml_text(drum_show(pitch).name) + "</instrument-name></score-instrument>");
      for (int pitch : p.drum_pitches)
        w.line(3, "<midi-instrument id=\"" + id + "-I" + std::to_string(pitch + 1) +
                      "\"><midi-channel>10</midi-channel><midi-program>1</midi-program><midi-unpitched>" +
                      std::to_string(pitch + 1) + "</midi-unpitched></midi-instrument>");
    } else {
      w.line(3, "<score-instrument id=\"" + id + "-I1\"><instrument-name>" + xml_text(kGmPrograms[p.program]) +
                    "</instrument-name></score-instrument>");
      w.line(3, "<midi-instrument id=\"" + id + "-I1\"><midi-channel>" + std::to_string(p.channel + 1) +
                    "</midi-channel><midi-program>" + std::to_string(p.program + 1) +
                    "</midi-program></midi-instrument>");
    }
    w.line(2, "</score-part>");
  }
  w.line(1, "</part-list>");

  for (size_t pi = 0; pi < parts.size(); ++pi) {
    const Part& p = parts[pi];
    w.line(1, "<part id=\"P" + std::to_string(pi + 1) + "\">");
    std::vector<size_t> cursor[2] = {std::vector<size_t>(p.voices[0].size(), 0),
                                     std::vector<size_t>(p.voices[1].size(), 0)};
    size_t tempo_i = 0;
    for (size_t mi = 0; mi < L.measures.size(); ++mi) {
      const Measure& m = L.measures[mi];
      w.line(2, "<measure number=\"" + std::to_string(mi + 1) + "\">");
      write_attributes(w, L, p, mi);
      // Tempo marks of this measure (first part only), each before the voice-1 piece that holds it.
      std::vector<std::pair<int64_t, double>> tempos;
      while (pi == 0 && tempo_i < L.tempos.size() && L.tempos[tempo_i].first < m.start + m.len) {
        tempos.push_back({std::max<int64_t>(L.tempos[tempo_i].first - m.start, 0), L.tempos[tempo_i].second});
        ++tempo_i;
      }
      bool first_voice = true;
      for (int s = 0; s < p.staves; ++s) {
        for (const VoiceMeasure& vm : notate_staff(L, p, s, mi, cursor[s])) {
          if (!first_voice) w.line(3, "<backup><duration>" + std::to_string(m.len) + "</duration></backup>");
          const int voice_no = vm.staff * kVoicesPerStaff + vm.voice + 1;
          for (size_t k = 0; k < vm.pieces.size(); ++k) {
            const Piece& pc = vm.pieces[k];
            if (first_voice) {
              double bpm = -1;
              for (auto& t : tempos)
                if (t.first >= pc.start && (t.first < pc.start + pc.dur || k + 1 == vm.pieces.size()))
                  bpm = t.second;
              if (bpm > 0) write_tempo(w, bpm, p.staves == 2);
            }
            const VChord* chord = pc.chord >= 0 ? &p.voices[s][size_t(vm.voice)][size_t(pc.chord)] : nullptr;
            write_piece(w, p, int(pi + 1), pc, chord, voice_no, s + 1, m);
          }
          first_voice = false;
        }
      }
      if (mi + 1 == L.measures.size())
        w.line(3, "<barline location=\"right\"><bar-style>light-heavy</bar-style></barline>");
      w.line(2, "</measure>");
    }
    w.line(1, "</part>");
  }
  w.line(0, "</score-partwise>");
  return w.out;
}

}  // namespace xm::music

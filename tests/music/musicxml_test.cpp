// MusicXML export tests: every output is parsed back by python3's xml.etree (an independent parser) with a
// small checker that sums each voice of each measure, merges tied notes, checks note values against
// durations and accidentals against pitches; the C++ side compares that with the score. Hand-built scores,
// samples/sample.mid, and (when ../shared/datasets exists) a few POP909 and Nottingham files.
#include <fstream>
#include <set>

#include "core/error.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "music/analysis.h"
#include "music/musicxml.h"
#include "music/music_test_util.h"
#include "support/test_support.h"

using namespace xm;
using musictest::add_chord;
using musictest::add_note;
using musictest::add_time_signature;
using musictest::empty_score;
namespace fs = std::filesystem;

namespace {

// The checker: prints one JSON object describing the file, with every inconsistency in "errors".
const char* kChecker = R"PY(
import json, re, sys
import xml.etree.ElementTree as ET

TYPES = {'breve': 8.0, 'whole': 4.0, 'half': 2.0, 'quarter': 1.0, 'eighth': 0.5, '16th': 0.25, '32nd': 0.125,
         '64th': 0.0625, '128th': 0.03125, '256th': 0.015625}
STEP_PC = {'C': 0, 'D': 2, 'E': 4, 'F': 5, 'G': 7, 'A': 9, 'B': 11}
ACC = {'sharp': 1, 'flat': -1, 'natural': 0, 'double-sharp': 2, 'flat-flat': -2}
SHARPS, FLATS = 'FCGDAEB', 'BEADGCF'

def key_alter(fifths, step):
    if fifths > 0 and step in SHARPS[:fifths]: return 1
    if fifths < 0 and step in FLATS[:-fifths]: return -1
    return 0

text = open(sys.argv[1], encoding='utf-8').read()
root = ET.fromstring(text.encode('utf-8'))
out = {'root': root.tag, 'version': root.get('version'), 'errors': [], 'parts': [],
       'doctype': '<!DOCTYPE score-partwise PUBLIC "-//Recordare//DTD MusicXML 4.0 Partwise//EN"' in text,
       'title': root.findtext('work/work-title')}
err = out['errors']
decl = [e.get('id') for e in root.iter() if e.tag in ('score-part', 'score-instrument')]
out['ids_unique'] = len(decl) == len(set(decl))
names = {sp.get('id'): sp.findtext('part-name') for sp in root.iter('score-part')}
for part in root.findall('part'):
    pid = part.get('id')
    P = {'id': pid, 'name': names.get(pid), 'measures': [], 'notes': [], 'pitched': 0, 'unpitched': 0,
         'clefs': [], 'staves': 1, 'keys': [], 'tempos': [], 'backups': 0, 'chords': 0, 'tuplets': 0, 'ties': 0}
    D = None; beats = 4; beat_type = 4; fifths = 0; mstart = 0
    open_ties = {}
    for mi, m in enumerate(part.findall('measure')):
        if m.get('number') != str(mi + 1): err.append(f'{pid}: measure {mi+1} numbered {m.get("number")}')
        pos = 0; last_start = 0; sums = {}; entries = []; time_el = None
        for el in m:
            if el.tag == 'attributes':
                if el.find('divisions') is not None: D = int(el.findtext('divisions'))
                if el.find('staves') is not None: P['staves'] = int(el.findtext('staves'))
                for c in el.findall('clef'): P['clefs'].append(c.findtext('sign'))
                k = el.find('key')
                if k is not None:
                    fifths = int(k.findtext('fifths'))
                    P['keys'].append([mi + 1, fifths, k.findtext('mode')])
                t = el.find('time')
                if t is not None:
                    beats, beat_type = int(t.findtext('beats')), int(t.findtext('beat-type'))
                    time_el = [beats, beat_type]
            elif el.tag == 'backup':
                pos -= int(el.findtext('duration')); P['backups'] += 1
                if pos < 0: err.append(f'{pid} m{mi+1}: backup before the measure start')
            elif el.tag == 'forward':
                pos += int(el.findtext('duration'))
            elif el.tag == 'direction':
                s = el.find('sound')
                if s is not None and s.get('tempo'):
                    P['tempos'].append([mstart + pos, float(s.get('tempo')),
                                        el.findtext('direction-type/metronome/per-minute')])
            elif el.tag == 'note':
                dur = int(el.findtext('duration'))
                staff = el.findtext('staff', '1'); voice = el.findtext('voice', '1')
                if el.find('chord') is not None:
                    start = last_start; P['chords'] += 1
                else:
                    start = pos; pos += dur; in_chord = {}
                    sums[staff + '/' + voice] = sums.get(staff + '/' + voice, 0) + dur
                last_start = start
                rest = el.find('rest')
                typ = el.findtext('type')
                if typ is None:
                    if rest is None or rest.get('measure') != 'yes': err.append(f'{pid} m{mi+1}: note without type')
                else:
                    q = TYPES[typ] * (2 - 0.5 ** len(el.findall('dot')))
                    tm = el.find('time-modification')
                    if tm is not None:
                        q = q * int(tm.findtext('normal-notes')) / int(tm.findtext('actual-notes')); P['tuplets'] += 1
                    if abs(q * D - dur) > 1e-9: err.append(f'{pid} m{mi+1}: {typ} with {len(el.findall("dot"))} dots lasts {dur}')
                if rest is not None: continue
                ties = {t.get('type') for t in el.findall('tie')}
                tied = {t.get('type') for t in el.findall('notations/tied')}
                if ties != tied: err.append(f'{pid} m{mi+1}: tie {sorted(ties)} but tied {sorted(tied)}')
                P['ties'] += 'start' in ties
                p = el.find('pitch'); u = el.find('unpitched')
                if p is not None:
                    step = p.findtext('step'); alter = int(p.findtext('alter', '0')); octv = int(p.findtext('octave'))
                    pitch = 12 * (octv + 1) + STEP_PC[step] + alter; P['pitched'] += 1
                    entries.append((start, len(entries), staff, step, octv, alter, el.findtext('accidental'), 'stop' in ties))
                elif u is not None:
                    ins = el.find('instrument')
                    pitch = int(re.search(r'-I(\d+)$', ins.get('id')).group(1)) - 1 if ins is not None else -1
                    P['unpitched'] += 1
                else:
                    err.append(f'{pid} m{mi+1}: note without pitch, unpitched or rest'); continue
                in_chord[pitch] = in_chord.get(pitch, -1) + 1  # a doubled pitch in one chord ties separately
                key = (staff, voice, pitch, in_chord[pitch])
                if 'stop' in ties:
                    if key in open_ties: P['notes'][open_ties[key]][2] += dur
                    else: err.append(f'{pid} m{mi+1}: tie stop without a start (pitch {pitch})')
                    idx = open_ties.get(key)
                else:
                    P['notes'].append([mstart + start, pitch, dur, int(staff), u is not None]); idx = len(P['notes']) - 1
                if 'start' in ties and idx is not None: open_ties[key] = idx
                else: open_ties.pop(key, None)
        # Accidentals: what a reader sees (accidental, else the measure's state, else the key) is the pitch.
        state = {}
        for start, _, staff, step, octv, alter, acc, cont in sorted(entries):
            if cont: continue
            seen = ACC[acc] if acc is not None else state.get((staff, step, octv), key_alter(fifths, step))
            if seen != alter: err.append(f'{pid} m{mi+1}: {step}{octv} alter {alter} reads as {seen}')
            if acc is not None: state[(staff, step, octv)] = ACC[acc]
        expected = beats * 4 * D / beat_type
        P['measures'].append({'time': time_el, 'expected': expected, 'voices': sums})
        mstart += int(expected)
    for key in open_ties: err.append(f'{pid}: tie left open on {key}')
    out['parts'].append(P)
print(json.dumps(out))
)PY";

json check_xml(const std::string& xml) {
  const fs::path dir = xmtest::temp_dir("musicxml");
  std::ofstream(dir / "check.py") << kChecker;
  std::ofstream(dir / "score.musicxml", std::ios::binary) << xml;
  xmtest::RunResult r = xmtest::run_shell("python3 '" + (dir / "check.py").string() + "' '" +
                                          (dir / "score.musicxml").string() + "'");
  std::error_code ec;
  fs::remove_all(dir, ec);
  EXPECT_EQ(r.exit_code, 0) << "the checker (python3 xml.etree) failed:\n" << r.err;
  if (r.exit_code != 0) return json::object();
  return json::parse(r.out);
}

// Every measure of every voice lasts what its time signature says; no checker error.
void expect_consistent(const json& j, const std::string& what) {
  ASSERT_TRUE(j.contains("parts")) << what;
  EXPECT_TRUE(j["errors"].empty()) << what << ": " << j["errors"].dump(1).substr(0, 2000);
  EXPECT_TRUE(j["ids_unique"].get<bool>()) << what;
  EXPECT_TRUE(j["doctype"].get<bool>()) << what;
  EXPECT_EQ(j["root"], "score-partwise") << what;
  EXPECT_EQ(j["version"], "4.0") << what;
  for (const json& p : j["parts"]) {
    size_t count = p["measures"].size();
    EXPECT_EQ(count, j["parts"][0]["measures"].size()) << what << ": parts differ in measure count";
    for (size_t i = 0; i < count; ++i) {
      const json& m = p["measures"][i];
      EXPECT_FALSE(m["voices"].empty()) << what << " " << p["id"] << " measure " << i + 1;
      for (auto& [voice, sum] : m["voices"].items())
        EXPECT_EQ(sum.get<double>(), m["expected"].get<double>())
            << what << " " << p["id"] << " measure " << i + 1 << " voice " << voice;
    }
  }
}

using OnsetPitch = std::multiset<std::pair<int64_t, int>>;
OnsetPitch output_notes(const json& j) {
  OnsetPitch s;
  for (const json& p : j["parts"])
    for (const json& n : p["notes"]) s.insert({n[0].get<int64_t>(), n[1].get<int>()});
  return s;
}
OnsetPitch score_notes(const midi::Score& q) {
  OnsetPitch s;
  for (const midi::Note& n : q.notes) s.insert({n.onset_tick, n.pitch});
  return s;
}

// Merged (tied) notes of one part: onset -> [onset, pitch, duration, staff, unpitched].
std::vector<json> notes_at(const json& part, int64_t onset) {
  std::vector<json> v;
  for (const json& n : part["notes"])
    if (n[0].get<int64_t>() == onset) v.push_back(n);
  return v;
}

midi::Score key_score(int sharps, bool minor, std::initializer_list<int> pitches) {
  midi::Score s = empty_score();
  if (sharps != 99) {
    midi::KeySignature k;
    k.sharps = sharps, k.minor = minor;
    s.key_signatures.push_back(k);
  }
  int64_t t = 0;
  for (int p : pitches) add_note(s, p, t, t + 480), t += 480;
  return s;
}

}  // namespace

TEST(music, musicxml_is_well_formed_with_unique_ids_and_escaped_text) {
  midi::Score s = empty_score();
  s.tracks.resize(3);
  s.tracks[1].name = "Lead <1> & \"Co\"";
  s.tracks[2].name = std::string("\xE9t\xE9\x01");  // Latin-1 "été" and a control byte
  add_note(s, 72, 0, 480);
  s.notes.back().track = 1;
  add_note(s, 48, 0, 960);
  s.notes.back().track = 2, s.notes.back().program = 32;
  music::MusicXmlOptions opt;
  opt.title = "A < B & C's";
  const std::string xml = music::to_musicxml(s, opt);
  EXPECT_EQ(xml.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"", 0), 0u);
  const json j = check_xml(xml);
  expect_consistent(j, "escaping");
  EXPECT_EQ(j["title"], "A < B & C's");
  ASSERT_EQ(j["parts"].size(), 2u);
  EXPECT_EQ(j["parts"][0]["name"], "Lead <1> & \"Co\"");
  EXPECT_EQ(j["parts"][1]["name"], "\xC3\xA9t\xC3\xA9");
  EXPECT_EQ(j["parts"][1]["clefs"][0], "F");  // a bass part gets the bass clef
  EXPECT_EQ(j["parts"][0]["clefs"][0], "G");
}

TEST(music, musicxml_every_measure_sums_and_onsets_survive) {
  // 4/4 at 480 ticks per quarter (40 ticks per division): 16ths, dotted notes, eighth triplets, rests,
  // chords, overlapping notes of different lengths, more simultaneous lengths than four voices hold, a long
  // note over two bar lines, and a piano range wide enough for a grand staff.
  midi::Score s = empty_score();
  add_note(s, 76, 0, 120), add_note(s, 77, 120, 240), add_note(s, 79, 240, 480);  // 16th 16th eighth
  add_note(s, 81, 480, 840), add_note(s, 79, 840, 960);                           // dotted eighth + 16th
  add_note(s, 77, 960, 1120), add_note(s, 76, 1120, 1280), add_note(s, 74, 1280, 1440);  // triplets
  add_note(s, 72, 1600, 1680);  // a 16th triplet after a triplet-eighth rest
  add_chord(s, {48, 52, 55}, 0, 960);                                              // half-note chord
  add_note(s, 43, 0, 1920);                                                        // whole note under it
  add_note(s, 84, 1920, 2400), add_note(s, 86, 1920, 2160), add_note(s, 88, 1920, 2040),
      add_note(s, 89, 1920, 2880), add_note(s, 91, 1920, 3360);  // five lengths at one onset
  add_note(s, 60, 2880, 6720);                                   // beat 3 of bar 2 to the end of bar 4
  add_note(s, 67, 4000, 4160), add_note(s, 69, 4160, 4320);      // off-beat triplet eighths
  const midi::Score q = music::quantize_for_musicxml(s);
  ASSERT_EQ(q.ticks_per_quarter, 12);
  ASSERT_EQ(q.notes.size(), s.notes.size());
  // Notes already on the grid stay where they are.
  OnsetPitch expected;
  for (const midi::Note& n : s.notes) expected.insert({n.onset_tick / 40, n.pitch});
  EXPECT_EQ(score_notes(q), expected);

  const json j = check_xml(music::to_musicxml(s));
  expect_consistent(j, "hand-built");
  EXPECT_EQ(output_notes(j), expected);
  ASSERT_EQ(j["parts"].size(), 1u);
  const json& p = j["parts"][0];
  EXPECT_EQ(p["staves"], 2);  // piano from G2 to G6
  EXPECT_GT(p["backups"].get<int>(), 0);
  EXPECT_GT(p["chords"].get<int>(), 0);
  EXPECT_GE(p["tuplets"].get<int>(), 3);
  // The half-note chord keeps its length as one chord; the whole note under it is another voice.
  auto at0 = notes_at(p, 0);
  int half_chord = 0;
  for (const json& n : at0) half_chord += n[2].get<int>() == 24 && n[1].get<int>() >= 48 && n[1].get<int>() <= 55;
  EXPECT_EQ(half_chord, 3);
  // The long note: tied over bar lines, merged back to its full length (96 divisions).
  auto at72 = notes_at(p, 72);
  ASSERT_EQ(at72.size(), 1u);
  EXPECT_EQ(at72[0][2], 96);
}

TEST(music, musicxml_key_signatures_and_spelling) {
  struct Case {
    int sharps;
    bool minor;
    std::initializer_list<int> pitches;
    int fifths;
    std::string mode;
  };
  const Case cases[] = {
      {0, false, {60, 64, 67, 72}, 0, "major"},
      {-3, false, {63, 67, 70, 75, 68, 63}, -3, "major"},
      {3, true, {66, 69, 73, 78, 65, 66}, 3, "minor"},
      // No key signature: estimated from the notes (Eb major scale and triads).
      {99, false, {51, 55, 58, 63, 65, 67, 68, 70, 72, 74, 75, 58, 63, 55, 51}, -3, "major"},
  };
  for (const Case& c : cases) {
    const json j = check_xml(music::to_musicxml(key_score(c.sharps, c.minor, c.pitches)));
    expect_consistent(j, "key " + std::to_string(c.sharps));
    ASSERT_FALSE(j["parts"][0]["keys"].empty());
    EXPECT_EQ(j["parts"][0]["keys"][0][1], c.fifths) << "sharps " << c.sharps;
    EXPECT_EQ(j["parts"][0]["keys"][0][2], c.mode) << "sharps " << c.sharps;
  }
  // Spelling follows the key: Eb major says E-flat (not D-sharp) without an accidental; F# minor writes its
  // E# (leading tone) with a sharp.
  std::string eb = music::to_musicxml(key_score(-3, false, {63, 67, 70}));
  EXPECT_NE(eb.find("<step>E</step><alter>-1</alter>"), std::string::npos);
  EXPECT_EQ(eb.find("<step>D</step><alter>1</alter>"), std::string::npos);
  EXPECT_EQ(eb.find("<accidental>"), std::string::npos);
  std::string fs_minor = music::to_musicxml(key_score(3, true, {66, 65, 66}));
  EXPECT_NE(fs_minor.find("<step>E</step><alter>1</alter>"), std::string::npos);
  EXPECT_NE(fs_minor.find("<accidental>sharp</accidental>"), std::string::npos);
}

TEST(music, musicxml_time_signature_change_3_4_to_4_4) {
  midi::Score s = empty_score();
  add_time_signature(s, 0, 3, 4);
  add_time_signature(s, 2 * 1440, 4, 4);
  for (int64_t t = 0; t < 2 * 1440 + 2 * 1920; t += 480) add_note(s, 67 + int(t / 480 % 5), t, t + 480);
  const json j = check_xml(music::to_musicxml(s));
  expect_consistent(j, "3/4 -> 4/4");
  const json& ms = j["parts"][0]["measures"];
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_EQ(ms[0]["time"], json::array({3, 4}));
  EXPECT_TRUE(ms[1]["time"].is_null());
  EXPECT_EQ(ms[2]["time"], json::array({4, 4}));
  EXPECT_EQ(ms[0]["expected"], 36);
  EXPECT_EQ(ms[3]["expected"], 48);
  EXPECT_EQ(output_notes(j).size(), s.notes.size());
}

TEST(music, musicxml_note_across_a_bar_line_is_tied) {
  midi::Score s = empty_score();
  add_note(s, 62, 0, 1440);
  add_note(s, 64, 1440, 2400);  // beat 4 of bar 1 to beat 2 of bar 2 (a half note)
  add_note(s, 65, 2400, 2880);
  add_note(s, 67, 2880, 3840);
  const std::string xml = music::to_musicxml(s);
  const json j = check_xml(xml);
  expect_consistent(j, "tie");
  const json& p = j["parts"][0];
  EXPECT_EQ(p["ties"], 1);
  auto n = notes_at(p, 36);
  ASSERT_EQ(n.size(), 1u);
  EXPECT_EQ(n[0][1], 64);
  EXPECT_EQ(n[0][2], 24);  // merged across the bar line
  // The start is in measure 1, the stop in measure 2, both as <tie> (sound) and <tied> (notation).
  size_t m2 = xml.find("<measure number=\"2\">");
  size_t start = xml.find("<tied type=\"start\"/>"), stop = xml.find("<tied type=\"stop\"/>");
  ASSERT_NE(m2, std::string::npos);
  EXPECT_LT(start, m2);
  EXPECT_GT(stop, m2);
}

TEST(music, musicxml_drums_are_an_unpitched_percussion_part) {
  midi::Score s = empty_score();
  for (int64_t t = 0; t < 1920; t += 240) {
    add_note(s, 42, t, t + 60);
    s.notes.back().drum = true, s.notes.back().channel = 9;
  }
  for (int64_t t : {0, 960}) add_note(s, 36, t, t + 60), s.notes.back().drum = true, s.notes.back().channel = 9;
  for (int64_t t : {480, 1440}) add_note(s, 38, t, t + 60), s.notes.back().drum = true, s.notes.back().channel = 9;
  add_note(s, 60, 0, 1920);
  std::sort(s.notes.begin(), s.notes.end(),
            [](const midi::Note& a, const midi::Note& b) { return a.onset_tick < b.onset_tick; });
  const std::string xml = music::to_musicxml(s);
  const json j = check_xml(xml);
  expect_consistent(j, "drums");
  ASSERT_EQ(j["parts"].size(), 2u);
  const json& piano = j["parts"][0];
  const json& drums = j["parts"][1];
  EXPECT_EQ(piano["unpitched"], 0);
  EXPECT_EQ(drums["pitched"], 0);
  EXPECT_EQ(drums["unpitched"], 12);
  EXPECT_EQ(drums["clefs"][0], "percussion");
  EXPECT_EQ(output_notes(j), score_notes(music::quantize_for_musicxml(s)));  // drum pitches via instrument ids
  EXPECT_NE(xml.find("<midi-unpitched>37</midi-unpitched>"), std::string::npos);  // bass drum 1 = 36 + 1
}

TEST(music, musicxml_tempo_marks) {
  midi::Score s = empty_score();
  s.tempos[0].us_per_quarter = 666667;  // 90 BPM
  midi::TempoChange t;
  t.tick = 2 * 1920 + 960;
  t.us_per_quarter = 428571;  // 140 BPM, mid bar 3
  s.tempos.push_back(t);
  for (int64_t k = 0; k < 16; ++k) add_note(s, 60 + int(k % 7), k * 480, k * 480 + 480);
  const json j = check_xml(music::to_musicxml(s));
  expect_consistent(j, "tempo");
  const json& tempos = j["parts"][0]["tempos"];
  ASSERT_EQ(tempos.size(), 2u);
  EXPECT_EQ(tempos[0][0], 0);
  EXPECT_NEAR(tempos[0][1].get<double>(), 90.0, 0.01);
  EXPECT_EQ(tempos[0][2], "90");
  EXPECT_EQ(tempos[1][0], 2 * 48 + 24);
  EXPECT_NEAR(tempos[1][1].get<double>(), 140.0, 0.01);
}

TEST(music, musicxml_rejects_options_out_of_range) {
  midi::Score s = empty_score();
  music::MusicXmlOptions opt;
  opt.divisions = 0;
  EXPECT_THROW(music::to_musicxml(s, opt), Error);
  opt.divisions = 12;
  opt.key_fifths = 8;
  EXPECT_THROW(music::to_musicxml(s, opt), Error);
  opt.key_fifths = -2;  // a forced key is used as given
  const json j = check_xml(music::to_musicxml(key_score(99, false, {60, 62, 64}), opt));
  expect_consistent(j, "forced key");
  EXPECT_EQ(j["parts"][0]["keys"][0][1], -2);
}

TEST(music, musicxml_sample_mid) {
  const fs::path path = xmtest::source_dir() / "samples" / "sample.mid";
  const midi::Score s = midi::read_midi_file(path);
  ASSERT_FALSE(s.notes.empty());
  const midi::Score q = music::quantize_for_musicxml(s);
  const json j = check_xml(music::to_musicxml(s));
  expect_consistent(j, path.string());
  EXPECT_EQ(output_notes(j), score_notes(q));
  EXPECT_EQ(output_notes(j).size(), s.notes.size());
}

TEST(music, musicxml_corpus_pop909_and_nottingham) {
  XM_REQUIRE_DATASET(pop909, "pop909");
  XM_REQUIRE_DATASET(nottingham, "nottingham");
  // POP909 010 changes its meter (2/4 -> 1/4 -> 2/4) inside bars.
  std::vector<fs::path> files = {pop909 / "POP909" / "001" / "001.mid", pop909 / "POP909" / "010" / "010.mid",
                                 pop909 / "POP909" / "050" / "050.mid", pop909 / "POP909" / "777" / "777.mid"};
  for (const char* name : {"ashover1.mid", "jigs10.mid", "reelsa-c5.mid", "waltzes3.mid", "hpps12.mid"})
    if (fs::exists(nottingham / "MIDI" / name)) files.push_back(nottingham / "MIDI" / name);
  ASSERT_GE(files.size(), 7u);
  for (const fs::path& f : files) {
    const midi::Score s = midi::read_midi_file(f);
    const midi::Score q = music::quantize_for_musicxml(s);
    const json j = check_xml(music::to_musicxml(s));
    expect_consistent(j, f.string());
    EXPECT_EQ(output_notes(j), score_notes(q)) << f;
    EXPECT_EQ(output_notes(j).size(), s.notes.size()) << f;
  }
}

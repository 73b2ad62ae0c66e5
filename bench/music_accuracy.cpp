// music_accuracy: measures the chord recogniser and the key estimator of src/music against POP909's
// annotations (chord_midi.txt, key_audio.txt), prints tables and writes JSON. Not a unit test: the
// figures go to docs/music-analysis.md with the command line that produced them.
//
//   music_accuracy [--pop909 DIR] [--first N] [--last N] [--json FILE] [--sweep]
//                  [--bass X] [--bass-tone X] [--penalty X] [--nochord X]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "music/analysis.h"

namespace fs = std::filesystem;
using namespace xm;
using namespace xm::music;

namespace {

// ---- annotations -------------------------------------------------------------------------------------

struct Segment {
  double start = 0, end = 0;
  std::string label;  // as written
  bool known = false; // the label maps into our vocabulary
  Chord chord;        // mapped
};

Segment parse_segment(double a, double b, const std::string& label) {
  Segment s{a, b, label, false, Chord{}};
  s.known = parse_chord_label(label, &s.chord);
  return s;
}

std::vector<std::vector<std::string>> read_tsv(const fs::path& p) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(read_file_text(p));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::vector<std::string> cols;
    std::istringstream ls(line);
    std::string c;
    while (ls >> c) cols.push_back(c);
    if (!cols.empty()) rows.push_back(cols);
  }
  return rows;
}

struct Song {
  std::string id;
  midi::Score score;
  std::vector<Segment> chords;
  bool has_key = false;
  Key key;              // the annotated key that lasts longest
  int key_segments = 0; // how many key segments the annotation has
  // Per span unit: span bounds in seconds and profiles (computed once, reused by every option set).
  std::vector<std::vector<std::pair<double, double>>> span_s;
  std::vector<std::vector<ChordProfile>> profiles;
  int64_t phase_estimated = 0;  // estimate_beat_phase
  double phase_annotated = 0;   // circular mean of the annotated beats' ticks modulo a quarter
};

// Circular distance between two phases (ticks modulo tpq).
double phase_distance(double a, double b, double tpq) {
  double d = std::fmod(std::fabs(a - b), tpq);
  return std::min(d, tpq - d);
}

// Span variants: the three units on the file's tick grid, the same after align_beats, and the annotated
// beats of beat_midi.txt (which separates the recogniser from the grid).
constexpr int kVariants = 7;
const char* const kUnitNames[kVariants] = {"beat",         "half bar",         "bar",           "beat/aligned",
                                           "halfbar/aligned", "bar/aligned", "annotated beats"};

Song load_song(const fs::path& dir, const std::string& id) {
  Song s;
  s.id = id;
  s.score = midi::read_midi_file(dir / (id + ".mid"));
  for (const auto& row : read_tsv(dir / "chord_midi.txt")) {
    if (row.size() < 3) throw Error((dir / "chord_midi.txt").string() + ": a line with fewer than 3 columns");
    s.chords.push_back(parse_segment(std::atof(row[0].c_str()), std::atof(row[1].c_str()), row[2]));
  }
  std::map<std::pair<int, bool>, double> key_time;
  for (const auto& row : read_tsv(dir / "key_audio.txt")) {
    if (row.size() < 3) continue;
    Key k;
    if (!parse_key(row[2], &k)) {
      std::fprintf(stderr, "%s: key label \"%s\" not understood, skipped\n", id.c_str(), row[2].c_str());
      continue;
    }
    key_time[{k.tonic, k.minor}] += std::atof(row[1].c_str()) - std::atof(row[0].c_str());
    ++s.key_segments;
  }
  double best = -1;
  for (auto& [k, t] : key_time)
    if (t > best) best = t, s.key = Key{k.first, k.second, 0.0}, s.has_key = true;
  const midi::TempoMap tm = s.score.tempo_map();
  const int64_t tpq = s.score.ticks_per_quarter;
  const int64_t shift = (tpq - estimate_beat_phase(s.score)) % tpq;
  const midi::Score aligned = shift_ticks(s.score, shift);
  const ChordSpanUnit units[3] = {ChordSpanUnit::Beat, ChordSpanUnit::HalfBar, ChordSpanUnit::Bar};
  for (int v = 0; v < 6; ++v) {
    const midi::Score& sc = v < 3 ? s.score : aligned;
    const int64_t back = v < 3 ? 0 : shift;  // aligned ticks -> the file's ticks (the annotation's clock)
    auto bounds = chord_span_bounds(sc, units[v % 3]);
    std::vector<std::pair<double, double>> sec;
    for (auto& [a, b] : bounds)
      sec.emplace_back(tm.ticks_to_seconds(std::max<int64_t>(a - back, 0)), tm.ticks_to_seconds(b - back));
    s.span_s.push_back(std::move(sec));
    s.profiles.push_back(chord_profiles(sc, bounds));
  }
  std::vector<double> beats;
  for (const auto& row : read_tsv(dir / "beat_midi.txt"))
    if (!row.empty()) beats.push_back(std::atof(row[0].c_str()));
  double cs = 0, sn = 0;
  for (double b : beats) {
    double ang = 2 * M_PI * double(tm.seconds_to_ticks(b) % tpq) / double(tpq);
    cs += std::cos(ang), sn += std::sin(ang);
  }
  s.phase_annotated = std::fmod(std::atan2(sn, cs) / (2 * M_PI) * double(tpq) + double(tpq), double(tpq));
  s.phase_estimated = estimate_beat_phase(s.score);
  std::vector<std::pair<int64_t, int64_t>> bounds;
  std::vector<std::pair<double, double>> sec;
  for (size_t i = 0; i + 1 < beats.size(); ++i) {
    bounds.emplace_back(tm.seconds_to_ticks(beats[i]), tm.seconds_to_ticks(beats[i + 1]));
    sec.emplace_back(beats[i], beats[i + 1]);
  }
  s.span_s.push_back(std::move(sec));
  s.profiles.push_back(chord_profiles(s.score, bounds));
  return s;
}

// ---- chord scoring -------------------------------------------------------------------------------------

enum Metric { kExact, kRoot, kMajMin, kTriad, kMetrics };
const char* const kMetricNames[kMetrics] = {"root+quality (11 classes)", "root only", "maj/min (MIREX majmin)",
                                            "triads (7ths dropped)"};

// Coarser vocabularies; -1 = outside it (majmin: excluded from the reference, wrong as an estimate).
int majmin_class(const Chord& c) {
  switch (c.quality) {
    case ChordQuality::None: return 0;
    case ChordQuality::Major: case ChordQuality::Dominant7: case ChordQuality::Major7: return 1 + 2 * c.root;
    case ChordQuality::Minor: case ChordQuality::Minor7: return 2 + 2 * c.root;
    default: return -1;
  }
}
int triad_class(const Chord& c) {
  ChordQuality q = c.quality;
  if (q == ChordQuality::Dominant7 || q == ChordQuality::Major7) q = ChordQuality::Major;
  if (q == ChordQuality::Minor7) q = ChordQuality::Minor;
  if (q == ChordQuality::HalfDiminished7) q = ChordQuality::Diminished;
  if (q == ChordQuality::None) return 0;
  return 1 + int(q) * 12 + c.root;
}

struct Tally {
  double hit[kMetrics] = {}, total[kMetrics] = {};
  // Per reference quality: time, and time recognised exactly.
  double q_total[kNumChordQualities] = {}, q_hit[kNumChordQualities] = {};
  double unknown_s = 0;  // annotated time whose label is outside the mapping
  void add(const Tally& o) {
    for (int m = 0; m < kMetrics; ++m) hit[m] += o.hit[m], total[m] += o.total[m];
    for (int q = 0; q < kNumChordQualities; ++q) q_total[q] += o.q_total[q], q_hit[q] += o.q_hit[q];
    unknown_s += o.unknown_s;
  }
  double pct(int m) const { return total[m] > 0 ? 100.0 * hit[m] / total[m] : 0.0; }
};

void score_pair(const Chord& ref, const Chord& est, double dt, Tally* t) {
  bool exact = ref == est;
  t->total[kExact] += dt, t->hit[kExact] += exact ? dt : 0;
  t->q_total[int(ref.quality)] += dt, t->q_hit[int(ref.quality)] += exact ? dt : 0;
  if (ref.quality != ChordQuality::None) {
    t->total[kRoot] += dt;
    if (est.quality != ChordQuality::None && est.root == ref.root) t->hit[kRoot] += dt;
  }
  int rm = majmin_class(ref);
  if (rm >= 0) {
    t->total[kMajMin] += dt;
    if (majmin_class(est) == rm) t->hit[kMajMin] += dt;
  }
  t->total[kTriad] += dt;
  if (triad_class(est) == triad_class(ref)) t->hit[kTriad] += dt;
}

// Overlap of the annotated segments with our spans (time after our last span counts as our N).
Tally evaluate_song(const Song& s, int unit, const ChordOptions& opt) {
  std::vector<Chord> est = recognize_chord_sequence(s.profiles[size_t(unit)], opt);
  const auto& spans = s.span_s[size_t(unit)];
  Tally t;
  size_t j = 0;
  for (const Segment& seg : s.chords) {
    if (seg.end <= seg.start) continue;
    if (!seg.known) {
      t.unknown_s += seg.end - seg.start;
      continue;
    }
    while (j < spans.size() && spans[j].second <= seg.start) ++j;
    double covered = 0;
    for (size_t k = j; k < spans.size() && spans[k].first < seg.end; ++k) {
      double a = std::max(seg.start, spans[k].first), b = std::min(seg.end, spans[k].second);
      if (b <= a) continue;
      score_pair(seg.chord, est[k], b - a, &t);
      covered += b - a;
    }
    double gap = (seg.end - seg.start) - covered;  // before the first or after the last span: silence
    if (gap > 1e-9) score_pair(seg.chord, Chord{}, gap, &t);
  }
  return t;
}

Tally evaluate(const std::vector<Song>& songs, int unit, const ChordOptions& opt, size_t from, size_t to) {
  Tally all;
  for (size_t i = from; i < to && i < songs.size(); ++i) all.add(evaluate_song(songs[i], unit, opt));
  return all;
}

// ---- keys ----------------------------------------------------------------------------------------------

struct KeyTally {
  int n = 0, exact = 0, fifth = 0, relative = 0, parallel = 0, other = 0;
  double mirex = 0;
  void add(const Key& est, const Key& ref) {
    ++n;
    double s = mirex_key_score(est, ref);
    mirex += s;
    if (s == 1.0) ++exact;
    else if (s == 0.5) ++fifth;
    else if (s == 0.3) ++relative;
    else if (s == 0.2) ++parallel;
    else ++other;
  }
  json to_json() const {
    return json{{"songs", n}, {"exact", n ? double(exact) / n : 0}, {"fifth", n ? double(fifth) / n : 0},
                {"relative", n ? double(relative) / n : 0}, {"parallel", n ? double(parallel) / n : 0},
                {"other", n ? double(other) / n : 0}, {"mirex_weighted", n ? mirex / n : 0}};
  }
};

struct Args {
  fs::path root;
  int first = 1, last = 909;
  std::string json_out;
  bool sweep = false;
  ChordOptions opt;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "music_accuracy: %s\nusage: music_accuracy [--pop909 DIR] [--first N] [--last N] [--json FILE]"
               " [--sweep] [--bass X] [--bass-tone X] [--penalty X] [--nochord X]\n",
               why.c_str());
  std::exit(2);
}

Args parse_args(int argc, char** argv) {
  Args a;
  const char* shared = std::getenv("XM_SHARED_DIR");
  a.root = fs::path(shared ? shared : XM_DEFAULT_SHARED_DIR) / "datasets" / "pop909" / "POP909";
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(f + " needs a value");
      return argv[++i];
    };
    if (f == "--pop909") a.root = value();
    else if (f == "--first") a.first = std::atoi(value().c_str());
    else if (f == "--last") a.last = std::atoi(value().c_str());
    else if (f == "--json") a.json_out = value();
    else if (f == "--sweep") a.sweep = true;
    else if (f == "--bass") a.opt.bass_weight = std::atof(value().c_str());
    else if (f == "--penalty") a.opt.change_penalty = std::atof(value().c_str());
    else if (f == "--nochord") a.opt.no_chord_score = std::atof(value().c_str());
    else if (f == "--bass-tone") a.opt.bass_tone_weight = std::atof(value().c_str());
    else usage("unknown flag " + f);
  }
  if (a.first < 1 || a.last > 909 || a.first > a.last) usage("--first/--last must satisfy 1 <= first <= last <= 909");
  return a;
}

json tally_json(const Tally& t) {
  json j;
  for (int m = 0; m < kMetrics; ++m) j[kMetricNames[m]] = t.total[m] > 0 ? t.hit[m] / t.total[m] : 0.0;
  j["annotated_seconds"] = t.total[kExact];
  j["unmapped_seconds"] = t.unknown_s;
  json q;
  for (int i = 0; i < kNumChordQualities; ++i)
    q[chord_quality_name(ChordQuality(i))] =
        json{{"seconds", t.q_total[i]}, {"recall", t.q_total[i] > 0 ? t.q_hit[i] / t.q_total[i] : 0.0}};
  j["per_quality"] = q;
  return j;
}

void sweep(const std::vector<Song>& songs, size_t dev_end) {
  struct Row { double exact, root; int unit; ChordOptions o; };
  std::vector<Row> rows;
  for (int u : {3, 6})
    for (double bass : {0.1, 0.2, 0.3, 0.4})
      for (double tone : {0.0, 0.05, 0.1, 0.15, 0.2})
        for (double pen : {0.1, 0.15, 0.2, 0.25, 0.3}) {
          ChordOptions o;
          o.bass_weight = bass, o.bass_tone_weight = tone, o.change_penalty = pen;
          Tally t = evaluate(songs, u, o, 0, dev_end);
          rows.push_back({t.pct(kExact), t.pct(kRoot), u, o});
        }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.exact > b.exact; });
  std::printf("\nsweep over the first %zu songs (development set), best 15 by root+quality:\n", dev_end);
  std::printf("%-16s %6s %9s %8s %9s %7s\n", "unit", "bass", "bass-tone", "penalty", "rt+qual%", "root%");
  for (size_t i = 0; i < rows.size() && i < 15; ++i)
    std::printf("%-16s %6.2f %9.2f %8.2f %9.2f %7.2f\n", kUnitNames[rows[i].unit], rows[i].o.bass_weight,
                rows[i].o.bass_tone_weight, rows[i].o.change_penalty, rows[i].exact, rows[i].root);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = parse_args(argc, argv);
  if (!fs::is_directory(args.root)) {
    std::fprintf(stderr, "music_accuracy: %s not found (hint: --pop909 DIR or XM_SHARED_DIR)\n",
                 args.root.string().c_str());
    return 1;
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<Song> songs;
  int failed = 0;
  for (int i = args.first; i <= args.last; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "%03d", i);
    try {
      songs.push_back(load_song(args.root / id, id));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "music_accuracy: song %s skipped: %s\n", id, e.what());
      ++failed;
    }
  }
  double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("POP909: %zu songs loaded (%d skipped) from %s in %.1f s\n", songs.size(), failed,
              args.root.string().c_str(), load_s);
  // Songs 001-100 tune the options (--sweep); the rest is held out.
  size_t dev_end = 0;
  while (dev_end < songs.size() && std::atoi(songs[dev_end].id.c_str()) <= 100) ++dev_end;
  if (args.sweep) {
    sweep(songs, dev_end);
    return 0;
  }

  int near16 = 0, near8 = 0;
  for (const Song& s : songs) {
    double d = phase_distance(double(s.phase_estimated), s.phase_annotated, double(s.score.ticks_per_quarter));
    near16 += d <= s.score.ticks_per_quarter / 16.0;
    near8 += d <= s.score.ticks_per_quarter / 8.0;
  }
  std::printf("beat phase (estimate_beat_phase vs beat_midi.txt): within a 64th note %d of %zu songs (%.1f%%),"
              " within a 32nd %d (%.1f%%)\n",
              near16, songs.size(), 100.0 * near16 / std::max<size_t>(1, songs.size()), near8,
              100.0 * near8 / std::max<size_t>(1, songs.size()));

  json out;
  out["beat_phase"] = json{{"songs", songs.size()}, {"within_64th", near16}, {"within_32nd", near8}};
  out["dataset"] = "POP909 chord_midi.txt / key_audio.txt";
  out["songs"] = songs.size();
  out["skipped"] = failed;
  out["options"] = json{{"bass_weight", args.opt.bass_weight}, {"bass_tone_weight", args.opt.bass_tone_weight},
                        {"change_penalty", args.opt.change_penalty},
                        {"no_chord_score", args.opt.no_chord_score}};
  std::printf("\nchords: share of annotated time where we agree (options: bass %.2f, bass-tone %.2f, penalty %.2f,"
              " nochord %.2f)\n",
              args.opt.bass_weight, args.opt.bass_tone_weight, args.opt.change_penalty, args.opt.no_chord_score);
  std::printf("%-16s %-10s %11s %9s %11s %10s\n", "unit", "songs", "rt+qual %", "root %", "majmin %", "triads %");
  Tally beat_all;
  for (int u = 0; u < kVariants; ++u) {
    struct Part { const char* name; size_t from, to; } parts[3] = {
        {"all", 0, songs.size()}, {"001-100", 0, dev_end}, {"101-909", dev_end, songs.size()}};
    for (const Part& p : parts) {
      if (p.to <= p.from) continue;
      Tally t = evaluate(songs, u, args.opt, p.from, p.to);
      if (u == 3 && std::string(p.name) == "all") beat_all = t;
      std::printf("%-16s %-10s %11.2f %9.2f %11.2f %10.2f\n", kUnitNames[u], p.name, t.pct(kExact), t.pct(kRoot),
                  t.pct(kMajMin), t.pct(kTriad));
      out["chords"][kUnitNames[u]][p.name] = tally_json(t);
    }
    // Without smoothing, for comparison.
    ChordOptions raw = args.opt;
    raw.change_penalty = 0;
    Tally t = evaluate(songs, u, raw, 0, songs.size());
    std::printf("%-16s %-10s %11.2f %9.2f %11.2f %10.2f   (no smoothing)\n", kUnitNames[u], "all", t.pct(kExact),
                t.pct(kRoot), t.pct(kMajMin), t.pct(kTriad));
    out["chords"][kUnitNames[u]]["all_no_smoothing"] = tally_json(t);
  }
  std::printf("\nper annotated quality (aligned beat spans, all songs): recall of root+quality\n");
  std::printf("%-7s %10s %8s\n", "quality", "seconds", "recall%");
  for (int q = 0; q < kNumChordQualities; ++q)
    std::printf("%-7s %10.0f %8.2f\n", chord_quality_name(ChordQuality(q)).c_str(), beat_all.q_total[q],
                beat_all.q_total[q] > 0 ? 100.0 * beat_all.q_hit[q] / beat_all.q_total[q] : 0.0);
  std::printf("unmapped annotation time: %.0f s of %.0f s\n", beat_all.unknown_s, beat_all.total[kExact]);

  std::printf("\nkeys: whole-song estimate vs the longest annotated key (key_audio.txt)\n");
  std::printf("%-10s %-12s %6s %7s %7s %9s %9s %7s %7s\n", "profile", "songs", "n", "exact%", "fifth%", "relative%",
              "parallel%", "other%", "MIREX");
  for (KeyProfile p : {KeyProfile::KrumhanslKessler, KeyProfile::Temperley, KeyProfile::AlbrechtShanahan,
                       KeyProfile::AardenEssen, KeyProfile::BellmanBudge}) {
    KeyTally all, single;
    for (const Song& s : songs) {
      if (!s.has_key) continue;
      Key k = estimate_key(s.score, p);
      all.add(k, s.key);
      if (s.key_segments == 1) single.add(k, s.key);
    }
    for (auto [name, kt] : {std::pair<const char*, KeyTally*>{"all", &all}, {"single-key", &single}}) {
      std::printf("%-10s %-12s %6d %7.2f %7.2f %9.2f %9.2f %7.2f %7.3f\n", key_profile_name(p).c_str(), name, kt->n,
                  100.0 * kt->exact / std::max(1, kt->n), 100.0 * kt->fifth / std::max(1, kt->n),
                  100.0 * kt->relative / std::max(1, kt->n), 100.0 * kt->parallel / std::max(1, kt->n),
                  100.0 * kt->other / std::max(1, kt->n), kt->mirex / std::max(1, kt->n));
      out["keys"][key_profile_name(p)][name] = kt->to_json();
    }
  }
  out["default_key_profile"] = key_profile_name(kDefaultKeyProfile);
  double total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("\ntotal %.1f s\n", total_s);
  if (!args.json_out.empty()) {
    write_file_atomic(args.json_out, out.dump(2) + "\n");
    std::printf("wrote %s\n", args.json_out.c_str());
  }
  return 0;
}

// chords.cpp: chord recognition by template matching: per span (beat, half bar or bar) a duration-weighted
// pitch-class profile and a bass profile (the lowest sounding note over time), each chord template scored
// by cosine similarity plus a bonus when the bass is its root (a smaller one when the bass is another of
// its notes: an inversion), then a Viterbi pass that charges a penalty
// for every chord change. Not a functional-harmony analyser (no roman numerals, no key context).
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "music/analysis.h"

namespace xm::music {

namespace {

const char* const kRootNames[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};

struct Template {
  ChordQuality quality;
  const char* name;
  std::vector<int> intervals;  // semitones above the root
};

const std::vector<Template>& templates() {
  static const std::vector<Template> t = {
      {ChordQuality::Major, "maj", {0, 4, 7}},        {ChordQuality::Minor, "min", {0, 3, 7}},
      {ChordQuality::Diminished, "dim", {0, 3, 6}},   {ChordQuality::Augmented, "aug", {0, 4, 8}},
      {ChordQuality::Dominant7, "7", {0, 4, 7, 10}},  {ChordQuality::Major7, "maj7", {0, 4, 7, 11}},
      {ChordQuality::Minor7, "min7", {0, 3, 7, 10}},  {ChordQuality::HalfDiminished7, "hdim7", {0, 3, 6, 10}},
      {ChordQuality::Sus2, "sus2", {0, 2, 7}},        {ChordQuality::Sus4, "sus4", {0, 5, 7}},
  };
  return t;
}

// Small per-quality offsets that settle ties between templates that share notes (a triad over its
// seventh chord, major over the symmetric augmented, ...): common qualities first.
double quality_prior(ChordQuality q) {
  switch (q) {
    case ChordQuality::Major: return 0.0;
    case ChordQuality::Minor: return -0.005;
    case ChordQuality::Dominant7: return -0.01;
    case ChordQuality::Minor7: return -0.01;
    case ChordQuality::Major7: return -0.015;
    case ChordQuality::Sus4: return -0.02;
    case ChordQuality::Sus2: return -0.02;
    case ChordQuality::Diminished: return -0.03;
    case ChordQuality::HalfDiminished7: return -0.03;
    case ChordQuality::Augmented: return -0.04;
    case ChordQuality::None: return 0.0;
  }
  return 0.0;
}

// The candidates: index 0 = N, then 12 roots x 10 qualities.
constexpr int kCandidates = 1 + 12 * 10;
Chord candidate(int c) {
  if (c == 0) return Chord{};
  int q = (c - 1) % 10, root = (c - 1) / 10;
  return Chord{root, templates()[size_t(q)].quality};
}

// Score of every candidate for one span; weight and bass need not be normalised.
void score_candidates(const std::array<double, 12>& weight, const std::array<double, 12>& bass,
                      const ChordOptions& opt, double* scores) {
  double norm2 = 0, bass_sum = 0;
  for (int i = 0; i < 12; ++i) norm2 += weight[i] * weight[i], bass_sum += bass[i];
  if (norm2 <= 0) {  // silence: only N fits
    scores[0] = 1.0;
    for (int c = 1; c < kCandidates; ++c) scores[c] = 0.0;
    return;
  }
  double norm = std::sqrt(norm2);
  scores[0] = opt.no_chord_score;
  int c = 1;
  for (int root = 0; root < 12; ++root) {
    for (const Template& t : templates()) {
      double dot = 0, tone_bass = 0;
      for (int iv : t.intervals) dot += weight[(root + iv) % 12];
      for (size_t k = 1; k < t.intervals.size(); ++k) tone_bass += bass[(root + t.intervals[k]) % 12];
      double cosine = dot / (norm * std::sqrt(double(t.intervals.size())));
      double b = bass_sum > 0 ? bass[root] / bass_sum : 0.0;
      double bt = bass_sum > 0 ? tone_bass / bass_sum : 0.0;
      scores[c++] = cosine + opt.bass_weight * b + opt.bass_tone_weight * bt + quality_prior(t.quality);
    }
  }
}

int best_candidate(const double* scores) {
  int best = 0;
  for (int c = 1; c < kCandidates; ++c)
    if (scores[c] > scores[best] + 1e-12) best = c;
  return best;
}

}  // namespace

std::string chord_quality_name(ChordQuality q) {
  if (q == ChordQuality::None) return "N";
  for (const Template& t : templates())
    if (t.quality == q) return t.name;
  return "N";
}

std::string chord_name(const Chord& c) {
  if (c.quality == ChordQuality::None || c.root < 0) return "N";
  return std::string(kRootNames[c.root % 12]) + ":" + chord_quality_name(c.quality);
}

std::vector<int> chord_pitch_classes(const Chord& c) {
  std::vector<int> pcs;
  if (c.quality == ChordQuality::None || c.root < 0) return pcs;
  for (const Template& t : templates())
    if (t.quality == c.quality)
      for (int iv : t.intervals) pcs.push_back((c.root + iv) % 12);
  return pcs;
}

bool parse_chord_label(const std::string& label, Chord* out) {
  if (label == "N" || label == "X") {
    *out = Chord{};
    return true;
  }
  static const int kLetter[7] = {9, 11, 0, 2, 4, 5, 7};
  if (label.empty() || label[0] < 'A' || label[0] > 'G') return false;
  int root = kLetter[label[0] - 'A'];
  size_t i = 1;
  while (i < label.size() && (label[i] == '#' || label[i] == 'b')) root += label[i++] == '#' ? 1 : -1;
  std::string q;
  if (i == label.size()) {
    q = "maj";
  } else if (label[i] == ':') {
    q = label.substr(i + 1);
  } else {
    return false;
  }
  size_t slash = q.find('/');  // the bass of an inversion does not change root or quality
  if (slash != std::string::npos) q = q.substr(0, slash);
  // Extended and altered qualities fold into the nearest of ours (docs/music-analysis.md has the table).
  static const std::pair<const char*, ChordQuality> kMap[] = {
      {"maj", ChordQuality::Major},       {"", ChordQuality::Major},          {"maj6", ChordQuality::Major},
      {"min", ChordQuality::Minor},       {"min6", ChordQuality::Minor},      {"minmaj7", ChordQuality::Minor},
      {"7", ChordQuality::Dominant7},     {"9", ChordQuality::Dominant7},     {"maj7", ChordQuality::Major7},
      {"maj9", ChordQuality::Major7},     {"min7", ChordQuality::Minor7},     {"min9", ChordQuality::Minor7},
      {"min11", ChordQuality::Minor7},    {"dim", ChordQuality::Diminished},  {"dim7", ChordQuality::Diminished},
      {"hdim7", ChordQuality::HalfDiminished7}, {"aug", ChordQuality::Augmented},
      {"sus2", ChordQuality::Sus2},       {"sus4", ChordQuality::Sus4},       {"sus4(b7)", ChordQuality::Sus4},
      {"7sus4", ChordQuality::Sus4},
  };
  for (const auto& [name, quality] : kMap) {
    if (q == name) {
      *out = Chord{((root % 12) + 12) % 12, quality};
      return true;
    }
  }
  return false;
}

Chord recognize_chord(const std::array<double, 12>& weight, const std::array<double, 12>& bass,
                      const ChordOptions& opt) {
  double scores[kCandidates];
  score_candidates(weight, bass, opt, scores);
  return candidate(best_candidate(scores));
}

Chord recognize_chord(const std::array<double, 12>& pitch_class_weight) {
  return recognize_chord(pitch_class_weight, std::array<double, 12>{}, ChordOptions{});
}

std::vector<std::pair<int64_t, int64_t>> chord_span_bounds(const midi::Score& score, ChordSpanUnit unit) {
  int64_t end = 0;
  for (const midi::Note& n : score.notes)
    if (!n.drum) end = std::max(end, n.offset_tick);
  std::vector<std::pair<int64_t, int64_t>> spans;
  if (end <= 0) return spans;
  MeterMap meter(score);
  const int64_t tpq = meter.ticks_per_quarter();
  int64_t t = 0;
  while (t < end) {
    BarPosition p = meter.at(t);
    int64_t bar_end = p.bar_start_tick + p.ticks_per_bar;
    if (unit == ChordSpanUnit::Bar) {
      spans.emplace_back(p.bar_start_tick, bar_end);
    } else {
      // The beat: the denominator's note, or three of them in compound meters (6/8, 9/8, 12/8).
      int64_t unit_ticks = std::max<int64_t>(1, tpq * 4 / std::max(1, p.denominator));
      bool compound = p.numerator > 3 && p.numerator % 3 == 0 && p.denominator >= 8;
      int64_t beat = compound ? 3 * unit_ticks : unit_ticks;
      std::vector<int64_t> starts;
      for (int64_t b = p.bar_start_tick; b < bar_end; b += beat) starts.push_back(b);
      if (unit == ChordSpanUnit::HalfBar) {
        size_t half = (starts.size() + 1) / 2;  // an odd count puts the extra beat in the first half
        if (starts.size() >= 2) {
          spans.emplace_back(p.bar_start_tick, starts[half]);
          spans.emplace_back(starts[half], bar_end);
        } else {
          spans.emplace_back(p.bar_start_tick, bar_end);
        }
      } else {
        for (size_t i = 0; i < starts.size(); ++i)
          spans.emplace_back(starts[i], i + 1 < starts.size() ? starts[i + 1] : bar_end);
      }
    }
    t = bar_end;
  }
  return spans;
}

std::vector<ChordProfile> chord_profiles(const midi::Score& score,
                                         const std::vector<std::pair<int64_t, int64_t>>& spans) {
  std::vector<ChordProfile> out(spans.size());
  if (spans.empty()) return out;
  std::vector<std::vector<const midi::Note*>> members(spans.size());
  for (const midi::Note& n : score.notes) {
    if (n.drum || n.offset_tick <= n.onset_tick) continue;
    // First span that ends after the onset.
    auto it = std::upper_bound(spans.begin(), spans.end(), n.onset_tick,
                               [](int64_t t, const std::pair<int64_t, int64_t>& s) { return t < s.second; });
    for (; it != spans.end() && it->first < n.offset_tick; ++it) members[size_t(it - spans.begin())].push_back(&n);
  }
  std::vector<int64_t> cuts;
  for (size_t s = 0; s < spans.size(); ++s) {
    const int64_t a = spans[s].first, b = spans[s].second;
    ChordProfile& prof = out[s];
    cuts.clear();
    for (const midi::Note* n : members[s]) {
      int64_t on = std::max(n->onset_tick, a), off = std::min(n->offset_tick, b);
      if (off <= on) continue;
      prof.weight[size_t(n->pitch % 12)] += double(off - on);
      cuts.push_back(on);
      cuts.push_back(off);
    }
    // Bass: over each stretch between note boundaries, the lowest sounding pitch.
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      int64_t x = cuts[i], y = cuts[i + 1];
      int lowest = 128;
      for (const midi::Note* n : members[s])
        if (n->onset_tick <= x && n->offset_tick >= y) lowest = std::min(lowest, n->pitch);
      if (lowest < 128) prof.bass[size_t(lowest % 12)] += double(y - x);
    }
  }
  return out;
}

std::vector<Chord> recognize_chord_sequence(const std::vector<ChordProfile>& profiles, const ChordOptions& opt) {
  const size_t T = profiles.size();
  std::vector<Chord> out(T);
  if (T == 0) return out;
  std::vector<double> scores(T * kCandidates);
  for (size_t t = 0; t < T; ++t) score_candidates(profiles[t].weight, profiles[t].bass, opt, &scores[t * kCandidates]);
  if (opt.change_penalty <= 0) {
    for (size_t t = 0; t < T; ++t) out[t] = candidate(best_candidate(&scores[t * kCandidates]));
    return out;
  }
  // Viterbi: total = sum of span scores - change_penalty x number of changes.
  std::vector<double> total(kCandidates), next(kCandidates);
  std::vector<int32_t> from(T * kCandidates);
  for (int c = 0; c < kCandidates; ++c) total[size_t(c)] = scores[size_t(c)];
  for (size_t t = 1; t < T; ++t) {
    int arg = best_candidate(total.data());
    double best = total[size_t(arg)];
    for (int c = 0; c < kCandidates; ++c) {
      double stay = total[size_t(c)], move = best - opt.change_penalty;
      bool moved = move > stay;
      next[size_t(c)] = (moved ? move : stay) + scores[t * kCandidates + size_t(c)];
      from[t * kCandidates + size_t(c)] = moved ? arg : c;
    }
    std::swap(total, next);
  }
  int c = best_candidate(total.data());
  for (size_t t = T; t-- > 0;) {
    out[t] = candidate(c);
    if (t > 0) c = from[t * kCandidates + size_t(c)];
  }
  return out;
}

std::vector<ChordSpan> recognize_chords(const midi::Score& score, ChordSpanUnit unit, const ChordOptions& opt) {
  std::vector<std::pair<int64_t, int64_t>> bounds = chord_span_bounds(score, unit);
  std::vector<Chord> chords = recognize_chord_sequence(chord_profiles(score, bounds), opt);
  std::vector<ChordSpan> out(bounds.size());
  for (size_t i = 0; i < bounds.size(); ++i) out[i] = ChordSpan{bounds[i].first, bounds[i].second, chords[i]};
  return out;
}

std::vector<ChordSpan> recognize_chords(const midi::Score& score, ChordSpanUnit unit) {
  return recognize_chords(score, unit, ChordOptions{});
}

}  // namespace xm::music

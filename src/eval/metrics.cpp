// metrics.cpp: see metrics.h. The per-piece music metrics, each a direct count over the notes of a Score (bars
// from music::MeterMap). Not the set comparison (compare.cpp).
#include "eval/metrics.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "core/error.h"
#include "music/analysis.h"
#include "music/scales.h"

namespace xm::eval {
namespace {

constexpr int64_t kMaxBeats = int64_t(1) << 24;  // a piece longer than this many beats gets no empty-beat rate
constexpr int kMaxBars = 1 << 20;                 // nor bar metrics beyond this many bars

// The note pattern of one bar on the onset grid: positions with an onset, and (position, key) pairs where key
// is the pitch (128 + pitch for drums, so a snare never equals an E2).
struct BarPattern {
  int64_t steps = 1;  // grid positions in the bar
  std::set<int64_t> onsets;
  std::vector<std::pair<int64_t, int>> notes;  // sorted, unique after finish()
};

double jaccard(const std::vector<std::pair<int64_t, int>>& a, const std::vector<std::pair<int64_t, int>>& b) {
  size_t i = 0, j = 0, common = 0;
  while (i < a.size() && j < b.size()) {
    if (a[i] < b[j]) {
      ++i;
    } else if (b[j] < a[i]) {
      ++j;
    } else {
      ++common, ++i, ++j;
    }
  }
  const size_t uni = a.size() + b.size() - common;
  return uni == 0 ? 1.0 : double(common) / double(uni);
}

uint16_t scale_mask(const char* name) {
  const music::Scale* s = music::find_scale(name);
  if (!s) throw Error(std::string("eval metrics: the scale table has no \"") + name + "\" scale");
  return s->mask;
}

}  // namespace

MusicFeatures compute_features(const midi::Score& score, const FeatureOptions& opt) {
  MusicFeatures f;
  const auto& notes = score.notes;
  f.notes = int64_t(notes.size());
  if (notes.empty()) return f;
  const int64_t tpq = score.ticks_per_quarter > 0 ? score.ticks_per_quarter : 480;

  // ---- extent ----
  int64_t end_tick = 0;
  double velocity_sum = 0;
  for (const midi::Note& n : notes) {
    end_tick = std::max(end_tick, std::max(n.offset_tick, n.onset_tick + 1));
    f.end_seconds = std::max(f.end_seconds, std::max(n.offset_s, n.onset_s));
    velocity_sum += n.velocity;
  }
  f.velocity_mean = velocity_sum / double(notes.size());
  if (f.end_seconds > 0) f.notes_per_second = double(f.notes) / f.end_seconds;

  // ---- pitch ----
  std::array<int64_t, 12> pc_count{};
  int lo = 128, hi = -1;
  for (const midi::Note& n : notes) {
    if (n.drum) continue;
    ++f.pitched_notes;
    ++pc_count[size_t(((n.pitch % 12) + 12) % 12)];
    lo = std::min(lo, n.pitch), hi = std::max(hi, n.pitch);
  }
  if (f.pitched_notes > 0) {
    double entropy = 0;
    for (int pc = 0; pc < 12; ++pc) {
      const double p = double(pc_count[size_t(pc)]) / double(f.pitched_notes);
      f.pitch_class_histogram[size_t(pc)] = p;
      if (p > 0) entropy -= p * std::log2(p);
    }
    f.pitch_class_entropy = entropy;
    f.pitch_range = double(hi - lo);
    const uint16_t masks[2] = {scale_mask("major"), scale_mask("minor")};
    int64_t best = 0;
    for (uint16_t mask : masks)
      for (int root = 0; root < 12; ++root) {
        int64_t in = 0;
        for (int pc = 0; pc < 12; ++pc)
          if (mask & (1u << ((pc - root + 12) % 12))) in += pc_count[size_t(pc)];
        best = std::max(best, in);
      }
    f.scale_consistency = double(best) / double(f.pitched_notes);

    // Polyphony: total sounding time of the pitched notes over the time at least one sounds.
    std::vector<std::pair<int64_t, int64_t>> iv;
    double sounding = 0;
    for (const midi::Note& n : notes)
      if (!n.drum && n.offset_tick > n.onset_tick) {
        iv.push_back({n.onset_tick, n.offset_tick});
        sounding += double(n.offset_tick - n.onset_tick);
      }
    std::sort(iv.begin(), iv.end());
    double covered = 0;
    int64_t cur_lo = 0, cur_hi = -1;
    for (const auto& [a, b] : iv) {
      if (a > cur_hi) {
        if (cur_hi > cur_lo) covered += double(cur_hi - cur_lo);
        cur_lo = a, cur_hi = b;
      } else {
        cur_hi = std::max(cur_hi, b);
      }
    }
    if (cur_hi > cur_lo) covered += double(cur_hi - cur_lo);
    if (covered > 0) f.polyphony = sounding / covered;
  }

  // ---- inter-onset interval: distinct onset ticks; the mean of the gaps telescopes to (last - first) / (k - 1)
  {
    std::map<int64_t, double> onsets;
    for (const midi::Note& n : notes) onsets.emplace(n.onset_tick, n.onset_s);
    if (onsets.size() >= 2)
      f.ioi_mean = (onsets.rbegin()->second - onsets.begin()->second) / double(onsets.size() - 1);
  }

  // ---- empty beats: quarter-note beats [k tpq, (k+1) tpq) from tick 0 to the end, a note [onset, max(offset,
  // onset + 1)) sounding in every beat it overlaps
  f.beats = (end_tick + tpq - 1) / tpq;
  if (f.beats > 0 && f.beats <= kMaxBeats) {
    std::vector<int32_t> diff(size_t(f.beats) + 1, 0);
    for (const midi::Note& n : notes) {
      const int64_t a = std::max<int64_t>(n.onset_tick, 0);
      const int64_t b = std::max(n.offset_tick, n.onset_tick + 1);
      const int64_t first = a / tpq, last = (b - 1) / tpq;
      if (first >= f.beats) continue;
      ++diff[size_t(first)];
      --diff[size_t(std::min(last + 1, f.beats))];
    }
    int64_t empty = 0, run = 0;
    for (int64_t k = 0; k < f.beats; ++k) {
      run += diff[size_t(k)];
      if (run == 0) ++empty;
    }
    f.empty_beat_rate = double(empty) / double(f.beats);
  }

  // ---- bars: density, groove, repetition, self-similarity
  const music::MeterMap meter(score);
  const int last_bar = meter.at(end_tick - 1).bar;
  if (last_bar + 1 > kMaxBars) return f;
  f.bars = last_bar + 1;
  f.notes_per_bar = double(f.notes) / double(f.bars);
  const double step = double(tpq) / double(std::max(1, opt.grid_per_quarter));
  std::vector<BarPattern> bars(size_t(f.bars));
  for (int b = 0; b < f.bars; ++b) {
    const music::BarPosition p = meter.at(meter.bar_start(b));
    bars[size_t(b)].steps = std::max<int64_t>(1, std::llround(double(p.ticks_per_bar) / step));
  }
  for (const midi::Note& n : notes) {
    const int64_t q = std::llround(std::llround(double(std::max<int64_t>(n.onset_tick, 0)) / step) * step);
    const music::BarPosition p = meter.at(q);
    if (p.bar >= f.bars) continue;  // rounded past the end of the last bar
    BarPattern& bar = bars[size_t(p.bar)];
    const int64_t pos = std::clamp<int64_t>(std::llround(double(p.tick_in_bar) / step), 0, bar.steps - 1);
    bar.onsets.insert(pos);
    bar.notes.push_back({pos, n.drum ? 128 + n.pitch : n.pitch});
  }
  for (BarPattern& bar : bars) {
    std::sort(bar.notes.begin(), bar.notes.end());
    bar.notes.erase(std::unique(bar.notes.begin(), bar.notes.end()), bar.notes.end());
  }
  if (f.bars >= 2) {
    double dist = 0;
    for (size_t i = 0; i + 1 < bars.size(); ++i) {
      const BarPattern &a = bars[i], &b = bars[i + 1];
      std::vector<int64_t> diff;
      std::set_symmetric_difference(a.onsets.begin(), a.onsets.end(), b.onsets.begin(), b.onsets.end(),
                                    std::back_inserter(diff));
      dist += double(diff.size()) / double(std::max(a.steps, b.steps));
    }
    f.groove_consistency = 1.0 - dist / double(bars.size() - 1);
  }
  std::vector<const BarPattern*> full;
  for (const BarPattern& bar : bars)
    if (!bar.notes.empty()) full.push_back(&bar);
  if (!full.empty()) {
    std::set<std::vector<std::pair<int64_t, int>>> seen;
    int64_t repeated = 0;
    for (const BarPattern* bar : full)
      if (!seen.insert(bar->notes).second) ++repeated;
    f.repetition = double(repeated) / double(full.size());
  }
  if (full.size() >= 2) {
    double sum = 0;
    for (size_t i = 0; i < full.size(); ++i)
      for (size_t j = i + 1; j < full.size(); ++j) sum += jaccard(full[i]->notes, full[j]->notes);
    f.self_similarity = sum / (double(full.size()) * double(full.size() - 1) / 2.0);
  }
  return f;
}

const std::vector<FeatureInfo>& feature_table() {
  static const std::vector<FeatureInfo> t = {
      {"pitch_class_histogram", "pitch-class histogram", "", 12},
      {"pitch_class_entropy", "pitch-class entropy", "bits", 1},
      {"pitch_range", "pitch range", "semitones", 1},
      {"notes_per_bar", "notes per bar", "notes", 1},
      {"notes_per_second", "notes per second", "notes/s", 1},
      {"ioi_mean", "inter-onset interval", "s", 1},
      {"velocity_mean", "velocity", "", 1},
      {"polyphony", "polyphony", "notes", 1},
      {"scale_consistency", "scale consistency", "", 1},
      {"groove_consistency", "groove consistency", "", 1},
      {"empty_beat_rate", "empty-beat rate", "", 1},
      {"repetition", "repetition", "", 1},
      {"self_similarity", "self-similarity", "", 1},
  };
  return t;
}

bool feature_value(const MusicFeatures& f, const std::string& name, std::vector<double>* out) {
  out->clear();
  if (name == "pitch_class_histogram") {
    if (f.pitched_notes == 0) return false;
    out->assign(f.pitch_class_histogram.begin(), f.pitch_class_histogram.end());
    return true;
  }
  const std::pair<const char*, double> scalars[] = {
      {"pitch_class_entropy", f.pitch_class_entropy}, {"pitch_range", f.pitch_range},
      {"notes_per_bar", f.notes_per_bar},             {"notes_per_second", f.notes_per_second},
      {"ioi_mean", f.ioi_mean},                       {"velocity_mean", f.velocity_mean},
      {"polyphony", f.polyphony},                     {"scale_consistency", f.scale_consistency},
      {"groove_consistency", f.groove_consistency},   {"empty_beat_rate", f.empty_beat_rate},
      {"repetition", f.repetition},                   {"self_similarity", f.self_similarity},
  };
  for (const auto& [key, v] : scalars)
    if (name == key) {
      if (!std::isfinite(v)) return false;
      out->push_back(v);
      return true;
    }
  throw Error("eval: unknown feature \"" + name + "\"");
}

}  // namespace xm::eval

// quantize.cpp: the beat grid of analysis.h: snapping notes to a straight or triplet grid (whichever point
// is nearer, per time point) and the MeterMap that turns ticks into bars and beats. Not a tempo tracker:
// the grid comes from the file's ticks per quarter, never from the audio-like timing of the notes.
#include <algorithm>
#include <array>
#include <cstdlib>

#include "core/error.h"
#include "music/analysis.h"

namespace xm::music {

namespace {

// A grid of n points every d quarters, anchored at tick 0: point k is at round(k * tpq * d / n).
struct Grid {
  int64_t tpq, n, d;
  // Nearest grid point to tick (ties go to the later point), and its index.
  int64_t index_of(int64_t tick) const {
    // k = round(tick * n / (tpq * d)), exact in integers (floor division for negative ticks).
    int64_t num = 2 * tick * n + tpq * d;
    int64_t den = 2 * tpq * d;
    int64_t k = num / den;
    if (num % den != 0 && num < 0) --k;
    return k;
  }
  int64_t point(int64_t k) const {
    int64_t num = 2 * k * tpq * d + n;
    int64_t den = 2 * n;
    int64_t p = num / den;
    if (num % den != 0 && num < 0) --p;
    return p;
  }
  int64_t nearest(int64_t tick) const {
    // The rounding of point() can make a neighbour nearer than index_of's choice: look at both.
    int64_t k = index_of(tick);
    int64_t best = point(k);
    for (int64_t j : {k - 1, k + 1}) {
      int64_t p = point(j);
      if (std::llabs(p - tick) < std::llabs(best - tick)) best = p;
    }
    return best;
  }
  int64_t step_after(int64_t p) const { return point(index_of(p) + 1); }
};

}  // namespace

midi::Score quantize(const midi::Score& score, const QuantizeOptions& opt) {
  if (opt.steps_per_quarter < 1 || opt.steps_per_quarter > 960)
    throw Error("quantize: steps_per_quarter = " + std::to_string(opt.steps_per_quarter) +
                " is out of range (hint: 1..960; 4 means 16th notes)");
  const int64_t tpq = score.ticks_per_quarter > 0 ? score.ticks_per_quarter : 480;
  const Grid straight{tpq, opt.steps_per_quarter, 1};
  // Triplet grid: three points where the straight grid has two (16th-note triplets for a 16th grid).
  const Grid triplet{tpq, 3 * int64_t(opt.steps_per_quarter), 2};

  // Snaps one time point; *on_triplet says which grid won (straight wins ties).
  auto snap = [&](int64_t tick, bool* on_triplet) {
    int64_t s = straight.nearest(tick);
    if (!opt.triplets) {
      *on_triplet = false;
      return s;
    }
    int64_t t = triplet.nearest(tick);
    *on_triplet = std::llabs(t - tick) < std::llabs(s - tick);
    return *on_triplet ? t : s;
  };

  midi::Score out = score;
  int64_t last = 0;
  for (midi::Note& n : out.notes) {
    bool onset_triplet = false, offset_triplet = false;
    int64_t on = snap(n.onset_tick, &onset_triplet);
    int64_t off = snap(n.offset_tick, &offset_triplet);
    if (off <= on && opt.keep_min_duration)
      off = onset_triplet ? triplet.step_after(on) : straight.step_after(on);
    if (off < on) off = on;
    n.onset_tick = on;
    n.offset_tick = off;
    last = std::max(last, off);
  }
  out.end_tick = std::max(out.end_tick, last);
  out.refresh_seconds();
  return out;
}

// ---- beat phase --------------------------------------------------------------------------------------

int64_t estimate_beat_phase(const midi::Score& score) {
  const int64_t tpq = score.ticks_per_quarter > 0 ? score.ticks_per_quarter : 480;
  // Onset histogram over one quarter, in 48 bins (10 ticks at 480 per quarter).
  constexpr int kBins = 48;
  std::array<double, kBins> h{};
  int onsets = 0;
  for (const midi::Note& n : score.notes) {
    if (n.drum) continue;
    int64_t ph = ((n.onset_tick % tpq) + tpq) % tpq;
    h[size_t((ph * kBins + tpq / 2) / tpq % kBins)] += 1.0;
    ++onsets;
  }
  if (onsets < 16) return 0;
  // A beat is where onsets cluster (window of +-1 bin), with the half and quarter beats after it in
  // support: that keeps an offbeat-heavy accompaniment from winning over the beat it decorates.
  auto at = [&](int b) {
    b = ((b % kBins) + kBins) % kBins;
    return h[size_t((b + kBins - 1) % kBins)] * 0.5 + h[size_t(b)] + h[size_t((b + 1) % kBins)] * 0.5;
  };
  auto score_of = [&](int b) {
    return at(b) + 0.5 * at(b + kBins / 2) + 0.25 * (at(b + kBins / 4) + at(b + 3 * kBins / 4));
  };
  int best = 0;
  for (int b = 1; b < kBins; ++b)
    if (score_of(b) > score_of(best)) best = b;
  // Keep the file's own grid unless another phase is clearly better (quantised files stay untouched).
  if (best == 0 || score_of(best) < 1.2 * score_of(0)) return 0;
  return (int64_t(best) * tpq + kBins / 2) / kBins;
}

midi::Score shift_ticks(const midi::Score& score, int64_t delta) {
  if (delta < 0) throw Error("shift_ticks: delta " + std::to_string(delta) + " < 0 (hint: only later shifts)");
  midi::Score out = score;
  if (delta == 0) return out;
  for (midi::Note& n : out.notes) n.onset_tick += delta, n.offset_tick += delta;
  // Tempo, meter and key at tick 0 stay there (they set the start); later ones move with the music.
  auto move_later = [&](auto& events) {
    for (auto& e : events)
      if (e.tick > 0) e.tick += delta;
  };
  auto move_all = [&](auto& events) {
    for (auto& e : events) e.tick += delta;
  };
  move_later(out.tempos);
  move_later(out.time_signatures);
  move_later(out.key_signatures);
  move_all(out.controls);
  move_all(out.pitch_bends);
  move_later(out.programs);
  move_later(out.texts);
  move_later(out.sysex);
  for (midi::Track& t : out.tracks) t.end_tick += delta;
  out.end_tick += delta;
  out.refresh_seconds();
  return out;
}

midi::Score align_beats(const midi::Score& score) {
  const int64_t tpq = score.ticks_per_quarter > 0 ? score.ticks_per_quarter : 480;
  int64_t phase = estimate_beat_phase(score);
  return shift_ticks(score, (tpq - phase) % tpq);
}

// ---- MeterMap ---------------------------------------------------------------------------------------

static int64_t ticks_per_bar_of(int64_t tpq, int numerator, int denominator) {
  // tpq * 4 * numerator / denominator, rounded; at least one tick.
  int64_t num = tpq * 4 * int64_t(numerator);
  int64_t t = (2 * num + denominator) / (2 * int64_t(denominator));
  return std::max<int64_t>(t, 1);
}

MeterMap::MeterMap(const midi::Score& score) {
  tpq_ = score.ticks_per_quarter > 0 ? score.ticks_per_quarter : 480;
  std::vector<midi::TimeSignature> sigs = score.time_signatures;
  std::stable_sort(sigs.begin(), sigs.end(),
                   [](const midi::TimeSignature& a, const midi::TimeSignature& b) { return a.tick < b.tick; });
  segments_.push_back(Segment{0, 0, 4, 4, ticks_per_bar_of(tpq_, 4, 4)});
  for (const midi::TimeSignature& ts : sigs) {
    if (ts.numerator < 1 || ts.denominator < 1) continue;  // unusable: keep the meter in force
    int64_t tick = std::max<int64_t>(ts.tick, 0);
    Segment& prev = segments_.back();
    Segment seg{tick, 0, ts.numerator, ts.denominator, ticks_per_bar_of(tpq_, ts.numerator, ts.denominator)};
    if (tick == prev.tick) {  // of several signatures at one tick the last wins
      seg.first_bar = prev.first_bar;
      prev = seg;
      continue;
    }
    // A signature that falls inside a bar starts a new bar there: the cut bar still counts as one.
    int64_t span = tick - prev.tick;
    seg.first_bar = prev.first_bar + int((span + prev.ticks_per_bar - 1) / prev.ticks_per_bar);
    segments_.push_back(seg);
  }
}

BarPosition MeterMap::at(int64_t tick) const {
  tick = std::max<int64_t>(tick, 0);
  auto it = std::upper_bound(segments_.begin(), segments_.end(), tick,
                             [](int64_t t, const Segment& s) { return t < s.tick; });
  const Segment& s = *(it - 1);
  int64_t bars_in = (tick - s.tick) / s.ticks_per_bar;
  BarPosition p;
  p.bar = s.first_bar + int(bars_in);
  p.bar_start_tick = s.tick + bars_in * s.ticks_per_bar;
  p.ticks_per_bar = s.ticks_per_bar;
  // A bar cut short by the next signature ends there.
  if (it != segments_.end()) p.ticks_per_bar = std::min(p.ticks_per_bar, it->tick - p.bar_start_tick);
  p.tick_in_bar = tick - p.bar_start_tick;
  p.numerator = s.numerator;
  p.denominator = s.denominator;
  double ticks_per_beat = double(tpq_) * 4.0 / double(s.denominator);
  p.beat = double(p.tick_in_bar) / ticks_per_beat;
  return p;
}

int64_t MeterMap::bar_start(int bar) const {
  if (bar <= 0) return 0;
  auto it = std::upper_bound(segments_.begin(), segments_.end(), bar,
                             [](int b, const Segment& s) { return b < s.first_bar; });
  const Segment& s = *(it - 1);
  return s.tick + int64_t(bar - s.first_bar) * s.ticks_per_bar;
}

}  // namespace xm::music

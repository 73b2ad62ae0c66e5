// musicxml_layout.cpp: see musicxml_layout.h. The grid, the measures and the note values of one voice in
// one measure; no XML here (musicxml.cpp writes it).
#include "music/musicxml_layout.h"

#include <algorithm>
#include <cmath>
#include <tuple>

#include "core/error.h"
#include "music/analysis.h"

namespace xm::music::mxl {

const char* const kTypeNames[10] = {"breve", "whole", "half", "quarter", "eighth", "16th",
                                    "32nd",  "64th",  "128th", "256th"};

namespace {

int64_t div_round(int64_t a, int64_t b) { return (2 * a + b) / (2 * b); }  // a >= 0, b > 0

// The key signature a Key asks for: majors in -5..6 (Db rather than C#), minors in -6..5 (eb rather than d#).
int key_fifths_of(int tonic, bool minor) {
  int pc = ((minor ? tonic + 3 : tonic) % 12 + 12) % 12;
  int f = (pc * 7) % 12;
  return f > (minor ? 5 : 6) ? f - 12 : f;
}

// The score's meters for notation: a signature that falls inside a bar (performance-aligned files put them
// anywhere) moves to the nearest beat of the running meter, so that a bar it cuts short is whole beats
// long and can show a signature of its own.
midi::Score metered(const midi::Score& sc, int64_t tpq) {
  midi::Score m;
  m.ticks_per_quarter = int(tpq);
  m.time_signatures = sc.time_signatures;
  std::stable_sort(m.time_signatures.begin(), m.time_signatures.end(),
                   [](const auto& a, const auto& b) { return a.tick < b.tick; });
  int64_t seg = 0, bar = 4 * tpq, beat = tpq;  // the running meter: where it starts, its bar and beat
  for (midi::TimeSignature& ts : m.time_signatures) {
    if (ts.numerator < 1 || ts.denominator < 1) continue;
    int64_t rel = std::max<int64_t>(ts.tick - seg, 0), in_bar = rel % bar;
    ts.tick = seg + (rel - in_bar) + std::min(bar, div_round(in_bar, beat) * beat);
    seg = ts.tick;
    bar = std::max<int64_t>(div_round(4 * tpq * ts.numerator, ts.denominator), 1);
    beat = std::max<int64_t>(div_round(4 * tpq, ts.denominator), 1);
  }
  return m;
}

void check_options(const MusicXmlOptions& opt) {
  if (opt.divisions < 1 || opt.divisions > 960)
    throw Error("to_musicxml: divisions = " + std::to_string(opt.divisions) +
                " is out of range (hint: 1..960 per quarter; 12 covers 16ths and triplets)");
  if (opt.key_fifths != 99 && (opt.key_fifths < -7 || opt.key_fifths > 7))
    throw Error("to_musicxml: key_fifths = " + std::to_string(opt.key_fifths) +
                " is out of range (hint: -7..7, or 99 for the score's own key)");
}

}  // namespace

size_t window_at(const std::vector<Window>& w, int64_t div) {
  auto it = std::upper_bound(w.begin(), w.end(), div, [](int64_t d, const Window& x) { return d < x.start; });
  return it == w.begin() ? 0 : size_t(it - w.begin() - 1);
}

Layout make_layout(const midi::Score& score, const MusicXmlOptions& opt) {
  check_options(opt);
  Layout L;
  L.D = opt.divisions;
  // Straight grid: the finest power-of-two subdivision of a quarter (at most 64ths) that D divisions hold,
  // 16ths at D = 12; triplet grid: three steps where the straight grid has two (16th triplets at D = 12).
  int64_t s = 1;
  while (s < 16 && L.D % (2 * s) == 0) s *= 2;
  L.unit = L.D / s;
  L.tunit = (s >= 2 && (2 * L.D) % (3 * s) == 0) ? 2 * L.D / (3 * s) : 0;
  L.aligned = opt.align_beats ? align_beats(score) : score;
  const midi::Score& sc = L.aligned;
  const int64_t tpq = sc.ticks_per_quarter > 0 ? sc.ticks_per_quarter : 480;
  const int64_t D = L.D;
  auto to_div = [&](int64_t tick) { return div_round(std::max<int64_t>(tick, 0) * D, tpq); };

  int64_t last = 0;
  for (const midi::Note& n : sc.notes) last = std::max(last, to_div(std::max(n.offset_tick, n.onset_tick)));
  // Measures, from the MeterMap's bars, until every note (plus a grid step of slack) is inside one.
  MeterMap mm(metered(sc, tpq));
  for (int bar = 0;; ++bar) {
    int64_t st = mm.bar_start(bar);
    BarPosition p = mm.at(st);
    int64_t ds = to_div(st), de = to_div(st + p.ticks_per_bar);
    if (!L.measures.empty() && L.measures.back().start + L.measures.back().len >= last + D) break;
    if (de <= ds) continue;
    Measure m;
    m.start = L.measures.empty() ? 0 : L.measures.back().start + L.measures.back().len;
    m.len = de - ds;
    m.num = p.numerator;
    m.den = p.denominator;
    const int64_t nominal_num = 4 * D * p.numerator;
    if (nominal_num % p.denominator != 0 || nominal_num / p.denominator != m.len) {
      // A bar cut short by a signature change (or a meter the divisions cannot hold): show its real length
      // as a signature when one exists.
      for (int den = p.denominator; den <= 64; den *= 2)
        if ((m.len * den) % (4 * D) == 0) {
          m.num = int(m.len * den / (4 * D));
          m.den = den;
          break;
        }
    }
    const bool regular = 4 * D * m.num == m.len * m.den;
    m.compound = regular && m.den == 8 && m.num % 3 == 0 && D % 2 == 0;
    m.beat = m.compound ? 3 * D / 2 : D;
    const int64_t beats = m.compound ? m.num / 3 : m.len / m.beat;
    m.strong = (regular && beats % 2 == 0 && beats >= 2 && m.len % 2 == 0) ? m.len / 2 : m.beat;
    L.measures.push_back(m);
  }

  // Keys per measure.
  int fifths = 0;
  bool minor = false;
  std::vector<midi::KeySignature> keys = sc.key_signatures;
  std::stable_sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  if (opt.key_fifths != 99) {
    fifths = opt.key_fifths, minor = opt.key_minor, keys.clear();
  } else if (keys.empty()) {
    Key k = estimate_key(sc);
    fifths = key_fifths_of(k.tonic, k.minor), minor = k.minor;
  } else {
    fifths = std::clamp(keys.front().sharps, -7, 7), minor = keys.front().minor;
  }
  size_t ki = keys.empty() ? 0 : 1;
  for (Measure& m : L.measures) {
    // A key change applies from the bar line nearest to it.
    while (ki < keys.size() && to_div(keys[ki].tick) < m.start + m.len / 2) {
      fifths = std::clamp(keys[ki].sharps, -7, 7), minor = keys[ki].minor;
      ++ki;
    }
    m.fifths = fifths, m.minor = minor;
  }

  // Beat windows, and per window the grid that fits better: judged on the onsets, where triplets must fit
  // at half the straight error (a finer grid fits random timing better, and a performance should not turn
  // into triplets); offsets, as sloppy as players release keys, decide only where the onsets cannot and
  // every offset is exactly on the triplet grid (already quantised music).
  for (const Measure& m : L.measures)
    for (int64_t w = 0; w < m.len; w += m.beat) {
      Window win;
      win.start = m.start + w;
      win.len = std::min(m.beat, m.len - w);
      win.compound = m.compound;
      win.triplet_ok = !m.compound && L.tunit > 0 && win.len % (3 * L.tunit) == 0;
      L.windows.push_back(win);
    }
  auto scaled_err = [&](int64_t rel, int64_t u) {
    int64_t U = u * tpq, r = rel % U;
    return std::min(r, U - r);
  };
  for (const midi::Note& n : sc.notes) {
    for (int k = 0; k < 2; ++k) {
      int64_t x = std::max<int64_t>(k == 0 ? n.onset_tick : n.offset_tick, 0) * D;
      Window& w = L.windows[window_at(L.windows, x / tpq)];
      int64_t rel = std::max<int64_t>(x - w.start * tpq, 0);
      w.err_straight[k] += scaled_err(rel, L.unit);
      if (w.triplet_ok) w.err_triplet[k] += scaled_err(rel, L.tunit);
    }
  }
  for (Window& w : L.windows)
    w.triplet = w.triplet_ok && (2 * w.err_triplet[0] < w.err_straight[0] ||
                                 (w.err_triplet[0] == w.err_straight[0] && w.err_triplet[1] == 0 &&
                                  w.err_straight[1] > 0));
  auto snap = [&](int64_t tick) {
    int64_t x = std::max<int64_t>(tick, 0) * D;
    const Window& w = L.windows[window_at(L.windows, x / tpq)];
    int64_t u = w.triplet ? L.tunit : L.unit;
    int64_t rel = std::max<int64_t>(x - w.start * tpq, 0);
    int64_t k = (2 * rel + u * tpq) / (2 * u * tpq);
    return w.start + std::min(k * u, w.len);
  };
  for (const midi::Note& n : sc.notes) {
    QNote q;
    q.src = n;
    q.on = snap(n.onset_tick);
    q.off = snap(std::max(n.offset_tick, n.onset_tick));
    if (q.off <= q.on) {  // never zero length: one step of the grid at the onset
      const Window& w = L.windows[window_at(L.windows, q.on)];
      q.off = q.on + (w.triplet ? L.tunit : L.unit);
    }
    L.notes.push_back(q);
  }
  std::stable_sort(L.notes.begin(), L.notes.end(), [](const QNote& a, const QNote& b) {
    return std::tie(a.on, a.src.pitch, a.src.channel, a.src.track) <
           std::tie(b.on, b.src.pitch, b.src.channel, b.src.track);
  });
  // Drop measures after the last note (keep one for an empty score).
  int64_t end = 0;
  for (const QNote& q : L.notes) end = std::max(end, q.off);
  while (L.measures.size() > 1 && L.measures.back().start >= end) L.measures.pop_back();
  // Tempos (the last of several at one division wins; unchanged ones are dropped).
  const midi::TempoMap tm = sc.tempo_map();
  for (const midi::TempoChange& t : tm.tempos()) {
    int64_t d = to_div(t.tick);
    if (!L.tempos.empty() && L.tempos.back().first == d) L.tempos.pop_back();
    double bpm = std::round(t.bpm() * 100.0) / 100.0;
    if (L.tempos.empty() || L.tempos.back().second != bpm) L.tempos.push_back({d, bpm});
  }
  return L;
}
// ---- note values ----------------------------------------------------------------------------------------

namespace {

// Type index t: 0 breve (8 quarters), 1 whole, ... 9 256th. Nominal length in divisions, 0 if not whole.
int64_t type_len(int64_t D, int t) {
  int64_t q8 = 8 * D;  // a breve
  return q8 % (int64_t(1) << t) == 0 ? q8 >> t : 0;
}
// A type and dots whose nominal length is exactly n.
bool note_value(int64_t D, int64_t n, int max_dots, int* type, int* dots) {
  for (int t = 0; t < 10; ++t) {
    int64_t b = type_len(D, t);
    if (b == 0) break;
    if (b == n) return *type = t, *dots = 0, true;
    if (max_dots >= 1 && b % 2 == 0 && b * 3 / 2 == n) return *type = t, *dots = 1, true;
    if (max_dots >= 2 && b % 4 == 0 && b * 7 / 4 == n) return *type = t, *dots = 2, true;
  }
  return false;
}
// The longest type not longer than n (for lengths no note value can show; the duration stays exact).
int type_at_most(int64_t D, int64_t n) {
  for (int t = 0; t < 10; ++t)
    if (type_len(D, t) > 0 && type_len(D, t) <= n) return t;
  return 9;
}
enum class WinKind { Straight, Triplet, Irregular };

class Notator {
 public:
  Notator(const Layout& L, const Measure& m) : L_(L), m_(m) {
    for (int64_t w = 0; w < m.len; w += m.beat) wins_.push_back({w, std::min(m.beat, m.len - w)});
    kinds_.assign(wins_.size(), WinKind::Straight);
  }

  std::vector<Piece> run(const std::vector<Segment>& segs) {
    // Classify each window by the voice's cut points inside it.
    for (size_t i = 0; i < wins_.size(); ++i) {
      const int64_t ws = wins_[i].first, wl = wins_[i].second;
      bool straight = true, triplet = true;
      for (const Segment& s : segs)
        for (int64_t c : {s.start, s.end})
          if (c > ws && c < ws + wl) {
            straight = straight && (c - ws) % L_.unit == 0;
            triplet = triplet && L_.tunit > 0 && (c - ws) % L_.tunit == 0;
          }
      const Window& gw = L_.windows[window_at(L_.windows, m_.start + ws)];
      kinds_[i] = straight ? WinKind::Straight : (triplet && gw.triplet_ok) ? WinKind::Triplet : WinKind::Irregular;
    }
    for (const Segment& s : segs) {
      size_t first = out_.size();
      int64_t pos = s.start;
      while (pos < s.end) {
        size_t wi = size_t(pos / m_.beat);
        const int64_t ws = wins_[wi].first, wl = wins_[wi].second;
        if (kinds_[wi] == WinKind::Straight && pos == ws && s.end >= ws + wl) {
          int64_t e = ws + wl;
          for (size_t j = wi + 1; j < wins_.size() && kinds_[j] == WinKind::Straight &&
                                  s.end >= wins_[j].first + wins_[j].second;
               ++j)
            e = wins_[j].first + wins_[j].second;
          notate_long(pos, e);
          pos = e;
        } else {
          int64_t e = std::min(s.end, ws + wl);
          notate_in_window(pos, e, wi);
          pos = e;
        }
      }
      for (size_t i = first; i < out_.size(); ++i) {
        Piece& p = out_[i];
        p.chord = s.chord;
        if (s.chord < 0) continue;
        p.tie_stop = i == first ? s.tied_in : true;
        p.tie_start = i + 1 == out_.size() ? s.tied_out : true;
      }
    }
    mark_tuplets_and_beams();
    return std::move(out_);
  }

 private:
  const Layout& L_;
  const Measure& m_;
  std::vector<std::pair<int64_t, int64_t>> wins_;  // start, length (in the measure)
  std::vector<WinKind> kinds_;
  std::vector<Piece> out_;

  void add(int64_t start, int64_t dur, int type, int dots, bool triplet, int normal_type) {
    Piece p;
    p.start = start, p.dur = dur, p.type = type, p.dots = dots;
    p.triplet = triplet, p.normal_type = normal_type;
    out_.push_back(p);
  }

  // Whole straight windows [a, b): the longest value that starts where its length allows and does not hide
  // a strong boundary it does not start on.
  void notate_long(int64_t a, int64_t b) {
    const int64_t D = L_.D, SU = m_.strong, W = m_.beat;
    int64_t pos = a;
    while (pos < b) {
      bool done = false;
      for (int t = 0; t < 10 && !done; ++t) {
        for (int dots = 2; dots >= 0 && !done; --dots) {
          int64_t base = type_len(D, t);
          if (base == 0 || base % (int64_t(1) << dots) != 0) continue;
          int64_t v = base * ((int64_t(2) << dots) - 1) / (int64_t(1) << dots);
          int64_t e = pos + v;
          if (e > b || (e != b && e % W != 0)) continue;
          if (pos % std::min(v, SU) != 0) continue;
          if (pos % SU != 0 && pos / SU != (e - 1) / SU) continue;
          add(pos, v, t, dots, false, 0);
          pos = e;
          done = true;
        }
      }
      if (!done) {  // no value fits: one window at a time
        size_t wi = size_t(pos / W);
        int64_t e = std::min(b, wins_[wi].first + wins_[wi].second);
        notate_in_window(pos, e, wi);
        pos = e;
      }
    }
  }

  // [a, b) inside window wi: one value when one fits, else split at the strongest beat division inside.
  // Triplet windows are notated in nominal lengths (3/2 of the real ones) under a 3:2 time modification.
  void notate_in_window(int64_t a, int64_t b, size_t wi) {
    const int64_t ws = wins_[wi].first, wl = wins_[wi].second;
    const bool trip = kinds_[wi] == WinKind::Triplet;
    const bool ternary = trip || m_.compound;
    const int64_t NW = trip ? wl * 3 / 2 : wl;
    const int64_t sub = ternary ? NW / 3 : NW / 2;
    int normal_type = 4;
    if (trip) {
      int dots = 0;
      if (!note_value(L_.D, sub, 0, &normal_type, &dots)) normal_type = type_at_most(L_.D, sub);
    }
    auto to_real = [&](int64_t nominal) { return ws + (trip ? nominal * 2 / 3 : nominal); };
    auto rec = [&](auto&& self, int64_t na, int64_t nb) -> void {
      int type = 0, dots = 0;
      if (note_value(L_.D, nb - na, 1, &type, &dots)) {
        add(to_real(na), to_real(nb) - to_real(na), type, dots, trip, normal_type);
        return;
      }
      for (int64_t u = std::max<int64_t>(sub, 1); u >= 1; u /= 2) {
        if (trip && (2 * u) % 3 != 0) break;  // a split there would not fall on a real division
        int64_t c = (na / u + 1) * u;
        if (c < nb) {
          self(self, na, c);
          self(self, c, nb);
          return;
        }
        if (u == 1) break;
      }
      // Nothing shows this length: the nearest shorter type with the exact duration.
      add(to_real(na), to_real(nb) - to_real(na), type_at_most(L_.D, nb - na), 0, trip, normal_type);
    };
    if (trip)
      rec(rec, (a - ws) * 3 / 2, (b - ws) * 3 / 2);
    else
      rec(rec, a - ws, b - ws);
  }

  void mark_tuplets_and_beams() {
    std::stable_sort(out_.begin(), out_.end(), [](const Piece& x, const Piece& y) { return x.start < y.start; });
    for (size_t wi = 0; wi < wins_.size(); ++wi) {
      const int64_t ws = wins_[wi].first, wl = wins_[wi].second;
      std::vector<size_t> in;
      for (size_t i = 0; i < out_.size(); ++i)
        if (out_[i].start >= ws && out_[i].start < ws + wl) in.push_back(i);
      if (in.empty()) continue;
      if (kinds_[wi] == WinKind::Triplet) {
        out_[in.front()].tuplet_start = true;
        out_[in.back()].tuplet_stop = true;
      }
      // Beams: runs of consecutive notes shorter than a quarter inside the beat; rests break them.
      auto beams_of = [&](size_t i) {
        const Piece& p = out_[i];
        return (p.chord < 0 || p.type < 4) ? 0 : p.type - 3;
      };
      size_t k = 0;
      while (k < in.size()) {
        if (beams_of(in[k]) == 0) {
          ++k;
          continue;
        }
        size_t e = k;
        while (e + 1 < in.size() && beams_of(in[e + 1]) > 0) ++e;
        if (e > k) {
          for (int level = 1; level <= 6; ++level) {
            for (size_t r = k; r <= e; ++r) {
              if (beams_of(in[r]) < level) continue;
              size_t re = r;
              while (re + 1 <= e && beams_of(in[re + 1]) >= level) ++re;
              for (size_t j = r; j <= re; ++j) {
                std::string v = r == re ? (r == k ? "forward hook" : "backward hook")
                                        : j == r ? "begin" : j == re ? "end" : "continue";
                out_[in[j]].beams.push_back(v);
              }
              r = re;
            }
          }
        }
        k = e + 1;
      }
    }
  }
};
}  // namespace

std::vector<Piece> notate_voice(const Layout& L, const Measure& m, const std::vector<Segment>& segs) {
  return Notator(L, m).run(segs);
}

}  // namespace xm::music::mxl

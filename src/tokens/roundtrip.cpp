// roundtrip.cpp: see roundtrip.h. The comparison keys follow each tokenizer's own resolution, read from
// its vocab_json (steps_per_quarter), so the measure says what the tokenizer promises, no more.
#include "tokens/roundtrip.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "tokens/common.h"

namespace xm::tokens {

void RoundtripStats::add(const RoundtripStats& o) {
  pieces += o.pieces;
  tokens += o.tokens;
  invalid += o.invalid;
  notes += o.notes;
  decoded_notes += o.decoded_notes;
  exact += o.exact;
  unmatched += o.unmatched;
  onset_err_ms_sum += o.onset_err_ms_sum;
  onset_err_ms_max = std::max(onset_err_ms_max, o.onset_err_ms_max);
  velocity_err_sum += o.velocity_err_sum;
  velocity_err_max = std::max(velocity_err_max, o.velocity_err_max);
  matched += o.matched;
}

json RoundtripStats::to_json() const {
  return {{"pieces", pieces},
          {"tokens", tokens},
          {"invalid", invalid},
          {"notes", notes},
          {"decoded_notes", decoded_notes},
          {"exact", exact},
          {"exact_share", exact_share()},
          {"unmatched", unmatched},
          {"onset_err_ms_mean", mean_onset_err_ms()},
          {"onset_err_ms_max", onset_err_ms_max},
          {"velocity_err_mean", mean_velocity_err()},
          {"velocity_err_max", velocity_err_max}};
}

namespace {

struct Key {
  bool drum;
  int pitch;
  int64_t onset, dur;
  auto operator<=>(const Key&) const = default;
};

}  // namespace

RoundtripStats measure_roundtrip(const Tokenizer& tok, const midi::Score& score) {
  RoundtripStats st;
  st.pieces = 1;
  std::vector<int32_t> ids = tok.encode(score);
  st.tokens = int64_t(ids.size());
  int bad = 0;
  midi::Score dec = tok.decode(ids, &bad);
  st.invalid = bad;
  st.decoded_notes = int64_t(dec.notes.size());

  const std::string name = tok.name();
  const json vocab = tok.vocab_json();
  const bool perf = name == "performance";
  const bool jsb = name == "jsb";
  const bool use_drum = !perf && !jsb;
  midi::Score ref = score;
  if (perf) {
    const json& o = vocab["options"];
    if (o.value("sustain", true)) apply_sustain(ref);
    if (!o.value("include_drums", true))
      ref.notes.erase(std::remove_if(ref.notes.begin(), ref.notes.end(), [](const auto& n) { return n.drum; }),
                      ref.notes.end());
  } else if (jsb) {
    ref.notes.erase(std::remove_if(ref.notes.begin(), ref.notes.end(), [](const auto& n) { return n.drum; }),
                    ref.notes.end());
  }
  const int spq = jsb ? 4 : perf ? 0 : vocab["options"].value("steps_per_quarter", 8);

  // Keys on the tokenizer's grid.
  auto key_of = [&](const midi::Note& n, const midi::Score& s) {
    Key k{use_drum && n.drum, n.pitch, 0, 0};
    if (perf) {
      auto q = [](double x) { return int64_t(std::floor(std::max(0.0, x) * 100.0 + 0.5)); };
      k.onset = q(n.onset_s);
      k.dur = std::max<int64_t>(1, q(n.offset_s) - k.onset);
    } else {
      double tpq = std::max(1, s.ticks_per_quarter);
      k.onset = std::max<int64_t>(0, std::llround(double(n.onset_tick) * spq / tpq));
      k.dur = std::max<int64_t>(1, std::llround(double(n.offset_tick) * spq / tpq) - k.onset);
    }
    return k;
  };
  std::map<Key, int> pool;
  for (const auto& n : dec.notes) ++pool[key_of(n, dec)];
  for (const auto& n : ref.notes) {
    ++st.notes;
    auto it = pool.find(key_of(n, ref));
    if (it != pool.end() && it->second > 0) {
      ++st.exact;
      --it->second;
    }
  }
  // Timing and velocity: pair the notes of each (drum, pitch) one to one in order of (onset on the grid,
  // velocity) when both sides have as many, else each reference note with the nearest decoded onset.
  // Decoded onsets are put on the reference's clock: grid tokenizers via quarters and the reference's
  // tempo map (so only the grid error shows, not the tempo bins'), performance in seconds.
  midi::TempoMap ref_tm = ref.tempo_map();
  struct P {
    int64_t key;
    int velocity;
    double seconds;
    bool operator<(const P& o) const { return std::tie(key, velocity, seconds) < std::tie(o.key, o.velocity, o.seconds); }
  };
  std::map<std::pair<bool, int>, std::pair<std::vector<P>, std::vector<P>>> by_pitch;  // -> (reference, decoded)
  for (const auto& n : ref.notes)
    by_pitch[{use_drum && n.drum, n.pitch}].first.push_back({key_of(n, ref).onset, n.velocity, n.onset_s});
  for (const auto& n : dec.notes) {
    double t = n.onset_s;
    if (!perf) {
      double quarters = double(n.onset_tick) / std::max(1, dec.ticks_per_quarter);
      t = ref_tm.ticks_to_seconds(std::llround(quarters * std::max(1, ref.ticks_per_quarter)));
    }
    by_pitch[{use_drum && n.drum, n.pitch}].second.push_back({key_of(n, dec).onset, n.velocity, t});
  }
  auto pair_up = [&](const P& r, const P& d) {
    double err = std::abs(d.seconds - r.seconds) * 1000.0;
    double verr = std::abs(d.velocity - r.velocity);
    ++st.matched;
    st.onset_err_ms_sum += err;
    st.onset_err_ms_max = std::max(st.onset_err_ms_max, err);
    st.velocity_err_sum += verr;
    st.velocity_err_max = std::max(st.velocity_err_max, verr);
  };
  for (auto& [k, sides] : by_pitch) {
    auto& [r, d] = sides;
    if (d.empty()) {
      st.unmatched += int64_t(r.size());
      continue;
    }
    std::sort(r.begin(), r.end());
    std::sort(d.begin(), d.end());
    if (r.size() == d.size()) {
      for (size_t i = 0; i < r.size(); ++i) pair_up(r[i], d[i]);
      continue;
    }
    std::sort(d.begin(), d.end(), [](const P& a, const P& b) { return a.seconds < b.seconds; });
    for (const auto& x : r) {
      auto j = std::lower_bound(d.begin(), d.end(), x.seconds, [](const P& a, double t) { return a.seconds < t; });
      auto best = j == d.end() ? j - 1 : j;
      if (j != d.begin() && std::abs((j - 1)->seconds - x.seconds) <= std::abs(best->seconds - x.seconds)) best = j - 1;
      pair_up(x, *best);
    }
  }
  return st;
}

}  // namespace xm::tokens

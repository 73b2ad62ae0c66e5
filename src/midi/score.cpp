// score.cpp: the tempo map (exact tick <-> second conversion) and the Score helpers of score.h.
// Not the MIDI file reader or writer (midi_read.cpp, midi_write.cpp).
#include "midi/score.h"

#include <algorithm>
#include <cmath>

namespace xm::midi {

TempoMap::TempoMap(int ticks_per_quarter, std::vector<TempoChange> tempos)
    : ticks_per_quarter_(ticks_per_quarter > 0 ? ticks_per_quarter : 480) {
  std::stable_sort(tempos.begin(), tempos.end(),
                   [](const TempoChange& a, const TempoChange& b) { return a.tick < b.tick; });
  for (const TempoChange& t : tempos) {
    if (t.us_per_quarter == 0) continue;
    TempoChange c = t;
    if (c.tick < 0) c.tick = 0;
    if (!tempos_.empty() && tempos_.back().tick == c.tick)
      tempos_.back() = c;  // the last of several at one tick wins
    else
      tempos_.push_back(c);
  }
  if (tempos_.empty() || tempos_.front().tick > 0) tempos_.insert(tempos_.begin(), TempoChange{});
  fill_seconds();
}

TempoMap TempoMap::smpte(int frames_per_second, int ticks_per_frame, std::vector<TempoChange> tempos) {
  TempoMap m(480, std::move(tempos));
  int64_t tpf = ticks_per_frame > 0 ? ticks_per_frame : 1;
  if (frames_per_second == 29) {  // 29.97 drop frame: 30000/1001 frames per second
    m.smpte_ticks_per_second_num_ = 30000 * tpf;
    m.smpte_ticks_per_second_den_ = 1001;
  } else {
    m.smpte_ticks_per_second_num_ = int64_t(frames_per_second > 0 ? frames_per_second : 25) * tpf;
    m.smpte_ticks_per_second_den_ = 1;
  }
  m.fill_seconds();
  return m;
}

void TempoMap::fill_seconds() {
  acc_.assign(tempos_.size(), 0);
  for (size_t i = 1; i < tempos_.size(); ++i) {
    u128 dt = u128(uint64_t(tempos_[i].tick - tempos_[i - 1].tick));
    acc_[i] = acc_[i - 1] + dt * tempos_[i - 1].us_per_quarter;
  }
  for (size_t i = 0; i < tempos_.size(); ++i) tempos_[i].seconds = ticks_to_seconds(tempos_[i].tick);
}

double TempoMap::ticks_to_seconds(int64_t tick) const {
  if (is_smpte()) {
    // seconds = tick * den / num, exact up to the final division.
    return double((long double)(tick)*smpte_ticks_per_second_den_ / (long double)smpte_ticks_per_second_num_);
  }
  if (tick <= 0 || tempos_.empty()) {
    // Before the map (negative ticks): extrapolate with the first tempo.
    uint32_t us = tempos_.empty() ? 500000 : tempos_.front().us_per_quarter;
    return double((long double)tick * us / (1e6L * ticks_per_quarter_));
  }
  // The last tempo at or before tick.
  auto it = std::upper_bound(tempos_.begin(), tempos_.end(), tick,
                             [](int64_t t, const TempoChange& c) { return t < c.tick; });
  size_t i = size_t(it - tempos_.begin()) - 1;
  u128 num = acc_[i] + u128(uint64_t(tick - tempos_[i].tick)) * tempos_[i].us_per_quarter;
  return double((long double)num / (1e6L * ticks_per_quarter_));
}

int64_t TempoMap::seconds_to_ticks(double seconds) const {
  if (!std::isfinite(seconds)) return 0;
  if (is_smpte()) {
    return int64_t(std::llround((long double)seconds * smpte_ticks_per_second_num_ /
                                (long double)smpte_ticks_per_second_den_));
  }
  if (tempos_.empty()) return int64_t(std::llround(seconds * 1e6 * ticks_per_quarter_ / 500000.0));
  // The last tempo starting at or before seconds.
  size_t i = 0;
  {
    size_t lo = 0, hi = tempos_.size();
    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;
      if (tempos_[mid].seconds <= seconds)
        lo = mid;
      else
        hi = mid;
    }
    i = lo;
  }
  long double dt = ((long double)seconds - tempos_[i].seconds) * 1e6L * ticks_per_quarter_ /
                   (long double)tempos_[i].us_per_quarter;
  return tempos_[i].tick + int64_t(std::llround(dt));
}

double TempoMap::bpm_at(int64_t tick) const {
  if (tempos_.empty()) return 120.0;
  auto it = std::upper_bound(tempos_.begin(), tempos_.end(), tick,
                             [](int64_t t, const TempoChange& c) { return t < c.tick; });
  if (it == tempos_.begin()) return tempos_.front().bpm();
  return std::prev(it)->bpm();
}

TempoMap Score::tempo_map() const {
  if (smpte) return TempoMap::smpte(smpte_fps, smpte_ticks_per_frame, tempos);
  return TempoMap(ticks_per_quarter, tempos);
}

double Score::duration_s() const {
  int64_t end = end_tick;
  for (const Note& n : notes) end = std::max(end, n.offset_tick);
  return tempo_map().ticks_to_seconds(end);
}

void Score::refresh_seconds() {
  TempoMap map = tempo_map();
  for (Note& n : notes) {
    n.onset_s = map.ticks_to_seconds(n.onset_tick);
    n.offset_s = map.ticks_to_seconds(n.offset_tick);
  }
  auto fill = [&](auto& events) {
    for (auto& e : events) e.seconds = map.ticks_to_seconds(e.tick);
  };
  fill(tempos);
  fill(time_signatures);
  fill(key_signatures);
  fill(controls);
  fill(programs);
  fill(pitch_bends);
  fill(texts);
  fill(sysex);
}

std::string pitch_name(int pitch) {
  static const char* names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  if (pitch < 0 || pitch > 127) {
    std::string s(1, '?');  // (not "?" + ...: GCC 12 warns falsely about that pattern)
    s += std::to_string(pitch);
    return s;
  }
  return std::string(names[pitch % 12]) + std::to_string(pitch / 12 - 1);
}

std::string key_name(int sharps, bool minor) {
  static const char* major_keys[15] = {"Cb", "Gb", "Db", "Ab", "Eb", "Bb", "F", "C",
                                       "G",  "D",  "A",  "E",  "B",  "F#", "C#"};
  static const char* minor_keys[15] = {"Ab", "Eb", "Bb", "F",  "C",  "G",  "D", "A",
                                       "E",  "B",  "F#", "C#", "G#", "D#", "A#"};
  if (sharps < -7 || sharps > 7) {
    std::string s(minor ? "? minor (" : "? major (");
    s += std::to_string(sharps);
    s += " sharps)";
    return s;
  }
  return std::string(minor ? minor_keys[sharps + 7] : major_keys[sharps + 7]) + (minor ? " minor" : " major");
}

}  // namespace xm::midi

// remi.cpp: the REMI-style tokenizer (Huang & Yang 2020, with programs as in REMI+): Bar, Position on a
// grid of steps_per_quarter, Program, Pitch, Velocity, Duration, Chord, Tempo, TimeSignature, and control
// tokens after BOS. Not a performance tokenizer: timing is on the beat grid (docs/tokenizers.md).
#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "music/analysis.h"
#include "tokens/common.h"

namespace xm::tokens {
namespace {

constexpr int kDecodeTpq = 480;

struct TimeSig {
  int num = 4, den = 4;
  bool operator==(const TimeSig&) const = default;
};

// The default set: n/2 (n <= 4), n/4 (n <= 8), n/8 and n/16 (n <= 16): every bar up to 8 quarters.
std::vector<TimeSig> default_time_signatures() {
  std::vector<TimeSig> v;
  for (int n = 1; n <= 4; ++n) v.push_back({n, 2});
  for (int n = 1; n <= 8; ++n) v.push_back({n, 4});
  for (int n = 1; n <= 16; ++n) v.push_back({n, 8});
  for (int n = 1; n <= 16; ++n) v.push_back({n, 16});
  return v;
}

TimeSig parse_time_signature(const std::string& t) {
  auto slash = t.find('/');
  TimeSig ts{0, 0};
  try {
    if (slash != std::string::npos) {
      ts.num = std::stoi(t.substr(0, slash));
      ts.den = std::stoi(t.substr(slash + 1));
    }
  } catch (...) {
  }
  bool pow2 = ts.den > 0 && (ts.den & (ts.den - 1)) == 0;
  if (ts.num < 1 || ts.num > 64 || !pow2 || ts.den > 64)
    throw Error("tokenizer remi: time signature \"" + t + "\" is not N/D with D a power of two (e.g. \"6/8\")");
  return ts;
}

class Remi final : public Tokenizer {
 public:
  explicit Remi(const json& opts) {
    check_option_keys(opts, {"steps_per_quarter", "max_duration_quarters", "chords", "chord_unit", "time_signatures"},
                      "remi");
    spq_ = option_int(opts, "steps_per_quarter", 8, 1, 48, "remi");
    if (kDecodeTpq % spq_ != 0)
      throw Error("tokenizer remi: option \"steps_per_quarter\" = " + std::to_string(spq_) +
                  " must divide 480 (e.g. 4, 8, 12, 16, 24)");
    max_dur_ = option_int(opts, "max_duration_quarters", 8, 1, 64, "remi") * spq_;
    chords_ = option_bool(opts, "chords", true, "remi");
    unit_ = parse_chord_unit(json_get_or<std::string>(opts, "chord_unit", "beat", "tokenizer remi options"), "remi");
    if (opts.contains("time_signatures")) {
      for (const auto& t : json_get<std::vector<std::string>>(opts, "time_signatures", "tokenizer remi options"))
        ts_.push_back(parse_time_signature(t));
      if (ts_.empty()) throw Error("tokenizer remi: option \"time_signatures\" is empty");
    } else {
      ts_ = default_time_signatures();
    }
    // Keep the signatures whose bar is a whole number of steps.
    std::vector<TimeSig> kept;
    for (auto ts : ts_)
      if ((ts.num * 4 * spq_) % ts.den == 0 && std::find(kept.begin(), kept.end(), ts) == kept.end()) kept.push_back(ts);
    if (std::find(kept.begin(), kept.end(), TimeSig{4, 4}) == kept.end()) kept.insert(kept.begin(), TimeSig{4, 4});
    ts_ = kept;
    max_bar_ = 0;
    for (auto ts : ts_) max_bar_ = std::max(max_bar_, bar_steps(ts));

    pad_ = v_.add("PAD");
    bos_ = v_.add("BOS");
    eos_ = v_.add("EOS");
    add_control_ranges(v_);
    bar_ = v_.add("Bar");
    ts0_ = v_.add_range("TimeSig", int(ts_.size()), [&](int i) {
      return "TimeSig_" + std::to_string(ts_[size_t(i)].num) + "/" + std::to_string(ts_[size_t(i)].den);
    });
    pos0_ = v_.add_range("Position", max_bar_, [](int i) { return "Position_" + std::to_string(i); });
    tempo0_ = v_.add_range("Tempo", kTempoBins, [](int i) {
      return "Tempo_" + std::to_string(int(std::lround(tempo_bin_bpm(i))));
    });
    chord0_ = chords_ ? v_.add_range("Chord", kChordTokens, [](int i) { return "Chord_" + chord_token_suffix(i); }) : -1;
    prog0_ = v_.add_range("Program", 129, [](int i) {
      return i == 128 ? std::string("Program_Drums") : "Program_" + std::to_string(i);
    });
    pitch0_ = v_.add_range("Pitch", 128, [](int i) { return "Pitch_" + std::to_string(i); });
    vel0_ = v_.add_range("Velocity", kVelocityBins, [](int i) { return "Velocity_" + std::to_string(i + 1); });
    dur0_ = v_.add_range("Duration", max_dur_, [](int i) { return "Duration_" + std::to_string(i + 1); });
  }

  std::string name() const override { return "remi"; }
  int vocab_size() const override { return v_.size(); }
  int32_t pad_id() const override { return pad_; }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  std::string token_name(int32_t id) const override {
    return id >= 0 && id < v_.size() ? v_.name(id) : "<invalid " + std::to_string(id) + ">";
  }

  json vocab_json() const override {
    json ts = json::array();
    for (auto t : ts_) ts.push_back(std::to_string(t.num) + "/" + std::to_string(t.den));
    json bpm = json::array();
    for (int i = 0; i < kTempoBins; ++i) bpm.push_back(tempo_bin_bpm(i));
    return {{"tokenizer", "remi"},
            {"vocab_size", v_.size()},
            {"options",
             {{"steps_per_quarter", spq_},
              {"max_duration_quarters", max_dur_ / spq_},
              {"chords", chords_},
              {"chord_unit", chord_unit_name(unit_)},
              {"time_signatures", ts}}},
            {"pad_id", pad_},
            {"bos_id", bos_},
            {"eos_id", eos_},
            {"tempo_bins_bpm", bpm},
            {"velocity_decode", "bin center: 4*bin-2 (bin b holds velocities 4b-3..4b)"},
            {"ranges", v_.ranges_json()},
            {"tokens", v_.names_json()}};
  }

  std::vector<int32_t> control_prefix(const Conditioning& cond) const override {
    std::vector<int32_t> ids = {bos_};
    for (int32_t id : control_ids(v_, cond)) ids.push_back(id);
    return ids;
  }

  Conditioning read_conditioning(const std::vector<int32_t>& ids) const override {
    Conditioning c;
    for (int32_t id : ids) {
      if (id == bos_ || id == pad_) continue;
      if (!apply_control_id(v_, id, &c)) break;
    }
    return c;
  }

  std::vector<int32_t> encode(const midi::Score& score, const Conditioning& cond) const override;
  midi::Score decode(const std::vector<int32_t>& ids, int* invalid) const override;

 private:
  int bar_steps(TimeSig ts) const { return ts.num * 4 * spq_ / ts.den; }
  int ts_index(TimeSig ts) const {
    for (size_t i = 0; i < ts_.size(); ++i)
      if (ts_[i] == ts) return int(i);
    return -1;
  }
  // A representable signature: itself, else one with the same bar length, else 4/4.
  TimeSig representable(TimeSig ts) const {
    if (ts_index(ts) >= 0) return ts;
    for (auto t : ts_)
      if (int64_t(t.num) * ts.den == int64_t(ts.num) * t.den) return t;
    return {4, 4};
  }

  // The score's time signatures made sayable by Bar/TimeSig tokens, where every bar is whole: each
  // signature becomes a representable one; one that falls inside a bar (MeterMap would cut that bar
  // short) gets a signature for the cut bar when one of that length exists, else it moves to the next
  // bar line. Notes keep their ticks; only the bar lines they are counted from can change.
  std::vector<midi::TimeSignature> representable_meter(const midi::Score& score) const {
    const int64_t tpq = std::max(1, score.ticks_per_quarter);
    auto bar_ticks = [&](const midi::TimeSignature& t) {
      return std::max<int64_t>(1, tpq * 4 * t.numerator / t.denominator);
    };
    std::vector<midi::TimeSignature> in = score.time_signatures, out;
    std::stable_sort(in.begin(), in.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
    midi::TimeSignature start;  // 4/4 at tick 0 until a signature says otherwise
    out.push_back(start);
    for (auto t : in) {
      if (t.numerator < 1 || t.denominator < 1) continue;
      TimeSig r = representable({t.numerator, t.denominator});
      t.numerator = r.num;
      t.denominator = r.den;
      t.tick = std::max<int64_t>(0, t.tick);
      midi::TimeSignature& prev = out.back();
      if (t.tick <= prev.tick) {  // of several at one tick (or moved past the next) the last wins
        t.tick = prev.tick;
        prev = t;
        continue;
      }
      int64_t len = bar_ticks(prev), cut = (t.tick - prev.tick) % len;
      if (cut != 0) {
        const midi::TimeSignature* fit = nullptr;
        midi::TimeSignature c = prev;
        for (auto ts : ts_) {
          c.numerator = ts.num;
          c.denominator = ts.den;
          if (bar_ticks(c) == cut && (cut * spq_) % tpq == 0) {
            fit = &c;
            break;
          }
        }
        if (fit) {
          c.tick = t.tick - cut;
          if (c.tick == prev.tick) prev = c;
          else out.push_back(c);
        } else {
          t.tick += len - cut;
        }
      }
      out.push_back(t);
    }
    return out;
  }

  int spq_ = 8, max_dur_ = 64, max_bar_ = 64;
  bool chords_ = true;
  music::ChordSpanUnit unit_ = music::ChordSpanUnit::Beat;
  std::vector<TimeSig> ts_;
  Vocab v_;
  int pad_, bos_, eos_, bar_, ts0_, pos0_, tempo0_, chord0_, prog0_, pitch0_, vel0_, dur0_;
};

std::vector<int32_t> Remi::encode(const midi::Score& score, const Conditioning& cond) const {
  std::vector<int32_t> out = control_prefix(cond);
  const int64_t tpq = std::max(1, score.ticks_per_quarter);
  auto to_step = [&](int64_t tick) { return int64_t(std::llround(double(tick) * spq_ / double(tpq))); };
  auto grid_tick = [&](int64_t step) { return int64_t(std::llround(double(step) * double(tpq) / spq_)); };

  // The meter, with signatures the tokens can say (see representable_meter).
  midi::Score work;
  work.ticks_per_quarter = score.ticks_per_quarter;
  work.tempos = score.tempos;
  work.time_signatures = representable_meter(score);
  music::MeterMap meter(work);

  struct Slot {
    int tempo = -1, chord = -1;
    std::vector<std::pair<const midi::Note*, int>> notes;  // note, duration in steps
  };
  std::map<int64_t, Slot> slots;
  int64_t last = -1;
  for (const auto& n : score.notes) {
    int64_t s = std::max<int64_t>(0, to_step(n.onset_tick));
    int dur = int(std::clamp<int64_t>(to_step(n.offset_tick) - s, 1, max_dur_));
    slots[s].notes.push_back({&n, dur});
    last = std::max(last, s);
  }
  if (last < 0) {
    out.push_back(eos_);
    return out;
  }
  std::vector<midi::TempoChange> tempos = score.tempos;
  std::stable_sort(tempos.begin(), tempos.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  if (tempos.empty() || tempos.front().tick > 0) tempos.insert(tempos.begin(), midi::TempoChange{});
  for (const auto& t : tempos) {
    int64_t s = std::max<int64_t>(0, to_step(t.tick));
    if (s <= last) slots[s].tempo = tempo_to_bin(t.bpm());
  }
  if (chords_) {
    work.notes = score.notes;
    for (const auto& span : music::recognize_chords(work, unit_)) {
      int64_t s = std::max<int64_t>(0, to_step(span.start_tick));
      if (s <= last) slots[s].chord = chord_index(span.chord);
    }
  }

  int cur_bar = -1, cur_tempo = -1, cur_chord = -1, cur_prog = -1;
  TimeSig cur_ts{0, 0};
  auto open_bars_until = [&](int bar) {
    while (cur_bar < bar) {
      ++cur_bar;
      out.push_back(bar_);
      music::BarPosition bp = meter.at(meter.bar_start(cur_bar));
      TimeSig ts = representable({bp.numerator, bp.denominator});
      if (!(ts == cur_ts)) {
        out.push_back(ts0_ + ts_index(ts));
        cur_ts = ts;
      }
    }
  };
  for (auto& [step, slot] : slots) {
    bool tempo_change = slot.tempo >= 0 && slot.tempo != cur_tempo;
    bool chord_change = slot.chord >= 0 && slot.chord != cur_chord;
    if (!tempo_change && !chord_change && slot.notes.empty()) continue;
    int64_t g = grid_tick(step);
    music::BarPosition bp = meter.at(g);
    int bar = bp.bar;
    int64_t pos = std::llround(double(g - bp.bar_start_tick) * spq_ / double(tpq));
    if (pos >= bar_steps(representable({bp.numerator, bp.denominator}))) {
      ++bar;
      pos = 0;
    }
    open_bars_until(bar);
    pos = std::clamp<int64_t>(pos, 0, bar_steps(cur_ts) - 1);
    out.push_back(pos0_ + int32_t(pos));
    if (tempo_change) {
      out.push_back(tempo0_ + slot.tempo);
      cur_tempo = slot.tempo;
    }
    if (chord_change) {
      out.push_back(chord0_ + slot.chord);
      cur_chord = slot.chord;
    }
    auto key = [](const midi::Note* n) { return n->drum ? 128 : std::clamp(n->program, 0, 127); };
    std::stable_sort(slot.notes.begin(), slot.notes.end(), [&](const auto& a, const auto& b) {
      if (key(a.first) != key(b.first)) return key(a.first) < key(b.first);
      return a.first->pitch < b.first->pitch;
    });
    for (const auto& [n, dur] : slot.notes) {
      if (key(n) != cur_prog) {
        cur_prog = key(n);
        out.push_back(prog0_ + cur_prog);
      }
      out.push_back(pitch0_ + std::clamp(n->pitch, 0, 127));
      out.push_back(vel0_ + velocity_to_bin(n->velocity) - 1);
      out.push_back(dur0_ + dur - 1);
    }
  }
  out.push_back(eos_);
  return out;
}

midi::Score Remi::decode(const std::vector<int32_t>& ids, int* invalid) const {
  midi::Score s;
  s.ticks_per_quarter = kDecodeTpq;
  PartTable parts(&s);
  const int64_t tick_per_step = kDecodeTpq / spq_;
  int bad = 0;
  int bar = -1;
  int64_t bar_start = 0;  // in steps
  TimeSig ts{4, 4};
  int pos = -1;  // -1: no Position yet in this bar
  int prog = 0;
  int stage = 0, pitch = 0, vel = 0;  // note in progress: 1 after Pitch, 2 after Velocity
  bool music_started = false;
  auto set_tempo = [&](int64_t tick, uint32_t us) {
    if (!s.tempos.empty() && s.tempos.back().tick == tick) {
      s.tempos.back().us_per_quarter = us;
    } else {
      midi::TempoChange t;
      t.tick = tick;
      t.us_per_quarter = us;
      s.tempos.push_back(t);
    }
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    int32_t id = ids[i];
    const Vocab::Range* r = v_.range_of(id);
    if (!r) {
      ++bad;
      stage = 0;
      continue;
    }
    const std::string& kind = r->kind;
    int k = id - r->start;
    if (id == pad_) continue;
    if (id == eos_) break;
    if (kind != "Velocity" && kind != "Duration" && stage != 0) {
      ++bad;  // an unfinished note
      stage = 0;
    }
    if (id == bos_) {
      if (music_started || i > 0) ++bad;
      continue;
    }
    if (kind == "Genre" || kind == "Mood" || kind == "Key" || kind == "TempoClass") {
      if (music_started) ++bad;
      continue;
    }
    music_started = true;
    if (kind == "Bar") {
      if (bar >= 0) bar_start += bar_steps(ts);
      ++bar;
      pos = -1;
    } else if (kind == "TimeSig") {
      if (bar < 0 || pos >= 0) {
        ++bad;  // a signature belongs right after Bar
        continue;
      }
      ts = ts_[size_t(k)];
      midi::TimeSignature t;
      t.tick = bar_start * tick_per_step;
      t.numerator = ts.num;
      t.denominator = ts.den;
      if (!s.time_signatures.empty() && s.time_signatures.back().tick == t.tick) s.time_signatures.pop_back();
      if (s.time_signatures.empty() || s.time_signatures.back().numerator != ts.num ||
          s.time_signatures.back().denominator != ts.den)
        s.time_signatures.push_back(t);
    } else if (kind == "Position") {
      if (bar < 0 || k >= bar_steps(ts)) {
        ++bad;
        continue;
      }
      pos = k;
    } else if (pos < 0) {
      ++bad;  // everything else needs a Position in the current bar
    } else if (kind == "Tempo") {
      set_tempo((bar_start + pos) * tick_per_step, uint32_t(std::lround(60000000.0 / tempo_bin_bpm(k))));
    } else if (kind == "Chord") {
      // Chords are derived from the notes; decoding needs nothing from them.
    } else if (kind == "Program") {
      prog = k;
    } else if (kind == "Pitch") {
      pitch = k;
      stage = 1;
    } else if (kind == "Velocity") {
      if (stage != 1) {
        ++bad;
        stage = 0;
        continue;
      }
      vel = velocity_bin_center(k + 1);
      stage = 2;
    } else if (kind == "Duration") {
      if (stage != 2) {
        ++bad;
        stage = 0;
        continue;
      }
      midi::Note n;
      n.pitch = pitch;
      n.velocity = vel;
      n.onset_tick = (bar_start + pos) * tick_per_step;
      n.offset_tick = n.onset_tick + int64_t(k + 1) * tick_per_step;
      parts.assign(prog, &n);
      s.notes.push_back(n);
      stage = 0;
    } else {
      ++bad;
    }
  }
  if (stage != 0) ++bad;
  if (s.tempos.empty() || s.tempos.front().tick > 0) s.tempos.insert(s.tempos.begin(), midi::TempoChange{});
  finish_score(s);
  if (invalid) *invalid = bad;
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> make_remi(const json& opts) { return std::make_unique<Remi>(opts); }

}  // namespace xm::tokens

// grammar.cpp: see grammar.h. The four grammars (REMI, performance events, JSB note-wise, note tuples), each
// built from the tokenizer's saved vocabulary (vocab_json: ranges, options, tempo bins), so they follow the
// exact grammar of src/tokens/*.cpp. Not the sampler and not a decoder.
#include "generate/grammar.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "core/error.h"
#include "core/json.h"

namespace xm::gen {
namespace {

enum Kind : uint8_t {
  kOther, kPad, kBos, kEos, kControl,
  kBar, kTimeSig, kPosition, kTempo, kChord, kProgram, kPitch, kVelocity, kDuration,  // REMI (+ Pitch: jsb)
  kNoteOn, kNoteOff, kShift,                                                           // performance
  kRest, kNote                                                                         // jsb, tuples
};

// Per id: its kind and its index inside its range, read from vocab_json()["ranges"].
struct Table {
  std::vector<uint8_t> kind;
  std::vector<int32_t> value;
  std::vector<int> bar_steps;     // REMI: per TimeSig index, the bar length in steps
  std::vector<double> tempo_bpm;  // REMI, tuples: the tempo bins
  int spq = 8;                    // grid steps per quarter (REMI, tuples; jsb: 4)
  int decode_tpq = 480;
  double default_bpm = 120;       // the decoder's tempo before any tempo token
  bool drums_only = false;        // performance decode_drums: every note is a drum note
  int fields = 1;
  std::vector<int> field_start, field_count;  // tuples
};

Table read_table(const tokens::Tokenizer& tok, const std::map<std::string, Kind>& kinds) {
  Table t;
  const json v = tok.vocab_json();
  const int V = tok.vocab_size();
  t.kind.assign(size_t(V), kOther);
  t.value.assign(size_t(V), 0);
  const std::string what = "tokenizer " + tok.name() + " vocabulary";
  for (const json& r : json_get<json>(v, "ranges", what)) {
    const std::string kind = json_get<std::string>(r, "kind", what);
    const int start = json_get<int>(r, "start", what), count = json_get<int>(r, "count", what);
    Kind k = kOther;
    if (kind == "Genre" || kind == "Mood" || kind == "Key" || kind == "TempoClass") k = kControl;
    else if (auto it = kinds.find(kind); it != kinds.end()) k = it->second;
    for (int i = 0; i < count && start + i < V; ++i) {
      if (start + i < 0) continue;
      t.kind[size_t(start + i)] = k;
      t.value[size_t(start + i)] = i;
    }
  }
  if (v.contains("tempo_bins_bpm"))
    for (const json& b : v["tempo_bins_bpm"]) t.tempo_bpm.push_back(b.get<double>());
  return t;
}

// The tempo part of a clock on a grid of steps: piecewise constant seconds per step.
struct TempoClock {
  double sec_anchor = 0, sec_per_step = 0;
  int64_t step_anchor = 0;
  bool locked = false;  // a continuation tempo: tempo tokens no longer move the clock
  double at(int64_t step) const { return sec_anchor + double(step - step_anchor) * sec_per_step; }
  void set(int64_t step, double bpm, int steps_per_quarter) {
    sec_anchor = at(step);
    step_anchor = step;
    sec_per_step = 60.0 / (bpm * steps_per_quarter);
  }
};

// ------------------------------------------------------------------------------------------------ REMI
class RemiGrammar final : public Grammar {
 public:
  RemiGrammar(std::shared_ptr<const Table> t, const GrammarConstraints& c) : t_(std::move(t)), c_(c) {
    vocab_ = int(t_->kind.size());
    clock_.sec_per_step = 60.0 / (t_->default_bpm * t_->spq);
  }
  std::unique_ptr<Grammar> clone() const override { return std::make_unique<RemiGrammar>(*this); }

  bool can_follow(int32_t id, bool sampling) const override {
    if (id < 0 || id >= vocab_) return false;
    const Kind k = Kind(t_->kind[size_t(id)]);
    const int v = t_->value[size_t(id)];
    if (k == kPad) return !sampling;
    if (ended_) return false;
    if (stage_ == 1) return k == kVelocity;
    if (stage_ == 2) return k == kDuration;
    if (prog_pending_) return k == kPitch && (!sampling || pitch_allowed(v));
    const bool slot_empty = pos_ >= 0 && !content_;
    const bool in_slot = pos_ >= 0 && !closed_;
    switch (k) {
      case kBos: return !sampling && n_ == 0;
      case kControl: return !sampling && !started_;
      case kEos: return !need_ts() && !slot_empty && may_sample_end(sampling);
      case kBar: return !need_ts() && !slot_empty;
      case kTimeSig: return just_bar_;
      case kPosition: return bar_ >= 0 && !need_ts() && !slot_empty && v > pos_ && v < bar_len_;
      // Tempo and Chord only when they change (as encode writes them).
      case kTempo:
        return in_slot && phase_ == 0 && v != tempo_ && (!sampling || forced_bin_ < 0 || v == forced_bin_);
      case kChord: return in_slot && phase_ <= 1 && v != chord_;
      case kProgram: return in_slot && v != prog_ && (!has_note_ || v > prog_);
      case kPitch:  // sampled chords have no doubled notes; encode doubles notes of several tracks
        return in_slot && prog_ >= 0 && (sampling ? v > last_pitch_ : v >= last_pitch_) &&
               (!sampling || pitch_allowed(v));
      default: return false;
    }
  }

  bool advance(int32_t id) override {
    const bool ok = can_follow(id, false);
    ++n_;
    if (id < 0 || id >= vocab_) {
      stage_ = 0;
      return false;
    }
    const Kind k = Kind(t_->kind[size_t(id)]);
    const int v = t_->value[size_t(id)];
    if (k != kVelocity && k != kDuration && k != kPad) stage_ = 0;
    if (k != kPitch && k != kPad) prog_pending_ = prog_pending_ && k == kProgram;
    switch (k) {
      case kEos: ended_ = true; break;
      case kBar:
        started_ = true;
        if (bar_ >= 0) bar_start_ += bar_len_;
        ++bar_;
        pos_ = -1;
        new_slot();
        break;
      case kTimeSig:
        started_ = true;
        if (bar_ >= 0 && pos_ < 0 && size_t(v) < t_->bar_steps.size()) {
          bar_len_ = t_->bar_steps[size_t(v)];
          ts_seen_ = true;
        }
        break;
      case kPosition:
        started_ = true;
        if (bar_ >= 0 && v < bar_len_) {
          pos_ = v;
          new_slot();
        }
        break;
      case kTempo:
        content_ = true;
        phase_ = std::max(phase_, 1);
        tempo_ = v;
        if (pos_ >= 0 && !clock_.locked && size_t(v) < t_->tempo_bpm.size())
          clock_.set(abs_step(), t_->tempo_bpm[size_t(v)], t_->spq);
        break;
      case kChord:
        content_ = true;
        phase_ = std::max(phase_, 2);
        chord_ = v;
        break;
      case kProgram:
        prog_ = v;
        prog_pending_ = true;
        last_pitch_ = -1;
        phase_ = 3;
        break;
      case kPitch:
        if (prog_ < 0) prog_ = 0;  // the decoder's default program
        last_pitch_ = v;
        has_note_ = true;
        prog_pending_ = false;
        stage_ = 1;
        phase_ = 3;
        break;
      case kVelocity: stage_ = stage_ == 1 ? 2 : 0; break;
      case kDuration:
        if (stage_ == 2) {
          content_ = true;
          note_taken();
        }
        stage_ = 0;
        break;
      default: break;
    }
    just_bar_ = k == kBar;
    return ok;
  }

  bool at_boundary() const override {
    return stage_ == 0 && !prog_pending_ && !need_ts() && !(pos_ >= 0 && !content_);
  }
  bool ended() const override { return ended_; }
  int64_t bars() const override { return bar_ + 1; }
  double seconds() const override { return clock_.at(abs_step()); }
  int64_t tick() const override { return abs_step() * (t_->decode_tpq / t_->spq); }

  void begin_continuation(double bpm, bool after_seed) override {
    continuation_ = true;
    const int64_t s = abs_step();
    const bool seeded = after_seed && bar_ >= 0 && pos_ >= 0;
    closed_ = seeded;
    cont_step_ = seeded ? s + 1 : s;
    if (bpm > 0) {
      clock_.set(cont_step_, bpm, t_->spq);
      clock_.locked = true;
      forced_bin_ = nearest_tempo_bin(t_->tempo_bpm, bpm);
    }
  }
  int64_t continuation_tick() const override { return cont_step_ * (t_->decode_tpq / t_->spq); }

 private:
  bool need_ts() const { return bar_ >= 0 && !ts_seen_; }
  bool pitch_allowed(int p) const { return prog_ == 128 || c_.pitch_ok[size_t(p)]; }
  int64_t abs_step() const { return bar_ < 0 ? 0 : bar_start_ + std::max(pos_, 0); }
  void new_slot() {
    content_ = has_note_ = closed_ = false;
    phase_ = 0;
    last_pitch_ = -1;
  }

  std::shared_ptr<const Table> t_;
  GrammarConstraints c_;
  int64_t n_ = 0;
  bool started_ = false, ended_ = false;
  int bar_ = -1, bar_len_ = 0;
  int64_t bar_start_ = 0;
  bool ts_seen_ = false, just_bar_ = false;
  int pos_ = -1, phase_ = 0;  // phase within a position: 0 after Position, 1 Tempo, 2 Chord, 3 notes
  bool content_ = false, has_note_ = false, closed_ = false;
  int prog_ = -1, last_pitch_ = -1, stage_ = 0;  // stage: 1 after Pitch, 2 after Velocity
  int tempo_ = -1, chord_ = -1;                  // the last Tempo and Chord values
  bool prog_pending_ = false;
  TempoClock clock_;
  int forced_bin_ = -1;
  int64_t cont_step_ = 0;
};

// ---------------------------------------------------------------------------------------- performance
class PerformanceGrammar final : public Grammar {
 public:
  PerformanceGrammar(std::shared_ptr<const Table> t, const GrammarConstraints& c) : t_(std::move(t)), c_(c) {
    vocab_ = int(t_->kind.size());
    sounding_.fill(0);
  }
  std::unique_ptr<Grammar> clone() const override { return std::make_unique<PerformanceGrammar>(*this); }

  bool can_follow(int32_t id, bool sampling) const override {
    if (id < 0 || id >= vocab_) return false;
    const Kind k = Kind(t_->kind[size_t(id)]);
    const int v = t_->value[size_t(id)];
    if (k == kPad) return !sampling;
    if (ended_) return false;
    switch (k) {
      case kBos: return !sampling && n_ == 0;
      case kControl: return !sampling && !started_;
      case kNoteOn: return !sampling || t_->drums_only || c_.pitch_ok[size_t(v)];
      case kNoteOff: return sounding_[size_t(v)] > 0;
      case kShift:
      case kVelocity: return true;
      case kEos: return may_sample_end(sampling);
      default: return false;
    }
  }
  bool advance(int32_t id) override {
    const bool ok = can_follow(id, false);
    ++n_;
    if (id < 0 || id >= vocab_) return false;
    const Kind k = Kind(t_->kind[size_t(id)]);
    const int v = t_->value[size_t(id)];
    if (k == kNoteOn || k == kNoteOff || k == kShift || k == kVelocity) started_ = true;
    if (k == kNoteOn) {
      ++sounding_[size_t(v)];
      note_taken();
    }
    if (k == kNoteOff && sounding_[size_t(v)] > 0) --sounding_[size_t(v)];
    if (k == kShift) now_ += v + 1;
    if (k == kEos) ended_ = true;
    return ok;
  }
  bool at_boundary() const override { return true; }
  bool ended() const override { return ended_; }
  // Bars of 4/4 at the continuation tempo (120 BPM before it or without one).
  int64_t bars() const override {
    if (!started_) return 0;
    const double q = q_anchor_ + double(now_ - step_anchor_) * bpm_ / 6000.0;
    return int64_t(std::floor(q / 4.0 + 1e-9)) + 1;
  }
  double seconds() const override { return double(now_) * 0.01; }
  int64_t tick() const override { return now_ * 10; }  // 1 tick = 1 ms in the decoder
  void begin_continuation(double bpm, bool) override {
    continuation_ = true;
    cont_ = now_;
    if (bpm > 0) {
      q_anchor_ += double(now_ - step_anchor_) * bpm_ / 6000.0;
      step_anchor_ = now_;
      bpm_ = bpm;
    }
  }
  int64_t continuation_tick() const override { return cont_ * 10; }

 private:
  std::shared_ptr<const Table> t_;
  GrammarConstraints c_;
  std::array<int, 128> sounding_;
  int64_t n_ = 0, now_ = 0, cont_ = 0, step_anchor_ = 0;  // now_ in 10 ms steps
  double q_anchor_ = 0, bpm_ = 120;
  bool started_ = false, ended_ = false;
};

// ----------------------------------------------------------------------------------------------- JSB
class JsbGrammar final : public Grammar {
 public:
  JsbGrammar(std::shared_ptr<const Table> t, const GrammarConstraints& c) : t_(std::move(t)), c_(c) {
    vocab_ = int(t_->kind.size());
    clock_.sec_per_step = 60.0 / (t_->default_bpm * 4);
  }
  std::unique_ptr<Grammar> clone() const override { return std::make_unique<JsbGrammar>(*this); }
  bool can_follow(int32_t id, bool sampling) const override {
    if (id < 0 || id >= vocab_) return false;
    const Kind k = Kind(t_->kind[size_t(id)]);
    if (k == kPad) return !sampling;
    if (ended_) return false;
    switch (k) {
      case kBos: return !sampling && n_ == 0;
      case kEos: return voice_ == 0 && may_sample_end(sampling);
      case kRest: return true;
      case kPitch: return !sampling || c_.pitch_ok[size_t(t_->value[size_t(id)])];
      default: return false;
    }
  }
  bool advance(int32_t id) override {
    const bool ok = can_follow(id, false);
    ++n_;
    if (id < 0 || id >= vocab_) return false;
    const Kind k = Kind(t_->kind[size_t(id)]);
    if (k == kPitch) note_taken();
    if (k == kRest || k == kPitch) {
      started_ = true;
      if (++voice_ == 4) {
        voice_ = 0;
        ++steps_;
      }
    }
    if (k == kEos) ended_ = true;
    return ok;
  }
  bool at_boundary() const override { return voice_ == 0; }
  bool ended() const override { return ended_; }
  int64_t bars() const override { return started_ ? onset() / 16 + 1 : 0; }
  double seconds() const override { return clock_.at(onset()); }
  int64_t tick() const override { return onset() * 120; }
  void begin_continuation(double bpm, bool) override {
    continuation_ = true;
    cont_ = steps_;
    if (bpm > 0) {
      clock_.set(cont_, bpm, 4);
      clock_.locked = true;
    }
  }
  int64_t continuation_tick() const override { return cont_ * 120; }

 private:
  // The 16th step of the last token taken (the step in progress, or the last complete one).
  int64_t onset() const { return voice_ > 0 ? steps_ : std::max<int64_t>(0, steps_ - 1); }
  std::shared_ptr<const Table> t_;
  GrammarConstraints c_;
  int64_t n_ = 0, steps_ = 0, cont_ = 0;
  int voice_ = 0;
  bool started_ = false, ended_ = false;
  TempoClock clock_;
};

// -------------------------------------------------------------------------------------------- tuples
enum TupleField { kEventF = 0, kShiftF = 1, kPitchF = 2 };

class TupleGrammar final : public Grammar {
 public:
  TupleGrammar(std::shared_ptr<const Table> t, const GrammarConstraints& c) : t_(std::move(t)), c_(c) {
    vocab_ = int(t_->kind.size());
    clock_.sec_per_step = 60.0 / (t_->default_bpm * t_->spq);
  }
  std::unique_ptr<Grammar> clone() const override { return std::make_unique<TupleGrammar>(*this); }
  int field() const override { return f_; }

  bool can_follow(int32_t id, bool sampling) const override {
    const int start = t_->field_start[size_t(f_)], count = t_->field_count[size_t(f_)];
    if (id < start || id >= start + count) return false;
    if (f_ == kEventF) {
      const Kind k = Kind(t_->kind[size_t(id)]);
      if (k == kPad) return !sampling;
      if (ended_) return false;
      switch (k) {
        case kBos: return !sampling && steps_ == 0;
        case kControl: return !sampling && !started_;
        case kEos: return may_sample_end(sampling);
        case kNote:
        case kRest: return true;
        case kTempo: return !sampling || forced_bin_ < 0 || t_->value[size_t(id)] == forced_bin_;
        default: return false;
      }
    }
    const int val = id - start - 1;  // -1: the field's None
    switch (ev_) {
      case kNote:
        if (val < 0) return false;
        if (f_ == kShiftF) return now_ + val >= min_onset_;
        if (f_ == kPitchF) return !sampling || c_.pitch_ok[size_t(val)];
        return true;
      case kTempo: return f_ == kShiftF ? val >= 0 && now_ + val >= min_onset_ : val < 0;
      case kRest: return f_ == kShiftF ? val >= 0 : val < 0;
      default: return val < 0;
    }
  }

  bool advance(int32_t id) override {
    const bool ok = can_follow(id, false);
    const int start = t_->field_start[size_t(f_)];
    if (f_ == kEventF) {
      ev_ = id >= 0 && id < vocab_ ? Kind(t_->kind[size_t(id)]) : kOther;
      ev_val_ = id >= 0 && id < vocab_ ? t_->value[size_t(id)] : 0;
      shift_ = 0;
    } else if (f_ == kShiftF) {
      shift_ = std::max(0, id - start - 1);
    }
    if (++f_ == t_->fields) {
      f_ = 0;
      ++steps_;
      if (ev_ == kNote) note_taken();
      if (ev_ == kNote || ev_ == kRest || ev_ == kTempo) {
        started_ = true;
        now_ += shift_;
        if (ev_ == kTempo && !clock_.locked && size_t(ev_val_) < t_->tempo_bpm.size())
          clock_.set(now_, t_->tempo_bpm[size_t(ev_val_)], t_->spq);
      }
      if (ev_ == kEos) ended_ = true;
    }
    return ok;
  }
  bool at_boundary() const override { return f_ == 0; }
  bool ended() const override { return ended_; }
  int64_t bars() const override { return started_ ? now_ / (4 * t_->spq) + 1 : 0; }
  double seconds() const override { return clock_.at(now_); }
  int64_t tick() const override { return now_ * (t_->decode_tpq / t_->spq); }
  void begin_continuation(double bpm, bool after_seed) override {
    continuation_ = true;
    min_onset_ = after_seed && started_ ? now_ + 1 : now_;
    if (bpm > 0) {
      clock_.set(min_onset_, bpm, t_->spq);
      clock_.locked = true;
      forced_bin_ = nearest_tempo_bin(t_->tempo_bpm, bpm);
    }
  }
  int64_t continuation_tick() const override { return min_onset_ * (t_->decode_tpq / t_->spq); }

 private:
  std::shared_ptr<const Table> t_;
  GrammarConstraints c_;
  int f_ = 0;
  Kind ev_ = kOther;
  int ev_val_ = 0, shift_ = 0, forced_bin_ = -1;
  int64_t steps_ = 0, now_ = 0, min_onset_ = 0;
  bool started_ = false, ended_ = false;
  TempoClock clock_;
};

}  // namespace

void Grammar::allowed(uint8_t* mask) const {
  for (int id = 0; id < vocab_; ++id) mask[id] = can_follow(id, true) ? 1 : 0;
}

int nearest_tempo_bin(const std::vector<double>& bins_bpm, double bpm) {
  int best = -1;
  double bd = 0;
  for (size_t i = 0; i < bins_bpm.size(); ++i) {
    const double d = std::abs(std::log(bins_bpm[i] / bpm));
    if (best < 0 || d < bd) best = int(i), bd = d;
  }
  return best;
}

std::unique_ptr<Grammar> make_grammar(const tokens::Tokenizer& tok, const GrammarConstraints& c) {
  const std::string name = tok.name();
  const json v = tok.vocab_json();
  const json opts = v.contains("options") && v["options"].is_object() ? v["options"] : json::object();
  if (name == "remi") {
    Table t = read_table(tok, {{"PAD", kPad}, {"BOS", kBos}, {"EOS", kEos}, {"Bar", kBar}, {"TimeSig", kTimeSig},
                               {"Position", kPosition}, {"Tempo", kTempo}, {"Chord", kChord}, {"Program", kProgram},
                               {"Pitch", kPitch}, {"Velocity", kVelocity}, {"Duration", kDuration}});
    t.spq = opts.value("steps_per_quarter", 8);
    for (const json& s : opts.value("time_signatures", json::array())) {
      const std::string ts = s.get<std::string>();
      const int num = std::stoi(ts.substr(0, ts.find('/'))), den = std::stoi(ts.substr(ts.find('/') + 1));
      t.bar_steps.push_back(num * 4 * t.spq / den);
    }
    return std::make_unique<RemiGrammar>(std::make_shared<const Table>(std::move(t)), c);
  }
  if (name == "performance") {
    Table t = read_table(tok, {{"PAD", kPad}, {"BOS", kBos}, {"EOS", kEos}, {"NOTE_ON", kNoteOn},
                               {"NOTE_OFF", kNoteOff}, {"TIME_SHIFT", kShift}, {"VELOCITY", kVelocity}});
    t.drums_only = opts.value("decode_drums", false);
    t.decode_tpq = 500;
    return std::make_unique<PerformanceGrammar>(std::make_shared<const Table>(std::move(t)), c);
  }
  if (name == "jsb") {
    Table t = read_table(tok, {{"PAD", kPad}, {"BOS", kBos}, {"EOS", kEos}, {"REST", kRest}, {"Pitch", kPitch}});
    t.spq = 4;
    t.default_bpm = opts.value("decode_bpm", 100.0);
    return std::make_unique<JsbGrammar>(std::make_shared<const Table>(std::move(t)), c);
  }
  if (name == "tuples") {
    Table t = read_table(tok, {{"PAD", kPad}, {"BOS", kBos}, {"EOS", kEos}, {"Note", kNote}, {"Rest", kRest},
                               {"Tempo", kTempo}});
    t.spq = opts.value("steps_per_quarter", 8);
    t.fields = tok.fields_per_step();
    for (const json& f : json_get<json>(v, "fields", "tokenizer tuples vocabulary")) {
      t.field_start.push_back(f.at("start").get<int>());
      t.field_count.push_back(f.at("count").get<int>());
    }
    if (int(t.field_start.size()) != t.fields || t.fields < 3)
      throw Error("tokenizer tuples vocabulary: \"fields\" does not list " + std::to_string(t.fields) + " fields");
    return std::make_unique<TupleGrammar>(std::make_shared<const Table>(std::move(t)), c);
  }
  throw Error("generation: no grammar for tokenizer \"" + name + "\" (known: remi, performance, jsb, tuples)");
}

}  // namespace xm::gen

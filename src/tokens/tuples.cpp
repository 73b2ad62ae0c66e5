// tuples.cpp: the note-tuple tokenizer: each step is fields_per_step() consecutive ids, one per field
// (event, shift, pitch, duration, velocity, program, and optionally chord), each field with its own id
// range so a model can embed each field separately. Not a flat token stream (see docs/tokenizers.md).
#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "music/analysis.h"
#include "tokens/common.h"

namespace xm::tokens {
namespace {

constexpr int kDecodeTpq = 480;
enum Field { kEvent = 0, kShiftF, kPitchF, kDurF, kVelF, kProgF, kChordF };
const char* kFieldNames[7] = {"event", "shift", "pitch", "duration", "velocity", "program", "chord"};

class Tuples final : public Tokenizer {
 public:
  explicit Tuples(const json& opts) {
    check_option_keys(opts, {"steps_per_quarter", "max_shift_quarters", "max_duration_quarters", "chords", "chord_unit"},
                      "tuples");
    spq_ = option_int(opts, "steps_per_quarter", 8, 1, 48, "tuples");
    if (kDecodeTpq % spq_ != 0)
      throw Error("tokenizer tuples: option \"steps_per_quarter\" = " + std::to_string(spq_) +
                  " must divide 480 (e.g. 4, 8, 12, 16, 24)");
    max_shift_ = option_int(opts, "max_shift_quarters", 8, 1, 64, "tuples") * spq_;
    max_dur_ = option_int(opts, "max_duration_quarters", 8, 1, 64, "tuples") * spq_;
    chords_ = option_bool(opts, "chords", false, "tuples");
    unit_ = parse_chord_unit(json_get_or<std::string>(opts, "chord_unit", "beat", "tokenizer tuples options"), "tuples");
    nf_ = chords_ ? 7 : 6;

    // Field 0: event kinds, specials and controls.
    field_start_[kEvent] = v_.size();
    pad_ = v_.add("PAD");
    bos_ = v_.add("BOS");
    eos_ = v_.add("EOS");
    note_ = v_.add("Note");
    rest_ = v_.add("Rest");
    tempo0_ = v_.add_range("Tempo", kTempoBins, [](int i) {
      return "Tempo_" + std::to_string(int(std::lround(tempo_bin_bpm(i))));
    });
    add_control_ranges(v_);
    field_count_[kEvent] = v_.size() - field_start_[kEvent];
    auto field = [&](Field f, const std::string& kind, int count, const std::function<std::string(int)>& name_of) {
      field_start_[f] = v_.add(kind + "_None");
      v_.add_range(kind, count, name_of);
      field_count_[f] = count + 1;
    };
    field(kShiftF, "Shift", max_shift_ + 1, [](int i) { return "Shift_" + std::to_string(i); });
    field(kPitchF, "Pitch", 128, [](int i) { return "Pitch_" + std::to_string(i); });
    field(kDurF, "Duration", max_dur_, [](int i) { return "Duration_" + std::to_string(i + 1); });
    field(kVelF, "Velocity", kVelocityBins, [](int i) { return "Velocity_" + std::to_string(i + 1); });
    field(kProgF, "Program", 129, [](int i) {
      return i == 128 ? std::string("Program_Drums") : "Program_" + std::to_string(i);
    });
    if (chords_) field(kChordF, "Chord", kChordTokens, [](int i) { return "Chord_" + chord_token_suffix(i); });
  }

  std::string name() const override { return "tuples"; }
  int vocab_size() const override { return v_.size(); }
  int fields_per_step() const override { return nf_; }
  int32_t pad_id() const override { return pad_; }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  std::string token_name(int32_t id) const override {
    return id >= 0 && id < v_.size() ? v_.name(id) : "<invalid " + std::to_string(id) + ">";
  }
  std::vector<int32_t> pad_step() const override { return special_step(pad_); }

  json vocab_json() const override {
    json fields = json::array();
    for (int f = 0; f < nf_; ++f)
      fields.push_back({{"name", kFieldNames[f]}, {"start", field_start_[f]}, {"count", field_count_[f]}});
    json bpm = json::array();
    for (int i = 0; i < kTempoBins; ++i) bpm.push_back(tempo_bin_bpm(i));
    return {{"tokenizer", "tuples"},
            {"vocab_size", v_.size()},
            {"fields_per_step", nf_},
            {"options",
             {{"steps_per_quarter", spq_},
              {"max_shift_quarters", max_shift_ / spq_},
              {"max_duration_quarters", max_dur_ / spq_},
              {"chords", chords_},
              {"chord_unit", chord_unit_name(unit_)}}},
            {"pad_id", pad_},
            {"bos_id", bos_},
            {"eos_id", eos_},
            {"fields", fields},
            {"tempo_bins_bpm", bpm},
            {"velocity_decode", "bin center: 4*bin-2 (bin b holds velocities 4b-3..4b)"},
            {"ranges", v_.ranges_json()},
            {"tokens", v_.names_json()}};
  }

  std::vector<int32_t> control_prefix(const Conditioning& cond) const override {
    std::vector<int32_t> ids = special_step(bos_);
    for (int32_t id : control_ids(v_, cond)) {
      auto st = special_step(id);
      ids.insert(ids.end(), st.begin(), st.end());
    }
    return ids;
  }

  Conditioning read_conditioning(const std::vector<int32_t>& ids) const override {
    Conditioning c;
    for (size_t i = 0; i + size_t(nf_) <= ids.size(); i += size_t(nf_)) {
      if (ids[i] == bos_ || ids[i] == pad_) continue;
      if (!apply_control_id(v_, ids[i], &c)) break;
    }
    return c;
  }

  std::vector<int32_t> encode(const midi::Score& score, const Conditioning& cond) const override;
  midi::Score decode(const std::vector<int32_t>& ids, int* invalid) const override;

 private:
  std::vector<int32_t> special_step(int32_t event) const {
    std::vector<int32_t> st(static_cast<size_t>(nf_));
    st[0] = event;
    for (int f = 1; f < nf_; ++f) st[size_t(f)] = field_start_[f];  // each field's None
    return st;
  }
  // Field value v (0-based within the field, without None) -> id.
  int32_t fid(int f, int v) const { return field_start_[f] + 1 + v; }

  int spq_ = 8, max_shift_ = 64, max_dur_ = 64, nf_ = 6;
  bool chords_ = false;
  music::ChordSpanUnit unit_ = music::ChordSpanUnit::Beat;
  Vocab v_;
  int field_start_[7] = {}, field_count_[7] = {};
  int pad_, bos_, eos_, note_, rest_, tempo0_;
};

std::vector<int32_t> Tuples::encode(const midi::Score& score, const Conditioning& cond) const {
  std::vector<int32_t> out = control_prefix(cond);
  const double tpq = std::max(1, score.ticks_per_quarter);
  auto to_step = [&](int64_t tick) { return std::max<int64_t>(0, std::llround(double(tick) * spq_ / tpq)); };
  struct Ev {
    int64_t step;
    int order;  // 0 tempo, 1 note
    int key;    // program key (128 = drums)
    const midi::Note* note;
    int value;  // tempo bin or duration
  };
  std::vector<Ev> ev;
  int64_t last = -1;
  for (const auto& n : score.notes) {
    int64_t s = to_step(n.onset_tick);
    int dur = int(std::clamp<int64_t>(to_step(n.offset_tick) - s, 1, max_dur_));
    ev.push_back({s, 1, n.drum ? 128 : std::clamp(n.program, 0, 127), &n, dur});
    last = std::max(last, s);
  }
  std::vector<midi::TempoChange> tempos = score.tempos;
  std::stable_sort(tempos.begin(), tempos.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  if (tempos.empty() || tempos.front().tick > 0) tempos.insert(tempos.begin(), midi::TempoChange{});
  std::map<int64_t, int> tempo_at;
  for (const auto& t : tempos)
    if (to_step(t.tick) <= last) tempo_at[to_step(t.tick)] = tempo_to_bin(t.bpm());
  int cur = -1;
  for (auto [s, bin] : tempo_at) {
    if (bin != cur) ev.push_back({s, 0, 0, nullptr, bin});
    cur = bin;
  }
  std::stable_sort(ev.begin(), ev.end(), [](const Ev& a, const Ev& b) {
    if (a.step != b.step) return a.step < b.step;
    if (a.order != b.order) return a.order < b.order;
    if (a.key != b.key) return a.key < b.key;
    return a.note && b.note && a.note->pitch < b.note->pitch;
  });
  std::vector<music::ChordSpan> spans;
  if (chords_ && !score.notes.empty()) spans = music::recognize_chords(score, unit_);
  size_t span_i = 0;
  int64_t now = 0;
  for (const auto& e : ev) {
    int64_t d = e.step - now;
    while (d > max_shift_) {
      auto st = special_step(rest_);
      st[kShiftF] = fid(kShiftF, max_shift_);
      out.insert(out.end(), st.begin(), st.end());
      d -= max_shift_;
    }
    now = e.step;
    std::vector<int32_t> st = special_step(e.note ? note_ : tempo0_ + e.value);
    st[kShiftF] = fid(kShiftF, int(d));
    if (e.note) {
      st[kPitchF] = fid(kPitchF, std::clamp(e.note->pitch, 0, 127));
      st[kDurF] = fid(kDurF, e.value - 1);
      st[kVelF] = fid(kVelF, velocity_to_bin(e.note->velocity) - 1);
      st[kProgF] = fid(kProgF, e.key);
      if (chords_) {
        while (span_i + 1 < spans.size() && spans[span_i + 1].start_tick <= e.note->onset_tick) ++span_i;
        int c = 0;
        if (span_i < spans.size() && spans[span_i].start_tick <= e.note->onset_tick &&
            e.note->onset_tick < spans[span_i].end_tick)
          c = chord_index(spans[span_i].chord);
        st[kChordF] = fid(kChordF, c);
      }
    }
    out.insert(out.end(), st.begin(), st.end());
  }
  auto eos = special_step(eos_);
  out.insert(out.end(), eos.begin(), eos.end());
  return out;
}

midi::Score Tuples::decode(const std::vector<int32_t>& ids, int* invalid) const {
  midi::Score s;
  s.ticks_per_quarter = kDecodeTpq;
  PartTable parts(&s);
  const int64_t tick_per_step = kDecodeTpq / spq_;
  int bad = 0;
  int64_t now = 0;
  bool started = false;
  size_t i = 0;
  for (; i + size_t(nf_) <= ids.size(); i += size_t(nf_)) {
    // Each field's value, 0-based, or -1 for None; a field id out of its range makes the step invalid.
    int val[7] = {0, -1, -1, -1, -1, -1, -1};
    bool ok = true;
    for (int f = 0; f < nf_; ++f) {
      int32_t id = ids[i + size_t(f)];
      if (id < field_start_[f] || id >= field_start_[f] + field_count_[f]) ok = false;
      else if (f > 0) val[f] = id - field_start_[f] - 1;
    }
    if (!ok) {
      ++bad;
      continue;
    }
    int32_t ev = ids[i];
    if (ev == pad_) continue;
    if (ev == eos_) break;
    if (ev == bos_) {
      if (started) ++bad;
      started = true;
      continue;
    }
    Conditioning c;
    if (apply_control_id(v_, ev, &c)) {
      if (now > 0 || !s.notes.empty()) ++bad;
      started = true;
      continue;
    }
    started = true;
    if (val[kShiftF] < 0) {
      ++bad;
      continue;
    }
    if (ev == rest_) {
      now += val[kShiftF];
    } else if (ev >= tempo0_ && ev < tempo0_ + kTempoBins) {
      now += val[kShiftF];
      midi::TempoChange t;
      t.tick = now * tick_per_step;
      t.us_per_quarter = uint32_t(std::lround(60000000.0 / tempo_bin_bpm(ev - tempo0_)));
      if (!s.tempos.empty() && s.tempos.back().tick == t.tick) s.tempos.pop_back();
      s.tempos.push_back(t);
    } else if (ev == note_) {
      if (val[kPitchF] < 0 || val[kDurF] < 0 || val[kVelF] < 0 || val[kProgF] < 0) {
        ++bad;
        continue;
      }
      now += val[kShiftF];
      midi::Note n;
      n.pitch = val[kPitchF];
      n.velocity = velocity_bin_center(val[kVelF] + 1);
      n.onset_tick = now * tick_per_step;
      n.offset_tick = n.onset_tick + int64_t(val[kDurF] + 1) * tick_per_step;
      parts.assign(val[kProgF], &n);
      s.notes.push_back(n);
    } else {
      ++bad;
    }
  }
  if (i < ids.size() && (ids.size() - i) % size_t(nf_) != 0 && i + size_t(nf_) > ids.size()) ++bad;  // unfinished step
  if (s.tempos.empty() || s.tempos.front().tick > 0) s.tempos.insert(s.tempos.begin(), midi::TempoChange{});
  finish_score(s);
  if (invalid) *invalid = bad;
  return s;
}

}  // namespace

std::unique_ptr<Tokenizer> make_tuples(const json& opts) { return std::make_unique<Tuples>(opts); }

}  // namespace xm::tokens

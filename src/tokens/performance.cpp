// performance.cpp: the Performance RNN event tokenizer (Oore et al. 2018; Magenta performance_lib):
// exactly 388 core events, ids 0..127 NOTE_ON, 128..255 NOTE_OFF, 256..355 TIME_SHIFT (10 ms .. 1 s),
// 356..387 VELOCITY (32 bins of 4); optional PAD/BOS/EOS and controls after 387. Not grid-based.
#include <algorithm>
#include <cmath>
#include <deque>

#include "core/error.h"
#include "tokens/common.h"

namespace xm::tokens {
namespace {

constexpr int kStepsPerSecond = 100;
constexpr int kMaxShift = 100;  // steps: 1 s
constexpr int kNoteOn = 0, kNoteOff = 128, kShift = 256, kVelocity = 356, kCore = 388;
constexpr int kDecodeTpq = 500;  // at 120 BPM one tick is 1 ms, one step 10 ticks

class Performance final : public Tokenizer {
 public:
  explicit Performance(const json& opts) {
    check_option_keys(opts, {"core_only", "include_drums", "sustain", "decode_drums"}, "performance");
    core_only_ = option_bool(opts, "core_only", false, "performance");
    include_drums_ = option_bool(opts, "include_drums", true, "performance");
    sustain_ = option_bool(opts, "sustain", true, "performance");
    decode_drums_ = option_bool(opts, "decode_drums", false, "performance");
    v_.add_range("NOTE_ON", 128, [](int i) { return "NOTE_ON_" + std::to_string(i); });
    v_.add_range("NOTE_OFF", 128, [](int i) { return "NOTE_OFF_" + std::to_string(i); });
    v_.add_range("TIME_SHIFT", kMaxShift, [](int i) { return "TIME_SHIFT_" + std::to_string((i + 1) * 10) + "ms"; });
    v_.add_range("VELOCITY", kVelocityBins, [](int i) { return "VELOCITY_" + std::to_string(i + 1); });
    if (!core_only_) {
      pad_ = v_.add("PAD");
      bos_ = v_.add("BOS");
      eos_ = v_.add("EOS");
      add_control_ranges(v_);
    }
  }

  std::string name() const override { return "performance"; }
  int vocab_size() const override { return v_.size(); }
  int32_t pad_id() const override { return pad_; }
  int32_t bos_id() const override { return bos_; }
  int32_t eos_id() const override { return eos_; }
  std::string token_name(int32_t id) const override {
    return id >= 0 && id < v_.size() ? v_.name(id) : "<invalid " + std::to_string(id) + ">";
  }

  json vocab_json() const override {
    return {{"tokenizer", "performance"},
            {"vocab_size", v_.size()},
            {"options",
             {{"core_only", core_only_},
              {"include_drums", include_drums_},
              {"sustain", sustain_},
              {"decode_drums", decode_drums_}}},
            {"pad_id", pad_},
            {"bos_id", bos_},
            {"eos_id", eos_},
            {"steps_per_second", kStepsPerSecond},
            {"velocity_decode", "Magenta velocity_bin_to_velocity: 1 + (bin-1)*4"},
            {"ranges", v_.ranges_json()},
            {"tokens", v_.names_json()}};
  }

  std::vector<int32_t> control_prefix(const Conditioning& cond) const override {
    if (core_only_) return {};
    std::vector<int32_t> ids = {bos_};
    for (int32_t id : control_ids(v_, cond)) ids.push_back(id);
    return ids;
  }

  Conditioning read_conditioning(const std::vector<int32_t>& ids) const override {
    Conditioning c;
    if (core_only_) return c;
    for (int32_t id : ids) {
      if (id == bos_ || id == pad_) continue;
      if (!apply_control_id(v_, id, &c)) break;
    }
    return c;
  }

  std::vector<int32_t> encode(const midi::Score& score, const Conditioning& cond) const override {
    std::vector<int32_t> out = control_prefix(cond);
    midi::Score sc;
    const midi::Score* src = &score;
    if (sustain_ && !score.controls.empty()) {
      sc = score;
      apply_sustain(sc);
      src = &sc;
    }
    struct Ev {
      int64_t step;
      int on;  // 0 = off (first at equal steps), 1 = on
      int pitch;
      int velocity;
    };
    std::vector<Ev> ev;
    ev.reserve(src->notes.size() * 2);
    // Magenta's quantisation: int(seconds * 100 + 0.5); a note lasts at least one step.
    auto q = [](double s) { return int64_t(std::floor(std::max(0.0, s) * kStepsPerSecond + 0.5)); };
    for (const auto& n : src->notes) {
      if (n.drum && !include_drums_) continue;
      int64_t a = q(n.onset_s), b = q(n.offset_s);
      if (b <= a) b = a + 1;
      int p = std::clamp(n.pitch, 0, 127);
      ev.push_back({a, 1, p, n.velocity});
      ev.push_back({b, 0, p, 0});
    }
    std::stable_sort(ev.begin(), ev.end(), [](const Ev& x, const Ev& y) {
      if (x.step != y.step) return x.step < y.step;
      if (x.on != y.on) return x.on < y.on;
      return x.pitch < y.pitch;
    });
    int64_t now = 0;
    int vel_bin = -1;
    for (const auto& e : ev) {
      while (e.step > now) {
        int64_t d = std::min<int64_t>(e.step - now, kMaxShift);
        out.push_back(kShift + int32_t(d) - 1);
        now += d;
      }
      if (e.on) {
        int b = velocity_to_bin(e.velocity);
        if (b != vel_bin) {
          out.push_back(kVelocity + b - 1);
          vel_bin = b;
        }
        out.push_back(kNoteOn + e.pitch);
      } else {
        out.push_back(kNoteOff + e.pitch);
      }
    }
    if (!core_only_) out.push_back(eos_);
    return out;
  }

  midi::Score decode(const std::vector<int32_t>& ids, int* invalid) const override {
    midi::Score s;
    s.ticks_per_quarter = kDecodeTpq;
    s.tempos.push_back(midi::TempoChange{});  // 120 BPM: tick = ms
    midi::Track t;
    t.name = decode_drums_ ? "Drums" : "Piano";
    s.tracks.push_back(t);
    if (!decode_drums_) {
      midi::ProgramChange pc;
      s.programs.push_back(pc);
    }
    int bad = 0;
    int64_t now = 0;
    int velocity = 100;  // Magenta's default before the first VELOCITY event
    std::vector<std::deque<std::pair<int64_t, int>>> open(128);  // per pitch: (onset step, velocity)
    auto emit = [&](int pitch, int64_t a, int64_t b, int vel) {
      midi::Note n;
      n.pitch = pitch;
      n.velocity = vel;
      n.drum = decode_drums_;
      n.channel = decode_drums_ ? 9 : 0;
      n.onset_tick = a * (1000 / kStepsPerSecond);
      n.offset_tick = std::max(b, a + 1) * (1000 / kStepsPerSecond);
      s.notes.push_back(n);
    };
    for (size_t i = 0; i < ids.size(); ++i) {
      int32_t id = ids[i];
      if (id < 0 || id >= v_.size()) {
        ++bad;
        continue;
      }
      if (id < kNoteOff) {
        open[size_t(id)].push_back({now, velocity});
      } else if (id < kShift) {
        auto& o = open[size_t(id - kNoteOff)];
        if (o.empty()) {
          ++bad;  // NOTE_OFF of a pitch that is not sounding
          continue;
        }
        emit(id - kNoteOff, o.front().first, now, o.front().second);
        o.pop_front();
      } else if (id < kVelocity) {
        now += id - kShift + 1;
      } else if (id < kCore) {
        velocity = velocity_bin_low(id - kVelocity + 1);
      } else if (id == eos_) {
        break;
      } else if (id == pad_) {
        continue;
      } else if (id == bos_) {
        if (i > 0) ++bad;
      } else {
        Conditioning c;
        if (!apply_control_id(v_, id, &c) || now > 0) ++bad;  // controls only at the start
      }
    }
    for (int p = 0; p < 128; ++p)  // notes still sounding end where the sequence ends
      for (const auto& [a, vel] : open[size_t(p)]) emit(p, a, now, vel);
    finish_score(s);
    if (invalid) *invalid = bad;
    return s;
  }

 private:
  bool core_only_ = false, include_drums_ = true, sustain_ = true, decode_drums_ = false;
  int32_t pad_ = -1, bos_ = -1, eos_ = -1;
  Vocab v_;
};

}  // namespace

std::unique_ptr<Tokenizer> make_performance(const json& opts) { return std::make_unique<Performance>(opts); }

}  // namespace xm::tokens

// jsb.cpp: see jsb_dataset.h: the JSB Chorales loader, the note-wise serialisation (four voices per
// 16th note) and the "jsb" tokenizer over Scores. Not a general polyphonic tokenizer (four voices only).
#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/io.h"
#include "tokens/common.h"
#include "tokens/jsb_dataset.h"

namespace xm::tokens {

JsbDataset load_jsb(const std::filesystem::path& path) {
  std::filesystem::path file = path;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) file = path / "Jsb16thSeparated.json";
  const std::string what = file.string();
  json j = parse_json(read_file_text(file, 256u << 20), what);
  if (!j.is_object()) throw Error(what + ": expected an object with train, valid, test");
  JsbDataset d;
  for (auto [split, dst] : {std::pair<const char*, std::vector<JsbChorale>*>{"train", &d.train},
                            {"valid", &d.valid},
                            {"test", &d.test}}) {
    auto it = j.find(split);
    if (it == j.end() || !it->is_array())
      throw Error(what + ": missing split \"" + split + "\" (hint: use Jsb16thSeparated.json from the dataset folder)");
    for (size_t ci = 0; ci < it->size(); ++ci) {
      const json& cj = (*it)[ci];
      auto where = [&](size_t si) {
        return what + ": " + split + "[" + std::to_string(ci) + "] step " + std::to_string(si);
      };
      if (!cj.is_array()) throw Error(where(0) + ": chorale is not an array of steps");
      JsbChorale c;
      c.steps.reserve(cj.size());
      for (size_t si = 0; si < cj.size(); ++si) {
        const json& sj = cj[si];
        if (!sj.is_array() || sj.size() != 4) throw Error(where(si) + ": expected 4 voices (S, A, T, B)");
        std::array<int, 4> st{};
        for (size_t v = 0; v < 4; ++v) {
          const json& pj = sj[v];
          double p = pj.is_null() ? -1.0 : pj.is_number() ? pj.get<double>() : -2.0;
          if (std::isnan(p)) p = -1.0;
          if (p != std::floor(p) || p < -1 || p > 127)
            throw Error(where(si) + ": voice " + std::to_string(v) + " is not a MIDI pitch or -1 (silence)");
          st[v] = int(p);
        }
        c.steps.push_back(st);
      }
      dst->push_back(std::move(c));
    }
  }
  return d;
}

std::vector<int32_t> jsb_encode_chorale(const JsbChorale& c, bool bos_eos) {
  std::vector<int32_t> ids;
  ids.reserve(c.steps.size() * 4 + 2);
  if (bos_eos) ids.push_back(kJsbBos);
  for (const auto& st : c.steps)
    for (int p : st) ids.push_back(p < 0 || p > 127 ? kJsbRest : kJsbPitch0 + p);
  if (bos_eos) ids.push_back(kJsbEos);
  return ids;
}

JsbChorale jsb_decode_chorale(const std::vector<int32_t>& ids, int* invalid) {
  JsbChorale c;
  int bad = 0;
  std::array<int, 4> st{};
  int v = 0;
  bool started = false;
  for (int32_t id : ids) {
    if (id == kJsbPad) continue;
    if (id == kJsbEos) break;
    if (id == kJsbBos) {
      if (started) ++bad;
      started = true;
      continue;
    }
    started = true;
    if (id < kJsbRest || id >= kJsbVocab) {
      ++bad;
      continue;
    }
    st[size_t(v++)] = id == kJsbRest ? -1 : id - kJsbPitch0;
    if (v == 4) {
      c.steps.push_back(st);
      v = 0;
    }
  }
  if (v != 0) ++bad;  // an unfinished step
  if (invalid) *invalid = bad;
  return c;
}

midi::Score jsb_chorale_to_score(const JsbChorale& c, double bpm, int velocity) {
  midi::Score s;
  s.ticks_per_quarter = 480;
  const int64_t step = 120;
  midi::TempoChange t;
  t.us_per_quarter = uint32_t(std::lround(60000000.0 / std::clamp(bpm, 10.0, 1000.0)));
  s.tempos.push_back(t);
  static const char* names[4] = {"Soprano", "Alto", "Tenor", "Bass"};
  for (int v = 0; v < 4; ++v) {
    midi::Track tr;
    tr.name = names[v];
    s.tracks.push_back(tr);
    midi::ProgramChange pc;
    pc.track = v;
    pc.channel = v;
    s.programs.push_back(pc);
    size_t i = 0;
    while (i < c.steps.size()) {
      int p = c.steps[i][size_t(v)];
      size_t j = i + 1;
      while (j < c.steps.size() && c.steps[j][size_t(v)] == p) ++j;
      if (p >= 0 && p <= 127) {
        midi::Note n;
        n.pitch = p;
        n.velocity = std::clamp(velocity, 1, 127);
        n.channel = v;
        n.track = v;
        n.onset_tick = int64_t(i) * step;
        n.offset_tick = int64_t(j) * step;
        s.notes.push_back(n);
      }
      i = j;
    }
  }
  s.end_tick = int64_t(c.steps.size()) * step;
  finish_score(s);
  return s;
}

JsbChorale jsb_score_to_chorale(const midi::Score& s) {
  const double tpq = std::max(1, s.ticks_per_quarter);
  auto to_step = [&](int64_t tick) { return int64_t(std::llround(double(tick) * 4.0 / tpq)); };
  struct N {
    int64_t a, b;
    int pitch, track;
  };
  std::vector<N> notes;
  int64_t total = 0;
  std::map<int, std::pair<double, int>> tracks;  // track -> (pitch sum, count)
  for (const auto& n : s.notes) {
    if (n.drum) continue;
    int64_t a = std::max<int64_t>(0, to_step(n.onset_tick));
    int64_t b = std::max(a + 1, to_step(n.offset_tick));
    notes.push_back({a, b, std::clamp(n.pitch, 0, 127), n.track});
    total = std::max(total, b);
    tracks[n.track].first += n.pitch;
    tracks[n.track].second += 1;
  }
  if (total > (int64_t(1) << 22))
    throw Error("jsb: the piece lasts " + std::to_string(total) + " 16th steps, more than the 4194304 the jsb "
                "tokenizer serialises (hint: cut the piece)");
  JsbChorale c;
  c.steps.assign(size_t(total), std::array<int, 4>{-1, -1, -1, -1});
  if (tracks.size() == 4) {
    std::vector<std::pair<double, int>> order;  // (-mean pitch, track)
    for (const auto& [t, sc] : tracks) order.push_back({-sc.first / sc.second, t});
    std::sort(order.begin(), order.end());
    std::map<int, int> voice_of;
    for (int v = 0; v < 4; ++v) voice_of[order[size_t(v)].second] = v;
    for (const auto& n : notes) {
      int v = voice_of[n.track];
      for (int64_t t = n.a; t < n.b; ++t) c.steps[size_t(t)][size_t(v)] = std::max(c.steps[size_t(t)][size_t(v)], n.pitch);
    }
    return c;
  }
  std::vector<std::vector<int>> sounding(static_cast<size_t>(total));
  for (const auto& n : notes)
    for (int64_t t = n.a; t < n.b; ++t) sounding[size_t(t)].push_back(n.pitch);
  for (size_t t = 0; t < sounding.size(); ++t) {
    auto& p = sounding[t];
    std::sort(p.begin(), p.end(), std::greater<int>());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    auto& st = c.steps[t];
    size_t n = p.size();
    if (n == 1) {
      st[0] = p[0];
    } else if (n == 2) {
      st[0] = p[0];
      st[3] = p[1];
    } else if (n == 3) {
      st = {p[0], p[1], -1, p[2]};
    } else if (n >= 4) {
      st = {p[0], p[1], p[n - 2], p[n - 1]};
    }
  }
  return c;
}

namespace {

class Jsb final : public Tokenizer {
 public:
  explicit Jsb(const json& opts) {
    check_option_keys(opts, {"decode_bpm"}, "jsb");
    bpm_ = option_double(opts, "decode_bpm", 100.0, 10.0, 1000.0, "jsb");
  }
  std::string name() const override { return "jsb"; }
  int vocab_size() const override { return kJsbVocab; }
  int32_t pad_id() const override { return kJsbPad; }
  int32_t bos_id() const override { return kJsbBos; }
  int32_t eos_id() const override { return kJsbEos; }
  std::string token_name(int32_t id) const override {
    if (id == kJsbPad) return "PAD";
    if (id == kJsbBos) return "BOS";
    if (id == kJsbEos) return "EOS";
    if (id == kJsbRest) return "REST";
    if (id > kJsbRest && id < kJsbVocab) return "Pitch_" + std::to_string(id - kJsbPitch0);
    return "<invalid " + std::to_string(id) + ">";
  }
  json vocab_json() const override {
    json names = json::array();
    for (int i = 0; i < kJsbVocab; ++i) names.push_back(token_name(i));
    return {{"tokenizer", "jsb"},
            {"vocab_size", kJsbVocab},
            {"options", {{"decode_bpm", bpm_}}},
            {"pad_id", kJsbPad},
            {"bos_id", kJsbBos},
            {"eos_id", kJsbEos},
            {"steps_per_quarter", 4},
            {"voices", {"soprano", "alto", "tenor", "bass"}},
            {"convention",
             "per 16th step one token per voice S,A,T,B; a held pitch repeats every step; REST = silent voice; "
             "decoding merges equal consecutive pitches of a voice into one note"},
            {"ranges",
             {{{"kind", "PAD"}, {"start", 0}, {"count", 1}},
              {{"kind", "BOS"}, {"start", 1}, {"count", 1}},
              {{"kind", "EOS"}, {"start", 2}, {"count", 1}},
              {{"kind", "REST"}, {"start", 3}, {"count", 1}},
              {{"kind", "Pitch"}, {"start", 4}, {"count", 128}}}},
            {"tokens", names}};
  }
  std::vector<int32_t> control_prefix(const Conditioning&) const override { return {kJsbBos}; }
  Conditioning read_conditioning(const std::vector<int32_t>&) const override { return {}; }
  std::vector<int32_t> encode(const midi::Score& score, const Conditioning&) const override {
    return jsb_encode_chorale(jsb_score_to_chorale(score), true);
  }
  midi::Score decode(const std::vector<int32_t>& ids, int* invalid) const override {
    return jsb_chorale_to_score(jsb_decode_chorale(ids, invalid), bpm_);
  }

 private:
  double bpm_ = 100.0;
};

}  // namespace

std::unique_ptr<Tokenizer> make_jsb(const json& opts) { return std::make_unique<Jsb>(opts); }

}  // namespace xm::tokens

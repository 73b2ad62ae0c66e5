// common.cpp: see common.h. Shared tables, bins and score helpers of the tokenizers; the tokenizers
// themselves live in remi.cpp, performance.cpp, jsb.cpp and tuples.cpp.
#include "tokens/common.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "core/error.h"

namespace xm::tokens {

// ---- Vocab ------------------------------------------------------------------------------------------
int Vocab::add_range(const std::string& kind, int count, const std::function<std::string(int)>& name_of) {
  int start = size();
  for (int i = 0; i < count; ++i) {
    std::string n = name_of(i);
    if (by_name_.count(n)) throw Error("tokenizer vocabulary: duplicate token name \"" + n + "\"");
    by_name_[n] = int(names_.size());
    names_.push_back(std::move(n));
  }
  ranges_.push_back({kind, start, count});
  return start;
}

int Vocab::find(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

bool Vocab::has_range(const std::string& kind) const {
  for (const auto& r : ranges_)
    if (r.kind == kind) return true;
  return false;
}

const Vocab::Range& Vocab::range(const std::string& kind) const {
  for (const auto& r : ranges_)
    if (r.kind == kind) return r;
  throw Error("tokenizer vocabulary: no range \"" + kind + "\"");
}

const Vocab::Range* Vocab::range_of(int id) const {
  if (id < 0 || id >= size()) return nullptr;
  // Ranges are contiguous and in id order: binary search on start.
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), id,
                             [](int x, const Range& r) { return x < r.start; });
  return &*(it - 1);
}

json Vocab::names_json() const { return json(names_); }

json Vocab::ranges_json() const {
  json a = json::array();
  for (const auto& r : ranges_) a.push_back({{"kind", r.kind}, {"start", r.start}, {"count", r.count}});
  return a;
}

// ---- velocity ---------------------------------------------------------------------------------------
int velocity_to_bin(int velocity) {
  velocity = std::clamp(velocity, 1, 127);
  return (velocity - 1) / 4 + 1;
}
int velocity_bin_low(int bin) { return 1 + (std::clamp(bin, 1, kVelocityBins) - 1) * 4; }
int velocity_bin_center(int bin) { return std::min(127, 4 * std::clamp(bin, 1, kVelocityBins) - 2); }

// ---- tempo ------------------------------------------------------------------------------------------
static constexpr double kTempoMin = 40.0, kTempoMax = 250.0;

double tempo_bin_bpm(int bin) {
  bin = std::clamp(bin, 0, kTempoBins - 1);
  return kTempoMin * std::pow(kTempoMax / kTempoMin, double(bin) / (kTempoBins - 1));
}

int tempo_to_bin(double bpm) {
  if (!(bpm > 0)) return tempo_to_bin(120.0);
  double x = std::log(bpm / kTempoMin) / std::log(kTempoMax / kTempoMin) * (kTempoBins - 1);
  return std::clamp(int(std::lround(x)), 0, kTempoBins - 1);
}

const std::vector<std::string>& tempo_class_names() {
  static const std::vector<std::string> n = {"slow", "medium", "fast"};
  return n;
}
std::string tempo_class_of(double bpm) { return bpm < 90 ? "slow" : bpm < 140 ? "medium" : "fast"; }
double tempo_class_bpm(const std::string& cls) { return cls == "slow" ? 70 : cls == "fast" ? 160 : 115; }

// ---- controls ---------------------------------------------------------------------------------------
const std::vector<std::string>& genre_names() {
  // Order is part of every vocabulary: append only.
  static const std::vector<std::string> g = {
      "pop",      "rock",     "jazz",      "classical", "chorale",   "folk",          "drums",
      "latin",    "funk",     "hiphop",    "blues",     "country",   "electronic",    "reggae",
      "soul",     "metal",    "game",      "makam",     "world",     "other",
      // Groove MIDI primary styles not in the list above
      "afrobeat", "afrocuban", "dance",    "gospel",    "highlife",  "middleeastern", "neworleans",
      "punk"};
  return g;
}

const std::vector<std::string>& mood_names() {
  static const std::vector<std::string> m = {"happy", "sad", "calm", "tense"};
  return m;
}

std::string normalize_genre(const std::string& text) {
  std::string t = text.substr(0, text.find('/'));  // Groove "neworleans/funk" -> "neworleans"
  std::string out;
  for (char c : t)
    if (std::isalnum(static_cast<unsigned char>(c))) out += char(std::tolower(static_cast<unsigned char>(c)));
  if (out == "hip" || out == "rap") out = "hiphop";
  if (out == "videogame" || out == "vgm") out = "game";
  if (out == "disco") out = "dance";
  const auto& g = genre_names();
  return std::find(g.begin(), g.end(), out) != g.end() ? out : "";
}

std::string mood_from_valence_arousal(int valence, int arousal) {
  if (valence >= 0) return arousal >= 0 ? "happy" : "calm";
  return arousal >= 0 ? "tense" : "sad";
}

static const char* kPitchClassNames[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};

std::string key_token_suffix(int index) {
  return std::string(kPitchClassNames[index % 12]) + (index >= 12 ? "m" : "");
}

void add_control_ranges(Vocab& v) {
  const auto& g = genre_names();
  const auto& m = mood_names();
  const auto& t = tempo_class_names();
  v.add_range("Genre", int(g.size()), [&](int i) { return "Genre_" + g[size_t(i)]; });
  v.add_range("Mood", int(m.size()), [&](int i) { return "Mood_" + m[size_t(i)]; });
  v.add_range("Key", 24, [](int i) { return "Key_" + key_token_suffix(i); });
  v.add_range("TempoClass", int(t.size()), [&](int i) { return "TempoClass_" + t[size_t(i)]; });
}

std::vector<int32_t> control_ids(const Vocab& v, const Conditioning& cond) {
  std::vector<int32_t> ids;
  if (!cond.genre.empty()) {
    int id = v.find("Genre_" + normalize_genre(cond.genre));
    if (id >= 0) ids.push_back(id);
  }
  if (!cond.mood.empty()) {
    int id = v.find("Mood_" + cond.mood);
    if (id >= 0) ids.push_back(id);
  }
  if (cond.key_tonic >= 0 && cond.key_tonic < 12) ids.push_back(v.range("Key").start + cond.key_tonic + (cond.key_minor ? 12 : 0));
  if (cond.tempo_bpm > 0) ids.push_back(v.find("TempoClass_" + tempo_class_of(cond.tempo_bpm)));
  return ids;
}

bool apply_control_id(const Vocab& v, int32_t id, Conditioning* cond) {
  const Vocab::Range* r = v.range_of(id);
  if (!r) return false;
  int i = id - r->start;
  if (r->kind == "Genre") {
    cond->genre = genre_names()[size_t(i)];
  } else if (r->kind == "Mood") {
    cond->mood = mood_names()[size_t(i)];
  } else if (r->kind == "Key") {
    cond->key_tonic = i % 12;
    cond->key_minor = i >= 12;
  } else if (r->kind == "TempoClass") {
    cond->tempo_bpm = tempo_class_bpm(tempo_class_names()[size_t(i)]);
  } else {
    return false;
  }
  return true;
}

// ---- options ----------------------------------------------------------------------------------------
json options_object(const json& o, const std::string& tokenizer) {
  if (o.is_null()) return json::object();
  if (!o.is_object()) throw Error("tokenizer " + tokenizer + ": options must be a JSON object");
  if (o.contains("tokenizer")) {
    auto it = o.find("options");
    return it == o.end() || it->is_null() ? json::object() : *it;
  }
  return o;
}

void check_option_keys(const json& opts, const std::vector<std::string>& known, const std::string& tok) {
  if (!opts.is_object()) throw Error("tokenizer " + tok + ": options must be a JSON object");
  for (auto it = opts.begin(); it != opts.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end()) {
      std::string list;
      for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
      throw Error("tokenizer " + tok + ": unknown option \"" + it.key() + "\" (known: " + list + ")");
    }
  }
}

int option_int(const json& opts, const std::string& key, int fallback, int lo, int hi, const std::string& tok) {
  int v = json_get_or<int>(opts, key, fallback, "tokenizer " + tok + " options");
  if (v < lo || v > hi)
    throw Error("tokenizer " + tok + ": option \"" + key + "\" = " + std::to_string(v) + " is out of range [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

bool option_bool(const json& opts, const std::string& key, bool fallback, const std::string& tok) {
  return json_get_or<bool>(opts, key, fallback, "tokenizer " + tok + " options");
}

double option_double(const json& opts, const std::string& key, double fallback, double lo, double hi,
                     const std::string& tok) {
  double v = json_get_or<double>(opts, key, fallback, "tokenizer " + tok + " options");
  if (!(v >= lo && v <= hi))
    throw Error("tokenizer " + tok + ": option \"" + key + "\" = " + std::to_string(v) + " is out of range [" +
                std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v;
}

// ---- scores -----------------------------------------------------------------------------------------
void finish_score(midi::Score& s) {
  std::sort(s.tempos.begin(), s.tempos.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  std::stable_sort(s.notes.begin(), s.notes.end(), [](const midi::Note& a, const midi::Note& b) {
    if (a.onset_tick != b.onset_tick) return a.onset_tick < b.onset_tick;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    if (a.channel != b.channel) return a.channel < b.channel;
    return a.track < b.track;
  });
  midi::TempoMap tm = s.tempo_map();
  for (auto& t : s.tempos) t.seconds = tm.ticks_to_seconds(t.tick);
  for (auto& t : s.time_signatures) t.seconds = tm.ticks_to_seconds(t.tick);
  for (auto& t : s.key_signatures) t.seconds = tm.ticks_to_seconds(t.tick);
  for (auto& p : s.programs) p.seconds = tm.ticks_to_seconds(p.tick);
  for (auto& c : s.controls) c.seconds = tm.ticks_to_seconds(c.tick);
  int64_t end = s.end_tick;
  for (auto& n : s.notes) {
    n.onset_s = tm.ticks_to_seconds(n.onset_tick);
    n.offset_s = tm.ticks_to_seconds(n.offset_tick);
    end = std::max(end, n.offset_tick);
  }
  s.end_tick = end;
}

void apply_sustain(midi::Score& s) {
  if (s.controls.empty() || s.notes.empty()) return;
  constexpr int64_t kForever = std::numeric_limits<int64_t>::max();
  int64_t end = s.end_tick;
  for (const auto& n : s.notes) end = std::max(end, n.offset_tick);
  // Pedal-down intervals [down, up) per channel.
  std::vector<std::vector<std::pair<int64_t, int64_t>>> down(16);
  std::vector<midi::ControlChange> cc;
  for (const auto& c : s.controls)
    if (c.controller == 64 && c.channel >= 0 && c.channel < 16) cc.push_back(c);
  std::stable_sort(cc.begin(), cc.end(), [](const auto& a, const auto& b) { return a.tick < b.tick; });
  std::vector<int64_t> since(16, -1);
  for (const auto& c : cc) {
    bool is_down = c.value >= 64;
    int64_t& d = since[size_t(c.channel)];
    if (is_down && d < 0) d = c.tick;
    if (!is_down && d >= 0) {
      if (c.tick > d) down[size_t(c.channel)].push_back({d, c.tick});
      d = -1;
    }
  }
  for (int ch = 0; ch < 16; ++ch)
    if (since[size_t(ch)] >= 0) down[size_t(ch)].push_back({since[size_t(ch)], kForever});
  // Onsets per (channel, pitch) for the re-strike rule.
  std::map<int, std::vector<int64_t>> onsets;
  for (const auto& n : s.notes) onsets[n.channel * 128 + n.pitch].push_back(n.onset_tick);
  for (auto& [k, v] : onsets) std::sort(v.begin(), v.end());
  midi::TempoMap tm = s.tempo_map();
  for (auto& n : s.notes) {
    if (n.drum || n.channel < 0 || n.channel >= 16) continue;
    const auto& iv = down[size_t(n.channel)];
    auto it = std::upper_bound(iv.begin(), iv.end(), n.offset_tick,
                               [](int64_t t, const auto& p) { return t < p.first; });
    if (it == iv.begin()) continue;
    --it;
    if (!(it->first <= n.offset_tick && n.offset_tick < it->second)) continue;
    int64_t e = it->second == kForever ? std::max(end, n.offset_tick) : it->second;
    const auto& on = onsets[n.channel * 128 + n.pitch];
    auto nx = std::lower_bound(on.begin(), on.end(), n.offset_tick);
    if (nx != on.end() && *nx < e) e = *nx;
    if (e != n.offset_tick) {
      n.offset_tick = e;
      n.offset_s = tm.ticks_to_seconds(e);
    }
  }
}

int channel_for_part(int k) {
  static const int ch[15] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15};
  return ch[k % 15];
}

void PartTable::assign(int program_key, midi::Note* n) {
  auto it = parts_.find(program_key);
  if (it == parts_.end()) {
    int track = int(score_->tracks.size());
    int channel = program_key == 128 ? 9 : channel_for_part(melodic_++);
    midi::Track t;
    t.name = program_key == 128 ? "Drums" : "Program " + std::to_string(program_key);
    score_->tracks.push_back(t);
    if (program_key != 128) {
      midi::ProgramChange pc;
      pc.track = track;
      pc.channel = channel;
      pc.program = program_key;
      score_->programs.push_back(pc);
    }
    it = parts_.emplace(program_key, std::make_pair(track, channel)).first;
  }
  n->drum = program_key == 128;
  n->program = program_key == 128 ? 0 : program_key;
  n->track = it->second.first;
  n->channel = it->second.second;
}

// Quality names as music::chord_quality_name gives them; fixed here because they are token names.
static const char* kQualityNames[10] = {"maj", "min", "dim", "aug", "7", "maj7", "min7", "hdim7", "sus2", "sus4"};

int chord_index(const music::Chord& c) {
  int q = int(c.quality);
  if (c.quality == music::ChordQuality::None || c.root < 0 || c.root > 11 || q < 1 || q > 10) return 0;
  return 1 + c.root * 10 + (q - 1);
}

std::string chord_token_suffix(int index) {
  if (index <= 0 || index >= kChordTokens) return "N";
  int root = (index - 1) / 10, q = (index - 1) % 10;
  return std::string(kPitchClassNames[root]) + ":" + kQualityNames[q];
}

music::ChordSpanUnit parse_chord_unit(const std::string& text, const std::string& tok) {
  if (text == "beat") return music::ChordSpanUnit::Beat;
  if (text == "half_bar") return music::ChordSpanUnit::HalfBar;
  if (text == "bar") return music::ChordSpanUnit::Bar;
  throw Error("tokenizer " + tok + ": option \"chord_unit\" = \"" + text + "\" (use beat, half_bar or bar)");
}

std::string chord_unit_name(music::ChordSpanUnit u) {
  return u == music::ChordSpanUnit::Beat ? "beat" : u == music::ChordSpanUnit::HalfBar ? "half_bar" : "bar";
}

}  // namespace xm::tokens

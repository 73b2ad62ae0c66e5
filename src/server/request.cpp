// request.cpp: see request.h. Strict on purpose: a typo in a field name is an error, not a silent default.
#include "server/request.h"

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "midi/midi_io.h"
#include "server/api_error.h"

namespace xm::server {
namespace {

[[noreturn]] void bad(const std::string& field, const std::string& why) {
  throw ApiError(400, field, "field \"" + field + "\": " + why);
}

const json* field_of(const json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return nullptr;
  return &*it;
}

double number(const json& v, const char* name) {
  if (!v.is_number()) bad(name, std::string("must be a number, not ") + v.type_name());
  const double x = v.get<double>();
  if (!std::isfinite(x)) bad(name, "must be finite");
  return x;
}

// An integer in [lo, hi]; 2.0 is accepted as 2, 2.5 is not.
int64_t integer(const json& v, const char* name, int64_t lo, int64_t hi) {
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > uint64_t(hi)) bad(name, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    return int64_t(u);
  }
  if (v.is_number_integer()) {
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) bad(name, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
    return x;
  }
  const double d = number(v, name);
  if (d != std::floor(d)) bad(name, "must be a whole number");
  if (d < double(lo) || d > double(hi)) bad(name, "must be in " + std::to_string(lo) + ".." + std::to_string(hi));
  return int64_t(d);
}

std::string text(const json& v, const char* name, size_t max_len = 200) {
  if (!v.is_string()) bad(name, std::string("must be a string, not ") + v.type_name());
  std::string s = v.get<std::string>();
  if (s.size() > max_len) bad(name, "is longer than " + std::to_string(max_len) + " characters");
  return s;
}

std::string fmt(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

}  // namespace

GenerateRequest parse_generate_request(const json& body, const RequestLimits& lim) {
  if (!body.is_object()) throw ApiError(400, "body", std::string("the body must be a JSON object, not ") + body.type_name());
  static const std::set<std::string> known = {"model", "title", "genre",   "mood",       "key",         "scale",
                                              "pitch_range", "tempo", "bars", "seconds", "max_tokens", "stop_prob",
                                              "temperature", "top_k", "top_p", "num", "random_seed"};
  for (const auto& [k, v] : body.items())
    if (!known.count(k))
      bad(k, "unknown field (known: model, title, genre, mood, key, scale, pitch_range, tempo, bars, seconds, "
             "max_tokens, stop_prob, temperature, top_k, top_p, num, random_seed)");

  GenerateRequest r;
  gen::GenerateOptions& o = r.opt;
  json& p = r.params;
  if (auto v = field_of(body, "model")) p["model"] = r.model = text(*v, "model");
  if (auto v = field_of(body, "title")) p["title"] = r.title = text(*v, "title");
  if (auto v = field_of(body, "genre")) p["genre"] = o.genre = text(*v, "genre");
  if (auto v = field_of(body, "mood")) p["mood"] = o.mood = text(*v, "mood");
  if (auto v = field_of(body, "key")) p["key"] = o.key = text(*v, "key");
  if (auto v = field_of(body, "scale")) p["scale"] = o.scale = text(*v, "scale");
  if (auto v = field_of(body, "pitch_range")) {
    int lo = 0, hi = 127;
    if (v->is_array()) {
      if (v->size() != 2) bad("pitch_range", "must be [LO, HI] or \"LO..HI\"");
      lo = int(integer((*v)[0], "pitch_range", 0, 127));
      hi = int(integer((*v)[1], "pitch_range", 0, 127));
    } else {
      const std::string s = text(*v, "pitch_range", 16);
      const size_t dots = s.find("..");
      try {
        size_t a = 0, b = 0;
        if (dots == std::string::npos) throw 0;
        lo = std::stoi(s.substr(0, dots), &a);
        hi = std::stoi(s.substr(dots + 2), &b);
        if (a != dots || b != s.size() - dots - 2) throw 0;
      } catch (...) {
        bad("pitch_range", "\"" + s + "\" is not LO..HI (e.g. \"48..84\")");
      }
    }
    if (lo < 0 || hi > 127 || lo > hi) bad("pitch_range", "must satisfy 0 <= LO <= HI <= 127");
    o.pitch_min = lo;
    o.pitch_max = hi;
    p["pitch_range"] = std::to_string(lo) + ".." + std::to_string(hi);
  }
  if (auto v = field_of(body, "tempo")) {
    o.tempo_bpm = number(*v, "tempo");
    if (o.tempo_bpm < 10 || o.tempo_bpm > 1000) bad("tempo", "must be in 10..1000 BPM");
    p["tempo"] = o.tempo_bpm;
  }
  if (auto v = field_of(body, "bars")) p["bars"] = o.bars = int(integer(*v, "bars", 1, lim.max_bars));
  if (auto v = field_of(body, "seconds")) {
    o.seconds = number(*v, "seconds");
    if (!(o.seconds > 0) || o.seconds > lim.max_seconds) bad("seconds", "must be in (0, " + fmt(lim.max_seconds) + "]");
    p["seconds"] = o.seconds;
  }
  if (auto v = field_of(body, "max_tokens"))
    p["max_tokens"] = o.max_tokens = int(integer(*v, "max_tokens", 1, lim.max_tokens));
  if (auto v = field_of(body, "stop_prob")) {
    o.stop_prob = number(*v, "stop_prob");
    if (o.stop_prob < 0 || o.stop_prob > 1) bad("stop_prob", "must be in [0, 1] (0 = off)");
    p["stop_prob"] = o.stop_prob;
  }
  if (auto v = field_of(body, "temperature")) {
    o.temperature = number(*v, "temperature");
    if (!(o.temperature > 0) || o.temperature > 100) bad("temperature", "must be in (0, 100]");
    p["temperature"] = o.temperature;
  }
  if (auto v = field_of(body, "top_k")) p["top_k"] = o.top_k = int(integer(*v, "top_k", 0, 1 << 20));
  if (auto v = field_of(body, "top_p")) {
    o.top_p = number(*v, "top_p");
    if (!(o.top_p > 0) || o.top_p > 1) bad("top_p", "must be in (0, 1] (1 = off)");
    p["top_p"] = o.top_p;
  }
  if (auto v = field_of(body, "num")) p["num"] = o.num = int(integer(*v, "num", 1, lim.max_num));
  if (auto v = field_of(body, "random_seed")) {
    o.random_seed = uint64_t(integer(*v, "random_seed", 0, (int64_t(1) << 53)));
  } else {
    // Drawn here (not the CLI's fixed 1) so that two clicks give two pieces; stored, so each piece can be redone.
    std::random_device rd;
    o.random_seed = ((uint64_t(rd()) << 32) ^ rd()) & ((uint64_t(1) << 53) - 1);
  }
  p["random_seed"] = o.random_seed;
  if (o.bars == 0 && o.seconds == 0 && o.max_tokens == 0) p["seconds"] = o.seconds = lim.default_seconds;
  return r;
}

void attach_seed(GenerateRequest& req, const std::string& bytes, const std::string& filename,
                 const RequestLimits& lim) {
  if (bytes.size() > lim.max_seed_bytes)
    throw ApiError(413, "seed", "field \"seed\": the MIDI file has " + std::to_string(bytes.size()) +
                                    " bytes, more than the limit of " + std::to_string(lim.max_seed_bytes));
  if (bytes.empty()) bad("seed", "the uploaded file is empty");
  const std::string name = filename.empty() ? std::string("seed") : filename;
  midi::ReadOptions ro;
  ro.max_file_bytes = lim.max_seed_bytes;
  ro.max_events = lim.max_seed_notes * 8 + 10000;
  try {
    req.seed = midi::read_midi_bytes(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), name, ro);
  } catch (const std::exception& e) {
    bad("seed", std::string("not a usable MIDI file: ") + e.what());
  }
  if (req.seed->notes.empty()) bad("seed", "the MIDI file has no notes to continue");
  if (req.seed->notes.size() > lim.max_seed_notes)
    bad("seed", "the MIDI file has " + std::to_string(req.seed->notes.size()) + " notes, more than the limit of " +
                    std::to_string(lim.max_seed_notes));
  req.seed_name = filename;
}

std::string generator_error_field(const std::string& message) {
  const size_t at = message.find("--");
  if (at == std::string::npos) return "";
  std::string f;
  for (size_t i = at + 2; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '-') f += '_';
    else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) f += c;
    else break;
  }
  if (f == "seed_midi") return "seed";
  return f;
}

}  // namespace xm::server

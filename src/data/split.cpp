// split.cpp: see split.h.
#include "data/split.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/error.h"

namespace xm::data {

static std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

static std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

std::string split_name(Split s) {
  switch (s) {
    case Split::Train: return "train";
    case Split::Valid: return "valid";
    case Split::Test: return "test";
  }
  return "train";
}

bool parse_split_name(const std::string& text, Split* out) {
  const std::string t = lower(trim(text));
  if (t == "train" || t == "training") {
    *out = Split::Train;
  } else if (t == "valid" || t == "validation" || t == "val" || t == "dev") {
    *out = Split::Valid;
  } else if (t == "test") {
    *out = Split::Test;
  } else {
    return false;
  }
  return true;
}

static double parse_fraction(const std::string& key, const std::string& value, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const std::string v = trim(value);
  double x = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x))
    throw Error("'" + text + "': " + key + "=" + value + " is not a number (expected e.g. valid=0.05,test=0.05)");
  if (x < 0.0 || x > 1.0)
    throw Error("'" + text + "': " + key + "=" + value + " is outside [0, 1]");
  return x;
}

SplitSpec parse_split_spec(const std::string& text) {
  SplitSpec spec{0.0, 0.0};
  double train = -1.0;
  bool any = false;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string part = trim(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    if (part.empty()) continue;
    size_t eq = part.find('=');
    if (eq == std::string::npos)
      throw Error("'" + text + "': '" + part + "' is not NAME=FRACTION (expected e.g. valid=0.05,test=0.05)");
    std::string key = lower(trim(part.substr(0, eq)));
    double x = parse_fraction(key, part.substr(eq + 1), text);
    Split s;
    if (!parse_split_name(key, &s))
      throw Error("'" + text + "': unknown split '" + key + "' (use train, valid, test)");
    if (s == Split::Valid) spec.valid = x;
    if (s == Split::Test) spec.test = x;
    if (s == Split::Train) train = x;
    any = true;
  }
  if (!any) throw Error("'" + text + "': no NAME=FRACTION given (expected e.g. valid=0.05,test=0.05)");
  if (spec.valid + spec.test > 1.0 + 1e-9)
    throw Error("'" + text + "': valid + test = " + std::to_string(spec.valid + spec.test) + " exceeds 1");
  if (train >= 0.0 && std::fabs(train + spec.valid + spec.test - 1.0) > 1e-6)
    throw Error("'" + text + "': train + valid + test must be 1");
  return spec;
}

uint64_t stable_hash(const std::string& key) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : key) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h += 0x9E3779B97F4A7C15ull;
  h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
  h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
  return h ^ (h >> 31);
}

Split assign_split(const std::string& group_key, const SplitSpec& spec) {
  const double u = double(stable_hash(group_key) >> 11) * 0x1.0p-53;
  if (u < spec.test) return Split::Test;
  if (u < spec.test + spec.valid) return Split::Valid;
  return Split::Train;
}

std::vector<int> TransposeRange::shifts() const {
  std::vector<int> s{0};
  for (int k = lo; k <= hi; ++k)
    if (k != 0) s.push_back(k);
  return s;
}

static int parse_semitones(const std::string& v, const std::string& text) {
  errno = 0;
  char* end = nullptr;
  const std::string t = trim(v);
  long x = std::strtol(t.c_str(), &end, 10);
  if (t.empty() || *end != '\0' || errno == ERANGE)
    throw Error("'" + text + "': '" + t + "' is not a whole number of semitones (expected e.g. -5..6)");
  if (x < -24 || x > 24) throw Error("'" + text + "': " + t + " is outside [-24, 24] semitones");
  return int(x);
}

TransposeRange parse_transpose_range(const std::string& text) {
  const std::string t = lower(trim(text));
  if (t == "none" || t == "off") return {};
  size_t sep = t.find("..");
  size_t sep_len = 2;
  if (sep == std::string::npos) {
    // "-5:6"; a leading '-' belongs to the number, so look for ':' only.
    sep = t.find(':');
    sep_len = 1;
  }
  TransposeRange r;
  if (sep == std::string::npos) {
    int x = parse_semitones(t, text);
    if (x != 0) throw Error("'" + text + "': give a range LO..HI that includes 0 (e.g. -5..6), or 0 for none");
    return r;
  }
  r.lo = parse_semitones(t.substr(0, sep), text);
  r.hi = parse_semitones(t.substr(sep + sep_len), text);
  if (r.lo > r.hi) throw Error("'" + text + "': LO is above HI (expected LO..HI, e.g. -5..6)");
  if (r.lo > 0 || r.hi < 0)
    throw Error("'" + text + "': the range must include 0 so that every piece keeps its original key");
  return r;
}

}  // namespace xm::data

// key.cpp: key names, key parsing, pitch-class histograms and key estimation by correlating the histogram
// with a published key profile rotated to each of the 24 keys (Krumhansl-Schmuckler and its successors).
// Not a modulation tracker: one key for the whole span given.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "music/analysis.h"

namespace xm::music {

namespace {

// Profiles indexed from the tonic (0 = tonic, 7 = fifth). Values as published (scale does not matter:
// the correlation is invariant to it).
struct ProfilePair {
  KeyProfile id;
  const char* name;
  std::array<double, 12> major, minor;
};

const ProfilePair kProfiles[] = {
    {KeyProfile::KrumhanslKessler, "krumhansl",  // Krumhansl & Kessler 1982 (probe-tone ratings)
     {6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88},
     {6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17}},
    {KeyProfile::Temperley, "temperley",  // Temperley 2007, Kostka-Payne corpus
     {0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400},
     {0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330}},
    {KeyProfile::AlbrechtShanahan, "albrecht",  // Albrecht & Shanahan 2013
     {0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081},
     {0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052}},
    {KeyProfile::AardenEssen, "aarden",  // Aarden 2003, Essen folk song collection
     {17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494, 0.232998,
      4.95122},
     {18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186, 7.37619,
      1.75623}},
    {KeyProfile::BellmanBudge, "bellman",  // Bellman 2005, Budge's chord counts
     {16.80, 0.86, 12.95, 1.41, 13.49, 11.93, 1.25, 20.28, 1.80, 8.04, 0.62, 10.57},
     {18.16, 0.69, 12.99, 13.34, 1.07, 11.15, 1.38, 21.07, 7.49, 1.53, 0.92, 10.21}},
};

const ProfilePair& profile_of(KeyProfile p) {
  for (const ProfilePair& pp : kProfiles)
    if (pp.id == p) return pp;
  return kProfiles[0];
}

double pearson(const std::array<double, 12>& x, const std::array<double, 12>& y, int shift) {
  // Correlation of x[(i + shift) % 12] with y[i].
  double mx = 0, my = 0;
  for (int i = 0; i < 12; ++i) mx += x[i], my += y[i];
  mx /= 12, my /= 12;
  double sxy = 0, sxx = 0, syy = 0;
  for (int i = 0; i < 12; ++i) {
    double a = x[(i + shift) % 12] - mx, b = y[i] - my;
    sxy += a * b, sxx += a * a, syy += b * b;
  }
  if (sxx <= 0 || syy <= 0) return 0.0;
  return sxy / std::sqrt(sxx * syy);
}

// Spelling of the 24 keys: fewest accidentals (F# for the six-accidental major, Eb/Bb minor over D#/A#).
const char* const kMajorNames[12] = {"C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"};
const char* const kMinorNames[12] = {"C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B"};

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::string key_profile_name(KeyProfile p) { return profile_of(p).name; }

bool parse_key_profile(const std::string& name, KeyProfile* out) {
  std::string n = lower(name);
  for (const ProfilePair& pp : kProfiles) {
    if (n == pp.name) {
      *out = pp.id;
      return true;
    }
  }
  return false;
}

std::string key_name(const Key& k) {
  int t = ((k.tonic % 12) + 12) % 12;
  return std::string(k.minor ? kMinorNames[t] : kMajorNames[t]) + (k.minor ? " minor" : " major");
}

bool parse_key(const std::string& text, Key* out) {
  // Trim.
  size_t b = text.find_first_not_of(" \t");
  size_t e = text.find_last_not_of(" \t");
  if (b == std::string::npos) return false;
  std::string s = text.substr(b, e - b + 1);
  // Tonic letter.
  static const int kLetter[7] = {9, 11, 0, 2, 4, 5, 7};  // a b c d e f g
  char letter = s[0];
  char ll = char(std::tolower(static_cast<unsigned char>(letter)));
  if (ll < 'a' || ll > 'g') return false;
  bool lowercase_tonic = letter == ll;
  int tonic = kLetter[ll - 'a'];
  size_t i = 1;
  // Accidentals: '#', 'b', and the Unicode sharp and flat signs.
  while (i < s.size()) {
    if (s[i] == '#') {
      ++tonic, ++i;
    } else if (s[i] == 'b') {
      --tonic, ++i;
    } else if (s.compare(i, 3, "\xE2\x99\xAF") == 0) {  // U+266F sharp
      ++tonic, i += 3;
    } else if (s.compare(i, 3, "\xE2\x99\xAD") == 0) {  // U+266D flat
      --tonic, i += 3;
    } else {
      break;
    }
  }
  // Separator, then the mode.
  while (i < s.size() && (s[i] == ' ' || s[i] == ':' || s[i] == '_' || s[i] == '-')) ++i;
  std::string mode = s.substr(i);
  bool minor;
  if (mode.empty()) {
    minor = lowercase_tonic;  // "c" = C minor, "C" = C major (the Humdrum / music21 convention)
  } else if (mode == "m" || lower(mode) == "min" || lower(mode) == "minor" || lower(mode) == "aeolian") {
    minor = true;
  } else if (mode == "M" || lower(mode) == "maj" || lower(mode) == "major" || lower(mode) == "ionian") {
    minor = false;
  } else {
    return false;
  }
  out->tonic = ((tonic % 12) + 12) % 12;
  out->minor = minor;
  out->correlation = 0.0;
  return true;
}

std::array<double, 12> pitch_class_histogram(const midi::Score& score) {
  std::array<double, 12> h{};
  for (const midi::Note& n : score.notes) {
    if (n.drum) continue;
    double d = double(std::max<int64_t>(n.offset_tick - n.onset_tick, 0));
    h[((n.pitch % 12) + 12) % 12] += d;
  }
  return h;
}

Key estimate_key_from_histogram(const std::array<double, 12>& histogram, KeyProfile profile) {
  const ProfilePair& pp = profile_of(profile);
  Key best;
  best.correlation = -2.0;
  for (int minor = 0; minor < 2; ++minor) {
    for (int tonic = 0; tonic < 12; ++tonic) {
      double r = pearson(histogram, minor ? pp.minor : pp.major, tonic);
      if (r > best.correlation + 1e-12) {
        best.tonic = tonic;
        best.minor = minor != 0;
        best.correlation = r;
      }
    }
  }
  if (best.correlation < -1.5) best = Key{};  // an empty histogram: C major, correlation 0
  return best;
}

std::array<Key, 24> rank_keys(const std::array<double, 12>& histogram, KeyProfile profile) {
  const ProfilePair& pp = profile_of(profile);
  std::array<Key, 24> all;
  for (int minor = 0; minor < 2; ++minor)
    for (int tonic = 0; tonic < 12; ++tonic)
      all[minor * 12 + tonic] = Key{tonic, minor != 0, pearson(histogram, minor ? pp.minor : pp.major, tonic)};
  std::stable_sort(all.begin(), all.end(), [](const Key& a, const Key& b) { return a.correlation > b.correlation; });
  return all;
}

Key estimate_key(const midi::Score& score, KeyProfile profile) {
  return estimate_key_from_histogram(pitch_class_histogram(score), profile);
}

Key estimate_key(const midi::Score& score) { return estimate_key(score, kDefaultKeyProfile); }

double mirex_key_score(const Key& estimated, const Key& reference) {
  int d = ((estimated.tonic - reference.tonic) % 12 + 12) % 12;
  if (estimated.minor == reference.minor) {
    if (d == 0) return 1.0;
    if (d == 7 || d == 5) return 0.5;  // a fifth above or below, same mode
    return 0.0;
  }
  // Relative: C major <-> A minor (minor tonic 9 above the major one).
  if (!reference.minor && estimated.minor && d == 9) return 0.3;
  if (reference.minor && !estimated.minor && d == 3) return 0.3;
  if (d == 0) return 0.2;  // parallel
  return 0.0;
}

}  // namespace xm::music

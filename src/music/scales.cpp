// scales.cpp: the scale tables of scales.h: western modes and scales, Hindustani thaats and ragas, Turkish
// makams (defined in 53-TET Holdrian commas, rounded to the nearest semitone here), and name lookup with
// aliases. Not a tuning system: microtones are approximated, never kept.
#include "music/scales.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <map>

namespace xm::music {

namespace {

uint16_t mask_of(std::initializer_list<int> semitones) {
  uint16_t m = 0;
  for (int s : semitones) m = uint16_t(m | (1u << (((s % 12) + 12) % 12)));
  return m;
}

// A makam given as the comma positions (53-TET, 0 = karar) of its ascending scale degrees below the octave.
// Each degree rounds to the nearest semitone (commas * 12 / 53); the note lists every degree whose
// rounding moves it by more than 0.1 semitone, so the docs can show the approximation.
Scale makam(const std::string& name, std::initializer_list<int> commas, const std::string& names) {
  Scale s;
  s.name = std::string("makam_").append(name);
  s.family = "makam";
  std::string note = "53-TET commas";
  for (int c : commas) note.append(" ").append(std::to_string(c));
  note.append(" (").append(names).append(") -> semitones");
  std::string moved;
  for (int c : commas) {
    double st = double(c) * 12.0 / 53.0;
    int r = int(std::lround(st));
    s.mask = uint16_t(s.mask | (1u << (r % 12)));
    note.append(" ").append(std::to_string(r));
    if (std::fabs(st - r) > 0.1) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%d=%.2f->%d", moved.empty() ? "" : ", ", c, st, r);
      moved += buf;
    }
  }
  if (!moved.empty()) note.append("; rounded: ").append(moved);
  s.note = note;
  return s;
}

Scale western(const std::string& name, std::initializer_list<int> semis) {
  return Scale{name, "western", mask_of(semis), ""};
}

Scale raga(const std::string& name, std::initializer_list<int> semis, const std::string& note = "") {
  return Scale{name, "raga", mask_of(semis), note};
}

std::vector<Scale> build_table() {
  std::vector<Scale> t;
  // Western: the seven church modes, pentatonics, blues, the minors, whole tone, chromatic.
  t.push_back(western("major", {0, 2, 4, 5, 7, 9, 11}));
  t.push_back(western("dorian", {0, 2, 3, 5, 7, 9, 10}));
  t.push_back(western("phrygian", {0, 1, 3, 5, 7, 8, 10}));
  t.push_back(western("lydian", {0, 2, 4, 6, 7, 9, 11}));
  t.push_back(western("mixolydian", {0, 2, 4, 5, 7, 9, 10}));
  t.push_back(western("minor", {0, 2, 3, 5, 7, 8, 10}));
  t.push_back(western("locrian", {0, 1, 3, 5, 6, 8, 10}));
  t.push_back(western("major_pentatonic", {0, 2, 4, 7, 9}));
  t.push_back(western("minor_pentatonic", {0, 3, 5, 7, 10}));
  t.push_back(western("blues", {0, 3, 5, 6, 7, 10}));
  t.push_back(western("major_blues", {0, 2, 3, 4, 7, 9}));
  t.push_back(western("harmonic_minor", {0, 2, 3, 5, 7, 8, 11}));
  t.push_back(western("melodic_minor", {0, 2, 3, 5, 7, 9, 11}));
  t.push_back(western("whole_tone", {0, 2, 4, 6, 8, 10}));
  t.push_back(western("chromatic", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));

  // Hindustani: the ten thaats of Bhatkhande (Sa = 0), then common ragas as the union of their ascending
  // and descending notes (the pitch set, not the phrase rules that really define a raga).
  t.push_back(raga("thaat_bilawal", {0, 2, 4, 5, 7, 9, 11}));
  t.push_back(raga("thaat_kalyan", {0, 2, 4, 6, 7, 9, 11}));
  t.push_back(raga("thaat_khamaj", {0, 2, 4, 5, 7, 9, 10}));
  t.push_back(raga("thaat_kafi", {0, 2, 3, 5, 7, 9, 10}));
  t.push_back(raga("thaat_asavari", {0, 2, 3, 5, 7, 8, 10}));
  t.push_back(raga("thaat_bhairavi", {0, 1, 3, 5, 7, 8, 10}));
  t.push_back(raga("thaat_bhairav", {0, 1, 4, 5, 7, 8, 11}));
  t.push_back(raga("thaat_marwa", {0, 1, 4, 6, 7, 9, 11}));
  t.push_back(raga("thaat_purvi", {0, 1, 4, 6, 7, 8, 11}));
  t.push_back(raga("thaat_todi", {0, 1, 3, 6, 7, 8, 11}));
  t.push_back(raga("raga_yaman", {0, 2, 4, 6, 7, 9, 11}));
  t.push_back(raga("raga_kalyan", {0, 2, 4, 6, 7, 9, 11}));
  t.push_back(raga("raga_bilawal", {0, 2, 4, 5, 7, 9, 11}));
  t.push_back(raga("raga_khamaj", {0, 2, 4, 5, 7, 9, 10, 11}, "shuddha Ni ascending, komal Ni descending"));
  t.push_back(raga("raga_kafi", {0, 2, 3, 5, 7, 9, 10}));
  t.push_back(raga("raga_asavari", {0, 2, 3, 5, 7, 8, 10}));
  t.push_back(raga("raga_bhairavi", {0, 1, 3, 5, 7, 8, 10}));
  t.push_back(raga("raga_bhairav", {0, 1, 4, 5, 7, 8, 11}));
  t.push_back(raga("raga_todi", {0, 1, 3, 6, 7, 8, 11}));
  t.push_back(raga("raga_purvi", {0, 1, 4, 5, 6, 7, 8, 11}, "both Ma (shuddha and tivra)"));
  t.push_back(raga("raga_marwa", {0, 1, 4, 6, 9, 11}, "Pa omitted"));
  t.push_back(raga("raga_malkauns", {0, 3, 5, 8, 10}));
  t.push_back(raga("raga_bhupali", {0, 2, 4, 7, 9}));
  t.push_back(raga("raga_durga", {0, 2, 5, 7, 9}));
  t.push_back(raga("raga_hamsadhwani", {0, 2, 4, 7, 11}));
  t.push_back(raga("raga_desh", {0, 2, 4, 5, 7, 9, 10, 11}, "shuddha Ni ascending, komal Ni descending"));
  t.push_back(raga("raga_bageshri", {0, 2, 3, 5, 7, 9, 10}));
  t.push_back(raga("raga_bhimpalasi", {0, 2, 3, 5, 7, 9, 10}));
  t.push_back(raga("raga_darbari", {0, 2, 3, 5, 7, 8, 10}));
  t.push_back(raga("raga_jaunpuri", {0, 2, 3, 5, 7, 8, 10}));
  t.push_back(raga("raga_multani", {0, 1, 3, 6, 7, 8, 11}));
  t.push_back(raga("raga_lalit", {0, 1, 4, 5, 6, 8, 11}, "both Ma, Pa omitted"));
  t.push_back(raga("raga_kedar", {0, 2, 4, 5, 6, 7, 9, 11}, "both Ma"));
  t.push_back(raga("raga_bihag", {0, 2, 4, 5, 6, 7, 9, 11}, "both Ma"));
  t.push_back(raga("raga_shivaranjani", {0, 2, 3, 7, 9}));
  t.push_back(raga("raga_megh", {0, 2, 5, 7, 10}));

  // Turkish makams (Arel-Ezgi-Uzdilek theory), degrees in commas above the karar (tonic). Whole tone
  // (tanini) = 9 commas, büyük mücenneb = 8, küçük mücenneb = 5, bakiye = 4, artık ikili = 12 or 13.
  t.push_back(makam("rast", {0, 9, 17, 22, 31, 40, 48}, "rast pentachord + rast tetrachord"));
  t.push_back(makam("ussak", {0, 8, 13, 22, 31, 35, 44}, "ussak tetrachord + buselik pentachord"));
  t.push_back(makam("huseyni", {0, 8, 13, 22, 31, 39, 44}, "huseyni pentachord + ussak tetrachord"));
  t.push_back(makam("hicaz", {0, 5, 17, 22, 31, 39, 44}, "hicaz tetrachord + rast pentachord"));
  t.push_back(makam("hicaz_humayun", {0, 5, 17, 22, 31, 35, 44}, "hicaz tetrachord + buselik pentachord"));
  t.push_back(makam("zirguleli_hicaz", {0, 5, 17, 22, 31, 36, 48}, "hicaz pentachord + hicaz tetrachord"));
  t.push_back(makam("hicazkar", {0, 5, 17, 22, 31, 36, 48}, "zirguleli hicaz on rast"));
  t.push_back(makam("suzinak", {0, 9, 17, 22, 31, 36, 48}, "rast pentachord + hicaz tetrachord"));
  t.push_back(makam("nihavend", {0, 9, 13, 22, 31, 35, 44}, "buselik pentachord + kurdi tetrachord"));
  t.push_back(makam("buselik", {0, 9, 13, 22, 31, 35, 44}, "buselik pentachord + kurdi tetrachord"));
  t.push_back(makam("kurdi", {0, 4, 13, 22, 31, 35, 44}, "kurdi tetrachord + buselik pentachord"));
  t.push_back(makam("kurdilihicazkar", {0, 4, 13, 22, 31, 36, 48}, "kurdi pentachord + hicaz tetrachord"));
  t.push_back(makam("karcigar", {0, 8, 13, 22, 27, 39, 44}, "ussak tetrachord + hicaz pentachord"));
  t.push_back(makam("segah", {0, 5, 14, 23, 31, 36, 45}, "segah trichord + rast pentachord on neva"));
  t.push_back(makam("huzzam", {0, 5, 14, 19, 31, 36, 45}, "segah trichord + hicaz tetrachord"));
  t.push_back(makam("saba", {0, 8, 13, 18, 31, 35, 44}, "saba tetrachord + hicaz on cargah"));
  t.push_back(makam("mahur", {0, 9, 18, 22, 31, 40, 49}, "cargah pentachord + cargah tetrachord on rast"));
  t.push_back(makam("cargah", {0, 9, 18, 22, 31, 40, 49}, "cargah pentachord + cargah tetrachord"));
  return t;
}

// Lowercase, spaces and hyphens to underscores, Turkish letters (UTF-8) to ASCII.
std::string normalise(const std::string& in) {
  static const std::pair<const char*, const char*> kTurkish[] = {
      {"\xC5\x9F", "s"}, {"\xC5\x9E", "s"}, {"\xC3\xA7", "c"}, {"\xC3\x87", "c"}, {"\xC4\x9F", "g"},
      {"\xC4\x9E", "g"}, {"\xC4\xB1", "i"}, {"\xC4\xB0", "i"}, {"\xC3\xB6", "o"}, {"\xC3\x96", "o"},
      {"\xC3\xBC", "u"}, {"\xC3\x9C", "u"}, {"\xC3\xA2", "a"}};
  std::string s;
  for (size_t i = 0; i < in.size();) {
    bool hit = false;
    for (auto& [from, to] : kTurkish) {
      size_t n = std::char_traits<char>::length(from);
      if (in.compare(i, n, from) == 0) {
        s += to;
        i += n;
        hit = true;
        break;
      }
    }
    if (hit) continue;
    char c = in[i++];
    if (c == ' ' || c == '-') c = '_';
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    s += c;
  }
  return s;
}

const std::map<std::string, std::string>& aliases() {
  static const std::map<std::string, std::string> a = {
      {"ionian", "major"},
      {"aeolian", "minor"},
      {"natural_minor", "minor"},
      {"pentatonic", "major_pentatonic"},
      {"pentatonic_major", "major_pentatonic"},
      {"pentatonic_minor", "minor_pentatonic"},
      {"minor_blues", "blues"},
      {"wholetone", "whole_tone"},
      {"jazz_minor", "melodic_minor"},
      {"raga_bhoop", "raga_bhupali"},
      {"raga_bhoopali", "raga_bhupali"},
      {"raga_bhopali", "raga_bhupali"},
      {"raga_hansadhwani", "raga_hamsadhwani"},
      {"raga_malkos", "raga_malkauns"},
      {"raga_malkosh", "raga_malkauns"},
      {"raga_darbari_kanada", "raga_darbari"},
      {"raga_asawari", "raga_asavari"},
      {"raga_des", "raga_desh"},
      {"raga_bageshree", "raga_bageshri"},
      {"raga_marva", "raga_marwa"},
      {"raga_poorvi", "raga_purvi"},
      {"raga_shivranjani", "raga_shivaranjani"},
      {"raga_miyan_ki_todi", "raga_todi"},
      {"thaat_bilaval", "thaat_bilawal"},
      {"thaat_asawari", "thaat_asavari"},
      {"thaat_marva", "thaat_marwa"},
      {"thaat_poorvi", "thaat_purvi"},
      {"makam_nihavent", "makam_nihavend"},
      {"makam_usak", "makam_ussak"},
      {"makam_suznak", "makam_suzinak"},
      {"makam_sehnaz", "makam_zirguleli_hicaz"},
      {"makam_kurdili_hicazkar", "makam_kurdilihicazkar"},
      {"makam_hicazhumayun", "makam_hicaz_humayun"},
      {"makam_humayun", "makam_hicaz_humayun"},
      {"makam_zirgulelihicaz", "makam_zirguleli_hicaz"},
  };
  return a;
}

}  // namespace

const std::vector<Scale>& scale_table() {
  static const std::vector<Scale> table = build_table();
  return table;
}

const Scale* find_scale(const std::string& name) {
  std::string key = normalise(name);
  for (int pass = 0; pass < 2; ++pass) {
    const auto& t = scale_table();
    auto it = std::find_if(t.begin(), t.end(), [&](const Scale& s) { return s.name == key; });
    if (it != t.end()) return &*it;
    auto a = aliases().find(key);
    if (a != aliases().end()) {
      key = a->second;
      continue;
    }
    // Without the family prefix: "yaman" -> "raga_yaman", "hicaz" -> "makam_hicaz".
    for (const char* prefix : {"raga_", "makam_", "thaat_"}) {
      std::string k = prefix + key;
      auto a2 = aliases().find(k);
      if (a2 != aliases().end()) k = a2->second;
      auto it2 = std::find_if(t.begin(), t.end(), [&](const Scale& s) { return s.name == k; });
      if (it2 != t.end()) return &*it2;
    }
    return nullptr;
  }
  return nullptr;
}

bool in_scale(int pitch, int tonic, const Scale& scale) {
  int rel = ((pitch - tonic) % 12 + 12) % 12;
  return (scale.mask >> rel) & 1u;
}

}  // namespace xm::music

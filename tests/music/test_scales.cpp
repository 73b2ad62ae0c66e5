// Tests of the scale tables: a few tables checked by hand (western, raga, makam), aliases and spellings,
// the makam comma rounding, and in_scale.
#include <set>

#include "music/scales.h"
#include "support/test_support.h"

using namespace xm;

namespace {

// The set of semitones of a table, for readable failures.
std::vector<int> semitones(const std::string& name) {
  const music::Scale* s = music::find_scale(name);
  std::vector<int> out;
  if (!s) return {-1};
  for (int i = 0; i < 12; ++i)
    if ((s->mask >> i) & 1u) out.push_back(i);
  return out;
}

using V = std::vector<int>;

}  // namespace

TEST(music, scales_western_by_hand) {
  EXPECT_EQ(semitones("major"), (V{0, 2, 4, 5, 7, 9, 11}));
  EXPECT_EQ(semitones("dorian"), (V{0, 2, 3, 5, 7, 9, 10}));
  EXPECT_EQ(semitones("phrygian"), (V{0, 1, 3, 5, 7, 8, 10}));
  EXPECT_EQ(semitones("lydian"), (V{0, 2, 4, 6, 7, 9, 11}));
  EXPECT_EQ(semitones("mixolydian"), (V{0, 2, 4, 5, 7, 9, 10}));
  EXPECT_EQ(semitones("minor"), (V{0, 2, 3, 5, 7, 8, 10}));
  EXPECT_EQ(semitones("locrian"), (V{0, 1, 3, 5, 6, 8, 10}));
  EXPECT_EQ(semitones("major_pentatonic"), (V{0, 2, 4, 7, 9}));
  EXPECT_EQ(semitones("minor_pentatonic"), (V{0, 3, 5, 7, 10}));
  EXPECT_EQ(semitones("blues"), (V{0, 3, 5, 6, 7, 10}));
  EXPECT_EQ(semitones("harmonic_minor"), (V{0, 2, 3, 5, 7, 8, 11}));
  EXPECT_EQ(semitones("melodic_minor"), (V{0, 2, 3, 5, 7, 9, 11}));
  EXPECT_EQ(semitones("whole_tone"), (V{0, 2, 4, 6, 8, 10}));
}

TEST(music, scales_church_modes_are_rotations_of_major) {
  // Each mode is the major scale started on its degree: the rotation that brings that degree to 0.
  const char* modes[7] = {"ionian", "dorian", "phrygian", "lydian", "mixolydian", "aeolian", "locrian"};
  const int degree[7] = {0, 2, 4, 5, 7, 9, 11};
  uint16_t major = music::find_scale("major")->mask;
  for (int m = 0; m < 7; ++m) {
    uint16_t rotated = 0;
    for (int i = 0; i < 12; ++i)
      if ((major >> ((i + degree[m]) % 12)) & 1u) rotated = uint16_t(rotated | (1u << i));
    ASSERT_NE(music::find_scale(modes[m]), nullptr) << modes[m];
    EXPECT_EQ(music::find_scale(modes[m])->mask, rotated) << modes[m];
  }
}

TEST(music, scales_ragas_by_hand) {
  EXPECT_EQ(semitones("raga_yaman"), (V{0, 2, 4, 6, 7, 9, 11}));       // tivra Ma
  EXPECT_EQ(semitones("raga_bhairav"), (V{0, 1, 4, 5, 7, 8, 11}));     // komal Re, komal Dha
  EXPECT_EQ(semitones("raga_bhairavi"), (V{0, 1, 3, 5, 7, 8, 10}));    // all four komal
  EXPECT_EQ(semitones("raga_todi"), (V{0, 1, 3, 6, 7, 8, 11}));
  EXPECT_EQ(semitones("raga_marwa"), (V{0, 1, 4, 6, 9, 11}));          // no Pa
  EXPECT_EQ(semitones("raga_malkauns"), (V{0, 3, 5, 8, 10}));          // S g m d n
  EXPECT_EQ(semitones("raga_bhupali"), (V{0, 2, 4, 7, 9}));            // S R G P D
  EXPECT_EQ(semitones("raga_durga"), (V{0, 2, 5, 7, 9}));              // S R m P D
  EXPECT_EQ(semitones("raga_hamsadhwani"), (V{0, 2, 4, 7, 11}));       // S R G P N
  // The ten thaats are all seven-note scales with Sa and Pa.
  for (const char* t : {"bilawal", "kalyan", "khamaj", "kafi", "asavari", "bhairavi", "bhairav", "marwa", "purvi",
                        "todi"}) {
    const music::Scale* s = music::find_scale(std::string("thaat_") + t);
    ASSERT_NE(s, nullptr) << t;
    EXPECT_EQ(s->family, "raga");
    EXPECT_EQ(__builtin_popcount(s->mask), 7) << t;
    EXPECT_TRUE(s->mask & 1u) << t;
    EXPECT_TRUE(s->mask & (1u << 7)) << t;
  }
}

TEST(music, scales_makams_by_hand) {
  // Rast on G: G A B(-1 comma) C D E F#(-1 comma): rounds to the major scale.
  EXPECT_EQ(semitones("makam_rast"), (V{0, 2, 4, 5, 7, 9, 11}));
  // Hicaz on A: A Bb C# D E F#(-1) G.
  EXPECT_EQ(semitones("makam_hicaz"), (V{0, 1, 4, 5, 7, 9, 10}));
  // Ussak on A: A B(-1, 8 commas = 1.81 semitones -> 2) C D E F G.
  EXPECT_EQ(semitones("makam_ussak"), (V{0, 2, 3, 5, 7, 8, 10}));
  EXPECT_EQ(semitones("makam_huseyni"), (V{0, 2, 3, 5, 7, 9, 10}));
  EXPECT_EQ(semitones("makam_kurdi"), (V{0, 1, 3, 5, 7, 8, 10}));
  EXPECT_EQ(semitones("makam_hicazkar"), (V{0, 1, 4, 5, 7, 8, 11}));
  EXPECT_EQ(semitones("makam_suzinak"), (V{0, 2, 4, 5, 7, 8, 11}));
  EXPECT_EQ(semitones("makam_karcigar"), (V{0, 2, 3, 5, 6, 9, 10}));
  EXPECT_EQ(semitones("makam_saba"), (V{0, 2, 3, 4, 7, 8, 10}));
  EXPECT_EQ(semitones("makam_huzzam"), (V{0, 1, 3, 4, 7, 8, 10}));
  // Every makam says how its commas were rounded.
  for (const music::Scale& s : music::scale_table()) {
    if (s.family != "makam") continue;
    EXPECT_EQ(s.name.rfind("makam_", 0), 0u) << s.name;
    EXPECT_NE(s.note.find("53-TET"), std::string::npos) << s.name;
  }
  EXPECT_NE(music::find_scale("makam_ussak")->note.find("8=1.81->2"), std::string::npos)
      << music::find_scale("makam_ussak")->note;
}

TEST(music, scales_names_aliases_and_spellings) {
  ASSERT_NE(music::find_scale("ionian"), nullptr);
  EXPECT_EQ(music::find_scale("ionian")->name, "major");
  EXPECT_EQ(music::find_scale("Aeolian")->name, "minor");
  EXPECT_EQ(music::find_scale("natural minor")->name, "minor");
  EXPECT_EQ(music::find_scale("Whole-Tone")->name, "whole_tone");
  EXPECT_EQ(music::find_scale("yaman")->name, "raga_yaman");
  EXPECT_EQ(music::find_scale("raga_bhoop")->name, "raga_bhupali");
  EXPECT_EQ(music::find_scale("hicaz")->name, "makam_hicaz");
  EXPECT_EQ(music::find_scale("makam_nihavent")->name, "makam_nihavend");
  EXPECT_EQ(music::find_scale("makam_U\xC5\x9F\xC5\x9F" "ak")->name, "makam_ussak");  // Uşşak
  EXPECT_EQ(music::find_scale("H\xC3\xBCzzam")->name, "makam_huzzam");              // Hüzzam
  EXPECT_EQ(music::find_scale("nonexistent_scale"), nullptr);
  EXPECT_EQ(music::find_scale(""), nullptr);
  // Names are unique, lowercase, with the family as prefix for ragas, thaats and makams.
  std::set<std::string> seen;
  for (const music::Scale& s : music::scale_table()) {
    EXPECT_TRUE(seen.insert(s.name).second) << "duplicate " << s.name;
    for (char c : s.name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << s.name;
    EXPECT_TRUE(s.mask & 1u) << s.name << ": the tonic must belong to its scale";
    if (s.family == "raga") {
      EXPECT_TRUE(s.name.rfind("raga_", 0) == 0 || s.name.rfind("thaat_", 0) == 0) << s.name;
    }
  }
  EXPECT_GE(seen.size(), 60u);
}

TEST(music, scales_in_scale) {
  const music::Scale& major = *music::find_scale("major");
  EXPECT_TRUE(in_scale(62, 2, major));   // D in D major
  EXPECT_TRUE(in_scale(66, 2, major));   // F# in D major
  EXPECT_FALSE(in_scale(65, 2, major));  // F not in D major
  EXPECT_TRUE(in_scale(1, 2, major));    // C# (pitch 1) in D major: works below the tonic too
  const music::Scale& hicaz = *music::find_scale("makam_hicaz");
  EXPECT_TRUE(in_scale(57 + 1, 9, hicaz));   // Bb over A
  EXPECT_FALSE(in_scale(57 + 2, 9, hicaz));  // B natural is not in hicaz
}

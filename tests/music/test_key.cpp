// Tests of key estimation (C major and A minor scales and cadences, every profile), key names, parse_key
// on the accepted spellings, and the MIREX weighted score.
#include "music/analysis.h"
#include "music_test_util.h"
#include "support/test_support.h"

using namespace xm;
using namespace musictest;
using music::Key;

namespace {

const music::KeyProfile kAllProfiles[] = {music::KeyProfile::KrumhanslKessler, music::KeyProfile::Temperley,
                                          music::KeyProfile::AlbrechtShanahan, music::KeyProfile::AardenEssen,
                                          music::KeyProfile::BellmanBudge};

// A scale up and down in quarters, then a cadence in half notes (each chord a list of pitches).
midi::Score scale_and_cadence(std::vector<int> scale, std::vector<std::vector<int>> cadence, int transpose = 0) {
  midi::Score s = empty_score();
  int64_t t = 0;
  std::vector<int> updown = scale;
  for (auto it = scale.rbegin() + 1; it != scale.rend(); ++it) updown.push_back(*it);
  for (int p : updown) add_note(s, p + transpose, t, t + 480), t += 480;
  for (auto& chord : cadence) {
    for (int p : chord) add_note(s, p + transpose, t, t + 960);
    t += 960;
  }
  // The tonic chord held at the end, as pieces do.
  for (int p : cadence.back()) add_note(s, p + transpose, t, t + 1920);
  s.refresh_seconds();
  return s;
}

midi::Score c_major() {
  return scale_and_cadence({60, 62, 64, 65, 67, 69, 71, 72},
                           {{48, 64, 67, 72}, {53, 65, 69, 72}, {55, 62, 67, 71}, {48, 64, 67, 72}});
}

midi::Score a_minor() {  // harmonic minor scale, i - iv - V - i
  return scale_and_cadence({57, 59, 60, 62, 64, 65, 68, 69},
                           {{45, 60, 64, 69}, {50, 62, 65, 69}, {52, 59, 64, 68}, {45, 60, 64, 69}});
}

}  // namespace

TEST(music, key_c_major_scale_and_cadence) {
  for (music::KeyProfile p : kAllProfiles) {
    Key k = music::estimate_key(c_major(), p);
    EXPECT_EQ(music::key_name(k), "C major") << music::key_profile_name(p);
    EXPECT_GT(k.correlation, 0.6) << music::key_profile_name(p);
  }
  EXPECT_EQ(music::key_name(music::estimate_key(c_major())), "C major");
}

TEST(music, key_a_minor_scale_and_cadence) {
  for (music::KeyProfile p : kAllProfiles)
    EXPECT_EQ(music::key_name(music::estimate_key(a_minor(), p)), "A minor") << music::key_profile_name(p);
  EXPECT_EQ(music::key_name(music::estimate_key(a_minor())), "A minor");
}

TEST(music, key_follows_transposition) {
  static const char* major[12] = {"C major",  "Db major", "D major",  "Eb major", "E major",  "F major",
                                  "F# major", "G major",  "Ab major", "A major",  "Bb major", "B major"};
  static const char* minor[12] = {"A minor", "Bb minor", "B minor",  "C minor", "C# minor", "D minor",
                                  "Eb minor", "E minor", "F minor", "F# minor", "G minor", "G# minor"};
  for (int t = 0; t < 12; ++t) {
    EXPECT_EQ(music::key_name(music::estimate_key(
                  scale_and_cadence({60, 62, 64, 65, 67, 69, 71, 72},
                                    {{48, 64, 67, 72}, {53, 65, 69, 72}, {55, 62, 67, 71}, {48, 64, 67, 72}}, t))),
              major[t]);
    EXPECT_EQ(music::key_name(music::estimate_key(
                  scale_and_cadence({57, 59, 60, 62, 64, 65, 68, 69},
                                    {{45, 60, 64, 69}, {50, 62, 65, 69}, {52, 59, 64, 68}, {45, 60, 64, 69}}, t))),
              minor[t]);
  }
}

TEST(music, key_ranking_and_histogram) {
  midi::Score s = c_major();
  std::array<double, 12> h = music::pitch_class_histogram(s);
  EXPECT_EQ(h[1], 0.0);  // no C#
  EXPECT_GT(h[0], h[2]);  // C held longer than D
  auto ranked = music::rank_keys(h);
  EXPECT_EQ(music::key_name(ranked[0]), "C major");
  for (size_t i = 1; i < ranked.size(); ++i) EXPECT_GE(ranked[i - 1].correlation, ranked[i].correlation);
  // Drums do not count.
  midi::Note drum;
  drum.pitch = 37, drum.drum = true, drum.onset_tick = 0, drum.offset_tick = 100000;
  s.notes.push_back(drum);
  EXPECT_EQ(music::pitch_class_histogram(s)[1], 0.0);
  // No notes: C major with correlation 0, not a crash.
  Key none = music::estimate_key(empty_score());
  EXPECT_EQ(music::key_name(none), "C major");
  EXPECT_EQ(none.correlation, 0.0);
}

TEST(music, key_parse_accepted_spellings) {
  struct Case {
    const char* text;
    int tonic;
    bool minor;
  } cases[] = {
      {"C", 0, false},         {"c", 0, true},          {"Cm", 0, true},       {"C minor", 0, true},
      {"C major", 0, false},   {"F#:min", 6, true},     {"Bb major", 10, false}, {"Bb:maj", 10, false},
      {"bb", 10, true},        {"Eb", 3, false},        {"ebm", 3, true},      {"Gb:maj", 6, false},
      {"Db:min", 1, true},     {"A minor", 9, true},    {"Am", 9, true},       {"a", 9, true},
      {"B", 11, false},        {"b", 11, true},         {"Cb", 11, false},     {"E#", 5, false},
      {"C# Minor", 1, true},   {"  G  ", 7, false},     {"D_major", 2, false}, {"F min", 5, true},
      {"AM", 9, false},        {"c major", 0, false},   {"C\xE2\x99\xAF", 1, false},
      {"B\xE2\x99\xAD minor", 10, true},
  };
  for (const Case& c : cases) {
    Key k;
    ASSERT_TRUE(music::parse_key(c.text, &k)) << c.text;
    EXPECT_EQ(k.tonic, c.tonic) << c.text;
    EXPECT_EQ(k.minor, c.minor) << c.text;
  }
  for (const char* bad : {"", "H", "X major", "C dorian", "Cmajor7", "7", "C##x", ":min"}) {
    Key k;
    EXPECT_FALSE(music::parse_key(bad, &k)) << bad;
  }
  // key_name round trips through parse_key for all 24 keys.
  for (int minor = 0; minor < 2; ++minor)
    for (int t = 0; t < 12; ++t) {
      Key k{t, minor != 0, 0.0}, back;
      ASSERT_TRUE(music::parse_key(music::key_name(k), &back)) << music::key_name(k);
      EXPECT_EQ(back, k) << music::key_name(k);
    }
}

TEST(music, key_mirex_score) {
  Key c{0, false, 0}, g{7, false, 0}, f{5, false, 0}, am{9, true, 0}, cm{0, true, 0}, d{2, false, 0};
  EXPECT_DOUBLE_EQ(music::mirex_key_score(c, c), 1.0);
  EXPECT_DOUBLE_EQ(music::mirex_key_score(g, c), 0.5);
  EXPECT_DOUBLE_EQ(music::mirex_key_score(f, c), 0.5);
  EXPECT_DOUBLE_EQ(music::mirex_key_score(am, c), 0.3);
  EXPECT_DOUBLE_EQ(music::mirex_key_score(c, am), 0.3);
  EXPECT_DOUBLE_EQ(music::mirex_key_score(cm, c), 0.2);
  EXPECT_DOUBLE_EQ(music::mirex_key_score(d, c), 0.0);
  music::KeyProfile p;
  EXPECT_TRUE(music::parse_key_profile("Temperley", &p));
  EXPECT_EQ(p, music::KeyProfile::Temperley);
  EXPECT_FALSE(music::parse_key_profile("nonsense", &p));
}

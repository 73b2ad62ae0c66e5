// test_tokenizers.cpp: unit tests of the four tokenizers on Scores built here: hand-checked token
// sequences, exact round trips on the grid, controls, vocabularies as JSON, invalid input.
// Not the corpus measurements (test_corpus.cpp) nor the command line (test_cli.cpp).
#include <algorithm>
#include <random>
#include <set>

#include "support/test_support.h"
#include "tokens/common.h"
#include "tokens/jsb_dataset.h"
#include "tokens/tokenizer.h"

using namespace xm;
using namespace xm::tokens;

namespace {

midi::Note note(int pitch, int64_t on, int64_t off, int vel = 64, int program = 0, bool drum = false) {
  midi::Note n;
  n.pitch = pitch;
  n.onset_tick = on;
  n.offset_tick = off;
  n.velocity = vel;
  n.program = program;
  n.drum = drum;
  n.channel = drum ? 9 : 0;
  return n;
}

midi::Score score_of(std::vector<midi::Note> notes, int tpq = 480, double bpm = 120) {
  midi::Score s;
  s.ticks_per_quarter = tpq;
  midi::TempoChange t;
  t.us_per_quarter = uint32_t(std::lround(60000000.0 / bpm));
  s.tempos.push_back(t);
  s.notes = std::move(notes);
  finish_score(s);
  return s;
}

std::vector<std::string> names_of(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string> v;
  for (int32_t id : ids) v.push_back(tok.token_name(id));
  return v;
}

// (pitch, onset, offset, velocity, program, drum) with ticks scaled to quarters * 480.
using NoteKey = std::tuple<int, int64_t, int64_t, int, int, bool>;
std::vector<NoteKey> keys(const midi::Score& s) {
  std::vector<NoteKey> v;
  for (const auto& n : s.notes)
    v.push_back({n.pitch, n.onset_tick * 480 / s.ticks_per_quarter, n.offset_tick * 480 / s.ticks_per_quarter,
                 velocity_to_bin(n.velocity), n.drum ? 0 : n.program, n.drum});
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST(tokens, names_and_factory) {
  EXPECT_EQ(tokenizer_names(), (std::vector<std::string>{"remi", "performance", "jsb", "tuples"}));
  for (const auto& n : tokenizer_names()) EXPECT_EQ(make_tokenizer(n)->name(), n);
  try {
    make_tokenizer("midilike");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("midilike"), std::string::npos);
  }
  try {
    make_tokenizer("remi", json{{"steps_per_quater", 4}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("steps_per_quater"), std::string::npos);
  }
  EXPECT_THROW(make_tokenizer("remi", json{{"steps_per_quarter", 7}}), Error);  // 480 % 7 != 0
  EXPECT_THROW(make_tokenizer("tuples", json{{"chord_unit", "fortnight"}}), Error);
}

TEST(tokens, performance_vocabulary_is_exactly_388_events) {
  auto core = make_tokenizer("performance", json{{"core_only", true}});
  ASSERT_EQ(core->vocab_size(), 388);
  EXPECT_EQ(core->token_name(0), "NOTE_ON_0");
  EXPECT_EQ(core->token_name(127), "NOTE_ON_127");
  EXPECT_EQ(core->token_name(128), "NOTE_OFF_0");
  EXPECT_EQ(core->token_name(255), "NOTE_OFF_127");
  EXPECT_EQ(core->token_name(256), "TIME_SHIFT_10ms");
  EXPECT_EQ(core->token_name(355), "TIME_SHIFT_1000ms");
  EXPECT_EQ(core->token_name(356), "VELOCITY_1");
  EXPECT_EQ(core->token_name(387), "VELOCITY_32");
  EXPECT_EQ(core->eos_id(), -1);
  auto full = make_tokenizer("performance");
  ASSERT_GT(full->vocab_size(), 388);
  for (int i = 0; i < 388; ++i) ASSERT_EQ(full->token_name(i), core->token_name(i));
  EXPECT_GE(full->pad_id(), 388);
  EXPECT_GE(full->bos_id(), 388);
  EXPECT_GE(full->eos_id(), 388);
  // Magenta's velocity bins: 4 wide over 1..127.
  EXPECT_EQ(velocity_to_bin(1), 1);
  EXPECT_EQ(velocity_to_bin(4), 1);
  EXPECT_EQ(velocity_to_bin(5), 2);
  EXPECT_EQ(velocity_to_bin(127), 32);
  EXPECT_EQ(velocity_bin_low(32), 125);
}

TEST(tokens, performance_encodes_hand_checked_events) {
  // C4 0..0.5 s and E4 0.25..1.5 s, both velocity 80 (bin 20), at 120 BPM (480 ticks = 0.5 s).
  midi::Score s = score_of({note(60, 0, 480, 80), note(64, 240, 1440, 80)});
  auto tok = make_tokenizer("performance", json{{"core_only", true}});
  std::vector<int32_t> want = {356 + 19, 60, 256 + 24, 64, 256 + 24, 128 + 60, 256 + 99, 128 + 64};
  EXPECT_EQ(tok->encode(s), want) << testing::PrintToString(names_of(*tok, tok->encode(s)));
  // With the extras: BOS first, EOS last, the core ids unchanged in between.
  auto full = make_tokenizer("performance");
  auto ids = full->encode(s);
  ASSERT_EQ(ids.size(), want.size() + 2);
  EXPECT_EQ(ids.front(), full->bos_id());
  EXPECT_EQ(ids.back(), full->eos_id());
  EXPECT_TRUE(std::equal(want.begin(), want.end(), ids.begin() + 1));
  // A gap of 2.345 s is cut into shifts of at most 1 s (Magenta rounds 234.5 steps up to 235).
  midi::Score g = score_of({note(60, 0, 10), note(62, 2251, 2300)});  // 2251 ticks = 2.34479 s
  g.notes[1].onset_s = 2.3451;  // 234.51 steps -> 235
  auto gi = tok->encode(g);
  std::vector<std::string> shifts;
  for (int32_t id : gi)
    if (id >= 256 && id < 356) shifts.push_back(tok->token_name(id));
  ASSERT_GE(shifts.size(), 4u);
  EXPECT_EQ(shifts[1], "TIME_SHIFT_1000ms");
  EXPECT_EQ(shifts[2], "TIME_SHIFT_1000ms");
  EXPECT_EQ(shifts[3], "TIME_SHIFT_340ms");  // 10 ms (the first note) + 2 x 1 s + 340 ms = 2.35 s
}

TEST(tokens, performance_applies_the_sustain_pedal) {
  midi::Score s = score_of({note(60, 0, 240), note(64, 0, 240), note(64, 600, 700)});
  midi::ControlChange down, up;
  down.controller = up.controller = 64;
  down.value = 127;
  down.tick = 120;
  up.value = 0;
  up.tick = 960;
  s.controls = {down, up};
  finish_score(s);
  midi::Score t = s;
  apply_sustain(t);
  ASSERT_EQ(t.notes.size(), 3u);
  EXPECT_EQ(t.notes[0].offset_tick, 960);  // C4 held by the pedal until it is released
  EXPECT_EQ(t.notes[1].offset_tick, 600);  // E4 held until it is struck again
  EXPECT_EQ(t.notes[2].offset_tick, 960);
  EXPECT_DOUBLE_EQ(t.notes[0].offset_s, 1.0);
  midi::Score twice = t;
  apply_sustain(twice);
  EXPECT_EQ(keys(twice), keys(t));  // idempotent
  auto tok = make_tokenizer("performance");
  midi::Score dec = tok->decode(tok->encode(s));
  ASSERT_EQ(dec.notes.size(), 3u);
  EXPECT_NEAR(dec.notes[0].offset_s, 1.0, 1e-9);
  auto dry = make_tokenizer("performance", json{{"sustain", false}});
  EXPECT_NEAR(dry->decode(dry->encode(s)).notes[0].offset_s, 0.25, 1e-9);
}

TEST(tokens, performance_round_trip_on_its_grid_is_exact) {
  std::mt19937 rng(7);
  std::vector<midi::Note> notes;
  for (int i = 0; i < 300; ++i) {
    int64_t on = int64_t(rng() % 3000) * 10;  // ticks of 1 ms at tpq 500 / 120 BPM: a 10 ms grid
    notes.push_back(note(int(21 + rng() % 88), on, on + 10 * int64_t(1 + rng() % 300), int(1 + rng() % 127)));
  }
  midi::Score s = score_of(notes, 500);
  // Overlapping notes of one pitch do not survive as such (NOTE_OFF closes the oldest): keep one per pitch.
  std::sort(s.notes.begin(), s.notes.end(), [](auto& a, auto& b) { return a.onset_tick < b.onset_tick; });
  std::vector<midi::Note> kept;
  std::map<int, int64_t> busy;
  for (const auto& n : s.notes)
    if (n.onset_tick >= busy[n.pitch]) {
      kept.push_back(n);
      busy[n.pitch] = n.offset_tick;
    }
  s.notes = kept;
  finish_score(s);
  auto tok = make_tokenizer("performance");
  int bad = -1;
  midi::Score d = tok->decode(tok->encode(s), &bad);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(keys(d), keys(s));
}

TEST(tokens, remi_encodes_hand_checked_tokens) {
  // 4/4 at 120 BPM: C4 a quarter at beat 0 (velocity 64 = bin 16), E4 an eighth at beat 3.
  midi::Score s = score_of({note(60, 0, 480), note(64, 1440, 1680)});
  auto tok = make_tokenizer("remi", json{{"chords", false}});
  std::vector<std::string> want = {"BOS",     "Bar",         "TimeSig_4/4", "Position_0", "Tempo_123",
                                   "Program_0", "Pitch_60",  "Velocity_16", "Duration_8", "Position_24",
                                   "Pitch_64", "Velocity_16", "Duration_4", "EOS"};
  EXPECT_EQ(names_of(*tok, tok->encode(s)), want);
  // Empty bars are kept: a note in the third bar comes after three Bar tokens.
  midi::Score late = score_of({note(67, 2 * 1920 + 240, 2 * 1920 + 480)});
  auto ids = names_of(*tok, tok->encode(late));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "Bar"), 3);
  EXPECT_NE(std::find(ids.begin(), ids.end(), "Position_4"), ids.end());
}

TEST(tokens, remi_round_trip_on_its_grid_is_exact) {
  // Programs, drums, a meter change at a bar line, tempo changes on bin centres, notes on the 32nd grid.
  std::mt19937 rng(11);
  std::vector<midi::Note> notes;
  const int64_t bar44 = 1920, bar34 = 1440;
  for (int i = 0; i < 400; ++i) {
    int64_t on = int64_t(rng() % 600) * 60;  // 60 ticks = a 32nd at 480 per quarter
    int64_t dur = 60 * int64_t(1 + rng() % 64);
    int prog = int(rng() % 4) * 24;
    bool drum = rng() % 5 == 0;
    notes.push_back(note(int(30 + rng() % 60), on, on + dur, int(1 + rng() % 127), drum ? 0 : prog, drum));
  }
  midi::Score s = score_of(notes);
  midi::TimeSignature a, b;
  a.numerator = 3;
  b.tick = 4 * bar34;
  b.numerator = 6;
  b.denominator = 8;
  s.time_signatures = {a, b};
  midi::TempoChange t1;
  t1.tick = 5 * bar44;
  t1.us_per_quarter = uint32_t(std::lround(60000000.0 / tempo_bin_bpm(10)));
  s.tempos[0].us_per_quarter = uint32_t(std::lround(60000000.0 / tempo_bin_bpm(20)));
  s.tempos.push_back(t1);
  finish_score(s);
  auto tok = make_tokenizer("remi");
  int bad = -1;
  auto ids = tok->encode(s);
  midi::Score d = tok->decode(ids, &bad);
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(keys(d), keys(s));
  ASSERT_EQ(d.time_signatures.size(), 2u);
  EXPECT_EQ(d.time_signatures[0].numerator, 3);
  EXPECT_EQ(d.time_signatures[1].tick, 4 * bar34);
  EXPECT_EQ(d.time_signatures[1].numerator, 6);
  EXPECT_EQ(d.time_signatures[1].denominator, 8);
  ASSERT_EQ(d.tempos.size(), 2u);
  EXPECT_EQ(d.tempos[1].tick, t1.tick);
  EXPECT_EQ(tempo_to_bin(d.tempos[0].bpm()), 20);
  EXPECT_EQ(tempo_to_bin(d.tempos[1].bpm()), 10);
  // Drums on channel 9, each program its own track and channel.
  for (const auto& n : d.notes) EXPECT_EQ(n.drum, n.channel == 9);
  std::set<int> tracks;
  for (const auto& n : d.notes) tracks.insert(n.track);
  EXPECT_EQ(tracks.size(), d.tracks.size());
}

TEST(tokens, remi_quantises_off_grid_notes_to_the_nearest_step) {
  // 96 ticks per quarter, 8 steps per quarter: 12 ticks per step; onsets 5 and 7 go to steps 0 and 1.
  midi::Score s = score_of({note(60, 5, 100), note(62, 7, 50)}, 96);
  auto tok = make_tokenizer("remi", json{{"chords", false}});
  midi::Score d = tok->decode(tok->encode(s));
  ASSERT_EQ(d.notes.size(), 2u);
  EXPECT_EQ(d.notes[0].onset_tick, 0);
  EXPECT_EQ(d.notes[0].offset_tick, 8 * 60);  // 100/12 = 8.33 steps
  EXPECT_EQ(d.notes[1].onset_tick, 60);
  EXPECT_EQ(d.notes[1].offset_tick, 4 * 60);
}

TEST(tokens, remi_emits_chords_when_they_change) {
  // A bar of C major, then a bar of A minor, a chord on every beat.
  std::vector<midi::Note> notes;
  for (int beat = 0; beat < 8; ++beat) {
    std::vector<int> chord = beat < 4 ? std::vector<int>{48, 52, 55} : std::vector<int>{45, 48, 52};
    for (int p : chord) notes.push_back(note(p, beat * 480, beat * 480 + 480));
  }
  auto tok = make_tokenizer("remi");
  auto names = names_of(*tok, tok->encode(score_of(notes)));
  std::vector<std::string> chords;
  for (const auto& n : names)
    if (n.rfind("Chord_", 0) == 0) chords.push_back(n);
  EXPECT_EQ(chords, (std::vector<std::string>{"Chord_C:maj", "Chord_A:min"}));
}

TEST(tokens, controls_come_first_and_read_back) {
  Conditioning c;
  c.genre = "Hip-Hop";
  c.mood = "sad";
  c.key_tonic = 9;
  c.key_minor = true;
  c.tempo_bpm = 150;
  midi::Score s = score_of({note(60, 0, 480)});
  for (std::string name : {"remi", "performance", "tuples"}) {
    SCOPED_TRACE(name);
    auto tok = make_tokenizer(name);
    auto prefix = tok->control_prefix(c);
    auto ids = tok->encode(s, c);
    ASSERT_GE(ids.size(), prefix.size());
    EXPECT_TRUE(std::equal(prefix.begin(), prefix.end(), ids.begin()));
    Conditioning r = tok->read_conditioning(ids);
    EXPECT_EQ(r.genre, "hiphop");
    EXPECT_EQ(r.mood, "sad");
    EXPECT_EQ(r.key_tonic, 9);
    EXPECT_TRUE(r.key_minor);
    EXPECT_EQ(tempo_class_of(r.tempo_bpm), "fast");
    int bad = -1;
    EXPECT_EQ(tok->decode(ids, &bad).notes.size(), 1u);
    EXPECT_EQ(bad, 0);
  }
  auto remi = make_tokenizer("remi");
  auto names = names_of(*remi, remi->control_prefix(c));
  EXPECT_EQ(names, (std::vector<std::string>{"BOS", "Genre_hiphop", "Mood_sad", "Key_Am", "TempoClass_fast"}));
  // Unknown genres give no token; Groove styles map to their primary style.
  EXPECT_EQ(normalize_genre("neworleans/funk"), "neworleans");
  EXPECT_EQ(normalize_genre("latin/brazilian-samba"), "latin");
  EXPECT_EQ(normalize_genre("polka"), "");
  EXPECT_EQ(mood_from_valence_arousal(-1, 1), "tense");
  EXPECT_EQ(mood_from_valence_arousal(1, -1), "calm");
}

TEST(tokens, jsb_serialises_four_voices_per_sixteenth) {
  JsbChorale c;
  c.steps = {{72, 67, 64, 48}, {72, 67, 64, 48}, {74, -1, 65, 50}, {74, 67, 65, 50}};
  auto ids = jsb_encode_chorale(c);
  std::vector<int32_t> want = {kJsbBos, 4 + 72, 4 + 67, 4 + 64, 4 + 48, 4 + 72, 4 + 67, 4 + 64, 4 + 48,
                               4 + 74,  kJsbRest, 4 + 65, 4 + 50, 4 + 74, 4 + 67, 4 + 65, 4 + 50, kJsbEos};
  EXPECT_EQ(ids, want);
  int bad = -1;
  EXPECT_EQ(jsb_decode_chorale(ids, &bad).steps, c.steps);
  EXPECT_EQ(bad, 0);
  // As a Score: held pitches merge (the soprano's C5 is one eighth note), the rest splits the alto.
  midi::Score s = jsb_chorale_to_score(c);
  ASSERT_EQ(s.tracks.size(), 4u);
  EXPECT_EQ(s.notes.size(), 2u + 2u + 2u + 2u);
  auto tok = make_tokenizer("jsb");
  EXPECT_EQ(tok->encode(s), ids);
  EXPECT_EQ(jsb_score_to_chorale(tok->decode(ids)).steps, c.steps);
  // Without four tracks, voices come from pitch order per step.
  midi::Score one = score_of({note(60, 0, 240), note(64, 0, 240), note(67, 0, 120), note(72, 0, 120), note(76, 0, 120)});
  JsbChorale v = jsb_score_to_chorale(one);
  ASSERT_EQ(v.steps.size(), 2u);
  EXPECT_EQ(v.steps[0], (std::array<int, 4>{76, 72, 64, 60}));
  EXPECT_EQ(v.steps[1], (std::array<int, 4>{64, -1, -1, 60}));
  // Malformed sequences: an unfinished step and out-of-range ids are counted.
  jsb_decode_chorale({kJsbBos, 60, 61, 500, -3, 62}, &bad);
  EXPECT_EQ(bad, 3);
}

TEST(tokens, tuples_fields_have_their_own_ranges) {
  std::mt19937 rng(3);
  std::vector<midi::Note> notes;
  for (int i = 0; i < 200; ++i) {
    int64_t on = int64_t(rng() % 400) * 60;
    bool drum = rng() % 6 == 0;
    notes.push_back(note(int(30 + rng() % 60), on, on + 60 * int64_t(1 + rng() % 64), int(1 + rng() % 127),
                         drum ? 0 : int(rng() % 3) * 40, drum));
  }
  notes.push_back(note(50, 100 * 1920, 100 * 1920 + 480));  // a long silence before it: Rest steps
  midi::Score s = score_of(notes);
  for (bool chords : {false, true}) {
    auto tok = make_tokenizer("tuples", json{{"chords", chords}});
    const int F = tok->fields_per_step();
    EXPECT_EQ(F, chords ? 7 : 6);
    json v = tok->vocab_json();
    ASSERT_EQ(int(v["fields"].size()), F);
    auto ids = tok->encode(s);
    ASSERT_EQ(ids.size() % size_t(F), 0u);
    for (size_t i = 0; i < ids.size(); ++i) {
      const json& f = v["fields"][i % size_t(F)];
      ASSERT_GE(ids[i], f["start"].get<int>()) << i;
      ASSERT_LT(ids[i], f["start"].get<int>() + f["count"].get<int>()) << i;
    }
    EXPECT_EQ(tok->pad_step().size(), size_t(F));
    int bad = -1;
    midi::Score d = tok->decode(ids, &bad);
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(keys(d), keys(s));
  }
}

TEST(tokens, vocab_json_rebuilds_the_same_tokenizer) {
  std::vector<std::pair<std::string, json>> cases = {
      {"remi", json::object()},
      {"remi", json{{"steps_per_quarter", 12}, {"chords", false}, {"time_signatures", {"4/4", "3/4", "6/8"}}}},
      {"performance", json::object()},
      {"performance", json{{"core_only", true}}},
      {"jsb", json::object()},
      {"tuples", json{{"chords", true}, {"max_shift_quarters", 4}}}};
  for (const auto& [name, opts] : cases) {
    SCOPED_TRACE(name + " " + opts.dump());
    auto tok = make_tokenizer(name, opts);
    json v = tok->vocab_json();
    EXPECT_EQ(v["tokenizer"], name);
    EXPECT_EQ(v["vocab_size"].get<int>(), tok->vocab_size());
    ASSERT_EQ(int(v["tokens"].size()), tok->vocab_size());
    std::set<std::string> unique(v["tokens"].begin(), v["tokens"].end());
    EXPECT_EQ(int(unique.size()), tok->vocab_size());
    auto back = tokenizer_from_json(json::parse(v.dump()));
    EXPECT_EQ(back->vocab_json(), v);
    auto same = make_tokenizer(name, v);  // the whole vocabulary also works as options
    EXPECT_EQ(same->vocab_size(), tok->vocab_size());
    json tampered = v;
    tampered["tokens"][3] = "Pitch_999";
    EXPECT_THROW(tokenizer_from_json(tampered), Error);
  }
}

TEST(tokens, decoding_garbage_never_crashes_and_counts) {
  std::mt19937 rng(5);
  for (const auto& name : tokenizer_names()) {
    SCOPED_TRACE(name);
    auto tok = make_tokenizer(name);
    const int V = tok->vocab_size();
    for (int trial = 0; trial < 200; ++trial) {
      std::vector<int32_t> ids(size_t(rng() % 300));
      for (auto& id : ids) id = int32_t(rng() % uint32_t(V + 20)) - 10;
      int bad = -1;
      midi::Score d = tok->decode(ids, &bad);
      EXPECT_GE(bad, 0);
      for (const auto& n : d.notes) {
        ASSERT_GE(n.pitch, 0);
        ASSERT_LE(n.pitch, 127);
        ASSERT_GE(n.velocity, 1);
        ASSERT_LE(n.velocity, 127);
        ASSERT_LT(n.onset_tick, n.offset_tick);
      }
    }
    std::vector<int32_t> junk;
    for (int32_t k : {-1, V, V + 1000}) {
      auto st = tok->pad_step();
      st[0] = k;
      junk.insert(junk.end(), st.begin(), st.end());
    }
    int bad = 0;
    tok->decode(junk, &bad);
    EXPECT_EQ(bad, 3);
  }
  // Grammar: REMI Pitch without Velocity/Duration, Position past the bar, Position before any Bar.
  auto remi = make_tokenizer("remi");
  json v = remi->vocab_json();
  auto id = [&](const std::string& n) {
    auto it = std::find(v["tokens"].begin(), v["tokens"].end(), n);
    return int32_t(it - v["tokens"].begin());
  };
  int bad = 0;
  midi::Score d = remi->decode({id("Position_0"), id("Bar"), id("TimeSig_3/4"), id("Position_30"), id("Position_2"),
                                id("Pitch_60"), id("Pitch_62"), id("Velocity_3"), id("Duration_4")},
                               &bad);
  EXPECT_EQ(bad, 3);
  ASSERT_EQ(d.notes.size(), 1u);
  EXPECT_EQ(d.notes[0].pitch, 62);
  EXPECT_EQ(d.notes[0].onset_tick, 2 * 60);
}

TEST(tokens, empty_score_encodes_to_specials_only) {
  midi::Score empty = score_of({});
  for (const auto& name : tokenizer_names()) {
    SCOPED_TRACE(name);
    auto tok = make_tokenizer(name);
    auto ids = tok->encode(empty);
    EXPECT_LE(ids.size(), size_t(2 * tok->fields_per_step()));
    int bad = -1;
    EXPECT_TRUE(tok->decode(ids, &bad).notes.empty());
    EXPECT_EQ(bad, 0);
  }
}

// test_grammar.cpp: the generation grammars (src/generate/grammar.h) against the tokenizers: every real encoded
// sequence is accepted; random walks through the allowed masks decode without a single invalid id, respect
// the pitch constraints, and keep a clock that agrees with the decoded score. No model needed.
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "generate/grammar.h"
#include "midi/midi_io.h"
#include "music/scales.h"
#include "nn/rng.h"
#include "support/test_support.h"
#include "tokens/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using xm::gen::Grammar;

struct TokCase {
  std::string name;
  xm::json options;
};
std::vector<TokCase> tokenizer_cases() {
  return {{"remi", xm::json::object()},
          {"remi", {{"steps_per_quarter", 12}, {"chords", false}}},
          {"performance", xm::json::object()},
          {"jsb", xm::json::object()},
          {"tuples", xm::json::object()},
          {"tuples", {{"chords", true}}}};
}

xm::midi::Score transposed(xm::midi::Score s, int shift) {
  for (auto& n : s.notes)
    if (!n.drum) n.pitch = std::clamp(n.pitch + shift, 0, 127);
  return s;
}

// Feeds ids through a fresh grammar; returns the index of the first id refused (-1 when all are accepted).
long first_refused(const xm::tokens::Tokenizer& tok, const std::vector<int32_t>& ids) {
  auto g = xm::gen::make_grammar(tok);
  for (size_t i = 0; i < ids.size(); ++i)
    if (!g->advance(ids[i])) return long(i);
  return g->ended() ? -1 : long(ids.size());
}

void expect_accepts(const xm::tokens::Tokenizer& tok, const xm::midi::Score& score, const std::string& what) {
  xm::tokens::Conditioning cond;
  cond.genre = "folk";
  cond.mood = "happy";
  cond.key_tonic = 7;
  cond.tempo_bpm = 100;
  const std::vector<int32_t> ids = tok.encode(score, cond);
  const long at = first_refused(tok, ids);
  EXPECT_EQ(at, -1) << what << " (" << tok.name() << "): refused id "
                    << (at >= 0 && size_t(at) < ids.size() ? tok.token_name(ids[size_t(at)]) : "<end without EOS>")
                    << " at " << at << " of " << ids.size();
}

TEST(generate, grammar_accepts_every_encoded_sample) {
  const auto sample = xm::midi::read_midi_file(xmtest::source_dir() / "samples" / "sample.mid");
  for (const auto& c : tokenizer_cases()) {
    auto tok = xm::tokens::make_tokenizer(c.name, c.options);
    for (int shift = -5; shift <= 6; ++shift) expect_accepts(*tok, transposed(sample, shift), "sample.mid");
  }
}

TEST(generate, grammar_accepts_corpus_files) {
  XM_REQUIRE_DATASET(nott, "nottingham");
  std::vector<fs::path> files;
  auto take = [&](const fs::path& dir, size_t n) {
    std::vector<fs::path> all;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.path().extension() == ".mid") all.push_back(e.path());
    std::sort(all.begin(), all.end());
    for (size_t i = 0; i < n && !all.empty(); ++i) files.push_back(all[i * all.size() / n]);
  };
  take(nott / "MIDI", 12);
  if (auto d = xmtest::dataset_dir("groove-midi"); !d.empty()) take(d, 6);
  if (auto d = xmtest::dataset_dir("pop909"); !d.empty()) take(d / "POP909", 2);
  if (auto d = xmtest::dataset_dir("midi-edge-cases"); !d.empty()) take(d, 10);
  size_t read = 0;
  for (const auto& f : files) {
    xm::midi::Score s;
    try {
      s = xm::midi::read_midi_file(f);
    } catch (const std::exception&) {
      continue;  // edge cases that are meant to be rejected
    }
    ++read;
    for (const auto& c : tokenizer_cases()) {
      auto tok = xm::tokens::make_tokenizer(c.name, c.options);
      if (c.name == "jsb" && s.notes.size() > 4000) continue;  // keep the test short
      expect_accepts(*tok, s, f.string());
    }
  }
  EXPECT_GE(read, 12u);
}

// A random walk through the allowed masks: n ids after the control prefix, uniform among the allowed ones.
std::vector<int32_t> random_walk(const xm::tokens::Tokenizer& tok, Grammar& g, int n, uint64_t seed) {
  xm::tokens::Conditioning cond;
  cond.tempo_bpm = 120;
  std::vector<int32_t> ids = tok.control_prefix(cond);
  for (int32_t id : ids) EXPECT_TRUE(g.advance(id));
  g.begin_continuation(0, false);
  xm::nn::Rng rng(seed);
  std::vector<uint8_t> mask(size_t(tok.vocab_size()));
  std::vector<int32_t> allowed;
  for (int i = 0; i < n && !g.ended(); ++i) {
    g.allowed(mask.data());
    allowed.clear();
    for (int id = 0; id < tok.vocab_size(); ++id)
      if (mask[size_t(id)] && id != tok.eos_id()) allowed.push_back(id);
    if (allowed.empty()) allowed.push_back(tok.eos_id());
    const int32_t id = allowed[rng.below(allowed.size())];
    EXPECT_TRUE(g.advance(id)) << tok.token_name(id);
    ids.push_back(id);
  }
  return ids;
}

TEST(generate, grammar_random_walks_decode_without_invalid_ids) {
  for (const auto& c : tokenizer_cases()) {
    auto tok = xm::tokens::make_tokenizer(c.name, c.options);
    for (uint64_t seed = 1; seed <= 3; ++seed) {
      auto g = xm::gen::make_grammar(*tok);
      std::vector<int32_t> ids = random_walk(*tok, *g, 2000 * tok->fields_per_step(), seed);
      while (!g->at_boundary()) {  // finish the step or note in progress
        std::vector<uint8_t> mask(size_t(tok->vocab_size()));
        g->allowed(mask.data());
        const int32_t id = int32_t(std::find(mask.begin(), mask.end(), 1) - mask.begin());
        ASSERT_LT(id, tok->vocab_size());
        g->advance(id);
        ids.push_back(id);
      }
      int invalid = -1;
      const xm::midi::Score s = tok->decode(ids, &invalid);
      EXPECT_EQ(invalid, 0) << c.name << " " << c.options.dump() << " seed " << seed;
      EXPECT_GT(s.notes.size(), 10u) << c.name;
      // The clock agrees with the decoded score's tempo map (performance: 1 tick = 1 ms at 120 BPM).
      // (Decoded tempos are whole microseconds per quarter: a relative error of up to 1e-6.)
      EXPECT_NEAR(g->seconds(), s.tempo_map().ticks_to_seconds(g->tick()), 1e-6 + 2e-6 * g->seconds()) << c.name;
      EXPECT_GT(g->seconds(), 1.0) << c.name;
      if (c.name == "remi" || c.name == "tuples" || c.name == "jsb") {
        for (const auto& n : s.notes) EXPECT_LE(n.onset_tick, g->tick()) << c.name;
      }
    }
  }
}

TEST(generate, grammar_pitch_constraints_hold_in_random_walks) {
  const xm::music::Scale* yaman = xm::music::find_scale("raga_yaman");
  ASSERT_NE(yaman, nullptr);
  xm::gen::GrammarConstraints con;
  for (int p = 0; p < 128; ++p) con.pitch_ok[size_t(p)] = p >= 50 && p <= 80 && xm::music::in_scale(p, 2, *yaman);
  for (const auto& c : tokenizer_cases()) {
    auto tok = xm::tokens::make_tokenizer(c.name, c.options);
    auto g = xm::gen::make_grammar(*tok, con);
    std::vector<int32_t> ids = random_walk(*tok, *g, 1500 * tok->fields_per_step(), 7);
    int invalid = 0;
    const xm::midi::Score s = tok->decode(ids, &invalid);
    size_t checked = 0;
    for (const auto& n : s.notes) {
      if (n.drum && c.name == "remi") continue;  // REMI knows drum notes: they are exempt
      ++checked;
      EXPECT_TRUE(con.pitch_ok[size_t(n.pitch)]) << c.name << ": pitch " << n.pitch;
    }
    EXPECT_GT(checked, 5u) << c.name;
  }
}

TEST(generate, grammar_remi_clock_counts_bars_and_forces_tempo) {
  auto tok = xm::tokens::make_tokenizer("remi");
  auto g = xm::gen::make_grammar(*tok);
  for (int32_t id : tok->control_prefix({})) g->advance(id);
  g->begin_continuation(90, false);
  EXPECT_EQ(g->bars(), 0);
  std::vector<uint8_t> mask(size_t(tok->vocab_size()));
  g->allowed(mask.data());
  // After the prefix: a Bar or the end; after Bar, the first bar needs its TimeSig.
  const xm::json v = tok->vocab_json();
  auto id_of = [&](const std::string& name) {
    const auto& names = v["tokens"];
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == name) return int32_t(i);
    return int32_t(-1);
  };
  EXPECT_TRUE(mask[size_t(id_of("Bar"))]);
  EXPECT_FALSE(mask[size_t(id_of("EOS"))]);  // the sampler ends a piece only after a note
  EXPECT_TRUE(g->can_follow(id_of("EOS"), false));  // (an empty piece is grammatical)
  EXPECT_FALSE(mask[size_t(id_of("Position_0"))]);
  EXPECT_FALSE(mask[size_t(id_of("Genre_pop"))]);  // controls are given, never sampled
  g->advance(id_of("Bar"));
  g->allowed(mask.data());
  EXPECT_TRUE(mask[size_t(id_of("TimeSig_4/4"))]);
  EXPECT_FALSE(mask[size_t(id_of("Position_0"))]);
  g->advance(id_of("TimeSig_3/4"));
  g->advance(id_of("Position_4"));
  g->allowed(mask.data());
  EXPECT_FALSE(mask[size_t(id_of("Position_4"))]);  // strictly increasing
  EXPECT_FALSE(mask[size_t(id_of("Bar"))]);         // a Position needs content
  int tempo_allowed = 0;
  for (int id = 0; id < tok->vocab_size(); ++id)
    if (mask[size_t(id)] && tok->token_name(id).rfind("Tempo_", 0) == 0) ++tempo_allowed;
  EXPECT_EQ(tempo_allowed, 1);
  g->advance(id_of("Program_0"));
  g->allowed(mask.data());
  EXPECT_TRUE(mask[size_t(id_of("Pitch_60"))]);
  EXPECT_FALSE(mask[size_t(id_of("Velocity_10"))]);
  g->advance(id_of("Pitch_60"));
  g->allowed(mask.data());
  EXPECT_TRUE(mask[size_t(id_of("Velocity_10"))]);
  EXPECT_FALSE(mask[size_t(id_of("Duration_4"))]);
  EXPECT_FALSE(g->at_boundary());
  g->advance(id_of("Velocity_10"));
  g->advance(id_of("Duration_4"));
  EXPECT_TRUE(g->at_boundary());
  g->allowed(mask.data());
  EXPECT_TRUE(mask[size_t(id_of("EOS"))]);
  EXPECT_FALSE(mask[size_t(id_of("Pitch_59"))]);  // notes at one position go up
  EXPECT_TRUE(mask[size_t(id_of("Pitch_64"))]);
  EXPECT_FALSE(mask[size_t(id_of("Position_24"))]);  // 3/4 at 8 steps per quarter: 24 positions
  EXPECT_TRUE(mask[size_t(id_of("Position_23"))]);
  // 4 steps of 90 BPM at 8 steps per quarter: 1/3 s.
  EXPECT_NEAR(g->seconds(), 4 * 60.0 / (90 * 8), 1e-12);
  EXPECT_EQ(g->bars(), 1);
  g->advance(id_of("Bar"));
  EXPECT_EQ(g->bars(), 2);
  EXPECT_NEAR(g->seconds(), 3 * 60.0 / 90, 1e-12);  // the second bar starts after three quarters
  EXPECT_EQ(g->tick(), 3 * 480);
}

}  // namespace

// test_sampler.cpp: gen::Generator's sampling loop and stopping rules with a scripted model (fixed pseudo-random
// logits, a chosen end-of-piece logit), so each rule can be checked exactly and for every tokenizer, including
// a note-tuple model (fields() > 1). No trained model and no dataset needed.
#include <cmath>
#include <limits>
#include <thread>

#include "generate/generate.h"
#include "generate/grammar.h"
#include "midi/midi_io.h"
#include "music/analysis.h"
#include "music/scales.h"
#include "support/test_support.h"

namespace {

using xm::gen::GenerateOptions;
using xm::gen::Generator;

struct FakeState final : xm::model::SeqState {
  int B = 1;
  int64_t n = 0;
  int batch() const override { return B; }
  void reset_row(int) override {}
  void copy_row(int, const SeqState& src, int) override { n = src.steps(); }
  size_t bytes() const override { return 0; }
  int64_t steps() const override { return n; }
};

// Logits: a hash of (steps fed, field, id) in [-2, 2], the same for every row; EOS gets eos_logit. For note
// tuples, ids outside the field's range are -inf (as SeqModel::next promises).
class FakeModel final : public xm::model::SeqModel {
 public:
  FakeModel(const xm::tokens::Tokenizer& tok, double eos_logit) : V_(tok.vocab_size()), eos_(tok.eos_id()), eos_logit_(eos_logit) {
    nf_ = tok.fields_per_step();
    const xm::json v = tok.vocab_json();
    if (nf_ > 1)
      for (const auto& f : v["fields"]) ranges_.push_back({f["start"].get<int>(), f["count"].get<int>()});
  }
  std::string family() const override { return "fake"; }
  int vocab_size() const override { return V_; }
  int fields() const override { return nf_; }
  int context_length() const override { return 0; }
  xm::json config_json() const override { return {{"family", "fake"}}; }
  const xm::model::ParamTable& table() const override { return table_; }
  std::vector<float>& params() override { return p_; }
  const std::vector<float>& params() const override { return p_; }
  std::vector<float>& grads() override { return p_; }
  void init(uint64_t) override {}
  double forward(const int32_t*, const int32_t*, int, int) override { return 0; }
  void backward(double) override {}
  void target_nll(float*) const override {}
  void set_label_smoothing(double) override {}
  std::unique_ptr<xm::model::SeqState> new_state(int B) const override {
    auto s = std::make_unique<FakeState>();
    s->B = B;
    return s;
  }
  void feed(xm::model::SeqState& st, const int32_t*, int S) const override { static_cast<FakeState&>(st).n += S; }
  void next(xm::model::SeqState& st, const xm::model::PickFn& pick) const override {
    const auto& s = static_cast<FakeState&>(st);
    std::vector<float> logits(size_t(s.B) * V_);
    std::vector<int32_t> chosen(size_t(s.B));
    for (int f = 0; f < nf_; ++f) {
      for (int id = 0; id < V_; ++id) {
        float x = hash_logit(s.n, f, id);
        if (id == eos_) x = float(eos_logit_);
        if (nf_ > 1 && (id < ranges_[size_t(f)].first || id >= ranges_[size_t(f)].first + ranges_[size_t(f)].second))
          x = -std::numeric_limits<float>::infinity();
        for (int b = 0; b < s.B; ++b) logits[size_t(b) * V_ + id] = x;
      }
      pick(f, logits.data(), chosen.data());
    }
  }

 private:
  static float hash_logit(int64_t n, int f, int id) {
    uint64_t h = uint64_t(n) * 0x9E3779B97F4A7C15ull ^ uint64_t(f) * 0xC2B2AE3D27D4EB4Full ^ uint64_t(id) * 0x165667B19E3779F9ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return float(double(h % 10000) / 10000.0 * 4.0 - 2.0);
  }
  int V_, nf_ = 1, eos_;
  double eos_logit_;
  std::vector<std::pair<int, int>> ranges_;
  xm::model::ParamTable table_;
  std::vector<float> p_;
};

std::unique_ptr<Generator> fake_generator(const std::string& tokenizer, double eos_logit = -30,
                                          const xm::json& options = xm::json::object()) {
  auto tok = xm::tokens::make_tokenizer(tokenizer, options);
  xm::model::ModelMeta meta;
  meta.tokenizer = tok->vocab_json();
  return std::make_unique<Generator>(std::make_unique<FakeModel>(*tok, eos_logit), meta, "fake-" + tokenizer);
}

int count_named(const Generator& g, const std::vector<int32_t>& ids, const std::string& name) {
  int n = 0;
  for (int32_t id : ids) n += g.tokenizer().token_name(id) == name;
  return n;
}

TEST(generate, sampler_every_tokenizer_gives_valid_pieces) {
  for (const std::string name : {"remi", "performance", "jsb", "tuples"}) {
    auto g = fake_generator(name);
    GenerateOptions o;
    o.max_tokens = 300;
    o.num = 5;
    o.temperature = 2.0;
    auto r = g->generate(nullptr, o);
    ASSERT_EQ(r.pieces.size(), 5u);
    for (const auto& p : r.pieces) {
      EXPECT_EQ(p.invalid_tokens, 0) << name;
      EXPECT_EQ(p.fallbacks, 0) << name;
      EXPECT_EQ(p.stop_reason, "max_tokens") << name;
      EXPECT_LE(p.generated_tokens, 300) << name;
      EXPECT_GE(p.generated_tokens, 296) << name;  // at most Position Program Pitch Velocity trimmed
      EXPECT_GT(p.score.notes.size(), 0u) << name;
      // Every id is one the grammar accepts, and the row ends where a piece may end.
      auto gr = xm::gen::make_grammar(g->tokenizer());
      size_t refused = 0;
      for (int32_t id : p.tokens) refused += !gr->advance(id);
      EXPECT_EQ(refused, 0u) << name;
      EXPECT_TRUE(gr->at_boundary()) << name;
    }
    EXPECT_NE(r.pieces[0].tokens, r.pieces[1].tokens) << name;  // rows sample independently
  }
}

TEST(generate, sampler_stop_prob_is_a_threshold_on_p_eos) {
  // Logits in [-2, 2] for 676 ids and 0.0 for EOS: P(EOS) is about 1/677 at every step.
  auto g = fake_generator("remi", 0.0);
  GenerateOptions o;
  o.max_tokens = 200;
  o.stop_prob = 1e-9;
  auto r = g->generate(nullptr, o);
  EXPECT_EQ(r.pieces[0].stop_reason, "stop_prob");
  EXPECT_EQ(r.pieces[0].generated_tokens, 0);
  o.stop_prob = 0.05;  // never reached: P(EOS) < 1/300 whatever the step
  o.num = 2;
  r = g->generate(nullptr, o);
  for (const auto& p : r.pieces) EXPECT_NE(p.stop_reason, "stop_prob");
}

TEST(generate, sampler_eos_ends_a_row_at_a_boundary) {
  auto g = fake_generator("remi", 4.0);
  GenerateOptions o;
  o.max_tokens = 5000;
  o.num = 4;
  auto r = g->generate(nullptr, o);
  for (const auto& p : r.pieces) {
    EXPECT_EQ(p.stop_reason, "eos");
    EXPECT_EQ(p.tokens.back(), g->tokenizer().eos_id());
    EXPECT_EQ(p.invalid_tokens, 0);
  }
}

TEST(generate, sampler_bars_seconds_and_tokens_stop_exactly) {
  auto g = fake_generator("remi");
  GenerateOptions o;
  o.bars = 3;
  o.num = 3;
  auto r = g->generate(nullptr, o);
  for (const auto& p : r.pieces) {
    EXPECT_EQ(p.stop_reason, "bars");
    EXPECT_EQ(count_named(*g, p.tokens, "Bar"), 3);
    xm::music::MeterMap meter(p.score);
    for (const auto& n : p.score.notes) EXPECT_LT(meter.at(n.onset_tick).bar, 3);
  }
  o = {};
  o.seconds = 5;
  o.tempo_bpm = 90;
  o.num = 3;
  r = g->generate(nullptr, o);
  for (const auto& p : r.pieces) {
    EXPECT_EQ(p.stop_reason, "seconds");
    ASSERT_EQ(p.score.tempos.size(), 1u);
    EXPECT_EQ(p.score.tempos[0].us_per_quarter, 666667u);  // exactly the requested tempo
    double last = 0;
    for (const auto& n : p.score.notes) last = std::max(last, n.onset_s);
    EXPECT_LT(last, 5.0);
    EXPECT_GT(last, 3.0);  // the stop came near the limit, not early
  }
  o = {};
  o.max_tokens = 77;
  r = g->generate(nullptr, o);
  EXPECT_EQ(r.pieces[0].stop_reason, "max_tokens");
  EXPECT_LE(r.pieces[0].generated_tokens, 77);
  EXPECT_GE(r.pieces[0].generated_tokens, 73);
}

TEST(generate, sampler_scale_and_range_hold_for_every_tokenizer) {
  struct C {
    std::string scale, key;
  };
  for (const std::string name : {"remi", "performance", "jsb", "tuples"}) {
    for (const C& c : {C{"major", ""}, C{"raga_yaman", "D"}, C{"makam_hicaz", "A"}}) {
      auto g = fake_generator(name);
      GenerateOptions o;
      o.max_tokens = 400;
      o.scale = c.scale;
      o.key = c.key;
      o.pitch_min = 48;
      o.pitch_max = 84;
      auto r = g->generate(nullptr, o);
      const xm::music::Scale* sc = xm::music::find_scale(c.scale);
      xm::music::Key key;
      const int tonic = c.key.empty() ? 0 : (xm::music::parse_key(c.key, &key), key.tonic);
      size_t n = 0;
      for (const auto& note : r.pieces[0].score.notes) {
        if (note.drum) continue;
        ++n;
        EXPECT_TRUE(xm::music::in_scale(note.pitch, tonic, *sc)) << name << " " << c.scale << " pitch " << note.pitch;
        EXPECT_GE(note.pitch, 48);
        EXPECT_LE(note.pitch, 84);
      }
      EXPECT_GT(n, 3u) << name << " " << c.scale;
    }
  }
}

TEST(generate, sampler_continues_a_seed_after_its_last_onset) {
  const auto seed = xm::midi::read_midi_file(xmtest::source_dir() / "samples" / "sample.mid");
  for (const std::string name : {"remi", "tuples", "performance"}) {
    auto g = fake_generator(name);
    GenerateOptions o;
    o.max_tokens = 200;
    o.tempo_bpm = 140;
    auto r = g->generate(&seed, o);
    const auto& p = r.pieces[0];
    ASSERT_GT(p.score.notes.size(), seed.notes.size()) << name;
    // The seed's notes are in the output exactly as they were; the continuation starts after them.
    int64_t last_seed_onset = seed.notes.back().onset_tick;
    size_t found = 0;
    for (const auto& n : seed.notes)
      for (const auto& m : p.score.notes)
        if (m.onset_tick == n.onset_tick && m.offset_tick == n.offset_tick && m.pitch == n.pitch &&
            m.velocity == n.velocity && m.channel == n.channel && m.track == n.track) {
          ++found;
          break;
        }
    EXPECT_EQ(found, seed.notes.size()) << name;
    for (size_t i = 0; i < seed.notes.size(); ++i) {
      EXPECT_EQ(p.score.notes[i].onset_tick, seed.notes[i].onset_tick) << name;
      EXPECT_EQ(p.score.notes[i].pitch, seed.notes[i].pitch) << name;
    }
    EXPECT_GT(p.continuation_tick, last_seed_onset) << name;
    for (size_t i = seed.notes.size(); i < p.score.notes.size(); ++i)
      EXPECT_GE(p.score.notes[i].onset_tick, p.continuation_tick) << name;
    // The requested tempo from the continuation on; the seed's tempo map before it.
    const auto map = p.score.tempo_map();
    EXPECT_NEAR(map.bpm_at(p.continuation_tick), 140, 0.01) << name;
    EXPECT_NEAR(map.bpm_at(0), seed.tempo_map().bpm_at(0), 1e-9) << name;
    EXPECT_EQ(p.invalid_tokens, 0) << name;
  }
}

TEST(generate, sampler_continues_a_jsb_seed_on_its_grid) {
  // JSB output is the decoded chorale: the seed on the 16th grid, then the continuation at the new tempo.
  const auto seed = xm::midi::read_midi_file(xmtest::source_dir() / "samples" / "sample.mid");
  auto g = fake_generator("jsb");
  GenerateOptions o;
  o.bars = 2;
  o.tempo_bpm = 90;
  auto r = g->generate(&seed, o);
  const auto& p = r.pieces[0];
  EXPECT_EQ(p.stop_reason, "bars");
  EXPECT_EQ(p.invalid_tokens, 0);
  const auto map = p.score.tempo_map();
  EXPECT_NEAR(map.bpm_at(0), 100, 1e-6);  // the sample starts at 100 BPM
  EXPECT_NEAR(map.bpm_at(p.continuation_tick), 90, 0.01);
  size_t after = 0;
  for (const auto& n : p.score.notes) after += n.onset_tick >= p.continuation_tick;
  EXPECT_GT(after, 0u);
  // The sample lasts 12 bars of 4/4: the continuation's 2 bars end by bar 14 (16 sixteenths of 120 ticks each).
  for (const auto& n : p.score.notes) EXPECT_LT(n.onset_tick, 14 * 16 * 120);
}

TEST(generate, sampler_is_deterministic_and_reentrant) {
  auto g = fake_generator("remi");
  GenerateOptions o;
  o.max_tokens = 150;
  o.num = 3;
  o.random_seed = 42;
  const auto a = g->generate(nullptr, o);
  xm::gen::GenerateResult b, c;
  std::thread t1([&] { b = g->generate(nullptr, o); });
  std::thread t2([&] { c = g->generate(nullptr, o); });
  t1.join();
  t2.join();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(a.pieces[size_t(i)].tokens, b.pieces[size_t(i)].tokens);
    EXPECT_EQ(a.pieces[size_t(i)].tokens, c.pieces[size_t(i)].tokens);
  }
  o.random_seed = 43;
  const auto d = g->generate(nullptr, o);
  EXPECT_NE(a.pieces[0].tokens, d.pieces[0].tokens);
}

TEST(generate, sampler_checks_options_and_cancels) {
  auto g = fake_generator("remi");
  auto bad = [&](GenerateOptions o, const std::string& flag) {
    try {
      g->validate(o);
      ADD_FAILURE() << "no error for " << flag;
    } catch (const xm::UsageError& e) {
      EXPECT_NE(std::string(e.what()).find(flag), std::string::npos) << e.what();
    }
  };
  GenerateOptions o;
  o.top_p = 0;
  bad(o, "--top-p");
  o = {};
  o.temperature = 0;
  bad(o, "--temperature");
  o = {};
  o.genre = "polka-of-mars";
  bad(o, "--genre");
  o = {};
  o.key = "H minor";
  bad(o, "--key");
  o = {};
  o.scale = "nosuch";
  bad(o, "--scale");
  o = {};
  o.pitch_min = 61, o.pitch_max = 61, o.scale = "major";  // C# is not in C major
  bad(o, "--pitch-range");
  o = {};
  o.max_tokens = 100000;
  int calls = 0;
  o.on_progress = [&](double f) {
    EXPECT_GE(f, 0.0);
    EXPECT_LE(f, 1.0);
    return ++calls < 10;
  };
  EXPECT_THROW(g->generate(nullptr, o), xm::gen::Cancelled);
  EXPECT_EQ(calls, 10);
}

TEST(generate, sampler_refuses_a_model_without_tokenizer) {
  auto tok = xm::tokens::make_tokenizer("remi");
  try {
    Generator g(std::make_unique<FakeModel>(*tok, 0.0), xm::model::ModelMeta{}, "bare.safetensors");
    ADD_FAILURE() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bare.safetensors"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("tokenizer"), std::string::npos);
  }
}

}  // namespace

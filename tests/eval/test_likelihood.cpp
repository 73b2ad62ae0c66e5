// Tests of `xlstm-music eval` as the real binary: the likelihood of a tiny model trained in the test (data prepare
// with --transpose -5..6, then train --preset tiny --steps 30) against NLLs computed independently here from
// SeqModel::forward + target_nll (state carried, fixed windows, positions), per-genre sums and the bits-per-note
// arithmetic; the music-metric mode end to end; bad input gives exit 1 or 2 naming the flag or file.
// Not the metric definitions (test_metrics.cpp) nor the KDE (test_compare.cpp).
#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/json.h"
#include "data/corpus.h"
#include "data/data_test_util.h"
#include "model/seq_model.h"
#include "model/xlstm_lm.h"
#include "support/test_support.h"
#include "train/loader.h"

namespace fs = std::filesystem;

namespace {

// Shell-quoted (appending rather than "'" + s + "'", which trips GCC 12's -Wrestrict false positive).
std::string q(const fs::path& p) {
  std::string s(1, '\'');
  s += p.string();
  s += '\'';
  return s;
}

// One prepared corpus (folk: samples/sample.mid and generated tunes; rock: generated songs; valid about 40%, no
// test split) and one tiny model trained on it for 30 steps, made once for all tests of this file.
struct Fixture {
  fs::path dir, corpus, model;
  std::string error;  // why the fixture could not be made
  Fixture() {
    dir = xmtest::temp_dir("eval-nll");
    const fs::path folk = dir / "folk", rock = dir / "rock";
    fs::create_directories(folk);
    fs::copy_file(xmtest::source_dir() / "samples" / "sample.mid", folk / "sample.mid");
    for (int i = 0; i < 5; ++i)
      xmtest::write_piece(folk / ("tune" + std::to_string(i) + ".mid"), xmtest::make_piece(uint32_t(100 + i), 90, 62));
    for (int i = 0; i < 6; ++i)
      xmtest::write_piece(rock / ("song" + std::to_string(i) + ".mid"), xmtest::make_piece(uint32_t(7 + i), 110, 48));
    corpus = dir / "corpus";
    auto r = xmtest::run_cli("data prepare --input " + q(folk) + ":folk --input " + q(rock) + ":rock --out " +
                             q(corpus) + " --split valid=0.4,test=0 --transpose -5..6 --quiet --jobs 1");
    if (r.exit_code != 0) {
      error = "data prepare failed: " + r.err;
      return;
    }
    model = dir / "tiny.safetensors";
    r = xmtest::run_cli("train --data " + q(corpus) + " --out " + q(model) +
                        " --preset tiny --steps 30 --batch 4 --seq 32 --threads 1 --quiet");
    if (r.exit_code != 0) error = "train failed: " + r.err;
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

const Fixture& fixture() {
  static Fixture f;
  return f;
}

#define XM_FIXTURE(f)                                   \
  const Fixture& f = fixture();                         \
  do {                                                  \
    ASSERT_TRUE(f.error.empty()) << f.error;            \
  } while (0)

xm::json eval_json(const std::string& args) {
  const auto r = xmtest::run_cli("eval " + args + " --json --threads 1");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? xm::json::parse(r.out) : xm::json();
}

// The control prefix a piece was written with, rebuilt from its index tags (not read back from the tokens).
size_t prefix_of(const xm::data::PieceInfo& p, const xm::tokens::Tokenizer& tok, const std::vector<int32_t>& ids) {
  const std::vector<int32_t> pre = tok.control_prefix(xmtest::conditioning_of(p, 0));
  EXPECT_TRUE(pre.size() <= ids.size() && std::equal(pre.begin(), pre.end(), ids.begin())) << p.source;
  return pre.size();
}

// NLL of every predicted token of ids[0..n) in one forward from the zero state: (position, nll) pairs.
std::vector<std::pair<int64_t, double>> full_forward_nll(xm::model::SeqModel& m, const std::vector<int32_t>& ids,
                                                         size_t prefix) {
  const int L = int(ids.size()) - 1;
  std::vector<int32_t> targets(size_t(L), xm::model::kIgnoreIndex);
  for (int i = 0; i < L; ++i)
    if (size_t(i + 1) >= prefix) targets[size_t(i)] = ids[size_t(i + 1)];
  m.forward(ids.data(), targets.data(), 1, L);
  std::vector<float> nll(static_cast<size_t>(L));
  m.target_nll(nll.data());
  std::vector<std::pair<int64_t, double>> out;
  for (int i = 0; i < L; ++i)
    if (targets[size_t(i)] != xm::model::kIgnoreIndex) out.push_back({i + 1, double(nll[size_t(i)])});
  return out;
}

}  // namespace

TEST(eval, nll_with_carried_state_equals_full_forward_target_nll) {
  XM_FIXTURE(f);
  const xm::json j = eval_json("--model " + q(f.model) + " --data " + q(f.corpus));
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["mode"], "carry");
  EXPECT_EQ(j["seq"], 32);  // the model's context length: pieces run in many windows with the state carried
  auto loaded = xm::model::load_seq_model(f.model);
  const auto corpus = xm::data::Corpus::open(f.corpus);
  const auto tok = corpus.make_tokenizer();
  const auto pieces = corpus.pieces(xm::data::Split::Valid);
  ASSERT_EQ(j["pieces"].size(), pieces.size());
  double total = 0;
  int64_t tokens = 0, longest = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    const std::vector<int32_t> ids = corpus.tokens(*pieces[k], 0).to_vector();
    longest = std::max<int64_t>(longest, int64_t(ids.size()));
    const auto nll = full_forward_nll(*loaded.model, ids, prefix_of(*pieces[k], *tok, ids));
    double sum = 0;
    for (const auto& [pos, v] : nll) sum += v;
    const xm::json& p = j["pieces"][k];
    EXPECT_EQ(p["source"], pieces[k]->source);
    EXPECT_EQ(p["tokens"].get<int64_t>(), int64_t(nll.size())) << pieces[k]->source;
    EXPECT_NEAR(p["nll"].get<double>() / double(nll.size()), sum / double(nll.size()), 2e-5) << pieces[k]->source;
    total += sum;
    tokens += int64_t(nll.size());
  }
  EXPECT_GT(longest, 4 * 32) << "pieces should span several windows";
  EXPECT_EQ(j["overall"]["tokens"].get<int64_t>(), tokens);
  EXPECT_NEAR(j["overall"]["nll_per_token"].get<double>(), total / double(tokens), 2e-5);
  // A trained model beats the uniform distribution over the vocabulary.
  EXPECT_LT(j["overall"]["nll_per_token"].get<double>(), std::log(double(corpus.vocab_size())) - 1.0);
}

TEST(eval, nll_in_windows_equals_target_nll_over_the_loaders_fixed_windows) {
  XM_FIXTURE(f);
  const xm::json j = eval_json("--model " + q(f.model) + " --data " + q(f.corpus) + " --no-carry --batch 3");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["mode"], "windows");
  auto loaded = xm::model::load_seq_model(f.model);
  const auto corpus = xm::data::Corpus::open(f.corpus);
  const auto tok = corpus.make_tokenizer();
  const int S = 32;
  const xm::train::WindowLoader loader(corpus, xm::data::Split::Valid, *tok, S, true);
  std::map<std::string, std::pair<double, int64_t>> by_source;
  std::vector<int32_t> ids(S), targets(S);
  std::vector<float> nll(S);
  for (const auto& w : loader.fixed_windows(0)) {
    loader.fill(w, ids.data(), targets.data());
    loaded.model->forward(ids.data(), targets.data(), 1, S);
    loaded.model->target_nll(nll.data());
    auto& acc = by_source[loader.sequences()[w.sequence].piece->source];
    for (int i = 0; i < S; ++i)
      if (targets[size_t(i)] != xm::model::kIgnoreIndex) acc.first += nll[size_t(i)], ++acc.second;
  }
  ASSERT_EQ(j["pieces"].size(), by_source.size());
  double total = 0;
  int64_t tokens = 0;
  for (const xm::json& p : j["pieces"]) {
    const auto& ref = by_source.at(p["source"].get<std::string>());
    EXPECT_EQ(p["tokens"].get<int64_t>(), ref.second) << p["source"];
    EXPECT_NEAR(p["nll"].get<double>() / double(ref.second), ref.first / double(ref.second), 2e-5) << p["source"];
    total += ref.first, tokens += ref.second;
  }
  EXPECT_EQ(j["overall"]["tokens"].get<int64_t>(), tokens);
  EXPECT_EQ(int64_t(loader.body_tokens()), tokens);  // every body token predicted once
  EXPECT_NEAR(j["overall"]["nll_per_token"].get<double>(), total / double(tokens), 2e-5);
}

TEST(eval, note_tuple_family_in_windows_equals_the_loaders_windows) {
  // The note-tuple family (fields() > 1: each step is several ids, targets are the next step's fields) has no
  // carried state here: windows as the loader makes them, each field id a predicted token.
  XM_FIXTURE(f);
  const fs::path corpus_dir = f.dir / "tuples", model_path = f.dir / "tuple.safetensors";
  auto r = xmtest::run_cli("data prepare --input " + q(f.dir / "folk") + ":folk --input " + q(f.dir / "rock") +
                           ":rock --out " + q(corpus_dir) +
                           " --tokenizer tuples --split valid=0.4,test=0 --quiet --jobs 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = xmtest::run_cli("train --data " + q(corpus_dir) + " --out " + q(model_path) +
                      " --preset tiny --family tuple --steps 5 --batch 2 --seq 16 --threads 1 --quiet");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const xm::json j = eval_json("--model " + q(model_path) + " --data " + q(corpus_dir) + " --batch 4");
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j["mode"], "windows");
  auto loaded = xm::model::load_seq_model(model_path);
  const int F = loaded.model->fields(), S = 16;
  ASSERT_GT(F, 1);
  EXPECT_EQ(j["seq"], S);
  const auto corpus = xm::data::Corpus::open(corpus_dir);
  const auto tok = corpus.make_tokenizer();
  const xm::train::WindowLoader loader(corpus, xm::data::Split::Valid, *tok, S, true);
  std::vector<int32_t> ids(size_t(S * F)), targets(size_t(S * F));
  std::vector<float> nll(size_t(S * F));
  double total = 0;
  int64_t tokens = 0;
  for (const auto& w : loader.fixed_windows(0)) {
    loader.fill(w, ids.data(), targets.data());
    loaded.model->forward(ids.data(), targets.data(), 1, S * F);
    loaded.model->target_nll(nll.data());
    for (int i = 0; i < S * F; ++i)
      if (targets[size_t(i)] != xm::model::kIgnoreIndex) total += nll[size_t(i)], ++tokens;
  }
  EXPECT_EQ(j["overall"]["tokens"].get<int64_t>(), tokens);
  EXPECT_EQ(int64_t(loader.body_tokens()), tokens);
  EXPECT_NEAR(j["overall"]["nll_per_token"].get<double>(), total / double(tokens), 2e-5);
}

TEST(eval, per_genre_numbers_add_up_and_bits_per_note_is_nll_over_notes) {
  XM_FIXTURE(f);
  const xm::json j = eval_json("--model " + q(f.model) + " --data " + q(f.corpus));
  ASSERT_TRUE(j.is_object());
  const auto corpus = xm::data::Corpus::open(f.corpus);
  const xm::json& o = j["overall"];
  ASSERT_GE(j["genres"].size(), 2u) << j["genres"].dump();
  double nll = 0, seconds = 0;
  int64_t tokens = 0, notes = 0, pieces = 0;
  for (const auto& [name, g] : j["genres"].items()) {
    EXPECT_TRUE(name == "folk" || name == "rock") << name;
    nll += g["nll"].get<double>(), seconds += g["seconds"].get<double>();
    tokens += g["tokens"].get<int64_t>(), notes += g["notes"].get<int64_t>(), pieces += g["pieces"].get<int64_t>();
    EXPECT_NEAR(g["bits_per_note"].get<double>(), g["nll"].get<double>() / std::log(2.0) / g["notes"].get<double>(),
                1e-9);
  }
  EXPECT_NEAR(nll, o["nll"].get<double>(), 1e-6 * std::abs(nll));
  EXPECT_EQ(tokens, o["tokens"].get<int64_t>());
  EXPECT_EQ(notes, o["notes"].get<int64_t>());
  EXPECT_EQ(pieces, o["pieces"].get<int64_t>());
  EXPECT_NEAR(seconds, o["seconds"].get<double>(), 1e-9 * seconds);
  // Notes and seconds are the pieces' own (index.json), every piece evaluated whole.
  int64_t index_notes = 0;
  double index_seconds = 0;
  for (const auto* p : corpus.pieces(xm::data::Split::Valid)) index_notes += p->notes, index_seconds += p->seconds;
  EXPECT_EQ(o["notes"].get<int64_t>(), index_notes);
  EXPECT_NEAR(o["seconds"].get<double>(), index_seconds, 1e-9 * index_seconds);
  // bits per note = total NLL in bits / notes; bits per second likewise; perplexity = exp(NLL per token).
  const double bits = o["nll"].get<double>() / std::log(2.0);
  EXPECT_NEAR(o["bits_per_note"].get<double>(), bits / double(index_notes), 1e-9 * bits);
  EXPECT_NEAR(o["bits_per_second"].get<double>(), bits / index_seconds, 1e-9 * bits);
  EXPECT_NEAR(o["perplexity"].get<double>(), std::exp(o["nll_per_token"].get<double>()), 1e-9);
  EXPECT_NEAR(o["nll_per_token"].get<double>(), o["nll"].get<double>() / double(tokens), 1e-12);
  // The position buckets hold every prediction once.
  int64_t in_buckets = 0;
  for (const xm::json& b : j["by_position"]) in_buckets += b["tokens"].get<int64_t>();
  EXPECT_EQ(in_buckets, tokens);
  // The text table says the same.
  const auto r = xmtest::run_cli("eval --model " + q(f.model) + " --data " + q(f.corpus) + " --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("overall"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("  folk"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("NLL by position"), std::string::npos) << r.out;
}

TEST(eval, nll_by_position_beyond_the_context_length) {
  XM_FIXTURE(f);
  // Context 32; pieces cut to 80 steps; buckets of 16: 0-15, 16-31, then 32-47, 48-63, 64-79 beyond the context.
  const xm::json j =
      eval_json("--model " + q(f.model) + " --data " + q(f.corpus) + " --positions 80 --bucket 16 --max-pieces 3");
  ASSERT_TRUE(j.is_object());
  const xm::json& b = j["by_position"];
  ASSERT_EQ(b.size(), 5u) << b.dump();
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(b[k]["from"].get<int64_t>(), int64_t(16 * k));
    EXPECT_EQ(b[k]["to"].get<int64_t>(), int64_t(16 * k + 15));
    EXPECT_EQ(b[k]["beyond_context"].get<bool>(), k >= 2);
  }
  auto loaded = xm::model::load_seq_model(f.model);
  const auto corpus = xm::data::Corpus::open(f.corpus);
  const auto tok = corpus.make_tokenizer();
  auto pieces = corpus.pieces(xm::data::Split::Valid);
  pieces.resize(3);
  std::vector<double> nll(5, 0.0);
  std::vector<int64_t> count(5, 0);
  int64_t notes = 0;
  for (size_t k = 0; k < pieces.size(); ++k) {
    std::vector<int32_t> ids = corpus.tokens(*pieces[k], 0).to_vector();
    const bool cut = ids.size() > 80;
    if (cut) ids.resize(80);
    EXPECT_EQ(j["pieces"][k]["cut"].get<bool>(), cut);
    for (const auto& [pos, v] : full_forward_nll(*loaded.model, ids, prefix_of(*pieces[k], *tok, ids)))
      nll[size_t(pos / 16)] += v, ++count[size_t(pos / 16)];
    notes += cut ? int64_t(tok->decode(ids).notes.size()) : pieces[k]->notes;
  }
  for (size_t k = 0; k < 5; ++k) {
    EXPECT_EQ(b[k]["tokens"].get<int64_t>(), count[k]) << k;
    if (count[k] > 0) {
      EXPECT_NEAR(b[k]["nll_per_token"].get<double>(), nll[k] / double(count[k]), 2e-5) << k;
    }
  }
  // Cut pieces count the notes their evaluated tokens hold.
  EXPECT_EQ(j["overall"]["notes"].get<int64_t>(), notes);
}

TEST(eval, likelihood_errors_name_the_flag_or_file) {
  XM_FIXTURE(f);
  const std::string base = "eval --model " + q(f.model) + " --data " + q(f.corpus);
  // A split without pieces (prepared with test=0): exit 1 naming the split.
  auto r = xmtest::run_cli(base + " --split test");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no pieces in the test split"), std::string::npos) << r.err;
  r = xmtest::run_cli(base + " --split bogus");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--split"), std::string::npos) << r.err;
  r = xmtest::run_cli("eval --model " + q(f.model));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--data"), std::string::npos) << r.err;
  r = xmtest::run_cli("eval --model " + q(f.dir / "missing.safetensors") + " --data " + q(f.corpus));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.safetensors"), std::string::npos) << r.err;
  r = xmtest::run_cli("eval --model " + q(f.model) + " --data " + q(f.dir / "no-corpus"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no-corpus"), std::string::npos) << r.err;
  r = xmtest::run_cli(base + " --seq 1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--seq"), std::string::npos) << r.err;
  r = xmtest::run_cli("eval");
  EXPECT_EQ(r.exit_code, 2);

  // A model whose vocabulary differs from the corpus: both sizes named.
  auto loaded = xm::model::load_seq_model(f.model);
  xm::json cfg = loaded.model->config_json();
  cfg["vocab_size"] = 50;
  auto other = xm::model::make_seq_model(cfg);
  other->init(1);
  const fs::path small = f.dir / "vocab50.safetensors";
  xm::model::save_seq_model(small, *other);
  r = xmtest::run_cli("eval --model " + q(small) + " --data " + q(f.corpus));
  EXPECT_EQ(r.exit_code, 1);
  const auto corpus = xm::data::Corpus::open(f.corpus);
  EXPECT_NE(r.err.find("vocabulary of 50 ids"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("has " + std::to_string(corpus.vocab_size())), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("vocab50.safetensors"), std::string::npos) << r.err;
}

TEST(eval, music_metrics_from_the_command_line) {
  const fs::path dir = xmtest::temp_dir("eval-cli-sets");
  for (uint32_t i = 0; i < 3; ++i) {
    xmtest::write_piece(dir / "gen" / ("g" + std::to_string(i) + ".mid"), xmtest::make_piece(30 + i, 40, 60));
    xmtest::write_piece(dir / "ref" / ("r" + std::to_string(i) + ".mid"), xmtest::make_piece(40 + i, 60, 55));
  }
  xmtest::write_piece(dir / "ref" / "empty.mid", xm::midi::Score{});
  auto r = xmtest::run_cli("eval --generated " + q(dir / "gen") + " --reference " + q(dir / "ref") + " --json --report " +
                           q(dir / "out" / "m.md"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const xm::json j = xm::json::parse(r.out);
  EXPECT_EQ(j["generated"]["files"], 3);
  EXPECT_EQ(j["reference"]["files"], 3);
  ASSERT_EQ(j["reference"]["skipped"].size(), 1u);
  EXPECT_EQ(j["reference"]["skipped"][0]["file"], "empty.mid");
  EXPECT_TRUE(fs::exists(dir / "out" / "m.md"));
  EXPECT_TRUE(fs::exists(dir / "out" / "m.groove_consistency.svg"));
  // The same folder against itself: every defined feature overlaps fully.
  r = xmtest::run_cli("eval --generated " + q(dir / "gen") + " --reference " + q(dir / "gen") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& [name, feat] : xm::json::parse(r.out)["features"].items())
    if (feat["defined"].get<bool>()) {
      EXPECT_NEAR(feat["oa_generated"].get<double>(), 1.0, 1e-9) << name;
    }
  // Bad input.
  r = xmtest::run_cli("eval --generated " + q(dir / "nope") + " --reference " + q(dir / "ref"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("nope"), std::string::npos) << r.err;
  r = xmtest::run_cli("eval --generated " + q(dir / "gen"));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--reference"), std::string::npos) << r.err;
  r = xmtest::run_cli("eval --generated " + q(dir / "gen") + " --reference " + q(dir / "ref") + " --seq 4");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--seq"), std::string::npos) << r.err;
  fs::create_directories(dir / "void");
  r = xmtest::run_cli("eval --generated " + q(dir / "void") + " --reference " + q(dir / "ref"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no usable MIDI file"), std::string::npos) << r.err;
  std::error_code ec;
  fs::remove_all(dir, ec);
}

// Tests of the family-neutral model interface (model/seq_model.h) over the xLSTM adapter: the factory reads the
// official schema with and without "family", feed/next give the logits of XlstmLM's own step and prefill,
// target_nll agrees with the mean loss, copy_row branches a row exactly, and save_seq_model/load_seq_model
// round-trip the parameters and metadata. Other families test themselves in their own files.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "model/seq_model.h"
#include "support/test_support.h"

using namespace xm;
using namespace xm::model;

namespace {

json small_config_json() {
  XlstmConfig c;
  c.vocab_size = 24;
  c.context_length = 16;
  c.num_blocks = 2;
  c.embedding_dim = 16;
  c.slstm_at = {1};
  c.mlstm = MlstmLayerConfig{};
  c.mlstm->num_heads = 2;
  c.slstm = SlstmLayerConfig{};
  c.slstm->num_heads = 2;
  c.feedforward = FeedForwardConfig{};
  c.validate();
  return json::parse(config_to_json(c).dump());
}

std::unique_ptr<SeqModel> random_model(uint32_t seed) {
  auto m = make_seq_model(small_config_json());
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, 0.3f);
  for (float& p : m->params()) p = n(rng);
  return m;
}

// Records the logits next() offers and picks the given ids.
struct Recorder {
  std::vector<float> logits;
  std::vector<int32_t> ids;
  PickFn fn() {
    return [this](int field, const float* l, int32_t* chosen) {
      EXPECT_EQ(field, 0);
      logits.assign(l, l + logits.size());
      for (size_t b = 0; b < ids.size(); ++b) chosen[b] = ids[b];
    };
  }
};

}  // namespace

TEST(model, seq_model_factory_reads_family_and_rejects_unknown) {
  json c = small_config_json();
  auto a = make_seq_model(c);
  c["family"] = "xlstm";
  auto b = make_seq_model(c);
  EXPECT_EQ(a->family(), "xlstm");
  EXPECT_EQ(a->num_params(), b->num_params());
  EXPECT_EQ(a->vocab_size(), 24);
  EXPECT_EQ(a->config_json().at("family"), "xlstm");
  c["family"] = "gru";
  try {
    make_seq_model(c, "cfg.json");
    FAIL() << "no error for an unknown family";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown model family \"gru\""), std::string::npos) << e.what();
  }
}

TEST(model, seq_model_feed_and_next_match_xlstm_step_and_forward) {
  auto m = random_model(7);
  const int B = 2, S = 9, V = m->vocab_size();
  std::vector<int32_t> ids(B * S);
  for (int i = 0; i < B * S; ++i) ids[i] = (i * 7 + 3) % V;
  // Full forward logits of the wrapped LM.
  XlstmLM<float>* lm = as_xlstm(*m);
  ASSERT_NE(lm, nullptr);
  LmCache<float> cache;
  lm->forward(cache, ids.data(), nullptr, B, S);
  // Step by step through the interface.
  auto st = m->new_state(B);
  Recorder r;
  r.logits.resize(size_t(B) * V);
  r.ids.assign(B, 0);
  double worst = 0;
  for (int t = 0; t < S; ++t) {
    std::vector<int32_t> col(B);
    for (int b = 0; b < B; ++b) col[b] = ids[b * S + t];
    m->feed(*st, col.data(), 1);
    m->next(*st, r.fn());
    for (int b = 0; b < B; ++b)
      for (int v = 0; v < V; ++v)
        worst = std::max(worst, double(std::fabs(r.logits[b * V + v] - cache.logits[(size_t(b) * S + t) * V + v])));
  }
  EXPECT_LT(worst, 2e-4);
  EXPECT_EQ(st->steps(), S);
  // Feeding the whole prompt at once gives the last position's logits too.
  auto st2 = m->new_state(B);
  m->feed(*st2, ids.data(), S);
  m->next(*st2, r.fn());
  worst = 0;
  for (int b = 0; b < B; ++b)
    for (int v = 0; v < V; ++v)
      worst = std::max(worst, double(std::fabs(r.logits[b * V + v] - cache.logits[(size_t(b) * S + S - 1) * V + v])));
  EXPECT_LT(worst, 2e-4);
}

TEST(model, seq_model_target_nll_averages_to_the_loss) {
  auto m = random_model(3);
  const int B = 2, S = 8, V = m->vocab_size();
  std::vector<int32_t> ids(B * S), tg(B * S);
  for (int i = 0; i < B * S; ++i) {
    ids[i] = (i * 5 + 1) % V;
    tg[i] = i % 3 == 0 ? kIgnoreIndex : (i * 11 + 2) % V;
  }
  const double loss = m->forward(ids.data(), tg.data(), B, S);
  std::vector<float> nll(B * S);
  m->target_nll(nll.data());
  double sum = 0;
  int n = 0;
  for (int i = 0; i < B * S; ++i) {
    if (tg[i] == kIgnoreIndex) {
      EXPECT_EQ(nll[i], 0.0f);
      continue;
    }
    EXPECT_GT(nll[i], 0.0f);
    sum += nll[i];
    ++n;
  }
  EXPECT_NEAR(sum / n, loss, 1e-5 * std::max(1.0, loss));
}

TEST(model, seq_model_copy_row_branches_exactly) {
  auto m = random_model(5);
  const int V = m->vocab_size();
  auto st = m->new_state(2);
  std::vector<int32_t> a{1, 2, 3, 4, 5, 6}, b{7, 8, 9, 10, 11, 12};
  std::vector<int32_t> rows(12);
  for (int t = 0; t < 6; ++t) rows[t] = a[t], rows[6 + t] = b[t];
  m->feed(*st, rows.data(), 6);
  st->copy_row(1, *st, 0);  // row 1 now continues row 0
  Recorder r;
  r.logits.resize(size_t(2) * V);
  r.ids = {3, 3};
  m->next(*st, r.fn());
  for (int v = 0; v < V; ++v) EXPECT_EQ(r.logits[v], r.logits[V + v]);
  std::vector<int32_t> same{3, 3};
  m->feed(*st, same.data(), 1);
  m->next(*st, r.fn());
  for (int v = 0; v < V; ++v) EXPECT_EQ(r.logits[v], r.logits[V + v]);
  st->reset_row(1);
  EXPECT_GT(st->bytes(), size_t(0));
}

TEST(model, seq_model_file_round_trip) {
  auto m = random_model(11);
  ModelMeta meta;
  meta.tokenizer = {{"tokenizer", "remi"}, {"vocab_size", 20}};
  meta.training = {{"steps", 3}};
  meta.other["note"] = "hello";
  const auto dir = xmtest::temp_dir("seq_model_file");
  save_seq_model(dir / "m.safetensors", *m, meta);
  LoadedSeqModel back = load_seq_model(dir / "m.safetensors");
  EXPECT_EQ(back.model->family(), "xlstm");
  EXPECT_EQ(back.model->params(), m->params());
  EXPECT_EQ(back.meta.tokenizer, meta.tokenizer);
  EXPECT_EQ(back.meta.training, meta.training);
  EXPECT_EQ(back.meta.other.at("note"), "hello");
  // A missing file is an error, not a crash.
  EXPECT_THROW(load_seq_model(dir / "missing.safetensors"), Error);
}

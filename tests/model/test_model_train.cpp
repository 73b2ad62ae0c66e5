// Tests of the training-step pieces (model/optim.h): AdamW against torch's formula and grouping, clipping, the
// warm-up + cosine schedule, gradient accumulation equal to one big batch, and a tiny model overfitting one
// fixed batch through train_step. Not the training loop (train/).
#include <cmath>

#include "model/optim.h"
#include "nn/rng.h"
#include "support/test_support.h"

using namespace xm::model;

namespace {
XlstmConfig tiny_config() {
  XlstmConfig c;
  c.vocab_size = 16;
  c.context_length = 16;
  c.num_blocks = 2;
  c.embedding_dim = 32;
  c.slstm_at = {1};
  MlstmLayerConfig m;
  m.num_heads = 2;
  c.mlstm = m;
  SlstmLayerConfig s;
  s.num_heads = 2;
  c.slstm = s;
  c.feedforward = FeedForwardConfig{};
  c.validate();
  return c;
}
std::vector<int32_t> random_tokens(size_t n, int V, uint64_t seed) {
  xm::nn::Rng r(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = int32_t(r.below(uint64_t(V)));
  return t;
}
}  // namespace

TEST(model, adamw_follows_torch_formula_and_grouping) {
  XlstmConfig cfg = tiny_config();
  ParamTable table(cfg);
  AdamWConfig ac;
  ac.weight_decay = 0.1;
  AdamW<double> opt(table, ac);
  std::vector<double> p(size_t(table.total()), 0.5), g(size_t(table.total()));
  for (size_t i = 0; i < g.size(); ++i) g[i] = 0.01 * double(i % 7) - 0.03;
  const double lr = 0.01;
  opt.step(p.data(), g.data(), lr);
  opt.step(p.data(), g.data(), lr);
  // reference: torch.optim.AdamW, two identical steps
  auto ref = [&](double g0, bool decay) {
    double x = 0.5, m = 0, v = 0;
    for (int t = 1; t <= 2; ++t) {
      if (decay) x *= 1 - lr * ac.weight_decay;
      m = ac.beta1 * m + (1 - ac.beta1) * g0;
      v = ac.beta2 * v + (1 - ac.beta2) * g0 * g0;
      double mh = m / (1 - std::pow(ac.beta1, t)), vh = v / (1 - std::pow(ac.beta2, t));
      x -= lr * mh / (std::sqrt(vh) + ac.eps);
    }
    return x;
  };
  for (const char* name : {"xlstm_block_stack.blocks.0.xlstm.proj_up.weight", "token_embedding.weight",
                           "xlstm_block_stack.blocks.1.xlstm.slstm_cell._bias_"}) {
    const ParamEntry& e = table.at(name);
    for (int64_t i = e.offset; i < e.offset + 5; ++i)
      EXPECT_NEAR(p[size_t(i)], ref(g[size_t(i)], e.decay), 1e-14) << name;
  }
  EXPECT_EQ(opt.steps(), 2);
}

TEST(model, clip_grad_norm_and_schedule) {
  std::vector<double> g = {3, 4};
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 10.0), 5.0);
  EXPECT_EQ(g, (std::vector<double>{3, 4}));  // under the limit: untouched
  EXPECT_DOUBLE_EQ(clip_grad_norm(g.data(), 2, 1.0), 5.0);
  EXPECT_NEAR(grad_global_norm(g.data(), 2), 1.0, 1e-6);
  EXPECT_NEAR(g[0] / g[1], 0.75, 1e-15);

  LrSchedule s{1e-3, 10, 110, 0.1};
  EXPECT_DOUBLE_EQ(s.at(0), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(9), 1e-3);
  EXPECT_DOUBLE_EQ(s.at(10), 1e-3);
  EXPECT_NEAR(s.at(60), 1e-4 + 0.5 * 0.9e-3, 1e-15);  // half way down the cosine
  EXPECT_DOUBLE_EQ(s.at(110), 1e-4);
  EXPECT_DOUBLE_EQ(s.at(1000), 1e-4);
  EXPECT_GT(s.at(30), s.at(31));
}

// Two micro-batches of 2 rows accumulate exactly the gradient of one 4-row batch.
TEST(model, gradient_accumulation_equals_one_batch) {
  XlstmConfig cfg = tiny_config();
  const int B = 4, S = 8;
  std::vector<int32_t> ids = random_tokens(size_t(B) * S, cfg.vocab_size, 1);
  std::vector<int32_t> tg = random_tokens(size_t(B) * S, cfg.vocab_size, 2);
  tg[3] = kIgnoreIndex, tg[17] = kIgnoreIndex, tg[18] = kIgnoreIndex;  // unequal counts per half
  XlstmLM<double> a(cfg), b(cfg);
  a.init(7), b.init(7);
  AdamW<double> oa(a.table()), ob(b.table());
  LmCache<double> c;
  StepResult ra = train_step(a, oa, c, {{ids.data(), tg.data(), B, S}}, 1e-3, 0.0);
  StepResult rb = train_step(b, ob, c,
                             {{ids.data(), tg.data(), 2, S}, {ids.data() + 2 * S, tg.data() + 2 * S, 2, S}}, 1e-3, 0.0);
  EXPECT_EQ(ra.tokens, rb.tokens);
  EXPECT_NEAR(ra.loss, rb.loss, 1e-13);
  EXPECT_NEAR(ra.grad_norm, rb.grad_norm, 1e-12 * ra.grad_norm);
  double md = 0;
  for (size_t i = 0; i < a.grads().size(); ++i) md = std::max(md, std::fabs(a.grads()[i] - b.grads()[i]));
  EXPECT_LT(md, 1e-13);
  for (size_t i = 0; i < a.params().size(); ++i) ASSERT_NEAR(a.params()[i], b.params()[i], 1e-12) << i;
}

// The whole training step can drive a tiny model's loss on one fixed batch near zero (float, as training runs).
TEST(model, tiny_model_overfits_one_batch) {
  XlstmConfig cfg = tiny_config();
  const int B = 2, S = 16;
  std::vector<int32_t> ids = random_tokens(size_t(B) * S, cfg.vocab_size, 3);
  std::vector<int32_t> tg(ids.size(), kIgnoreIndex);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t + 1 < S; ++t) tg[size_t(b) * S + t] = ids[size_t(b) * S + t + 1];
  XlstmLM<float> m(cfg);
  m.init(11);
  AdamW<float> opt(m.table(), AdamWConfig{0.9, 0.999, 1e-8, 0.0});
  LrSchedule sched{1e-2, 10, 0, 0.1};
  LmCache<float> c;
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    StepResult r = train_step(m, opt, c, {{ids.data(), tg.data(), B, S}}, sched.at(step), 1.0);
    if (step == 0) first = r.loss;
    last = r.loss;
    ASSERT_TRUE(std::isfinite(r.loss)) << "step " << step;
  }
  EXPECT_NEAR(first, std::log(16.0), 0.3);  // small init: near-uniform predictions
  EXPECT_LT(last, 0.05) << "started at " << first;
}

// Finite-difference check of the whole LM's loss gradient in double: a few random coordinates of EVERY parameter
// tensor, for the vector model's configuration and for a variant that takes the other paths (tied weights, no
// post norm, sLSTM without conv and without FFN, swish FFN, chunkwise mLSTM, label smoothing). Not the vectors.
#include <cmath>

#include "model/vector_model.h"
#include "nn/rng.h"

using namespace xm::model;

namespace {
XlstmConfig base_config() {
  XlstmConfig c;
  c.vocab_size = 11;
  c.context_length = 7;
  c.num_blocks = 3;
  c.embedding_dim = 16;
  c.slstm_at = {1};
  MlstmLayerConfig m;
  m.num_heads = 2;
  m.proj_factor = 2.0;
  c.mlstm = m;
  SlstmLayerConfig s;
  s.num_heads = 2;
  c.slstm = s;
  FeedForwardConfig f;
  c.feedforward = f;
  c.validate();
  return c;
}

// Checks d loss / d p for `coords` random coordinates of every tensor; returns failures as text.
std::string fd_check(XlstmLM<double>& m, int B, int S, int coords, uint64_t seed) {
  xm::nn::Rng rng(seed);
  const int V = m.config().vocab_size;
  // random parameters around the official init, so that no tensor is trivially zero
  m.init(seed);
  for (auto& p : m.params()) p += 0.2 * rng.normal();
  std::vector<int32_t> ids(size_t(B) * S), tg(size_t(B) * S);
  for (auto& x : ids) x = int32_t(rng.below(uint64_t(V)));
  for (auto& x : tg) x = int32_t(rng.below(uint64_t(V)));
  tg[1] = kIgnoreIndex;
  LmCache<double> c;
  m.zero_grad();
  m.forward(c, ids.data(), tg.data(), B, S);
  m.backward(c);
  std::string fails;
  const double h = 1e-5;
  for (const auto& e : m.table().entries()) {
    for (int k = 0; k < coords; ++k) {
      const size_t i = size_t(e.offset) + size_t(rng.below(uint64_t(e.numel)));
      double& p = m.params()[i];
      const double p0 = p;
      p = p0 + h;
      double lp = m.forward(c, ids.data(), tg.data(), B, S);
      p = p0 - h;
      double lm = m.forward(c, ids.data(), tg.data(), B, S);
      p = p0;
      const double num = (lp - lm) / (2 * h), ana = m.grads()[i];
      if (std::fabs(num - ana) > 1e-8 + 1e-5 * std::max(std::fabs(num), std::fabs(ana)))
        fails += "\n  " + e.name + " [" + std::to_string(i - size_t(e.offset)) + "]: analytic " +
                 std::to_string(ana) + ", numeric " + std::to_string(num);
    }
  }
  return fails;
}
}  // namespace

TEST(model, gradcheck_whole_model) {
  XlstmLM<double> m(base_config());
  EXPECT_EQ(fd_check(m, 2, 6, 3, 5), "");
}

TEST(model, gradcheck_whole_model_variant_paths) {
  XlstmConfig c = base_config();
  c.num_blocks = 2;
  c.slstm_at = {0};
  c.tie_weights = true;
  c.add_post_blocks_norm = false;
  c.slstm->conv1d_kernel_size = 0;
  c.feedforward.reset();
  c.validate();
  LmOptions o;
  o.mlstm.form = xm::nn::MlstmForm::chunkwise;
  o.mlstm.chunk = 4;
  o.label_smoothing = 0.1;
  XlstmLM<double> m(c, o);
  EXPECT_EQ(m.table().find("lm_head.weight"), m.table().find("token_embedding.weight"));
  EXPECT_EQ(fd_check(m, 2, 7, 3, 6), "");
  // swish FFN on an sLSTM block with conv
  XlstmConfig c2 = base_config();
  c2.feedforward->act_fn = "swish";
  c2.validate();
  XlstmLM<double> m2(c2);
  EXPECT_EQ(fd_check(m2, 1, 5, 2, 7), "");
}

// Tests of the xLSTM LM against the official float64 vectors (model.json, model_grads.json): every intermediate of
// the forward, the loss, the gradient of every parameter, in double and in float; the parameter table against
// the official state_dict order. Not the recurrent API (test_model_state.cpp) nor training (test_model_train.cpp).
#include "model/vector_model.h"

using namespace xm::model;

namespace {
struct Loaded {
  xm::json j;
  XlstmConfig cfg;
  std::vector<int> ids;
  std::vector<int32_t> targets;
  int B = 0, S = 0;
};
Loaded load(const xm::json& j) {
  Loaded l;
  l.cfg = xmtest::vector_model_config(j.at("config"));
  xmtest::VecTensor ids = xmtest::vec_tensor(j.at("token_ids"));
  l.B = int(ids.dim(0)), l.S = int(ids.dim(1));
  l.ids = ids.as_int();
  l.targets = xmtest::next_token_targets(l.ids, l.B, l.S);
  return l;
}
}  // namespace

TEST(model, param_table_matches_official_state_dict) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Loaded l = load(j);
  ParamTable t(l.cfg);
  auto order = j.at("param_order").get<std::vector<std::string>>();
  ASSERT_EQ(t.entries().size(), order.size());
  for (size_t i = 0; i < order.size(); ++i) {
    EXPECT_EQ(t.entries()[i].name, order[i]);
    EXPECT_EQ(t.entries()[i].shape, xmtest::vec_tensor(j.at("params").at(order[i])).shape) << order[i];
  }
  // official grouping: decay iff "weight" in the name and "norm" not, embedding excluded
  EXPECT_TRUE(t.at("xlstm_block_stack.blocks.0.xlstm.proj_up.weight").decay);
  EXPECT_TRUE(t.at("xlstm_block_stack.blocks.0.xlstm.conv1d.conv.weight").decay);
  EXPECT_TRUE(t.at("lm_head.weight").decay);
  EXPECT_FALSE(t.at("token_embedding.weight").decay);
  EXPECT_FALSE(t.at("xlstm_block_stack.blocks.0.xlstm.mlstm_cell.outnorm.weight").decay);
  EXPECT_FALSE(t.at("xlstm_block_stack.blocks.1.xlstm.slstm_cell._recurrent_kernel_").decay);
  EXPECT_FALSE(t.at("xlstm_block_stack.blocks.0.xlstm.learnable_skip").decay);
  EXPECT_FALSE(t.at("xlstm_block_stack.blocks.1.xlstm.conv1d.conv.bias").decay);
}

TEST(model, forward_matches_vectors_double) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Loaded l = load(j);
  XlstmLM<double> m(l.cfg);
  ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
  LmCache<double> c;
  std::vector<int32_t> ids(l.ids.begin(), l.ids.end());
  double loss = m.forward(c, ids.data(), l.targets.data(), l.B, l.S);
  const double rt = 1e-9, at = 1e-11;
  EXPECT_TRUE(xmtest::all_close("embeddings", c.resid[0], xmtest::vec_tensor(j.at("embeddings")).data, rt, at));
  for (size_t b = 0; b < 3; ++b)
    EXPECT_TRUE(xmtest::all_close("block_outputs[" + std::to_string(b) + "]", c.resid[b + 1],
                                  xmtest::vec_tensor(j.at("block_outputs").at(b)).data, rt, at));
  EXPECT_TRUE(xmtest::all_close("post_blocks_norm_output", c.post,
                                xmtest::vec_tensor(j.at("post_blocks_norm_output")).data, rt, at));
  EXPECT_TRUE(xmtest::all_close("logits", c.logits, xmtest::vec_tensor(j.at("logits")).data, rt, at));
  EXPECT_NEAR(loss, j.at("loss").get<double>(), 1e-12);
  EXPECT_EQ(c.count, int64_t(l.B) * (l.S - 1));
}

TEST(model, grads_match_vectors_double) {
  XM_REQUIRE_VECTORS(j, "model.json");
  XM_REQUIRE_VECTORS(g, "model_grads.json");
  Loaded l = load(j);
  XlstmLM<double> m(l.cfg);
  ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
  LmCache<double> c;
  std::vector<int32_t> ids(l.ids.begin(), l.ids.end());
  m.zero_grad();
  double loss = m.forward(c, ids.data(), l.targets.data(), l.B, l.S);
  EXPECT_NEAR(loss, g.at("loss").get<double>(), 1e-12);
  m.backward(c);
  size_t n = 0;
  for (const auto& [name, tj] : g.at("grads").items()) {
    const ParamEntry& e = m.table().at(name);
    xmtest::VecTensor want = xmtest::vec_tensor(tj, name);
    ASSERT_EQ(want.shape, e.shape) << name;
    EXPECT_TRUE(xmtest::all_close(name, m.grads().data() + e.offset, want.data, 1e-7, 1e-11));
    ++n;
  }
  EXPECT_EQ(n, m.table().entries().size()) << "model_grads.json should cover every parameter";
  // model.json's 13 selected gradients are the same numbers
  for (const auto& [name, tj] : j.at("grads").items())
    EXPECT_TRUE(xmtest::all_close("model.json " + name, m.grads().data() + m.table().at(name).offset,
                                  xmtest::vec_tensor(tj).data, 1e-7, 1e-11));
}

TEST(model, forward_and_grads_match_vectors_float) {
  XM_REQUIRE_VECTORS(j, "model.json");
  XM_REQUIRE_VECTORS(g, "model_grads.json");
  Loaded l = load(j);
  XlstmLM<float> m(l.cfg);
  ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
  LmCache<float> c;
  std::vector<int32_t> ids(l.ids.begin(), l.ids.end());
  m.zero_grad();
  double loss = m.forward(c, ids.data(), l.targets.data(), l.B, l.S);
  EXPECT_TRUE(xmtest::all_close("logits (float)", c.logits, xmtest::vec_tensor(j.at("logits")).data, 1e-4, 1e-5));
  EXPECT_NEAR(loss, j.at("loss").get<double>(), 1e-5);
  m.backward(c);
  for (const auto& [name, tj] : g.at("grads").items()) {
    const ParamEntry& e = m.table().at(name);
    xmtest::VecTensor want = xmtest::vec_tensor(tj, name);
    double scale = 0;  // float gradients: within 1e-3 of the tensor's largest entry
    for (double v : want.data) scale = std::max(scale, std::fabs(v));
    EXPECT_TRUE(xmtest::all_close(name + " (float)", m.grads().data() + e.offset, want.data, 1e-3, 1e-3 * scale));
  }
}

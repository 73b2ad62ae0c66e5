// Tests of model/config.h and model/init.h: the official nested JSON schema in and out, the __post_init__ rules,
// errors that name the field, the up-projection rounding, the music config's parameter count; the official
// initialisation's exact parts (model_init_params.json) and the statistics of its random parts.
#include <cmath>

#include "model/init.h"
#include "model/vector_model.h"

using namespace xm::model;

TEST(model, config_json_round_trip_and_official_schema) {
  XlstmConfig c = music_reference_config();
  XlstmConfig back = config_from_json(xm::json::parse(config_to_json(c).dump()));
  EXPECT_EQ(config_to_json(back).dump(), config_to_json(c).dump());
  // A config as dataclasses.asdict() writes it (extra CUDA fields and derived fields are ignored).
  const char* text = R"({
    "mlstm_block": {"mlstm": {"proj_factor": 2.0, "round_proj_up_dim_up": true, "round_proj_up_to_multiple_of": 64,
      "_proj_up_dim": 512, "conv1d_kernel_size": 4, "qkv_proj_blocksize": 4, "num_heads": 4, "embedding_dim": 256,
      "bias": false, "dropout": 0.0, "context_length": 256, "_num_blocks": 4, "_inner_embedding_dim": 512},
      "_num_blocks": 4, "_block_idx": null},
    "slstm_block": {"slstm": {"hidden_size": 256, "num_heads": 4, "num_states": 4, "backend": "vanilla",
      "function": "slstm", "bias_init": "powerlaw_blockdependent", "recurrent_weight_init": "zeros",
      "_block_idx": 0, "_num_blocks": 4, "num_gates": 4, "gradient_recurrent_cut": false, "batch_size": 8,
      "dtype": "bfloat16", "enable_automatic_mixed_precision": true, "embedding_dim": 256,
      "conv1d_kernel_size": 4, "group_norm_weight": true, "dropout": 0.0},
      "feedforward": {"proj_factor": 1.3, "round_proj_up_dim_up": true, "round_proj_up_to_multiple_of": 64,
      "_proj_up_dim": 384, "act_fn": "gelu", "embedding_dim": 256, "dropout": 0.0, "bias": false,
      "ff_type": "ffn_gated", "_num_blocks": 4}, "_num_blocks": 4, "_block_idx": 0},
    "context_length": 256, "num_blocks": 4, "embedding_dim": 256, "add_post_blocks_norm": true, "bias": false,
    "dropout": 0.0, "slstm_at": [1], "_block_map": "0,1,0,0", "vocab_size": 512, "tie_weights": false,
    "weight_decay_on_embedding": false, "add_embedding_dropout": false})";
  XlstmConfig o = config_from_json(xm::json::parse(text));
  EXPECT_EQ(config_to_json(o).dump(), config_to_json(c).dump());
  EXPECT_EQ(o.mlstm_inner_dim(), 512);
  EXPECT_EQ(o.ffn_dim(), 384);
  EXPECT_EQ(o.block_types(), (std::vector<BlockType>{BlockType::mlstm, BlockType::slstm, BlockType::mlstm,
                                                     BlockType::mlstm}));
  // the spec's parameter count of this configuration (xlstm-spec.md (e))
  EXPECT_EQ(ParamTable(o).total(), 1937944);
}

TEST(model, config_post_init_rules) {
  // mlstm_block null -> every block sLSTM (official __post_init__); "all" likewise
  XlstmConfig c = config_from_json(xm::json::parse(
      R"({"vocab_size": 10, "num_blocks": 3, "embedding_dim": 16, "mlstm_block": null,
          "slstm_block": {"slstm": {"num_heads": 2}}})"));
  EXPECT_EQ(c.slstm_at, (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(c.feedforward.has_value());  // missing feedforward = the default factory
  c = config_from_json(xm::json::parse(
      R"({"vocab_size": 10, "num_blocks": 2, "embedding_dim": 16, "slstm_at": "all",
          "mlstm_block": {"mlstm": {}}, "slstm_block": {"slstm": {"num_heads": 2}, "feedforward": null}})"));
  EXPECT_EQ(c.slstm_at, (std::vector<int>{0, 1}));
  EXPECT_FALSE(c.feedforward.has_value());
  EXPECT_EQ(ParamTable(c).find("xlstm_block_stack.blocks.0.ffn_norm.weight"), nullptr);
  // tie_weights: lm_head.weight is the embedding
  c.tie_weights = true;
  ParamTable t(c);
  EXPECT_EQ(t.find("lm_head.weight"), t.find("token_embedding.weight"));
  EXPECT_EQ(proj_up_dim(4.0 / 3.0, 256), 384);
  EXPECT_EQ(proj_up_dim(1.3, 32), 64);
  EXPECT_EQ(proj_up_dim(2.0, 32, false), 64);
}

TEST(model, config_errors_name_the_field) {
  auto err = [](const char* text) -> std::string {
    try {
      config_from_json(xm::json::parse(text));
    } catch (const xm::Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(err(R"({"vocab_size": 10, "num_blocks": 2, "embedding_dim": 16, "slstm_at": [1],
                    "mlstm_block": {"mlstm": {}}})").find("slstm_block"), std::string::npos);
  EXPECT_NE(err(R"({"vocab_size": 10, "num_blocks": 2, "embedding_dim": 16, "slstm_at": [2],
                    "mlstm_block": {"mlstm": {}}, "slstm_block": {}})").find("slstm_at"), std::string::npos);
  EXPECT_NE(err(R"({"vocab_size": 10, "embedding_dim": 16, "mlstm_block": {"mlstm": {"num_heads": 5}}})")
                .find("num_heads"), std::string::npos);
  EXPECT_NE(err(R"({"vocab_size": 10, "embedding_dim": 16, "dropout": 0.1, "mlstm_block": {}})").find("dropout"),
            std::string::npos);
  EXPECT_NE(err(R"({"embedding_dim": 16, "mlstm_block": {}})").find("vocab_size"), std::string::npos);
  EXPECT_NE(err(R"({"vocab_size": "x", "mlstm_block": {}})").find("vocab_size"), std::string::npos);
}

TEST(model, init_matches_official_deterministic_parts) {
  XM_REQUIRE_VECTORS(j, "model_init_params.json");
  XM_REQUIRE_VECTORS(mj, "model.json");
  XlstmConfig cfg = xmtest::vector_model_config(mj.at("config"));
  XlstmLM<double> m(cfg);
  m.init(1234);
  const xm::json& params = j.contains("params") ? j.at("params") : j;
  size_t exact = 0;
  for (const auto& e : m.table().entries()) {
    if (!params.contains(e.name)) continue;
    xmtest::VecTensor want = xmtest::vec_tensor(params.at(e.name), e.name);
    ASSERT_EQ(want.shape, e.shape) << e.name;
    const double* got = m.params().data() + e.offset;
    const std::string& n = e.name;
    const bool deterministic = n.find("norm.weight") != std::string::npos || n.find("learnable_skip") != n.npos ||
                               n.find("mlstm_cell.igate.weight") != n.npos || n.find("mlstm_cell.fgate") != n.npos ||
                               n.find("_recurrent_kernel_") != n.npos || n.find("_bias_") != n.npos;
    if (deterministic) {
      EXPECT_TRUE(xmtest::all_close(n, got, want.data, 1e-14, 1e-14));
      ++exact;
      continue;
    }
    // random parts: our RNG, the official distribution (std within sampling error)
    double s2 = 0, mx = 0;
    for (size_t i = 0; i < want.numel(); ++i) s2 += got[i] * got[i], mx = std::max(mx, std::fabs(got[i]));
    const double std_got = std::sqrt(s2 / double(want.numel()));
    double std_want;
    if (n.find("conv1d") != n.npos) {
      std_want = 0.5 / std::sqrt(3.0);  // U(-1/sqrt(4), 1/sqrt(4))
      EXPECT_LE(mx, 0.5) << n;
    } else if (n.find("proj_down") != n.npos) {
      std_want = wang_init_std(cfg.embedding_dim, cfg.num_blocks);
    } else if (n.find("mlstm_cell.igate.bias") != n.npos) {
      std_want = 0.1;
    } else {
      std_want = small_init_std(cfg.embedding_dim);
    }
    const double tol = 4.0 / std::sqrt(2.0 * double(want.numel())) + 0.02;  // ~4 sigma of a std estimate
    if (want.numel() >= 64) {
      EXPECT_NEAR(std_got / std_want, 1.0, tol) << n;
    }
  }
  EXPECT_GE(exact, 15u);
  EXPECT_NEAR(small_init_std(32), 0.1118, 1e-4);
  EXPECT_NEAR(wang_init_std(32, 3), 0.1179, 1e-4);
  // the same seed gives the same values, another seed others
  XlstmLM<double> a(cfg), b(cfg);
  a.init(1234), b.init(99);
  EXPECT_EQ(a.params(), m.params());
  EXPECT_NE(a.params(), b.params());
}

// config.h: the xLSTM language-model configuration, field for field the official xLSTMLMModelConfig (nested
// mlstm_block.mlstm / slstm_block.slstm / slstm_block.feedforward), read from and written to JSON in that nested
// schema, with the official __post_init__ rules. Not the parameters (model/params.h) and not training options.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"

namespace xm::model {

enum class BlockType { mlstm, slstm };

// official UpProjConfigMixin: P = ceil_or_floor(proj_factor * D / multiple) * multiple
int proj_up_dim(double proj_factor, int embedding_dim, bool round_up = true, int multiple = 64);

struct MlstmLayerConfig {  // mlstm_block.mlstm (mLSTMLayerConfig)
  int conv1d_kernel_size = 4;
  int qkv_proj_blocksize = 4;
  int num_heads = 4;
  double proj_factor = 2.0;
  bool round_proj_up_dim_up = true;
  int round_proj_up_to_multiple_of = 64;
};

struct FeedForwardConfig {  // slstm_block.feedforward (FeedForwardConfig, ff_type "ffn_gated")
  double proj_factor = 1.3;
  std::string act_fn = "gelu";
  bool round_proj_up_dim_up = true;
  int round_proj_up_to_multiple_of = 64;
};

struct SlstmLayerConfig {  // slstm_block.slstm (sLSTMLayerConfig / sLSTMCellConfig)
  int num_heads = 4;
  int conv1d_kernel_size = 4;  // 0: no conv (the gates i, f then read the normed input directly)
  std::string bias_init = "powerlaw_blockdependent";  // | "small_init" | "standard" | "zeros"
  std::string recurrent_weight_init = "zeros";        // | "standard"
  // The layout of _recurrent_kernel_ / _bias_ in a state_dict. Our buffers always hold the "vanilla" layout;
  // the official default is "cuda" (a GPU kernel), so a config without the field is read as "vanilla".
  std::string backend = "vanilla";
};

struct XlstmConfig {
  int vocab_size = -1;
  int context_length = -1;
  int num_blocks = 1;
  int embedding_dim = 128;
  std::vector<int> slstm_at;  // block indices that are sLSTM blocks ("all" in JSON = every block)
  bool tie_weights = false;
  bool add_post_blocks_norm = true;
  bool bias = false;     // must be false (no bias parameters exist in the supported model)
  double dropout = 0.0;  // must be 0
  bool weight_decay_on_embedding = false;
  bool add_embedding_dropout = false;
  std::optional<MlstmLayerConfig> mlstm;           // null: no mLSTM block config (then slstm_at = all)
  std::optional<SlstmLayerConfig> slstm;           // null: no sLSTM block config
  std::optional<FeedForwardConfig> feedforward;    // the sLSTM block's FFN; null: sLSTM blocks without FFN

  // Derived (valid after validate()).
  std::vector<BlockType> block_types() const;
  int mlstm_inner_dim() const;  // I = proj_up_dim(mlstm.proj_factor, D)
  int ffn_dim() const;          // P of the sLSTM block's gated FFN

  // Applies the official __post_init__ rules (mlstm null -> slstm_at = all) and checks every field, throwing
  // xm::Error naming the field and a hint (divisibility of heads, blocks in range, unsupported values).
  void validate();
};

// Reads the official nested schema (as dataclasses.asdict(xLSTMLMModelConfig) writes it; unknown keys such as
// the CUDA kernel settings are ignored). Calls validate(). `what` names the source in errors.
XlstmConfig config_from_json(const json& j, const std::string& what = "model config");
// Writes the official nested schema (the public fields; the derived ones the official __post_init__ recomputes).
ordered_json config_to_json(const XlstmConfig& c);

// The music reference configuration of ../shared/reference/pytorch-baseline.md (V 512, D 256, 4 blocks m,s,m,m).
XlstmConfig music_reference_config();

}  // namespace xm::model

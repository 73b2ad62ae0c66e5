// vector_model.h: test helper that builds the small reference model of ../shared/reference/xlstm-vectors/model.json
// (config, every parameter by state_dict name, token ids) in our XlstmLM<T>. Not a checkpoint loader.
#pragma once
#include <string>
#include <vector>

#include "model/xlstm_lm.h"
#include "nn/vectors.h"

namespace xmtest {

// The vectors' flat "config" object as our nested config.
inline xm::model::XlstmConfig vector_model_config(const xm::json& cfg) {
  xm::model::XlstmConfig c;
  c.vocab_size = cfg.at("vocab_size");
  c.embedding_dim = cfg.at("embedding_dim");
  c.num_blocks = cfg.at("num_blocks");
  c.slstm_at = cfg.at("slstm_at").get<std::vector<int>>();
  c.context_length = cfg.at("context_length");
  c.tie_weights = cfg.at("tie_weights");
  c.add_post_blocks_norm = cfg.at("add_post_blocks_norm");
  xm::model::MlstmLayerConfig m;
  m.num_heads = cfg.at("mlstm_num_heads");
  m.qkv_proj_blocksize = cfg.at("mlstm_qkv_proj_blocksize");
  m.proj_factor = cfg.at("mlstm_proj_factor");
  m.conv1d_kernel_size = cfg.at("mlstm_conv1d_kernel_size");
  c.mlstm = m;
  xm::model::SlstmLayerConfig s;
  s.num_heads = cfg.at("slstm_num_heads");
  s.conv1d_kernel_size = cfg.at("slstm_conv1d_kernel_size");
  s.bias_init = cfg.at("slstm_bias_init");
  c.slstm = s;
  xm::model::FeedForwardConfig f;
  f.proj_factor = cfg.at("ff_proj_factor");
  f.act_fn = cfg.at("ff_act_fn");
  c.feedforward = f;
  c.validate();
  return c;
}

// Copies every tensor of params (a name -> {"shape","data"} object) into the model, checking names, shapes and
// that every model tensor was given. Returns an empty string or what is wrong.
template <class T>
std::string load_vector_params(xm::model::XlstmLM<T>& model, const xm::json& params) {
  size_t seen = 0;
  for (const auto& [name, tj] : params.items()) {
    const auto* e = model.table().find(name);
    if (!e) return "vector tensor " + name + " has no counterpart in the model";
    VecTensor t = vec_tensor(tj, name);
    if (t.shape != e->shape) return "shape mismatch for " + name;
    for (size_t i = 0; i < t.numel(); ++i) model.params()[size_t(e->offset) + i] = T(t.data[i]);
    ++seen;
  }
  if (seen != model.table().entries().size()) return "the vectors give " + std::to_string(seen) + " of " +
                                                       std::to_string(model.table().entries().size()) + " tensors";
  return "";
}

// targets[b, t] = ids[b, t+1]; the last position of each row is ignored (the official loss over logits[:, :-1]).
inline std::vector<int32_t> next_token_targets(const std::vector<int>& ids, int B, int S) {
  std::vector<int32_t> t(size_t(B) * S, xm::model::kIgnoreIndex);
  for (int b = 0; b < B; ++b)
    for (int s = 0; s + 1 < S; ++s) t[size_t(b) * S + s] = ids[size_t(b) * S + s + 1];
  return t;
}

}  // namespace xmtest

// config.cpp: see config.h. JSON in and out of the official nested xLSTMLMModelConfig schema, and validation.
// Not the parameter table (params.cpp).
#include "model/config.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace xm::model {

int proj_up_dim(double proj_factor, int embedding_dim, bool round_up, int multiple) {
  double m = proj_factor * double(embedding_dim) / double(multiple);
  m = round_up ? std::ceil(m) : std::floor(m);
  return int(m) * multiple;
}

std::vector<BlockType> XlstmConfig::block_types() const {
  std::vector<BlockType> t(size_t(std::max(num_blocks, 0)), BlockType::mlstm);
  for (int i : slstm_at)
    if (i >= 0 && i < num_blocks) t[size_t(i)] = BlockType::slstm;
  return t;
}

int XlstmConfig::mlstm_inner_dim() const {
  if (!mlstm) return 0;
  return proj_up_dim(mlstm->proj_factor, embedding_dim, mlstm->round_proj_up_dim_up,
                     mlstm->round_proj_up_to_multiple_of);
}

int XlstmConfig::ffn_dim() const {
  if (!feedforward) return 0;
  return proj_up_dim(feedforward->proj_factor, embedding_dim, feedforward->round_proj_up_dim_up,
                     feedforward->round_proj_up_to_multiple_of);
}

namespace {
[[noreturn]] void bad(const std::string& field, const std::string& why, const std::string& hint = "") {
  throw Error("model config: " + field + " " + why + (hint.empty() ? "" : "; " + hint));
}
}  // namespace

void XlstmConfig::validate() {
  // official xLSTMBlockStackConfig.__post_init__: no mLSTM block config means every block is sLSTM
  if (!mlstm) {
    slstm_at.clear();
    for (int i = 0; i < num_blocks; ++i) slstm_at.push_back(i);
  }
  std::sort(slstm_at.begin(), slstm_at.end());
  slstm_at.erase(std::unique(slstm_at.begin(), slstm_at.end()), slstm_at.end());
  if (vocab_size <= 0) bad("vocab_size", "is " + std::to_string(vocab_size), "set it to the tokenizer's vocabulary size");
  if (num_blocks <= 0) bad("num_blocks", "is " + std::to_string(num_blocks), "use at least 1");
  if (embedding_dim <= 0) bad("embedding_dim", "is " + std::to_string(embedding_dim));
  for (int i : slstm_at)
    if (i < 0 || i >= num_blocks)
      bad("slstm_at", "holds block " + std::to_string(i) + " but num_blocks is " + std::to_string(num_blocks));
  if (dropout != 0.0) bad("dropout", "is " + std::to_string(dropout), "only dropout 0 is supported");
  if (bias) bad("bias", "is true", "only bias=false (the official default) is supported");
  const int D = embedding_dim;
  bool any_m = false, any_s = false;
  for (BlockType t : block_types()) (t == BlockType::mlstm ? any_m : any_s) = true;
  if (any_s && !slstm) bad("slstm_block", "is null but slstm_at names sLSTM blocks", "give an slstm_block config");
  if (any_m && !mlstm) bad("mlstm_block", "is null but some blocks are mLSTM");
  if (mlstm) {
    const auto& m = *mlstm;
    if (m.round_proj_up_to_multiple_of <= 0) bad("mlstm_block.mlstm.round_proj_up_to_multiple_of", "must be > 0");
    const int I = mlstm_inner_dim();
    if (I <= 0) bad("mlstm_block.mlstm.proj_factor", "gives an inner dimension of " + std::to_string(I));
    if (m.num_heads <= 0 || I % m.num_heads)
      bad("mlstm_block.mlstm.num_heads", "(" + std::to_string(m.num_heads) + ") must divide the inner dimension " +
                                             std::to_string(I));
    if (m.qkv_proj_blocksize <= 0 || I % m.qkv_proj_blocksize)
      bad("mlstm_block.mlstm.qkv_proj_blocksize", "(" + std::to_string(m.qkv_proj_blocksize) +
                                                      ") must divide the inner dimension " + std::to_string(I));
    if (m.conv1d_kernel_size <= 0) bad("mlstm_block.mlstm.conv1d_kernel_size", "must be > 0 (the mLSTM layer always has a conv)");
  }
  if (slstm) {
    const auto& s = *slstm;
    if (s.num_heads <= 0 || D % s.num_heads)
      bad("slstm_block.slstm.num_heads", "(" + std::to_string(s.num_heads) + ") must divide embedding_dim " +
                                             std::to_string(D));
    if (s.conv1d_kernel_size < 0) bad("slstm_block.slstm.conv1d_kernel_size", "must be >= 0");
    if (s.bias_init != "powerlaw_blockdependent" && s.bias_init != "small_init" && s.bias_init != "standard" &&
        s.bias_init != "zeros")
      bad("slstm_block.slstm.bias_init", "\"" + s.bias_init + "\" is unknown",
          "use powerlaw_blockdependent, small_init, standard or zeros");
    if (s.recurrent_weight_init != "zeros" && s.recurrent_weight_init != "standard")
      bad("slstm_block.slstm.recurrent_weight_init", "\"" + s.recurrent_weight_init + "\" is unknown",
          "use zeros or standard");
    if (s.backend != "vanilla" && s.backend != "cuda")
      bad("slstm_block.slstm.backend", "\"" + s.backend + "\" is unknown", "use vanilla");
    if (s.bias_init == "powerlaw_blockdependent" && D / s.num_heads < 2)
      bad("slstm_block.slstm.bias_init", "powerlaw_blockdependent needs a head width of at least 2");
  }
  if (feedforward) {
    if (feedforward->act_fn != "gelu" && feedforward->act_fn != "swish" && feedforward->act_fn != "silu" &&
        feedforward->act_fn != "relu")
      bad("slstm_block.feedforward.act_fn", "\"" + feedforward->act_fn + "\" is unknown", "use gelu, swish or relu");
    if (feedforward->round_proj_up_to_multiple_of <= 0)
      bad("slstm_block.feedforward.round_proj_up_to_multiple_of", "must be > 0");
    if (ffn_dim() <= 0) bad("slstm_block.feedforward.proj_factor", "gives an FFN width of " + std::to_string(ffn_dim()));
  }
}

namespace {
template <class T>
T get_or(const json& j, const char* key, const T& fallback, const std::string& what) {
  return json_get_or<T>(j, key, fallback, what);
}
}  // namespace

XlstmConfig config_from_json(const json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  XlstmConfig c;
  c.vocab_size = get_or(j, "vocab_size", c.vocab_size, what);
  c.context_length = get_or(j, "context_length", c.context_length, what);
  c.num_blocks = get_or(j, "num_blocks", c.num_blocks, what);
  c.embedding_dim = get_or(j, "embedding_dim", c.embedding_dim, what);
  c.tie_weights = get_or(j, "tie_weights", c.tie_weights, what);
  c.add_post_blocks_norm = get_or(j, "add_post_blocks_norm", c.add_post_blocks_norm, what);
  c.bias = get_or(j, "bias", c.bias, what);
  c.dropout = get_or(j, "dropout", c.dropout, what);
  c.weight_decay_on_embedding = get_or(j, "weight_decay_on_embedding", c.weight_decay_on_embedding, what);
  c.add_embedding_dropout = get_or(j, "add_embedding_dropout", c.add_embedding_dropout, what);

  bool slstm_all = false;
  if (auto it = j.find("slstm_at"); it != j.end() && !it->is_null()) {
    if (it->is_string()) {
      if (it->get<std::string>() != "all") throw Error(what + ": field \"slstm_at\" must be a list of ints or \"all\"");
      slstm_all = true;
    } else {
      c.slstm_at = json_get<std::vector<int>>(j, "slstm_at", what);
    }
  }
  if (auto it = j.find("mlstm_block"); it != j.end() && !it->is_null()) {
    const std::string w = what + ".mlstm_block.mlstm";
    const json& m = it->contains("mlstm") ? it->at("mlstm") : json::object();
    MlstmLayerConfig ml;
    ml.conv1d_kernel_size = get_or(m, "conv1d_kernel_size", ml.conv1d_kernel_size, w);
    ml.qkv_proj_blocksize = get_or(m, "qkv_proj_blocksize", ml.qkv_proj_blocksize, w);
    ml.num_heads = get_or(m, "num_heads", ml.num_heads, w);
    ml.proj_factor = get_or(m, "proj_factor", ml.proj_factor, w);
    ml.round_proj_up_dim_up = get_or(m, "round_proj_up_dim_up", ml.round_proj_up_dim_up, w);
    ml.round_proj_up_to_multiple_of = get_or(m, "round_proj_up_to_multiple_of", ml.round_proj_up_to_multiple_of, w);
    c.mlstm = ml;
  }
  if (auto it = j.find("slstm_block"); it != j.end() && !it->is_null()) {
    const std::string w = what + ".slstm_block.slstm";
    const json& s = it->contains("slstm") ? it->at("slstm") : json::object();
    SlstmLayerConfig sl;
    sl.num_heads = get_or(s, "num_heads", sl.num_heads, w);
    sl.conv1d_kernel_size = get_or(s, "conv1d_kernel_size", sl.conv1d_kernel_size, w);
    sl.bias_init = get_or(s, "bias_init", sl.bias_init, w);
    sl.recurrent_weight_init = get_or(s, "recurrent_weight_init", sl.recurrent_weight_init, w);
    sl.backend = get_or(s, "backend", sl.backend, w);
    if (!get_or(s, "group_norm_weight", true, w))
      throw Error(w + ": group_norm_weight=false is not supported; use true (the official default)");
    if (get_or(s, "function", std::string("slstm"), w) != "slstm")
      throw Error(w + ": function must be \"slstm\" (the classic LSTM pointwise is not supported)");
    if (get_or(s, "dropout", 0.0, w) != 0.0) throw Error(w + ": dropout must be 0");
    c.slstm = sl;
    // FeedForwardConfig: a missing key means the official default factory; an explicit null means none.
    auto f = it->find("feedforward");
    if (f == it->end() || !f->is_null()) {
      const std::string wf = what + ".slstm_block.feedforward";
      const json& fj = f == it->end() ? json::object() : *f;
      FeedForwardConfig ff;
      ff.proj_factor = get_or(fj, "proj_factor", ff.proj_factor, wf);
      ff.act_fn = get_or(fj, "act_fn", ff.act_fn, wf);
      ff.round_proj_up_dim_up = get_or(fj, "round_proj_up_dim_up", ff.round_proj_up_dim_up, wf);
      ff.round_proj_up_to_multiple_of = get_or(fj, "round_proj_up_to_multiple_of", ff.round_proj_up_to_multiple_of, wf);
      if (get_or(fj, "ff_type", std::string("ffn_gated"), wf) != "ffn_gated")
        throw Error(wf + ": ff_type must be \"ffn_gated\"");
      if (get_or(fj, "bias", false, wf)) throw Error(wf + ": bias=true is not supported");
      if (get_or(fj, "dropout", 0.0, wf) != 0.0) throw Error(wf + ": dropout must be 0");
      c.feedforward = ff;
    }
  }
  if (slstm_all) {
    c.slstm_at.clear();
    for (int i = 0; i < c.num_blocks; ++i) c.slstm_at.push_back(i);
  }
  c.validate();
  return c;
}

ordered_json config_to_json(const XlstmConfig& c) {
  ordered_json j;
  if (c.mlstm) {
    const auto& m = *c.mlstm;
    ordered_json ml;
    ml["proj_factor"] = m.proj_factor;
    ml["round_proj_up_dim_up"] = m.round_proj_up_dim_up;
    ml["round_proj_up_to_multiple_of"] = m.round_proj_up_to_multiple_of;
    ml["conv1d_kernel_size"] = m.conv1d_kernel_size;
    ml["qkv_proj_blocksize"] = m.qkv_proj_blocksize;
    ml["num_heads"] = m.num_heads;
    ml["embedding_dim"] = c.embedding_dim;
    ml["bias"] = c.bias;
    ml["dropout"] = c.dropout;
    ml["context_length"] = c.context_length;
    j["mlstm_block"] = {{"mlstm", ml}};
  } else {
    j["mlstm_block"] = nullptr;
  }
  if (c.slstm) {
    const auto& s = *c.slstm;
    ordered_json sl;
    sl["hidden_size"] = c.embedding_dim;
    sl["num_heads"] = s.num_heads;
    sl["backend"] = s.backend;
    sl["function"] = "slstm";
    sl["bias_init"] = s.bias_init;
    sl["recurrent_weight_init"] = s.recurrent_weight_init;
    sl["embedding_dim"] = c.embedding_dim;
    sl["conv1d_kernel_size"] = s.conv1d_kernel_size;
    sl["group_norm_weight"] = true;
    sl["dropout"] = c.dropout;
    ordered_json blk;
    blk["slstm"] = sl;
    if (c.feedforward) {
      const auto& f = *c.feedforward;
      ordered_json ff;
      ff["proj_factor"] = f.proj_factor;
      ff["round_proj_up_dim_up"] = f.round_proj_up_dim_up;
      ff["round_proj_up_to_multiple_of"] = f.round_proj_up_to_multiple_of;
      ff["act_fn"] = f.act_fn;
      ff["embedding_dim"] = c.embedding_dim;
      ff["dropout"] = c.dropout;
      ff["bias"] = false;
      ff["ff_type"] = "ffn_gated";
      blk["feedforward"] = ff;
    } else {
      blk["feedforward"] = nullptr;
    }
    j["slstm_block"] = blk;
  } else {
    j["slstm_block"] = nullptr;
  }
  j["context_length"] = c.context_length;
  j["num_blocks"] = c.num_blocks;
  j["embedding_dim"] = c.embedding_dim;
  j["add_post_blocks_norm"] = c.add_post_blocks_norm;
  j["bias"] = c.bias;
  j["dropout"] = c.dropout;
  j["slstm_at"] = c.slstm_at;
  j["vocab_size"] = c.vocab_size;
  j["tie_weights"] = c.tie_weights;
  j["weight_decay_on_embedding"] = c.weight_decay_on_embedding;
  j["add_embedding_dropout"] = c.add_embedding_dropout;
  return j;
}

XlstmConfig music_reference_config() {
  XlstmConfig c;
  c.vocab_size = 512;
  c.context_length = 256;
  c.num_blocks = 4;
  c.embedding_dim = 256;
  c.slstm_at = {1};
  c.mlstm = MlstmLayerConfig{};
  c.slstm = SlstmLayerConfig{};
  c.feedforward = FeedForwardConfig{};
  c.validate();
  return c;
}

}  // namespace xm::model

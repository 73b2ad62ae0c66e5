// params.cpp: see params.h. Builds the state_dict-ordered table and the per-block views.
// Not the initialisation (init.cpp).
#include "model/params.h"

#include "core/error.h"

namespace xm::model {

ParamTable::ParamTable(std::vector<ParamEntry> entries) : entries_(std::move(entries)) {
  for (ParamEntry& e : entries_) {
    e.numel = 1;
    for (int64_t s : e.shape) e.numel *= s;
    e.offset = total_;
    total_ += e.numel;
  }
}

ParamTable::ParamTable(const XlstmConfig& cfg) {
  const int64_t D = cfg.embedding_dim, V = cfg.vocab_size;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    ParamEntry e;
    e.name = name;
    e.shape = std::move(shape);
    e.numel = 1;
    for (int64_t s : e.shape) e.numel *= s;
    e.offset = total_;
    e.decay = name.find("weight") != std::string::npos && name.find("norm") == std::string::npos;
    total_ += e.numel;
    entries_.push_back(std::move(e));
  };
  const auto types = cfg.block_types();
  for (size_t b = 0; b < types.size(); ++b) {
    const std::string p = "xlstm_block_stack.blocks." + std::to_string(b) + ".";
    add(p + "xlstm_norm.weight", {D});
    if (types[b] == BlockType::mlstm) {
      const auto& m = *cfg.mlstm;
      const int64_t I = cfg.mlstm_inner_dim(), bs = m.qkv_proj_blocksize, NH = m.num_heads, K = m.conv1d_kernel_size;
      add(p + "xlstm.learnable_skip", {I});
      add(p + "xlstm.proj_up.weight", {2 * I, D});
      add(p + "xlstm.q_proj.weight", {I / bs, bs, bs});
      add(p + "xlstm.k_proj.weight", {I / bs, bs, bs});
      add(p + "xlstm.v_proj.weight", {I / bs, bs, bs});
      add(p + "xlstm.conv1d.conv.weight", {I, 1, K});
      add(p + "xlstm.conv1d.conv.bias", {I});
      add(p + "xlstm.mlstm_cell.igate.weight", {NH, 3 * I});
      add(p + "xlstm.mlstm_cell.igate.bias", {NH});
      add(p + "xlstm.mlstm_cell.fgate.weight", {NH, 3 * I});
      add(p + "xlstm.mlstm_cell.fgate.bias", {NH});
      add(p + "xlstm.mlstm_cell.outnorm.weight", {I});
      add(p + "xlstm.proj_down.weight", {D, I});
    } else {
      const auto& s = *cfg.slstm;
      const int64_t NH = s.num_heads, DH = D / NH, K = s.conv1d_kernel_size;
      if (K > 0) {
        add(p + "xlstm.conv1d.conv.weight", {D, 1, K});
        add(p + "xlstm.conv1d.conv.bias", {D});
      }
      for (const char* g : {"fgate", "igate", "zgate", "ogate"}) add(p + "xlstm." + g + ".weight", {NH, DH, DH});
      add(p + "xlstm.slstm_cell._recurrent_kernel_", {NH, 4 * DH, DH});
      add(p + "xlstm.slstm_cell._bias_", {4 * D});
      add(p + "xlstm.group_norm.weight", {D});
      if (cfg.feedforward) {
        const int64_t P = cfg.ffn_dim();
        add(p + "ffn_norm.weight", {D});
        add(p + "ffn.proj_up.weight", {2 * P, D});
        add(p + "ffn.proj_down.weight", {D, P});
      }
    }
  }
  if (cfg.add_post_blocks_norm) add("xlstm_block_stack.post_blocks_norm.weight", {D});
  add("token_embedding.weight", {V, D});
  entries_.back().decay = cfg.weight_decay_on_embedding;
  // tie_weights: lm_head.weight IS token_embedding.weight (one tensor; find() resolves the alias)
  if (!cfg.tie_weights) add("lm_head.weight", {V, D});
}

const ParamEntry* ParamTable::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  if (name == "lm_head.weight") return find("token_embedding.weight");  // tied
  return nullptr;
}

const ParamEntry& ParamTable::at(const std::string& name) const {
  const ParamEntry* e = find(name);
  if (!e) throw Error("model parameters: no tensor named \"" + name + "\" in this configuration");
  return *e;
}

std::vector<uint8_t> ParamTable::decay_mask() const {
  std::vector<uint8_t> m(size_t(total_), 0);
  for (const auto& e : entries_)
    if (e.decay) std::fill(m.begin() + e.offset, m.begin() + e.offset + e.numel, uint8_t(1));
  return m;
}

template <class T>
LmView<T> make_view(const ParamTable& table, const XlstmConfig& cfg, T* base) {
  auto ptr = [&](const std::string& name) -> T* { return base + table.at(name).offset; };
  auto opt = [&](const std::string& name) -> T* {
    const ParamEntry* e = table.find(name);
    return e ? base + e->offset : nullptr;
  };
  LmView<T> v{};
  const auto types = cfg.block_types();
  v.mlstm.assign(types.size(), MlstmBlockView<T>{});
  v.slstm.assign(types.size(), SlstmBlockView<T>{});
  for (size_t b = 0; b < types.size(); ++b) {
    const std::string p = "xlstm_block_stack.blocks." + std::to_string(b) + ".";
    if (types[b] == BlockType::mlstm) {
      auto& m = v.mlstm[b];
      m.norm_w = ptr(p + "xlstm_norm.weight");
      m.skip = ptr(p + "xlstm.learnable_skip");
      m.proj_up = ptr(p + "xlstm.proj_up.weight");
      m.q = ptr(p + "xlstm.q_proj.weight");
      m.k = ptr(p + "xlstm.k_proj.weight");
      m.v = ptr(p + "xlstm.v_proj.weight");
      m.conv_w = ptr(p + "xlstm.conv1d.conv.weight");
      m.conv_b = ptr(p + "xlstm.conv1d.conv.bias");
      m.igate_w = ptr(p + "xlstm.mlstm_cell.igate.weight");
      m.igate_b = ptr(p + "xlstm.mlstm_cell.igate.bias");
      m.fgate_w = ptr(p + "xlstm.mlstm_cell.fgate.weight");
      m.fgate_b = ptr(p + "xlstm.mlstm_cell.fgate.bias");
      m.outnorm_w = ptr(p + "xlstm.mlstm_cell.outnorm.weight");
      m.proj_down = ptr(p + "xlstm.proj_down.weight");
    } else {
      auto& s = v.slstm[b];
      s.norm_w = ptr(p + "xlstm_norm.weight");
      s.conv_w = opt(p + "xlstm.conv1d.conv.weight");
      s.conv_b = opt(p + "xlstm.conv1d.conv.bias");
      s.fgate_w = ptr(p + "xlstm.fgate.weight");
      s.igate_w = ptr(p + "xlstm.igate.weight");
      s.zgate_w = ptr(p + "xlstm.zgate.weight");
      s.ogate_w = ptr(p + "xlstm.ogate.weight");
      s.R = ptr(p + "xlstm.slstm_cell._recurrent_kernel_");
      s.bias = ptr(p + "xlstm.slstm_cell._bias_");
      s.gn_w = ptr(p + "xlstm.group_norm.weight");
      s.ffn_norm_w = opt(p + "ffn_norm.weight");
      s.ffn_up = opt(p + "ffn.proj_up.weight");
      s.ffn_down = opt(p + "ffn.proj_down.weight");
    }
  }
  v.post_norm_w = opt("xlstm_block_stack.post_blocks_norm.weight");
  v.embedding = ptr("token_embedding.weight");
  v.head = ptr("lm_head.weight");
  return v;
}

template LmView<float> make_view<float>(const ParamTable&, const XlstmConfig&, float*);
template LmView<double> make_view<double>(const ParamTable&, const XlstmConfig&, double*);

}  // namespace xm::model

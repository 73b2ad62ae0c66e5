// params.h: the parameter table of the xLSTM LM: every tensor's official state_dict name, shape, offset in ONE
// flat buffer (in state_dict order) and weight-decay group, plus typed per-block views into any flat buffer of
// that layout (parameters, gradients, AdamW moments). Not the initialisation (model/init.h) nor the math.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace xm::model {

struct ParamEntry {
  std::string name;            // exactly as xLSTMLMModel.state_dict() names it
  std::vector<int64_t> shape;  // exactly the official shape
  int64_t offset = 0;          // first element in the flat buffer
  int64_t numel = 0;
  bool decay = false;          // official grouping: "weight" in name and "norm" not in name; embedding per config
};

class ParamTable {
 public:
  explicit ParamTable(const XlstmConfig& cfg);  // cfg must be validated
  // Any other family's table: names, shapes and decay flags as given (in buffer order); offsets and numel
  // are computed here.
  explicit ParamTable(std::vector<ParamEntry> entries);
  ParamTable() = default;
  const std::vector<ParamEntry>& entries() const { return entries_; }
  int64_t total() const { return total_; }
  // The entry of a state_dict name; with tie_weights "lm_head.weight" resolves to "token_embedding.weight".
  // Returns null when absent.
  const ParamEntry* find(const std::string& name) const;
  // Like find, but throws xm::Error naming the tensor when absent.
  const ParamEntry& at(const std::string& name) const;
  // Per-element decay mask (1 = weight decay) of the flat buffer.
  std::vector<uint8_t> decay_mask() const;

 private:
  std::vector<ParamEntry> entries_;
  int64_t total_ = 0;
};

// Views of one block's tensors in a flat buffer (parameters or gradients: same offsets).
template <class T>
struct MlstmBlockView {
  T* norm_w;       // (D)            xlstm_norm.weight
  T* skip;         // (I)            xlstm.learnable_skip
  T* proj_up;      // (2I, D)        xlstm.proj_up.weight
  T* q;            // (I/bs, bs, bs) xlstm.q_proj.weight
  T* k;            // (I/bs, bs, bs) xlstm.k_proj.weight
  T* v;            // (I/bs, bs, bs) xlstm.v_proj.weight
  T* conv_w;       // (I, 1, K)      xlstm.conv1d.conv.weight
  T* conv_b;       // (I)            xlstm.conv1d.conv.bias
  T* igate_w;      // (NH, 3I)       xlstm.mlstm_cell.igate.weight
  T* igate_b;      // (NH)
  T* fgate_w;      // (NH, 3I)
  T* fgate_b;      // (NH)
  T* outnorm_w;    // (I)            xlstm.mlstm_cell.outnorm.weight
  T* proj_down;    // (D, I)         xlstm.proj_down.weight
};
template <class T>
struct SlstmBlockView {
  T* norm_w;       // (D)              xlstm_norm.weight
  T* conv_w;       // (D, 1, K) or null when conv1d_kernel_size == 0
  T* conv_b;       // (D) or null
  T* fgate_w;      // (NH, DH, DH)     xlstm.fgate.weight: feeds the INPUT gate (official swap)
  T* igate_w;      // (NH, DH, DH)     xlstm.igate.weight: feeds the FORGET gate
  T* zgate_w;      // (NH, DH, DH)
  T* ogate_w;      // (NH, DH, DH)
  T* R;            // (NH, 4DH, DH)    xlstm.slstm_cell._recurrent_kernel_ (vanilla layout)
  T* bias;         // (4D)             xlstm.slstm_cell._bias_ (vanilla, gate-major)
  T* gn_w;         // (D)              xlstm.group_norm.weight
  T* ffn_norm_w;   // (D) or null without feedforward
  T* ffn_up;       // (2P, D) or null
  T* ffn_down;     // (D, P) or null
};
template <class T>
struct LmView {
  std::vector<MlstmBlockView<T>> mlstm;  // indexed by block (entries of sLSTM blocks are all null)
  std::vector<SlstmBlockView<T>> slstm;  // indexed by block (entries of mLSTM blocks are all null)
  T* post_norm_w;  // (D) or null without add_post_blocks_norm
  T* embedding;    // (V, D)
  T* head;         // (V, D) (== embedding with tie_weights)
};
// Builds the views of the flat buffer `base` laid out as `table`.
template <class T>
LmView<T> make_view(const ParamTable& table, const XlstmConfig& cfg, T* base);

}  // namespace xm::model

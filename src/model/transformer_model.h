// transformer_model.h: the Transformer language-model baseline (family "transformer"): GPT-style decoder with
// pre-LayerNorm blocks (causal multi-head attention, GELU MLP), final LayerNorm and head; positions learned or
// rotary; generation with a key-value cache. Templated on the float type so tests can check gradients in double.
// Not the xLSTM (xlstm_lm.h), not the optimiser, not sampling or the training loop.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/params.h"

namespace xm::model {

class SeqModel;

enum class Positions { learned, rotary };

struct TransformerConfig {
  int vocab_size = 0;      // V
  int context_length = 0;  // S: the learned position table's length (rotary: the training length only)
  int embedding_dim = 0;   // D
  int num_layers = 0;      // L
  int num_heads = 0;       // NH (DH = D / NH; even for rotary)
  int ffn_dim = 0;         // F
  Positions positions = Positions::learned;
  int head_dim() const { return num_heads > 0 ? embedding_dim / num_heads : 0; }
};

// {"family":"transformer","vocab_size":V,"context_length":S,"embedding_dim":D,"num_layers":L,"num_heads":NH,
//  "ffn_dim":F,"positions":"rotary"|"learned"}; positions defaults to "learned", every other field is required.
// Throws xm::Error naming the field for a missing, mistyped, out-of-range or unknown one.
TransformerConfig transformer_config_from_json(const json& j, const std::string& what);
json transformer_config_to_json(const TransformerConfig& c);
// Names (xm.transformer.*): embedding.weight (V, D); position.weight (S, D) when learned; per layer l
// layers.l.{ln1.weight, ln1.bias (D), attn.qkv.weight (3D, D), attn.qkv.bias (3D), attn.proj.weight (D, D),
// attn.proj.bias (D), ln2.weight, ln2.bias (D), mlp.fc.weight (F, D), mlp.fc.bias (F), mlp.proj.weight (D, F),
// mlp.proj.bias (D)}; ln_f.weight, ln_f.bias (D); head.weight (V, D). qkv rows are q, k, v, heads inside each.
// Decay: the matrices (qkv, proj, fc, head); not norms, biases, embeddings.
ParamTable transformer_param_table(const TransformerConfig& c);

// What a forward keeps for its backward (and the scratch of a cached feed).
template <class T>
struct TransformerCache {
  int B = 0, S = 0, Tk = 0;               // Tk: keys per attention row (S in training)
  std::vector<int32_t> ids, targets, pos;  // (B*S); pos = position of each step
  std::vector<T> cos, sin;                 // (B*S, DH/2) rotary angles
  struct Layer {
    std::vector<T> x, a, mean1, rstd1, qkv, att, y, x_mid, m, mean2, rstd2, h, g;
  };
  std::vector<Layer> layers;
  std::vector<T> x_out, f, mean_f, rstd_f, logits, logp;
};

// Key-value cache of B rows: per layer K and V (B, cap, D) after rotary; len[b] steps held by row b (rows are
// fed together, but reset_row empties one row, which then starts again at position 0).
template <class T>
struct KvCache {
  int B = 0, L = 0, D = 0, cap = 0;
  std::vector<int> len;
  std::vector<std::vector<T>> k, v;  // per layer (B, cap, D)
  TransformerCache<T> scratch;
  KvCache() = default;
  KvCache(int B_, int L_, int D_) : B(B_), L(L_), D(D_), len(size_t(B_), 0), k(size_t(L_)), v(size_t(L_)) {}
  void reserve(int steps);  // capacity of at least `steps` per row (keeps the contents)
  void reset_row(int b);
  void copy_row(int dst, const KvCache& src, int src_row);
  size_t bytes() const;
};

template <class T>
class TransformerLM {
 public:
  explicit TransformerLM(const TransformerConfig& cfg);  // validates; parameters and gradients zero
  const TransformerConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  // GPT-2's: matrices, embeddings and positions N(0, 0.02), the residual projections (attn.proj, mlp.proj)
  // N(0, 0.02 / sqrt(2 L)), biases 0, LayerNorm weights 1.
  void init(uint64_t seed);
  void set_label_smoothing(double eps) { label_smoothing_ = eps; }

  // Forward over B rows of S tokens (learned positions: S <= context_length); targets (B, S) or null.
  double forward(const int32_t* ids, const int32_t* targets, int B, int S);
  // Backward of d_loss * loss of the last forward (which had targets), ACCUMULATED into grads().
  void backward(double d_loss = 1.0);
  const std::vector<T>& logits() const { return cache_.logits; }  // (B, S, V) of the last forward
  void target_nll(float* out) const;  // (B, S), 0 for kIgnoreIndex

  KvCache<T> new_cache(int B) const { return KvCache<T>(B, cfg_.num_layers, cfg_.embedding_dim); }
  // Appends S steps per row (ids (B, S)) to the cache: the causal forward of the new steps against the cached
  // ones; logits (B, V) of the last new step. Throws for learned positions past context_length.
  void feed(KvCache<T>& kv, const int32_t* ids, int S, T* logits) const;

 private:
  double run(TransformerCache<T>& c, const int32_t* ids, const int32_t* targets, int B, int S, KvCache<T>* kv,
             T* last_logits) const;
  struct LayerOffsets {
    int64_t ln1_w, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_w, ln2_b, fc_w, fc_b, out_w, out_b;
  };
  TransformerConfig cfg_;
  ParamTable table_;
  int64_t emb_ = 0, pos_ = -1, lnf_w_ = 0, lnf_b_ = 0, head_ = 0;
  std::vector<LayerOffsets> lo_;
  std::vector<T> params_, grads_;
  double label_smoothing_ = 0;
  TransformerCache<T> cache_;
};

// The SeqModel of a config {"family":"transformer", ...} (float).
std::unique_ptr<SeqModel> make_transformer_model(const json& cfg, const std::string& what);

}  // namespace xm::model

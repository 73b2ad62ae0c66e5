// lstm_model.h: the LSTM language-model baseline (family "lstm"): token embedding -> L stacked classic LSTM
// layers with torch.nn.LSTM semantics (gate order i, f, g, o; both biases) -> head, templated on the float type so
// tests can check gradients in double. Not the xLSTM (xlstm_lm.h), not the optimiser or the training loop.
//
// Head: Linear(H, V) without bias, as in ../shared/reference/pytorch-baseline.md (so parameter counts match it).
// With tie_weights the head is the embedding; when H != D a projection Linear(H, D) without bias comes first.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/params.h"

namespace xm::model {

class SeqModel;

struct LstmConfig {
  int vocab_size = 0;      // V
  int context_length = 0;  // training length in steps (informational; the LSTM runs any length)
  int embedding_dim = 0;   // D
  int hidden_dim = 0;      // H
  int num_layers = 0;      // L
  bool tie_weights = false;
  bool has_proj() const { return tie_weights && hidden_dim != embedding_dim; }
};

// {"family":"lstm","vocab_size":V,"context_length":S,"embedding_dim":D,"hidden_dim":H,"num_layers":L,
//  "tie_weights":false}; hidden_dim defaults to embedding_dim, tie_weights to false; every other field is
// required. Throws xm::Error "<what>: field "<name>" ..." for a missing, mistyped, out-of-range or unknown field.
LstmConfig lstm_config_from_json(const json& j, const std::string& what);
json lstm_config_to_json(const LstmConfig& c);
// Names (xm.lstm.*), shapes and decay flags: embedding.weight (V, D); layers.l.weight_ih (4H, D or H),
// weight_hh (4H, H), bias_ih (4H), bias_hh (4H); proj.weight (D, H) when has_proj(); head.weight (V, H) unless
// tied. Decay: weight_ih, weight_hh, proj, head.
ParamTable lstm_param_table(const LstmConfig& c);

// Generation state: h and c (B, H) per layer, constant memory.
template <class T>
struct LstmState {
  int B = 0, L = 0, H = 0;
  std::vector<T> h, c;  // (L, B, H) each
  LstmState() = default;
  LstmState(int B_, int L_, int H_) : B(B_), L(L_), H(H_), h(size_t(L_) * B_ * H_), c(size_t(L_) * B_ * H_) {}
  T* h_of(int l) { return h.data() + size_t(l) * B * H; }
  T* c_of(int l) { return c.data() + size_t(l) * B * H; }
  const T* h_of(int l) const { return h.data() + size_t(l) * B * H; }
  const T* c_of(int l) const { return c.data() + size_t(l) * B * H; }
  void reset_row(int b);                                       // zeros row b of every layer
  void copy_row(int dst, const LstmState& src, int src_row);  // src may be *this
  size_t bytes() const { return (h.size() + c.size()) * sizeof(T); }
};

template <class T>
class LstmLM {
 public:
  explicit LstmLM(const LstmConfig& cfg);  // validates; parameters and gradients zero
  const LstmConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  // torch's defaults with our RNG: LSTM weights and biases U(+-1/sqrt(H)); embedding N(0, 1); head and
  // projection U(+-1/sqrt(H)) (nn.Linear's kaiming-uniform bound).
  void init(uint64_t seed);
  void set_label_smoothing(double eps) { label_smoothing_ = eps; }

  // Forward over B rows of S tokens from the zero state; targets (B, S) or null (no loss). Keeps what
  // backward() needs. Returns the mean cross-entropy over the counted targets.
  double forward(const int32_t* ids, const int32_t* targets, int B, int S);
  // Backward of d_loss * loss of the last forward (which had targets), ACCUMULATED into grads().
  void backward(double d_loss = 1.0);
  const std::vector<T>& logits() const { return logits_; }  // (B, S, V) of the last forward
  // NLL of every target of the last forward (B, S), 0 for kIgnoreIndex.
  void target_nll(float* out) const;

  LstmState<T> new_state(int B) const { return LstmState<T>(B, cfg_.num_layers, cfg_.hidden_dim); }
  // Runs S tokens per row (ids (B, S), B = state.B) from the state and leaves the state after the last one;
  // logits (B, V) of the last step. One input GEMM for all S steps per layer, one recurrent GEMM per step.
  void feed(LstmState<T>& state, const int32_t* ids, int S, T* logits) const;

 private:
  struct LayerCache {
    std::vector<T> gates;  // (B, S, 4H) activated i, f, g, o
    std::vector<T> c;      // (B, S, H) cell after each step
    std::vector<T> h;      // (B, S, H) hidden after each step (the next layer's input)
  };
  // One layer over a sequence: x (B, S, I) -> lc.h; h0/c0 (B, H) or null (zero state).
  void layer_forward(LayerCache& lc, const T* x, int l, int B, int S, int I, const T* h0, const T* c0) const;
  // Top-of-stack hidden (N, H) -> logits (N, V) (through the projection when there is one); proj (N, D) scratch.
  void head_forward(T* logits, T* proj, const T* top, int N) const;
  // Offsets of the tensors in the flat buffers (head == emb when tied; proj -1 without a projection).
  struct Offsets {
    int64_t emb = 0, proj = -1, head = -1;
    std::vector<int64_t> w_ih, w_hh, b_ih, b_hh;  // per layer
  };

  LstmConfig cfg_;
  ParamTable table_;
  Offsets o_;
  std::vector<T> params_, grads_;
  double label_smoothing_ = 0;
  // last forward
  int B_ = 0, S_ = 0;
  std::vector<int32_t> ids_, targets_;
  std::vector<T> emb_;                 // (N, D)
  std::vector<LayerCache> layers_;
  std::vector<T> proj_;                // (N, D) when has_proj()
  std::vector<T> logits_, logp_;       // (N, V)
};

// The SeqModel of a config {"family":"lstm", ...} (float).
std::unique_ptr<SeqModel> make_lstm_model(const json& cfg, const std::string& what);

}  // namespace xm::model

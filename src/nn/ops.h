// ops.h: the engine's elementwise and layer ops, each a forward/backward pair in the style of llm.c, templated
// on the float type (explicit instantiations for float and double in ops.cpp). Not the recurrent cells
// (nn/slstm.h, nn/mlstm.h) and not the model (model/).
//
// Conventions (all ops):
// - row-major, batch first; N = number of rows (B*S for sequence activations); shapes on every pointer;
// - weights in the official PyTorch layouts: Linear (out, in) with y = x W^T; headwise (NB, DO, DI);
//   depthwise conv (C, 1, K) = (C, K); LayerNorm gains stored as offsets w (gain = 1 + w), no bias;
// - GRADIENT RULE: every backward ACCUMULATES (+=) into every gradient buffer it writes (parameter and input
//   gradients alike); callers zero them before a backward pass. A null gradient pointer means "not needed";
// - the forward saves what the backward needs in the cache pointers it names; out may alias in only for the
//   elementwise ops (silu, gelu, residual).
#pragma once
#include <cstdint>

namespace xm::nn {

// ---- embedding: out[n, :] = table[ids[n], :]. Throws xm::Error naming the row when an id is out of range.
template <class T>
void embedding_forward(T* out /* (N, D) */, const int32_t* ids /* (N) */, const T* table /* (V, D) */, int N,
                       int V, int D);
template <class T>
void embedding_backward(T* d_table /* (V, D) */, const T* d_out /* (N, D) */, const int32_t* ids /* (N) */, int N,
                        int V, int D);

// ---- linear: out = in W^T + bias (bias may be null).
template <class T>
void linear_forward(T* out /* (N, O) */, const T* in /* (N, I) */, const T* W /* (O, I) */,
                    const T* bias /* (O) or null */, int N, int I, int O);
template <class T>
void linear_backward(T* d_in /* (N, I) or null */, T* d_W /* (O, I) or null */, T* d_bias /* (O) or null */,
                     const T* d_out /* (N, O) */, const T* in /* (N, I) */, const T* W /* (O, I) */, int N, int I,
                     int O);

// ---- headwise (block-diagonal) linear, the official LinearHeadwiseExpand without bias:
// out[n, h*DO + o] = sum_d in[n, h*DI + d] * W[h, o, d].
template <class T>
void headwise_forward(T* out /* (N, NB*DO) */, const T* in /* (N, NB*DI) */, const T* W /* (NB, DO, DI) */, int N,
                      int NB, int DI, int DO);
template <class T>
void headwise_backward(T* d_in /* (N, NB*DI) or null */, T* d_W /* (NB, DO, DI) or null */,
                       const T* d_out /* (N, NB*DO) */, const T* in /* (N, NB*DI) */, const T* W /* (NB, DO, DI) */,
                       int N, int NB, int DI, int DO, bool accumulate = true /* false: d_in = ..., not += */);
// Two projections of the same input at once (the mLSTM q and k): out1 = headwise(in, W1), out2 = headwise(in, W2).
template <class T>
void headwise_forward2(T* out1, T* out2, const T* in, const T* W1, const T* W2, int N, int NB, int DI, int DO);
// Two projections of the same input at once (the mLSTM q and k): d_in += both input gradients, each d_W its own.
template <class T>
void headwise_backward2(T* d_in, T* d_W1, T* d_W2, const T* d_out1, const T* d_out2, const T* in, const T* W1,
                        const T* W2, int N, int NB, int DI, int DO);

// ---- LayerNorm without bias, gain 1 + w, eps 1e-5 (the official components/ln.py LayerNorm).
constexpr double kNormEps = 1e-5;
template <class T>
void layernorm_forward(T* out /* (N, D) */, T* mean /* (N) */, T* rstd /* (N) */, const T* in /* (N, D) */,
                       const T* w /* (D) */, int N, int D);
template <class T>
void layernorm_backward(T* d_in /* (N, D) or null */, T* d_w /* (D) or null */, const T* d_out /* (N, D) */,
                        const T* in /* (N, D) */, const T* mean /* (N) */, const T* rstd /* (N) */,
                        const T* w /* (D) */, int N, int D);

// ---- multi-head LayerNorm (official MultiHeadLayerNorm = group_norm with NH groups): each row's NH heads of
// DH values normalised separately, then gain (1 + w[h*DH + d]); no bias; eps 1e-5. Input and output are
// (N, NH*DH) head-major: a (B, NH, S, DH) tensor must be transposed to (B, S, NH, DH) by the caller.
template <class T>
void multihead_layernorm_forward(T* out /* (N, NH*DH) */, T* mean /* (N, NH) */, T* rstd /* (N, NH) */,
                                 const T* in /* (N, NH*DH) */, const T* w /* (NH*DH) */, int N, int NH, int DH);
template <class T>
void multihead_layernorm_backward(T* d_in /* (N, NH*DH) or null */, T* d_w /* (NH*DH) or null */,
                                  const T* d_out /* (N, NH*DH) */, const T* in /* (N, NH*DH) */,
                                  const T* mean /* (N, NH) */, const T* rstd /* (N, NH) */, const T* w /* (NH*DH) */,
                                  int N, int NH, int DH, bool accumulate = true /* false: d_in = ..., not += */);

// ---- depthwise causal conv1d with bias (official CausalConv1d, groups = channels):
// out[b, t, c] = bias[c] + sum_{j<K} W[c, j] * in[b, t-(K-1)+j, c]   (in at t < 0 is 0).
template <class T>
void causal_conv1d_forward(T* out /* (B, S, C) */, const T* in /* (B, S, C) */, const T* W /* (C, 1, K) */,
                           const T* bias /* (C) or null */, int B, int S, int C, int K,
                           T* silu_out = nullptr /* (B, S, C): also SiLU(out), as silu_forward, in the same pass */);
template <class T>
void causal_conv1d_backward(T* d_in /* (B, S, C) or null */, T* d_W /* (C, 1, K) or null */,
                            T* d_bias /* (C) or null */, const T* d_out /* (B, S, C) */, const T* in /* (B, S, C) */,
                            const T* W /* (C, 1, K) */, int B, int S, int C, int K);
// One step (official conv1d_step): state (B, K, C) holds the last K inputs, oldest first; it is shifted by
// one row, x is written as the newest row, then out = sum_k state[:, k] * W[:, 0, k] + bias. Initial state 0.
// out must not overlap x or state.
template <class T>
void causal_conv1d_step(T* out /* (B, C) */, T* state /* (B, K, C), updated */, const T* x /* (B, C) */,
                        const T* W /* (C, 1, K) */, const T* bias /* (C) or null */, int B, int C, int K);
// Sequence form continuing from a step state (prompt prefill): inputs before t = 0 are the state's last K-1
// rows (zeros for a fresh state); afterwards the state holds the last K inputs, exactly as S calls of
// causal_conv1d_step would leave it, and out equals those calls' outputs.
template <class T>
void causal_conv1d_prefill(T* out /* (B, S, C) */, T* state /* (B, K, C), updated */, const T* in /* (B, S, C) */,
                           const T* W /* (C, 1, K) */, const T* bias /* (C) or null */, int B, int S, int C, int K);
// The state a step loop would hold after the last S inputs (rows before t = 0 are zeros): the prefill
// hand-over. in is (B, S, C), state (B, K, C) is overwritten.
template <class T>
void causal_conv1d_final_state(T* state /* (B, K, C) */, const T* in /* (B, S, C) */, int B, int S, int C, int K);

// ---- activations (n elements; d_in += d_out * f'(in), or d_in = ... with accumulate = false).
template <class T>
void silu_forward(T* out, const T* in, int64_t n);
template <class T>
void silu_backward(T* d_in, const T* d_out, const T* in, int64_t n, bool accumulate = true);
template <class T>
void gelu_forward(T* out, const T* in, int64_t n);  // exact: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
template <class T>
void gelu_backward(T* d_in, const T* d_out, const T* in, int64_t n);

enum class Activation { gelu, silu, relu };
// Parses "gelu", "swish"/"silu", "relu" (the official act_fn names); throws xm::Error otherwise.
Activation parse_activation(const char* name);
const char* activation_name(Activation a);

// ---- gated feed-forward (official GatedFeedForward, no biases):
// up = in W_up^T (N, 2P); g = up[:, :P], u = up[:, P:]; h = act(g) * u; out = h W_down^T.
// Cache: up (N, 2P) and h (N, P), written by the forward and read by the backward.
template <class T>
void gated_ffn_forward(T* out /* (N, D) */, T* cache_up /* (N, 2P) */, T* cache_h /* (N, P) */,
                       const T* in /* (N, D) */, const T* W_up /* (2P, D) */, const T* W_down /* (D, P) */, int N,
                       int D, int P, Activation act);
// The middle of the forward alone: h (N, P) = act(up[:, :P]) * up[:, P:] (a batched generation step runs the two
// products itself, split over its threads).
template <class T>
void gated_ffn_gate(T* h /* (N, P) */, const T* up /* (N, 2P) */, int N, int P, Activation act);
// The same for columns [p0, p1) of h only, all N rows, on the calling thread (a team of threads shares the
// columns out, each right after its columns of the up projection).
template <class T>
void gated_ffn_gate_cols(T* h /* (N, P) */, const T* up /* (N, 2P) */, int N, int P, Activation act, int p0,
                         int p1);
template <class T>
void gated_ffn_backward(T* d_in /* (N, D) or null */, T* d_W_up /* (2P, D) */, T* d_W_down /* (D, P) */,
                        const T* d_out /* (N, D) */, const T* cache_up /* (N, 2P) */, const T* cache_h /* (N, P) */,
                        const T* in /* (N, D) */, const T* W_up /* (2P, D) */, const T* W_down /* (D, P) */, int N,
                        int D, int P, Activation act);

// ---- residual add: out = a + b (out may alias a or b); backward adds d_out to both.
template <class T>
void residual_forward(T* out, const T* a, const T* b, int64_t n);
template <class T>
void residual_backward(T* d_a, T* d_b, const T* d_out, int64_t n);

// ---- cross-entropy fused with softmax (PyTorch F.cross_entropy semantics, reduction "mean"):
// per row n with targets[n] != ignore_index:
//   l_n = -(1 - eps) log p[n, t_n] - (eps / V) sum_v log p[n, v],   p = softmax(logits[n, :])
// loss = sum l_n / count (count = rows not ignored; loss 0 when count is 0). The forward stores the
// log-probabilities in cache_logp (N, V) (may be null when no backward follows) and returns the loss;
// *count_out (if not null) gets count. Throws xm::Error naming the row for a target outside [0, V).
template <class T>
double cross_entropy_forward(T* cache_logp /* (N, V) or null */, int64_t* count_out, const T* logits /* (N, V) */,
                             const int32_t* targets /* (N) */, int N, int V, int ignore_index = -100,
                             double label_smoothing = 0.0);
// d_logits += d_loss / count * (p - ((1 - eps) onehot(t) + eps / V)) for non-ignored rows; accumulate = false:
// d_logits = that, and 0 on ignored rows (no zeroing pass needed before).
template <class T>
void cross_entropy_backward(T* d_logits /* (N, V) */, double d_loss, const T* cache_logp /* (N, V) */,
                            const int32_t* targets /* (N) */, int N, int V, int ignore_index = -100,
                            double label_smoothing = 0.0, bool accumulate = true);

}  // namespace xm::nn

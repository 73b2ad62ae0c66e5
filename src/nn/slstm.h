// slstm.h: the sLSTM cell of xLSTM (official "vanilla" math: exponential input gate, sigmoid forget gate,
// stabiliser m, normaliser n): a fused whole-sequence forward, its backward (BPTT), and one step for
// generation. Not the sLSTM block (norms, conv, headwise gate projections, FFN live in model/) and not a
// general RNN library.
//
// Math per step t, per element (xlstm-spec.md (a)); raw_g = Wx_g + R_g y_{t-1} + b_g for g in i, f, z, o:
//   m_t = (n_{t-1} == 0) ? i_raw : max(i_raw, m_{t-1} + logsigmoid(f_raw))
//   i'  = min(exp(i_raw - m_t), 1)     f' = min(exp(m_{t-1} + logsigmoid(f_raw) - m_t), 1)
//   c_t = f' c_{t-1} + i' tanh(z_raw)  n_t = f' n_{t-1} + i'     y_t = sigmoid(o_raw) c_t / n_t
// FIRST-STEP RULE, decided PER ELEMENT (as the official CUDA kernel): where n_{t-1} == 0, m_t = i_raw. The
// official vanilla code tests the whole tensor (all(n == 0)); both agree on a zero initial state, and differ
// only for an initial state that has n == 0 in some elements but not all.
//
// Conventions (as nn/ops.h): row-major, batch first, shapes on every pointer, H = NH*DH.
// - Wx (B, S, 4H) gate-major [i | f | z | o], each gate block head-major (h*DH + d): the input-side
//   pre-activations (the block's headwise projections of its input).
// - R (NH, 4*DH, DH): the official vanilla state_dict `_recurrent_kernel_`:
//   raw[b, g*H + h*DH + o] += sum_i y[b, h*DH + i] * R[h, g*DH + o, i].
// - bias (4H): the official vanilla `_bias_`, gate-major (g*H + h*DH + d).
// - state (4, B, H) = (y, c, n, m); a null initial state means zeros.
// - GRADIENT RULE: every backward ACCUMULATES (+=) into each gradient buffer it writes; a null gradient
//   pointer means "not needed"; callers zero buffers before a backward pass.
// - Threads: OpenMP over independent (head, batch-rows) recurrences (each head's recurrence is
// block-diagonal,
//   so the whole time loop runs without barriers); GEMMs through xm::nn::gemm. Thread counts are the
//   caller's policy (set OpenBLAS to 1 thread: gemm is called from inside OpenMP threads).
#pragma once
#include <cstddef>

namespace xm::nn {

struct SlstmDims {
  int B = 0;   // batch rows
  int S = 0;   // time steps
  int NH = 0;  // heads
  int DH = 0;  // head width
  int H() const { return NH * DH; }
};

// Elements of T the cache of slstm_forward/slstm_backward needs for these dims:
// 4*B*H (initial state copy) + 9*B*S*H (per step: y_{t-1}, c, n, m, i', f', tanh z, sigmoid o, sigmoid f)
// + 4*B*S*H (scratch the backward fills with the raw-gate gradients; the forward leaves it alone).
// Music config (B 16, S 256, H 256): 13.6 M elements, 55 MB in float.
size_t slstm_cache_size(const SlstmDims& d);

// Whole-sequence forward (the training path). Writes y and, when state_out is not null, the final state.
// cache: slstm_cache_size(d) elements, filled for slstm_backward; null when no backward will follow
// (inference: then nothing but y and state_out is written). state_out may alias state0 (in-place update);
// y and cache may alias nothing else. Throws xm::Error on non-positive dims.
template <class T>
void slstm_forward(T* y /* (B, S, H) */, T* state_out /* (4, B, H) or null */, T* cache /* or null */,
                   const T* Wx /* (B, S, 4H) */, const T* R /* (NH, 4DH, DH) */, const T* bias /* (4H) */,
                   const T* state0 /* (4, B, H) or null = zeros */, const SlstmDims& d);

// Backward through the whole sequence (BPTT) from the cache of the last slstm_forward with the same inputs.
// dy: gradient of the loss w.r.t. y. d_state_out: gradient w.r.t. the final state (y, c, n, m), or null;
// it must come from a loss that sees the state only through what it represents (y, c*e^m, n*e^m), e.g. the
// d_state0 of a following slstm_backward (truncated BPTT across segments): then its m part is implied by the
// c and n parts and is ignored.
// The stabiliser m is treated as a constant (as the official CUDA backward): y is exactly invariant to m, so
// this is the true gradient (the vectors' autograd-through-max agrees to rounding). d_state0's m part is the
// true partial derivative holding c0 and n0 fixed: f'_0 * (dc_0 * c0 + dn_0 * n0) (the official CUDA backward
// returns zero there).
// Writes the cache's scratch part; the saved forward part is left intact (backward may be called again).
template <class T>
void slstm_backward(T* dWx /* (B, S, 4H) or null */, T* dR /* (NH, 4DH, DH) or null */,
                    T* dbias /* (4H) or null */, T* d_state0 /* (4, B, H) or null */,
                    const T* dy /* (B, S, H) */, const T* d_state_out /* (4, B, H) or null */, T* cache,
                    const T* R /* (NH, 4DH, DH) */, const SlstmDims& d);

// One time step for B rows (generation): reads and updates state in place; y may be null.
// Same result as slstm_forward with S = 1 (it is that call).
template <class T>
void slstm_step(T* y /* (B, H) or null */, T* state /* (4, B, H) in/out */, const T* Wx /* (B, 4H) */,
                const T* R /* (NH, 4DH, DH) */, const T* bias /* (4H) */, int B, int NH, int DH);

// The same step in two parts, for a team of threads that splits the recurrent products by columns (all rows in
// one product, so the few-rows GEMM kernel's 16 lanes are full) and the pointwise part by rows:
// slstm_step_recurrent: Ry (B, NH, 4DH) head-major, gate-major within a head (g*DH + o) = y_{t-1} R^T for gate g
//   of head h only (state's y plane read, nothing else written); every (g, h) once before the pointwise part.
// slstm_step_pointwise: rows [r0, r1) of y and of the state from Ry, Wx and the bias (y_{t-1} overwritten).
// Together: bit for bit slstm_step in float (the same products in the same order).
template <class T>
void slstm_step_recurrent(T* Ry /* (B, 4H) */, const T* state /* (4, B, H) */, const T* R /* (NH, 4DH, DH) */,
                          int B, int NH, int DH, int g, int h);
template <class T>
void slstm_step_pointwise(T* y /* (B, H) */, T* state /* (4, B, H) in/out */, const T* Wx /* (B, 4H) */,
                          const T* Ry /* (B, 4H) */, const T* bias /* (4H) */, int B, int NH, int DH, int r0, int r1);

// For tests and inspection: the states after every step, (y, c, n, m) x S, from a forward cache and its y,
// in the layout of the official vanilla `states_all` (4, S, B, H).
template <class T>
void slstm_cache_states(T* states_all /* (4, S, B, H) */, const T* cache, const T* y /* (B, S, H) */,
                        const SlstmDims& d);

}  // namespace xm::nn

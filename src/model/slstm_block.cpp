// slstm_block.cpp: the sLSTM block (official xLSTMBlock around sLSTMLayer plus the gated FFN, xlstm-spec.md (c)):
// forward with a cache, backward, and the one-token step. Not the sLSTM cell math (nn/slstm.cpp).
// The official gate-module swap: the module named "fgate" feeds the INPUT gate, "igate" the FORGET gate.
#include <cstring>

#include "core/error.h"
#include "model/blocks.h"
#include "nn/gemm.h"
#include "nn/slstm.h"

namespace xm::model {

SlstmBlockDims slstm_block_dims(const XlstmConfig& cfg, int B, int S) {
  SlstmBlockDims d;
  d.B = B, d.S = S, d.D = cfg.embedding_dim, d.NH = cfg.slstm->num_heads, d.K = cfg.slstm->conv1d_kernel_size;
  d.P = cfg.feedforward ? cfg.ffn_dim() : 0;
  if (cfg.feedforward) d.act = nn::parse_activation(cfg.feedforward->act_fn.c_str());
  return d;
}

namespace {
template <class T>
void resize(std::vector<T>& v, size_t n) {
  if (v.size() != n) v.resize(n);
}
// Heads of at most this many weights go through headwise_forward/backward's plain loops (bit for bit the results of
// the reference path the double tests pin down); larger ones through one GEMM per (gate, head) on Wx's columns.
constexpr int kLoopHeadMax = 256;

// Wx (N, 4D) = [i | f | z | o] per row, from the gate pre-activations: i and f from the conv path xc, z and o from
// the normed input xn (each a block-diagonal NH x (DH x DH) projection, the official headwise layout (NH, DH, DH)).
// tmp (N, D) is scratch for small heads only.
template <class T>
void gate_preacts(T* Wx, T* tmp, const T* xc, const T* xn, const SlstmBlockView<T>& w, int N, int D, int NH) {
  const int DH = D / NH;
  const T* weights[4] = {w.fgate_w, w.igate_w, w.zgate_w, w.ogate_w};  // official swap: fgate -> i, igate -> f
  const T* inputs[4] = {xc, xc, xn, xn};
  for (int g = 0; g < 4; ++g) {
    if (DH * DH <= kLoopHeadMax) {
      nn::headwise_forward(tmp, inputs[g], weights[g], N, NH, DH, DH);
      for (int n = 0; n < N; ++n) std::memcpy(Wx + (size_t(n) * 4 + g) * D, tmp + size_t(n) * D, sizeof(T) * D);
      continue;
    }
    for (int h = 0; h < NH; ++h)  // straight into the gate's columns of Wx (no copy)
      nn::gemm<T>(false, true, N, DH, DH, T(1), inputs[g] + size_t(h) * DH, D, weights[g] + size_t(h) * DH * DH, DH,
                  T(0), Wx + size_t(g) * D + size_t(h) * DH, 4 * D);
  }
}
// Backward of gate_preacts: d_xc, d_xn (N, D) and the weight gradients accumulate (+=) from dWx (N, 4D); tmp (N, D)
// is scratch for small heads only.
template <class T>
void gate_preacts_backward(T* d_xc, T* d_xn, T* tmp, const SlstmBlockView<T>& g, const T* dWx, const T* xc,
                           const T* xn, const SlstmBlockView<T>& w, int N, int D, int NH) {
  const int DH = D / NH;
  const T* weights[4] = {w.fgate_w, w.igate_w, w.zgate_w, w.ogate_w};
  T* dweights[4] = {g.fgate_w, g.igate_w, g.zgate_w, g.ogate_w};
  T* dinputs[4] = {d_xc, d_xc, d_xn, d_xn};
  const T* inputs[4] = {xc, xc, xn, xn};
  for (int gi = 0; gi < 4; ++gi) {
    if (DH * DH <= kLoopHeadMax) {
      for (int n = 0; n < N; ++n) std::memcpy(tmp + size_t(n) * D, dWx + (size_t(n) * 4 + gi) * D, sizeof(T) * D);
      nn::headwise_backward(dinputs[gi], dweights[gi], tmp, inputs[gi], weights[gi], N, NH, DH, DH);
      continue;
    }
    for (int h = 0; h < NH; ++h) {  // the same products headwise_backward runs, reading dWx's columns in place
      const T* dy = dWx + size_t(gi) * D + size_t(h) * DH;  // (N, DH), rows 4D apart
      const size_t wo = size_t(h) * DH * DH, xo = size_t(h) * DH;
      if (dinputs[gi])
        nn::gemm<T>(false, false, N, DH, DH, T(1), dy, 4 * D, weights[gi] + wo, DH, T(1), dinputs[gi] + xo, D);
      if (dweights[gi])
        nn::gemm<T>(true, false, DH, DH, N, T(1), dy, 4 * D, inputs[gi] + xo, D, T(1), dweights[gi] + wo, DH);
    }
  }
}
}  // namespace

template <class T>
void slstm_block_forward(T* out, SlstmBlockCache<T>& c, const T* x, const SlstmBlockView<T>& w,
                         const SlstmBlockDims& d, SlstmBlockState<T>* state) {
  const int N = d.N(), D = d.D, NH = d.NH;
  const size_t ND = size_t(N) * D;
  c.from_state = state != nullptr;
  resize(c.xn, ND), resize(c.ln_mean, N), resize(c.ln_rstd, N);
  nn::layernorm_forward(c.xn.data(), c.ln_mean.data(), c.ln_rstd.data(), x, w.norm_w, N, D);
  const T* xc = c.xn.data();
  if (d.K > 0) {
    resize(c.xconv, ND), resize(c.xc, ND);
    if (state) {
      nn::causal_conv1d_prefill(c.xconv.data(), state->conv, c.xn.data(), w.conv_w, w.conv_b, d.B, d.S, D, d.K);
      nn::silu_forward(c.xc.data(), c.xconv.data(), int64_t(ND));
    } else {  // the SiLU in the conv's pass
      nn::causal_conv1d_forward(c.xconv.data(), c.xn.data(), w.conv_w, w.conv_b, d.B, d.S, D, d.K, c.xc.data());
    }
    xc = c.xc.data();
  }
  resize(c.Wx, 4 * ND), resize(c.y, ND);
  resize(c.gn, ND);  // also the scratch of gate_preacts
  gate_preacts(c.Wx.data(), c.gn.data(), xc, c.xn.data(), w, N, D, NH);
  nn::SlstmDims sd{d.B, d.S, NH, d.DH()};
  if (state) {
    nn::slstm_forward<T>(c.y.data(), state->cell, nullptr, c.Wx.data(), w.R, w.bias, state->cell, sd);
  } else {
    resize(c.cell, nn::slstm_cache_size(sd));
    nn::slstm_forward<T>(c.y.data(), nullptr, c.cell.data(), c.Wx.data(), w.R, w.bias, nullptr, sd);
  }
  resize(c.gn_mean, size_t(N) * NH), resize(c.gn_rstd, size_t(N) * NH);
  nn::multihead_layernorm_forward(c.gn.data(), c.gn_mean.data(), c.gn_rstd.data(), c.y.data(), w.gn_w, N, NH,
                                  d.DH());
  if (d.P == 0) {
    nn::residual_forward(out, x, c.gn.data(), int64_t(ND));
    return;
  }
  resize(c.x1, ND);
  nn::residual_forward(c.x1.data(), x, c.gn.data(), int64_t(ND));
  resize(c.xf, ND), resize(c.fln_mean, N), resize(c.fln_rstd, N);
  resize(c.ffn_up, size_t(N) * 2 * d.P), resize(c.ffn_h, size_t(N) * d.P);
  nn::layernorm_forward(c.xf.data(), c.fln_mean.data(), c.fln_rstd.data(), c.x1.data(), w.ffn_norm_w, N, D);
  nn::gated_ffn_forward(out, c.ffn_up.data(), c.ffn_h.data(), c.xf.data(), w.ffn_up, w.ffn_down, N, D, d.P, d.act);
  nn::residual_forward(out, c.x1.data(), out, int64_t(ND));
}

template <class T>
void slstm_block_backward(T* d_x, const SlstmBlockView<T>& g, const T* d_out, SlstmBlockCache<T>& c, const T* x,
                          const SlstmBlockView<T>& w, const SlstmBlockDims& d, Workspace<T>& ws) {
  if (c.from_state)
    throw Error("slstm block: backward needs a training forward (one that did not start from a recurrent state)");
  const int N = d.N(), D = d.D, NH = d.NH, DH = d.DH();
  const size_t ND = size_t(N) * D;
  // d_x1: gradient at x1 = x + gn (the FFN residual's input), or at the block output without FFN
  T* d_x1 = ws.get(0, ND);
  nn::residual_backward<T>(d_x1, nullptr, d_out, int64_t(ND));
  if (d.P > 0) {
    T* d_xf = ws.get(1, ND);
    nn::gated_ffn_backward(d_xf, g.ffn_up, g.ffn_down, d_out, c.ffn_up.data(), c.ffn_h.data(), c.xf.data(), w.ffn_up,
                           w.ffn_down, N, D, d.P, d.act);
    nn::layernorm_backward(d_x1, g.ffn_norm_w, d_xf, c.x1.data(), c.fln_mean.data(), c.fln_rstd.data(), w.ffn_norm_w,
                           N, D);
  }
  nn::residual_backward<T>(d_x, nullptr, d_x1, int64_t(ND));
  T* d_y = ws.raw(1, ND);  // written whole (no zeroing pass)
  nn::multihead_layernorm_backward(d_y, g.gn_w, d_x1, c.y.data(), c.gn_mean.data(), c.gn_rstd.data(), w.gn_w, N, NH,
                                   DH, false);
  T* dWx = ws.get(2, 4 * ND);
  nn::SlstmDims sd{d.B, d.S, NH, DH};
  nn::slstm_backward<T>(dWx, g.R, g.bias, nullptr, d_y, nullptr, c.cell.data(), w.R, sd);
  T* d_xn = ws.get(3, ND);
  T* d_xc = d.K > 0 ? ws.get(4, ND) : d_xn;
  const T* xc = d.K > 0 ? c.xc.data() : c.xn.data();
  gate_preacts_backward(d_xc, d_xn, DH * DH <= kLoopHeadMax ? ws.raw(5, ND) : nullptr, g, dWx, xc, c.xn.data(), w, N,
                        D, NH);
  if (d.K > 0) {
    T* d_xconv = ws.raw(6, ND);  // written whole (no zeroing pass)
    nn::silu_backward(d_xconv, d_xc, c.xconv.data(), int64_t(ND), false);
    nn::causal_conv1d_backward(d_xn, g.conv_w, g.conv_b, d_xconv, c.xn.data(), w.conv_w, d.B, d.S, D, d.K);
  }
  nn::layernorm_backward(d_x, g.norm_w, d_xn, x, c.ln_mean.data(), c.ln_rstd.data(), w.norm_w, N, D);
}

template <class T>
void slstm_block_step(T* out, const T* x, const SlstmBlockView<T>& w, const SlstmBlockDims& d,
                      SlstmBlockState<T>& state, Workspace<T>& ws, const StepTeam& team) {
  const int B = d.B, D = d.D, NH = d.NH, DH = d.DH();
  const size_t BD = size_t(B) * D;
  // Whole-batch buffers; this thread works on rows [r0, r0 + n) of each (oD: its first row's offset).
  T* xn = ws.raw(0, BD);
  T* stat = ws.raw(1, size_t(2) * B * NH + size_t(2) * B);  // group norm (mean, rstd) per (row, head), then
  T* ln = stat + size_t(2) * B * NH;                          // the layer norms' per row: no two threads share one
  T* xc = d.K > 0 ? ws.raw(2, BD) : xn;
  T* Wx = ws.raw(3, 4 * BD);
  T* tmp = ws.raw(4, BD);
  T* y = ws.raw(5, BD);
  const int r0 = team.r0, n = team.n;
  const size_t oD = size_t(r0) * D, nD = size_t(n) * D;
  // No barrier first (see mlstm_block_step): the previous block ended with one.
  nn::layernorm_forward(xn + oD, ln + r0, ln + B + r0, x + oD, w.norm_w, n, D);
  if (d.K > 0) {
    nn::causal_conv1d_step(xc + oD, state.conv + size_t(r0) * d.K * D, xn + oD, w.conv_w, w.conv_b, n, D, d.K);
    nn::silu_forward(xc + oD, xc + oD, int64_t(nD));
  }
  if (team.P == 1) {
    gate_preacts(Wx, tmp, xc, xn, w, B, D, NH);
    nn::slstm_step(y, state.cell, Wx, w.R, w.bias, B, NH, DH);
  } else {
    // The gate pre-activations and the recurrent products of all rows, by (gate, head) blocks shared out over the
    // team (16-row products: the few-rows kernel's lanes all used), then the pointwise step on this thread's rows.
    // Tiny heads keep gate_preacts' loops on each thread's rows (the same sums as on one thread).
    T* Ry = ws.raw(8, 4 * BD);  // slot 8 (the FFN's up projection) is free until the FFN
    const T* weights[4] = {w.fgate_w, w.igate_w, w.zgate_w, w.ogate_w};  // official swap, as gate_preacts
    const T* inputs[4] = {xc, xc, xn, xn};
    const bool loops = DH * DH <= kLoopHeadMax;
    if (loops) gate_preacts(Wx + 4 * oD, tmp + oD, xc + oD, xn + oD, w, n, D, NH);
    const int first = loops ? 4 * NH : 0;  // units [0, 4 NH): Wx by (gate, head); [4 NH, 8 NH): R y by (gate, head)
    team.sync();
    team.chunks(0, 8 * NH - first, team.P, [&](int u0, int u1) {
      for (int u = first + u0; u < first + u1; ++u) {
        const int g = (u / NH) % 4, h = u % NH;
        if (u < 4 * NH)
          nn::gemm_serial<T>(false, true, B, DH, DH, T(1), inputs[g] + size_t(h) * DH, D,
                             weights[g] + size_t(h) * DH * DH, DH, T(0), Wx + size_t(g) * D + size_t(h) * DH, 4 * D);
        else
          nn::slstm_step_recurrent(Ry, state.cell, w.R, B, NH, DH, g, h);
      }
    });
    team.sync();
    nn::slstm_step_pointwise(y, state.cell, Wx, Ry, w.bias, B, NH, DH, r0, r0 + n);
  }
  T* gn = tmp;
  nn::multihead_layernorm_forward(gn + oD, stat + size_t(r0) * NH, stat + size_t(B) * NH + size_t(r0) * NH, y + oD,
                                  w.gn_w, n, NH, DH);
  if (d.P == 0) {
    nn::residual_forward(out + oD, x + oD, gn + oD, int64_t(nD));
    team.sync();  // no product here: the next block's row phase must not meet this one's slots in other layouts
    return;
  }
  T* x1 = ws.raw(6, BD);
  nn::residual_forward(x1 + oD, x + oD, gn + oD, int64_t(nD));
  T* xf = ws.raw(7, BD);
  nn::layernorm_forward(xf + oD, ln + r0, ln + B + r0, x1 + oD, w.ffn_norm_w, n, D);
  T* up = ws.raw(8, size_t(B) * 2 * d.P);
  T* h = ws.raw(9, size_t(B) * d.P);
  team.sync();
  team.product_pairs(up, xf, w.ffn_up, B, D, d.P,
                     [&](int c0, int c1) { nn::gated_ffn_gate_cols(h, up, B, d.P, d.act, c0, c1); });
  team.sync();
  team.product(out, h, w.ffn_down, B, d.P, D);
  team.sync();
  nn::residual_forward(out + oD, x1 + oD, out + oD, int64_t(nD));
}

size_t block_step_slot_size(const XlstmConfig& cfg, int B) {
  size_t per_row = 2;
  if (cfg.mlstm) per_row = std::max<size_t>(per_row, size_t(std::max(cfg.embedding_dim, cfg.mlstm_inner_dim())));
  if (cfg.slstm) {
    per_row = std::max<size_t>(per_row, size_t(4) * cfg.embedding_dim);
    per_row = std::max<size_t>(per_row, size_t(2) * cfg.slstm->num_heads + 2);
    if (cfg.feedforward) per_row = std::max<size_t>(per_row, size_t(2) * cfg.ffn_dim());
  }
  return per_row * size_t(B);
}

#define XM_SLSTM_BLOCK_INSTANTIATE(T)                                                                            \
  template void slstm_block_forward<T>(T*, SlstmBlockCache<T>&, const T*, const SlstmBlockView<T>&,             \
                                       const SlstmBlockDims&, SlstmBlockState<T>*);                             \
  template void slstm_block_backward<T>(T*, const SlstmBlockView<T>&, const T*, SlstmBlockCache<T>&, const T*,  \
                                        const SlstmBlockView<T>&, const SlstmBlockDims&, Workspace<T>&);        \
  template void slstm_block_step<T>(T*, const T*, const SlstmBlockView<T>&, const SlstmBlockDims&,              \
                                    SlstmBlockState<T>&, Workspace<T>&, const StepTeam&);
XM_SLSTM_BLOCK_INSTANTIATE(float)
XM_SLSTM_BLOCK_INSTANTIATE(double)

}  // namespace xm::model

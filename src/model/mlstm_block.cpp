// mlstm_block.cpp: the mLSTM block (official xLSTMBlock around mLSTMLayer, xlstm-spec.md (c)): forward with a
// cache, backward, and the one-token step. Not the mLSTM cell math (nn/mlstm.cpp) nor the sLSTM block.
#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "model/blocks.h"
#include "nn/fastmath.h"
#include "nn/gemm.h"
#include "nn/parallel.h"
#include "nn/simd.h"

namespace xm::model {

MlstmBlockDims mlstm_block_dims(const XlstmConfig& cfg, int B, int S) {
  MlstmBlockDims d;
  d.B = B, d.S = S, d.D = cfg.embedding_dim, d.I = cfg.mlstm_inner_dim();
  d.NH = cfg.mlstm->num_heads, d.bs = cfg.mlstm->qkv_proj_blocksize, d.K = cfg.mlstm->conv1d_kernel_size;
  return d;
}

namespace {
template <class T>
inline T sigm(T x) {
  return nn::sigmoid_hot(x);
}
// hs = hc + skip * xc, hg = hs * SiLU(z) for rows [n0, n1) (cloned for wide vectors, nn/simd.h).
template <class T>
[[gnu::noinline]] XM_CLONES void gate_rows_fwd(T* __restrict hs, T* __restrict hg, const T* __restrict hc,
                                               const T* __restrict xc, const T* __restrict z,
                                               const T* __restrict skip, int n0, int n1, int i0, int i1, int I) {
  for (int n = n0; n < n1; ++n)
    for (int i = i0; i < i1; ++i) {
      const size_t j = size_t(n) * I + i;
      const T zv = z[j];
      hs[j] = hc[j] + skip[i] * xc[j];
      hg[j] = hs[j] * (zv * sigm(zv));
    }
}
// Its backward over columns [i0, i1) of all N rows, with the skip gain's gradient g_skip[i] += sum_n d_hc x_c (rows in
// order, so the same on any number of threads) in the same pass when kSkipGrad.
template <class T, bool kSkipGrad>
[[gnu::noinline]] XM_CLONES void gate_cols_bwd(T* __restrict d_z, T* __restrict d_hc, T* __restrict d_xc,
                                               T* __restrict g_skip, const T* __restrict d_hg, const T* __restrict z,
                                               const T* __restrict hs, const T* __restrict xc,
                                               const T* __restrict skip, int N, int I, int i0, int i1) {
  for (int n = 0; n < N; ++n)
    for (int i = i0; i < i1; ++i) {
      const size_t j = size_t(n) * I + i;
      const T zv = z[j], s = sigm(zv);
      const T dhs = d_hg[j] * (zv * s);
      d_z[j] = d_hg[j] * hs[j] * (s * (T(1) + zv * (T(1) - s)));
      d_hc[j] = dhs;
      d_xc[j] = dhs * skip[i];
      if constexpr (kSkipGrad) g_skip[i] += dhs * xc[j];
    }
}
template <class T>
nn::MlstmCellWeights<T> cell_weights(const MlstmBlockView<T>& w) {
  return {w.igate_w, w.igate_b, w.fgate_w, w.fgate_b, w.outnorm_w};
}
template <class T>
void resize(std::vector<T>& v, size_t n) {
  if (v.size() != n) v.resize(n);
}
}  // namespace

template <class T>
void mlstm_block_forward(T* out, MlstmBlockCache<T>& c, const T* x, const MlstmBlockView<T>& w,
                         const MlstmBlockDims& d, const nn::MlstmOptions& opt, MlstmBlockState<T>* state) {
  const int N = d.N(), D = d.D, I = d.I;
  const size_t NI = size_t(N) * I;
  resize(c.xn, size_t(N) * D), resize(c.ln_mean, N), resize(c.ln_rstd, N);
  for (auto* v : {&c.xm, &c.z, &c.xconv, &c.xc, &c.q, &c.k, &c.v, &c.hc, &c.hs, &c.hg}) resize(*v, NI);
  c.from_state = state != nullptr;

  nn::layernorm_forward(c.xn.data(), c.ln_mean.data(), c.ln_rstd.data(), x, w.norm_w, N, D);
  nn::linear_forward<T>(c.xm.data(), c.xn.data(), w.proj_up, nullptr, N, D, I);                    // rows [0, I)
  nn::linear_forward<T>(c.z.data(), c.xn.data(), w.proj_up + size_t(I) * D, nullptr, N, D, I);     // rows [I, 2I)
  if (state) {
    nn::causal_conv1d_prefill(c.xconv.data(), state->conv, c.xm.data(), w.conv_w, w.conv_b, d.B, d.S, I, d.K);
    nn::silu_forward(c.xc.data(), c.xconv.data(), int64_t(NI));
  } else {  // the SiLU in the conv's pass
    nn::causal_conv1d_forward(c.xconv.data(), c.xm.data(), w.conv_w, w.conv_b, d.B, d.S, I, d.K, c.xc.data());
  }
  const int NB = I / d.bs;
  nn::headwise_forward2(c.q.data(), c.k.data(), c.xc.data(), w.q, w.k, N, NB, d.bs, d.bs);  // one pass over x_c
  nn::headwise_forward(c.v.data(), c.xm.data(), w.v, N, NB, d.bs, d.bs);
  if (state) {
    nn::MlstmOptions o = opt;
    o.form = nn::MlstmForm::chunkwise;  // the only form that starts from and hands over a state
    nn::mlstm_cell_forward(c.hc.data(), c.cell, c.q.data(), c.k.data(), c.v.data(), cell_weights(w), d.B, d.S, d.NH,
                           d.DH(), o, &state->cell, &state->cell);
  } else {
    nn::mlstm_cell_forward(c.hc.data(), c.cell, c.q.data(), c.k.data(), c.v.data(), cell_weights(w), d.B, d.S, d.NH,
                           d.DH(), opt);
  }
  nn::parallel_ranges(N, NI > (1u << 14), [&](int n0, int n1) {
    gate_rows_fwd(c.hs.data(), c.hg.data(), c.hc.data(), c.xc.data(), c.z.data(), w.skip, n0, n1, 0, I, I);
  });
  T* y = out;  // y = hg W_down^T, then out = x + y
  nn::linear_forward<T>(y, c.hg.data(), w.proj_down, nullptr, N, I, D);
  nn::residual_forward(out, x, y, int64_t(N) * D);
}

template <class T>
void mlstm_block_backward(T* d_x, const MlstmBlockView<T>& g, const T* d_out, MlstmBlockCache<T>& c, const T* x,
                          const MlstmBlockView<T>& w, const MlstmBlockDims& d, Workspace<T>& ws) {
  if (c.from_state)
    throw Error("mlstm block: backward needs a training forward (one that did not start from a recurrent state)");
  const int N = d.N(), D = d.D, I = d.I, NB = I / d.bs;
  const size_t NI = size_t(N) * I;
  nn::residual_backward<T>(d_x, nullptr, d_out, int64_t(N) * D);
  T* d_hg = ws.raw(0, NI);  // = d_out W_down (overwritten: no zeroing pass)
  nn::gemm<T>(false, false, N, I, D, T(1), d_out, D, w.proj_down, I, T(0), d_hg, I);
  nn::linear_backward<T>(nullptr, g.proj_down, nullptr, d_out, c.hg.data(), w.proj_down, N, I, D);
  T* d_hc = ws.raw(1, NI);  // the three are overwritten whole by gate_rows_bwd
  T* d_z = ws.raw(2, NI);
  T* d_xc = ws.raw(3, NI);
  nn::parallel_ranges(I, NI > (1u << 14) && I >= 64, [&](int i0, int i1) {  // threads split the columns
    if (g.skip)
      gate_cols_bwd<T, true>(d_z, d_hc, d_xc, g.skip, d_hg, c.z.data(), c.hs.data(), c.xc.data(), w.skip, N, I, i0, i1);
    else
      gate_cols_bwd<T, false>(d_z, d_hc, d_xc, nullptr, d_hg, c.z.data(), c.hs.data(), c.xc.data(), w.skip, N, I, i0,
                              i1);
  });
  T* d_q = ws.raw(4, NI);  // overwritten by the cell (each head zeroes its slice when it starts on it)
  T* d_k = ws.raw(5, NI);
  T* d_v = ws.raw(6, NI);
  nn::MlstmCellGrads<T> cg{g.igate_w, g.igate_b, g.fgate_w, g.fgate_b, g.outnorm_w};
  nn::mlstm_cell_backward(d_q, d_k, d_v, cg, d_hc, c.cell, c.q.data(), c.k.data(), c.v.data(), cell_weights(w),
                          false);
  nn::headwise_backward2(d_xc, g.q, g.k, d_q, d_k, c.xc.data(), w.q, w.k, N, NB, d.bs, d.bs);  // one pass for q, k
  T* d_xm = ws.raw(7, NI);  // written whole by the v projection (no zeroing pass), then the conv adds to it
  nn::headwise_backward(d_xm, g.v, d_v, c.xm.data(), w.v, N, NB, d.bs, d.bs, false);
  T* d_xconv = ws.raw(8, NI);  // written whole (no zeroing pass)
  nn::silu_backward(d_xconv, d_xc, c.xconv.data(), int64_t(NI), false);
  nn::causal_conv1d_backward(d_xm, g.conv_w, g.conv_b, d_xconv, c.xm.data(), w.conv_w, d.B, d.S, I, d.K);
  T* d_xn = ws.raw(9, size_t(N) * D);  // = d_xm W_up[:I] (overwritten), then += d_z W_up[I:]
  nn::gemm<T>(false, false, N, D, I, T(1), d_xm, I, w.proj_up, D, T(0), d_xn, D);
  nn::linear_backward<T>(nullptr, g.proj_up, nullptr, d_xm, c.xn.data(), w.proj_up, N, D, I);
  nn::linear_backward<T>(d_xn, g.proj_up ? g.proj_up + size_t(I) * D : nullptr, nullptr, d_z, c.xn.data(),
                         w.proj_up + size_t(I) * D, N, D, I);
  nn::layernorm_backward(d_x, g.norm_w, d_xn, x, c.ln_mean.data(), c.ln_rstd.data(), w.norm_w, N, D);
}

template <class T>
void mlstm_block_step(T* out, const T* x, const MlstmBlockView<T>& w, const MlstmBlockDims& d,
                      MlstmBlockState<T>& state, Workspace<T>& ws, const StepTeam& team) {
  const int B = d.B, D = d.D, I = d.I, NB = I / d.bs, NH = d.NH, DH = d.DH();
  const size_t BI = size_t(B) * I;
  // Whole-batch buffers; this thread works on rows [r0, r0 + n) of each (oD, oI: its first row's offset).
  T* xn = ws.raw(0, size_t(B) * D);
  T* stat = ws.raw(1, size_t(2) * B);
  T* xm = ws.raw(2, BI);
  T* z = ws.raw(3, BI);
  T* xc = ws.raw(4, BI);
  T* q = ws.raw(5, BI);
  T* k = ws.raw(6, BI);
  T* v = ws.raw(7, BI);
  T* h = ws.raw(8, BI);
  T* hs = ws.raw(9, BI);
  T* hg = xm;  // xm is dead after the v projection (each thread's own rows)
  const int r0 = team.r0, n = team.n;
  const size_t oD = size_t(r0) * D, oI = size_t(r0) * I, nI = size_t(n) * I;
  // No barrier first: the previous block ended with one after its last product (an sLSTM block without products
  // ends with one of its own), and its residual after it touches only this thread's rows of x and out.
  nn::layernorm_forward(xn + oD, stat + r0, stat + B + r0, x + oD, w.norm_w, n, D);
  team.sync();
  team.product(xm, xn, w.proj_up, B, D, I, z);  // both halves in one phase
  team.sync();
  nn::causal_conv1d_step(xc + oI, state.conv + size_t(r0) * d.K * I, xm + oI, w.conv_w, w.conv_b, n, I, d.K);
  nn::silu_forward(xc + oI, xc + oI, int64_t(nI));
  nn::headwise_forward2(q + oI, k + oI, xc + oI, w.q, w.k, n, NB, d.bs, d.bs);  // one pass over x_c, as the forward
  nn::headwise_forward(v + oI, xm + oI, w.v, n, NB, d.bs, d.bs);
  const nn::MlstmState<T> cell{state.cell.C, state.cell.n, state.cell.m};
  if (team.P == 1) {
    nn::mlstm_cell_step(h, cell, q, k, v, cell_weights(w), B, NH, DH);
    gate_rows_fwd(hs, hg, h, xc, z, w.skip, 0, B, 0, I, I);
  } else {
    // The cell step by (row, head): this thread's rows first, then any (row, head) of the others' still unclaimed
    // (queue q holds thread q's rows), once that thread has published its rows' q, k, v, x_c and z.
    team.publish();
    for (int j = 0; j < team.P; ++j) {
      const int qq = (team.p + j) % team.P, q0 = StepTeam::row0(B, qq, team.P);
      const int units = (StepTeam::row0(B, qq + 1, team.P) - q0) * NH;
      bool ready = qq == team.p;
      team.chunks(qq, units, 1, [&](int u0, int u1) {
        if (!ready) team.await(qq), ready = true;
        const int b0 = q0 + u0 / NH, b1 = q0 + (u1 - 1) / NH;  // rows b0..b1, pairs [u0, u1) of this queue
        nn::mlstm_cell_step_range(h, cell, q, k, v, cell_weights(w), B, NH, DH, q0 * NH + u0, q0 * NH + u1);
        for (int b = b0; b <= b1; ++b) {
          const int i0 = b == b0 ? (u0 % NH) * DH : 0, i1 = b == b1 ? ((u1 - 1) % NH + 1) * DH : I;
          gate_rows_fwd(hs, hg, h, xc, z, w.skip, b, b + 1, i0, i1, I);
        }
      });
    }
  }
  team.sync();
  team.product(out, hg, w.proj_down, B, I, D);
  team.sync();
  nn::residual_forward(out + oD, x + oD, out + oD, int64_t(n) * D);
}

#define XM_MLSTM_BLOCK_INSTANTIATE(T)                                                                            \
  template void mlstm_block_forward<T>(T*, MlstmBlockCache<T>&, const T*, const MlstmBlockView<T>&,             \
                                       const MlstmBlockDims&, const nn::MlstmOptions&, MlstmBlockState<T>*);   \
  template void mlstm_block_backward<T>(T*, const MlstmBlockView<T>&, const T*, MlstmBlockCache<T>&, const T*,  \
                                        const MlstmBlockView<T>&, const MlstmBlockDims&, Workspace<T>&);        \
  template void mlstm_block_step<T>(T*, const T*, const MlstmBlockView<T>&, const MlstmBlockDims&,              \
                                    MlstmBlockState<T>&, Workspace<T>&, const StepTeam&);
XM_MLSTM_BLOCK_INSTANTIATE(float)
XM_MLSTM_BLOCK_INSTANTIATE(double)

}  // namespace xm::model

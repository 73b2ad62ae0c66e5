// mlstm.cpp: the mLSTM kernels (parallel, chunkwise, recurrent step) and the mLSTM cell, forward and backward.
// The parallel form is the chunkwise kernel with one chunk and no state, so the two share one code path.
// Not the layer/block (model/) and not a GPU path.
//
// Per (batch, head), chunk [c0, c0 + len) entered with state (C, n, mk), G_j = sum_{r=c0..c0+j} log f_r:
//   m_j   = max(G_j + mk, max_{s<=j} G_j - G_s + i_s)         (argmax kept: the exact gradient through max)
//   D_js  = exp(G_j - G_s + i_s - m_j),  a_j = exp(G_j + mk - m_j),  S_js = (q_j . k_s / sqrt(DH)) D_js
//   num_j = a_j q_j^T C + sum_s S_js v_s,  b_j = a_j q_j . n + sum_s S_js
//   h_j   = num_j / (max(|b_j|, exp(-m_j)) + eps)
//   state: m' = m_{len-1}, C' = a_{len-1} C + sum_s D_{len-1,s} k^_s v_s^T, n' likewise.
// The backward holds every m fixed (the outputs are invariant to the state m's, and depend on each row m_t
// only through eps: dh_t/dm_t = -h_t eps / den_t), then adds that eps term along the argmax of m_t.
#include "nn/mlstm.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/error.h"
#include "nn/fastmath.h"
#include "nn/gemm.h"
#include "nn/ops.h"
#include "nn/simd.h"

namespace xm::nn {
namespace {

template <class T>
T log_sigmoid(T x) {
  return x >= T(0) ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x));
}
template <class T>
T sigmoid(T x) {
  return x >= T(0) ? T(1) / (T(1) + std::exp(-x)) : std::exp(x) / (T(1) + std::exp(x));
}
template <class T>
constexpr T neg_inf() {
  return -std::numeric_limits<T>::infinity();
}

// Per-thread work buffers, sized for one (batch, head) at a time.
template <class T>
struct Work {
  std::vector<T> logf, G, QK, D, Sm, X, Y, Cw, nw, g, di, dlogf, diff, dC, dn, mloc, bsum, arow;
  std::vector<int32_t> amloc;
  void ensure(int S, int L, int DH) {
    auto fit = [](std::vector<T>& v, size_t n) {
      if (v.size() < n) v.resize(n);
    };
    fit(logf, S), fit(g, S), fit(di, S), fit(dlogf, S), fit(diff, S + 1);
    fit(G, L), fit(mloc, L), fit(bsum, L), fit(arow, L);
    if (amloc.size() < size_t(L)) amloc.resize(L);
    fit(QK, size_t(L) * L), fit(D, size_t(L) * L), fit(Sm, size_t(L) * L);
    fit(X, size_t(L) * DH), fit(Y, size_t(L) * DH);
    fit(Cw, size_t(DH) * DH), fit(nw, DH), fit(dC, size_t(DH) * DH), fit(dn, DH);
  }
};

// The calling thread's work buffers, kept for the life of the thread (OpenMP workers persist): a fresh set per call
// (1.2 MB per thread at S = 256, DH = 128, zero-filled) cost page faults and page clearing on every training step.
template <class T>
Work<T>& thread_work(int S, int L, int DH) {
  thread_local Work<T> w;
  w.ensure(S, L, DH);
  return w;
}

template <class T>
T denominator(T b, T m, double eps) {
  return std::max(std::fabs(b), std::exp(-m)) + T(eps);
}

// Causal GEMMs on a chunk's (len x len) lower-triangular matrices, in row blocks of kTri so the blocks above
// the diagonal are skipped (about 47% fewer flops at len = 256). A, B, V, Out: (len, DH); P, C: (len, len).
// Blocks of 16 rows: the A B^T products (Q K^T, dnum V^T) then run in the few-rows kernel (gemm_small_nt, no
// packing) and the others in OpenBLAS's small-matrix kernels instead of packing both operands on every call; 16
// against 8, 32 and 64: docs/performance.md (about 5% off a training step against 64).
constexpr int kTri = 16;
// C[r0:r1, 0:r1] = alpha A[r0:r1] B[0:r1]^T   (entries right of a row block's end are left untouched)
template <class T>
void tri_abt(int len, int DH, T alpha, const T* A, int lda, const T* B, int ldb, T* C) {
  for (int r0 = 0; r0 < len; r0 += kTri) {
    const int r1 = std::min(len, r0 + kTri);
    gemm<T>(false, true, r1 - r0, r1, DH, alpha, A + size_t(r0) * lda, lda, B, ldb, T(0), C + size_t(r0) * len, len);
  }
}
// Out[r0:r1] = beta Out[r0:r1] + alpha P[r0:r1, 0:r1] V[0:r1]
template <class T>
void tri_pv(int len, int DH, T alpha, const T* P, const T* V, int ldv, T beta, T* Out, int ldo) {
  for (int r0 = 0; r0 < len; r0 += kTri) {
    const int r1 = std::min(len, r0 + kTri);
    gemm<T>(false, false, r1 - r0, DH, r1, alpha, P + size_t(r0) * len, len, V, ldv, beta, Out + size_t(r0) * ldo,
            ldo);
  }
}
// Out[0:len] += alpha P^T A
template <class T>
void tri_pta(int len, int DH, T alpha, const T* P, const T* A, int lda, T* Out, int ldo) {
  for (int r0 = 0; r0 < len; r0 += kTri) {
    const int r1 = std::min(len, r0 + kTri);
    gemm<T>(true, false, r1, DH, r1 - r0, alpha, P + size_t(r0) * len, len, A + size_t(r0) * lda, lda, T(1), Out,
            ldo);
  }
}

// Row j of a chunk's decay matrix D and of S = QK * D (zero right of the diagonal); returns sum_s S_js.
// D_js = exp(G_j - G_s + i_s - m_j) <= 1. Out of line and cloned, with the vectorisable exp (nn/fastmath.h); the
// float sum is a vector reduction, the double one stays in order.
template <class T>
[[gnu::noinline]] XM_CLONES T decay_row(T* __restrict Drow, T* __restrict Srow, const T* __restrict QKrow,
                                        const T* __restrict G, const T* __restrict igc, T Gj, T mj, int j, int len) {
  T bj = 0;
  if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : bj)
    for (int s = 0; s <= j; ++s) {
      const T d = exp_hot(Gj - G[s] + igc[s] - mj);
      Drow[s] = d;
      Srow[s] = QKrow[s] * d;
      bj += Srow[s];
    }
  } else {
    for (int s = 0; s <= j; ++s) {
      const T d = exp_hot(Gj - G[s] + igc[s] - mj);
      Drow[s] = d;
      Srow[s] = QKrow[s] * d;
      bj += Srow[s];
    }
  }
  for (int s = j + 1; s < len; ++s) Drow[s] = T(0), Srow[s] = T(0);
  return bj;
}

// Backward row helpers, out of line and cloned so their loops vectorise (float sums as vector reductions; double in
// order, as before).
// g = dh . h over one row, and dnum = dh * inv.
template <class T>
[[gnu::noinline]] XM_CLONES T dot_scale_row(T* __restrict dn, const T* __restrict dh, const T* __restrict h, T inv,
                                            int DH) {
  T g = 0;
  if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : g)
    for (int d = 0; d < DH; ++d) g += dh[d] * h[d];
  } else {
    for (int d = 0; d < DH; ++d) g += dh[d] * h[d];
  }
  for (int d = 0; d < DH; ++d) dn[d] = dh[d] * inv;
  return g;
}
// Row j of the triangle: dsv = dS + db_j; d log D_js = dsv S_js goes into di_s (+) and dG_s (-), and its row sum
// is returned (for dG_j); dS becomes dQK = dsv D (zero right of the diagonal).
template <class T>
[[gnu::noinline]] XM_CLONES T dlogd_row(T* __restrict dS, const T* __restrict Sm, const T* __restrict Dm,
                                        T* __restrict di, T* __restrict dG, T dbj, int j, int len) {
  auto entry = [&](int s) {  // d log D_js, after updating di_s, dG_s and dS_js
    const T dsv = dS[s] + dbj, dlogD = dsv * Sm[s];
    di[s] += dlogD;
    dG[s] -= dlogD;
    dS[s] = dsv * Dm[s];
    return dlogD;
  };
  T row = 0;
  if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : row)
    for (int s = 0; s <= j; ++s) row += entry(s);
  } else {
    for (int s = 0; s <= j; ++s) row += entry(s);
  }
  for (int s = j + 1; s < len; ++s) dS[s] = T(0);
  return row;
}

// Forward for one (batch, head). Pointers are that head's slices: q, k, v, h (S, DH); ig, fg, m_row, b_row,
// am_row (S); cC (NC, DH, DH), cn (NC, DH), cm (NC). Null cache pointers: not saved. C0/n0/m0 null: no state.
template <class T>
void forward_head(T* h, T* m_row, T* b_row, int32_t* am_row, T* cC, T* cn, T* cm, const T* q, const T* k,
                  const T* v, const T* ig, const T* fg, const T* C0, const T* n0, const T* m0, T* C1, T* n1, T* m1,
                  int S, int DH, int ld, int L, double eps, Work<T>& w) {
  const T scale = T(1) / std::sqrt(T(DH));
  const size_t DD = size_t(DH) * DH;
  T* Cw = w.Cw.data();
  T* nw = w.nw.data();
  T mw = neg_inf<T>();
  int32_t amw = -1;
  if (m0) {
    std::copy(C0, C0 + DD, Cw), std::copy(n0, n0 + DH, nw), mw = *m0;
  } else {
    std::fill(Cw, Cw + DD, T(0)), std::fill(nw, nw + DH, T(0));
  }
  for (int t = 0; t < S; ++t) w.logf[t] = log_sigmoid(fg[t]);
  const int NC = mlstm_num_chunks(S, L);
  for (int kc = 0; kc < NC; ++kc) {
    const int c0 = kc * L, len = std::min(L, S - c0);
    if (cC) std::copy(Cw, Cw + DD, cC + kc * DD), std::copy(nw, nw + DH, cn + size_t(kc) * DH), cm[kc] = mw;
    const bool has_state = mw > neg_inf<T>();
    const T *Q = q + size_t(c0) * ld, *K = k + size_t(c0) * ld, *V = v + size_t(c0) * ld;
    T* Hc = h + size_t(c0) * ld;
    T* G = w.G.data();
    T acc = 0;
    for (int j = 0; j < len; ++j) G[j] = acc += w.logf[c0 + j];
    // Row stabilisers: prefix max of i_s - G_s, against the state's G_j + mk.
    T* mloc = w.mloc.data();
    int32_t* amloc = w.amloc.data();
    T pm = neg_inf<T>();
    int32_t pam = -1;
    for (int j = 0; j < len; ++j) {
      T cand = ig[c0 + j] - G[j];
      if (cand > pm || pam < 0) pm = cand, pam = c0 + j;
      T intra = G[j] + pm;
      T inter = has_state ? G[j] + mw : neg_inf<T>();
      if (inter > intra) {
        mloc[j] = inter, amloc[j] = amw;
      } else {
        mloc[j] = intra, amloc[j] = pam;
      }
    }
    // S = (Q K^T / sqrt(DH)) * D, lower triangle.
    T* QK = w.QK.data();
    T* Dm = w.D.data();
    T* Sm = w.Sm.data();
    tri_abt(len, DH, scale, Q, ld, K, ld, QK);
    T* bsum = w.bsum.data();
    T* arow = w.arow.data();
    std::fill(arow, arow + len, T(0));
    for (int j = 0; j < len; ++j)
      bsum[j] = decay_row(Dm + size_t(j) * len, Sm + size_t(j) * len, QK + size_t(j) * len, G, ig + c0, G[j],
                          mloc[j], j, len);
    // Numerator: a_j q_j^T C (inter) + S V (intra).
    T beta = T(0);
    if (has_state) {
      gemm<T>(false, false, len, DH, DH, T(1), Q, ld, Cw, DH, T(0), Hc, ld);
      for (int j = 0; j < len; ++j) {
        T a = std::exp(G[j] + mw - mloc[j]);
        arow[j] = a;
        T qn = 0;
        for (int d = 0; d < DH; ++d) qn += Q[size_t(j) * ld + d] * nw[d];
        bsum[j] += a * qn;
        for (int d = 0; d < DH; ++d) Hc[size_t(j) * ld + d] *= a;
      }
      beta = T(1);
    }
    tri_pv(len, DH, T(1), Sm, V, ld, beta, Hc, ld);
    for (int j = 0; j < len; ++j) {
      T inv = T(1) / denominator(bsum[j], mloc[j], eps);
      for (int d = 0; d < DH; ++d) Hc[size_t(j) * ld + d] *= inv;
      if (m_row) m_row[c0 + j] = mloc[j], b_row[c0 + j] = bsum[j], am_row[c0 + j] = amloc[j];
    }
    // Carry the state to the next chunk (or out).
    if (kc + 1 < NC || m1) {
      const int last = len - 1;
      const T alpha = arow[last];  // 0 without a state
      const T* beta_s = Dm + size_t(last) * len;
      T* X = w.X.data();
      for (int s = 0; s < len; ++s)
        for (int d = 0; d < DH; ++d) X[size_t(s) * DH + d] = beta_s[s] * V[size_t(s) * ld + d];
      gemm<T>(true, false, DH, DH, len, scale, K, ld, X, DH, has_state ? alpha : T(0), Cw, DH);
      for (int d = 0; d < DH; ++d) {
        T acc_n = 0;
        for (int s = 0; s < len; ++s) acc_n += beta_s[s] * K[size_t(s) * ld + d];
        nw[d] = (has_state ? alpha * nw[d] : T(0)) + scale * acc_n;
      }
      mw = mloc[last];
      amw = amloc[last];
    }
  }
  if (m1) std::copy(Cw, Cw + DD, C1), std::copy(nw, nw + DH, n1), *m1 = mw;
}

// Backward for one (batch, head); slices as in forward_head, gradients accumulated (null = not needed).
template <class T>
void backward_head(T* dq, T* dk, T* dv, T* dig, T* dfg, const T* dh, const T* h, const T* m_row, const T* b_row,
                   const int32_t* am_row, const T* cC, const T* cn, const T* cm, const T* q, const T* k, const T* v,
                   const T* ig, const T* fg, int S, int DH, int ld, int L, double eps, Work<T>& w,
                   bool zero_first) {
  const T scale = T(1) / std::sqrt(T(DH));
  const size_t DD = size_t(DH) * DH;
  const int NC = mlstm_num_chunks(S, L);
  if (zero_first)  // this head's rows of the gradients start at 0 here, while they are about to be used (cache-hot)
    for (T* g : {dq, dk, dv})
      if (g)
        for (int t = 0; t < S; ++t) std::fill(g + size_t(t) * ld, g + size_t(t) * ld + DH, T(0));
  for (int t = 0; t < S; ++t) w.logf[t] = log_sigmoid(fg[t]);
  T* di = w.di.data();
  T* dlogf = w.dlogf.data();
  T* gdot = w.g.data();
  std::fill(di, di + S, T(0)), std::fill(dlogf, dlogf + S, T(0));
  T* dC = w.dC.data();  // gradient w.r.t. the state entering the chunk after this one
  T* dn = w.dn.data();
  std::fill(dC, dC + DD, T(0)), std::fill(dn, dn + DH, T(0));
  bool has_dstate = false;
  std::vector<T> den, arow, dbv, dG;
  for (int kc = NC - 1; kc >= 0; --kc) {
    const int c0 = kc * L, len = std::min(L, S - c0);
    const T mk = cm ? cm[kc] : neg_inf<T>();
    const bool has_state = mk > neg_inf<T>();
    const T* Ck = cC ? cC + kc * DD : nullptr;
    const T* nk = cn ? cn + size_t(kc) * DH : nullptr;
    const T *Q = q + size_t(c0) * ld, *K = k + size_t(c0) * ld, *V = v + size_t(c0) * ld;
    const T *dH = dh + size_t(c0) * ld, *Hc = h + size_t(c0) * ld;
    T* G = w.G.data();
    T acc = 0;
    for (int j = 0; j < len; ++j) G[j] = acc += w.logf[c0 + j];
    den.assign(len, T(0)), arow.assign(len, T(0)), dbv.assign(len, T(0)), dG.assign(len, T(0));
    // Per row: denominator, d/d den, d/d b, dnum = dh / den (into X).
    T* DN = w.X.data();
    for (int j = 0; j < len; ++j) {
      const T mj = m_row[c0 + j], bj = b_row[c0 + j];
      den[j] = denominator(bj, mj, eps);
      const T g = dot_scale_row(DN + size_t(j) * DH, dH + size_t(j) * ld, Hc + size_t(j) * ld, T(1) / den[j], DH);
      gdot[c0 + j] = g;
      const T dden = -g / den[j];
      dbv[j] = std::fabs(bj) > std::exp(-mj) ? (bj >= T(0) ? dden : -dden) : T(0);
      if (has_state) arow[j] = std::exp(G[j] + mk - mj);
    }
    // Recompute D and S; dS = dnum V^T + db (lower triangle).
    T* QK = w.QK.data();
    T* Dm = w.D.data();
    T* Sm = w.Sm.data();
    tri_abt(len, DH, scale, Q, ld, K, ld, QK);
    for (int j = 0; j < len; ++j)
      decay_row(Dm + size_t(j) * len, Sm + size_t(j) * len, QK + size_t(j) * len, G, ig + c0, G[j], m_row[c0 + j],
                j, len);
    if (dv) tri_pta(len, DH, T(1), Sm, DN, DH, dv + size_t(c0) * ld, ld);
    T* dS = QK;  // QK is no longer needed: reuse it for dS, then dQK
    tri_abt(len, DH, T(1), DN, DH, V, ld, dS);
    for (int j = 0; j < len; ++j) {
      const size_t o = size_t(j) * len;
      const T row = dlogd_row(dS + o, Sm + o, Dm + o, di + c0, dG.data(), dbv[j], j, len);  // dS becomes dQK
      dG[j] += row;  // after the row's own d log D_jj was taken from it, as before
    }
    if (dq) tri_pv(len, DH, scale, dS, K, ld, T(1), dq + size_t(c0) * ld, ld);
    if (dk) tri_pta(len, DH, scale, dS, Q, ld, dk + size_t(c0) * ld, ld);
    // Inter-chunk read-out a_j q_j^T C_k: u_j = C_k dnum_j + db_j n_k.
    T* U = w.Y.data();
    if (has_state) {
      gemm<T>(false, true, len, DH, DH, T(1), DN, DH, Ck, DH, T(0), U, DH);
      for (int j = 0; j < len; ++j) {
        T qu = 0;
        for (int d = 0; d < DH; ++d) {
          T u = U[size_t(j) * DH + d] += dbv[j] * nk[d];
          qu += Q[size_t(j) * ld + d] * u;
          if (dq) dq[size_t(c0 + j) * ld + d] += arow[j] * u;
        }
        dG[j] += arow[j] * qu;  // d log a_j
      }
    }
    // State carried out of this chunk: C' = alpha C_k + sum_s beta_s k^_s v_s^T, n' = alpha n_k + sum beta_s k^_s.
    if (has_dstate) {
      const int last = len - 1;
      const T alpha = arow[last];
      const T* beta_s = Dm + size_t(last) * len;
      T* W = U;  // W_s = dC' v_s + dn'
      gemm<T>(false, true, len, DH, DH, T(1), V, ld, dC, DH, T(0), W, DH);
      T dlb_sum = 0;
      for (int s = 0; s < len; ++s) {
        T kw = 0;
        for (int d = 0; d < DH; ++d) {
          T wv = W[size_t(s) * DH + d] += dn[d];
          kw += K[size_t(s) * ld + d] * wv;
          if (dk) dk[size_t(c0 + s) * ld + d] += beta_s[s] * scale * wv;
        }
        const T dlb = beta_s[s] * scale * kw;  // d log beta_s
        dlb_sum += dlb;
        dG[s] -= dlb;
        di[c0 + s] += dlb;
      }
      if (dv) {
        T* Z = W;  // Z_s = k^_s^T dC'
        gemm<T>(false, false, len, DH, DH, scale, K, ld, dC, DH, T(0), Z, DH);
        for (int s = 0; s < len; ++s)
          for (int d = 0; d < DH; ++d) dv[size_t(c0 + s) * ld + d] += beta_s[s] * Z[size_t(s) * DH + d];
      }
      T dalpha = 0;
      if (has_state) {
        for (size_t i = 0; i < DD; ++i) dalpha += dC[i] * Ck[i];
        for (int d = 0; d < DH; ++d) dalpha += dn[d] * nk[d];
      }
      dG[last] += alpha * dalpha + dlb_sum;
      // dC_k = alpha dC' + sum_j a_j q_j dnum_j^T ; dn_k = alpha dn' + sum_j a_j db_j q_j.
      if (!has_state) std::fill(dC, dC + DD, T(0)), std::fill(dn, dn + DH, T(0));
    }
    if (has_state) {
      const T alpha = has_dstate ? arow[len - 1] : T(0);
      for (int j = 0; j < len; ++j)
        for (int d = 0; d < DH; ++d) DN[size_t(j) * DH + d] *= arow[j];
      gemm<T>(true, false, DH, DH, len, T(1), Q, ld, DN, DH, alpha, dC, DH);
      for (int d = 0; d < DH; ++d) {
        T s = 0;
        for (int j = 0; j < len; ++j) s += arow[j] * dbv[j] * Q[size_t(j) * ld + d];
        dn[d] = alpha * dn[d] + s;
      }
      has_dstate = true;
    }
    T rc = 0;
    for (int j = len - 1; j >= 0; --j) dlogf[c0 + j] += rc += dG[j];
  }
  // The eps term through each row's stabiliser m_t = logD_{t, s*}: d i_{s*} and d log f over (s*, t].
  if (eps != 0) {
    T* diff = w.diff.data();
    std::fill(diff, diff + S, T(0));
    for (int t = 0; t < S; ++t) {
      const T gm = -T(eps) / denominator(b_row[t], m_row[t], eps) * gdot[t];
      const int32_t s = am_row[t];
      diff[t] += gm;
      if (s >= 0) diff[s] -= gm, di[s] += gm;
    }
    T rc = 0;
    for (int t = S - 1; t >= 0; --t) dlogf[t] += rc += diff[t];
  }
  if (dig)
    for (int t = 0; t < S; ++t) dig[t] += di[t];
  if (dfg)
    for (int t = 0; t < S; ++t) dfg[t] += dlogf[t] * sigmoid(-fg[t]);
}

void check_dims(const char* fn, int B, int NH, int S, int DH, int L) {
  if (B < 0 || NH <= 0 || S < 0 || DH <= 0 || L <= 0)
    throw Error(std::string(fn) + ": bad dimensions B=" + std::to_string(B) + " NH=" + std::to_string(NH) +
                " S=" + std::to_string(S) + " DH=" + std::to_string(DH) + " L=" + std::to_string(L) +
                " (hint: all must be positive, B and S may be 0)");
}

// Where head (b, hh) of a (B, NH, S, DH) tensor, or of a (B, S, NH, DH) one (seq_major: the cell's (B, S, H)),
// starts, and the stride between its time steps.
struct HeadLayout {
  int S, NH, DH;
  bool seq_major;
  size_t offset(int bh) const {
    const int b = bh / NH, hh = bh % NH;
    return seq_major ? (size_t(b) * S * NH + hh) * DH : size_t(bh) * S * DH;
  }
  int ld() const { return seq_major ? NH * DH : DH; }
};

template <class T>
void run_forward(const char* fn, T* h, const MlstmCache<T>& cache, const T* q, const T* k, const T* v,
                 const T* igate, const T* fgate, const MlstmState<T>* init, const MlstmState<T>* fin, int B,
                 int NH, int S, int DH, int L, bool chunk_cache, bool seq_major, double eps) {
  check_dims(fn, B, NH, S, DH, L);
  if (S == 0) {
    if (fin && init && fin->C != init->C) {  // nothing happens: the state passes through
      const size_t n = size_t(B) * NH;
      std::copy(init->C, init->C + n * DH * DH, fin->C), std::copy(init->n, init->n + n * DH, fin->n);
      std::copy(init->m, init->m + n, fin->m);
    } else if (fin && !init) {
      throw Error(std::string(fn) + ": a final state of an empty sequence without an initial state is undefined");
    }
    return;
  }
  const bool rows = cache.m && cache.b && cache.argmax;
  const bool chunks = chunk_cache && cache.chunk_C && cache.chunk_n && cache.chunk_m;
  const int NC = mlstm_num_chunks(S, L);
  const size_t DD = size_t(DH) * DH;
  const HeadLayout lay{S, NH, DH, seq_major};
#pragma omp parallel
  {
    Work<T>& w = thread_work<T>(S, std::min(L, S), DH);
#pragma omp for schedule(dynamic)
    for (int bh = 0; bh < B * NH; ++bh) {
      const size_t r = size_t(bh) * S, o = lay.offset(bh);
      forward_head(h + o, rows ? cache.m + r : nullptr, rows ? cache.b + r : nullptr,
                   rows ? cache.argmax + r : nullptr, chunks ? cache.chunk_C + size_t(bh) * NC * DD : nullptr,
                   chunks ? cache.chunk_n + size_t(bh) * NC * DH : nullptr,
                   chunks ? cache.chunk_m + size_t(bh) * NC : nullptr, q + o, k + o, v + o, igate + r, fgate + r,
                   init ? init->C + bh * DD : nullptr, init ? init->n + size_t(bh) * DH : nullptr,
                   init ? init->m + bh : nullptr, fin ? fin->C + bh * DD : nullptr,
                   fin ? fin->n + size_t(bh) * DH : nullptr, fin ? fin->m + bh : nullptr, S, DH, lay.ld(), L, eps, w);
    }
  }
}

template <class T>
void run_backward(const char* fn, T* dq, T* dk, T* dv, T* digate, T* dfgate, const T* dh, const T* h,
                  const MlstmCache<T>& cache, const T* q, const T* k, const T* v, const T* igate, const T* fgate,
                  int B, int NH, int S, int DH, int L, bool chunk_cache, bool seq_major, double eps,
                  bool zero_first = false) {
  check_dims(fn, B, NH, S, DH, L);
  if (S == 0) return;
  if (!cache.m || !cache.b || !cache.argmax)
    throw Error(std::string(fn) + ": the cache has no row buffers (m, b, argmax); hint: pass a cache to the forward");
  const int NC = mlstm_num_chunks(S, L);
  const bool chunks = chunk_cache && cache.chunk_C && cache.chunk_n && cache.chunk_m;
  if (chunk_cache && !chunks)
    throw Error(std::string(fn) + ": the cache has no chunk states (chunk_C, chunk_n, chunk_m); hint: size it with "
                "MlstmCacheBuffer::resize(..., chunk) and pass it to mlstm_chunkwise_forward with the same L");
  const size_t DD = size_t(DH) * DH;
  const HeadLayout lay{S, NH, DH, seq_major};
#pragma omp parallel
  {
    Work<T>& w = thread_work<T>(S, std::min(L, S), DH);
#pragma omp for schedule(dynamic)
    for (int bh = 0; bh < B * NH; ++bh) {
      const size_t r = size_t(bh) * S, o = lay.offset(bh);
      backward_head(dq ? dq + o : nullptr, dk ? dk + o : nullptr, dv ? dv + o : nullptr, digate ? digate + r : nullptr,
                    dfgate ? dfgate + r : nullptr, dh + o, h + o, cache.m + r, cache.b + r, cache.argmax + r,
                    chunks ? cache.chunk_C + size_t(bh) * NC * DD : nullptr,
                    chunks ? cache.chunk_n + size_t(bh) * NC * DH : nullptr,
                    chunks ? cache.chunk_m + size_t(bh) * NC : nullptr, q + o, k + o, v + o, igate + r, fgate + r, S,
                    DH, lay.ld(), L, eps, w, zero_first);
    }
  }
}

}  // namespace

template <class T>
void mlstm_parallel_forward(T* h, const MlstmCache<T>& cache, const T* q, const T* k, const T* v, const T* igate,
                            const T* fgate, int B, int NH, int S, int DH, double eps) {
  run_forward<T>("mlstm_parallel_forward", h, cache, q, k, v, igate, fgate, nullptr, nullptr, B, NH, S, DH,
                 std::max(S, 1), false, false, eps);
}

template <class T>
void mlstm_parallel_backward(T* dq, T* dk, T* dv, T* digate, T* dfgate, const T* dh, const T* h,
                             const MlstmCache<T>& cache, const T* q, const T* k, const T* v, const T* igate,
                             const T* fgate, int B, int NH, int S, int DH, double eps) {
  run_backward<T>("mlstm_parallel_backward", dq, dk, dv, digate, dfgate, dh, h, cache, q, k, v, igate, fgate, B,
                  NH, S, DH, std::max(S, 1), false, false, eps);
}

template <class T>
void mlstm_chunkwise_forward(T* h, const MlstmCache<T>& cache, const T* q, const T* k, const T* v, const T* igate,
                             const T* fgate, MlstmStatePtr<T> init, MlstmStatePtr<T> final_state, int B,
                             int NH, int S, int DH, int L, double eps) {
  run_forward<T>("mlstm_chunkwise_forward", h, cache, q, k, v, igate, fgate, init, final_state, B, NH, S, DH, L,
                 true, false, eps);
}

template <class T>
void mlstm_chunkwise_backward(T* dq, T* dk, T* dv, T* digate, T* dfgate, const T* dh, const T* h,
                              const MlstmCache<T>& cache, const T* q, const T* k, const T* v, const T* igate,
                              const T* fgate, int B, int NH, int S, int DH, int L, double eps) {
  run_backward<T>("mlstm_chunkwise_backward", dq, dk, dv, digate, dfgate, dh, h, cache, q, k, v, igate, fgate, B,
                  NH, S, DH, L, true, false, eps);
}

namespace {
// One head of the recurrent step in one pass over C: C = fa C + ka k v^T, n = fa n + ka k, hv = q^T C; returns
// q . n. Out of line and cloned for wide vectors (nn/simd.h): the state C is the step's largest memory stream.
template <class T>
[[gnu::noinline]] XM_CLONES T step_head(T* __restrict C, T* __restrict n, T* __restrict hv, const T* __restrict qv,
                                        const T* __restrict kv, const T* __restrict vv, T fa, T ia_scale, int DH) {
  for (int d = 0; d < DH; ++d) hv[d] = T(0);
  T qn = 0;
  for (int a = 0; a < DH; ++a) {
    const T ka = ia_scale * kv[a], qa = qv[a];
    T* __restrict Crow = C + size_t(a) * DH;
    for (int b = 0; b < DH; ++b) {
      const T c = fa * Crow[b] + ka * vv[b];
      Crow[b] = c;
      hv[b] += qa * c;
    }
    n[a] = fa * n[a] + ka;
    qn += qa * n[a];
  }
  return qn;
}
}  // namespace

template <class T>
void mlstm_step(T* h, const MlstmState<T>& state, const T* q, const T* k, const T* v, const T* igate,
                const T* fgate, int B, int NH, int DH, double eps) {
  const T scale = T(1) / std::sqrt(T(DH));
  const size_t DD = size_t(DH) * DH;
#pragma omp parallel for if (int64_t(B) * NH * DH * DH >= (1 << 15))
  for (int bh = 0; bh < B * NH; ++bh) {
    T* C = state.C + bh * DD;
    T* n = state.n + size_t(bh) * DH;
    const T *qv = q + size_t(bh) * DH, *kv = k + size_t(bh) * DH, *vv = v + size_t(bh) * DH;
    T* hv = h + size_t(bh) * DH;
    const T m_prev = state.m[bh];
    const T lf = log_sigmoid(fgate[bh]);
    const T m_new = std::max(lf + m_prev, igate[bh]);
    const T fa = std::exp(lf + m_prev - m_new), ia = std::exp(igate[bh] - m_new);
    const T qn = step_head(C, n, hv, qv, kv, vv, fa, ia * scale, DH);
    const T inv = T(1) / denominator(qn, m_new, eps);
    for (int d = 0; d < DH; ++d) hv[d] *= inv;
    state.m[bh] = m_new;
  }
}

// ---- the cell ----------------------------------------------------------------------------------------------
// The kernels read q, k, v and write h~ in the cell's own (B, S, NH, DH) layout (no transposes); both gates are
// computed together from the stacked weights [W_i; W_f] (2NH, 3H), so each of q, k, v is read once.

namespace {

// g (N, 2NH) <-> ig, fg (B, NH, S).
template <class T>
void split_gates(T* ig, T* fg, const T* g, int B, int S, int NH) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < S; ++t)
      for (int hh = 0; hh < NH; ++hh) {
        const T* row = g + (size_t(b) * S + t) * 2 * NH;
        const size_t o = (size_t(b) * NH + hh) * S + t;
        ig[o] = row[hh], fg[o] = row[NH + hh];
      }
}
template <class T>
void join_gates(T* g, const T* ig, const T* fg, int B, int S, int NH) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < S; ++t)
      for (int hh = 0; hh < NH; ++hh) {
        T* row = g + (size_t(b) * S + t) * 2 * NH;
        const size_t o = (size_t(b) * NH + hh) * S + t;
        row[hh] = ig[o], row[NH + hh] = fg[o];
      }
}

// W_cat (2NH, 3H) = [W_i; W_f], b_cat (2NH) = [b_i; b_f].
template <class T>
void stack_gate_weights(std::vector<T>& Wc, std::vector<T>& bc, const MlstmCellWeights<T>& w, int NH, int H) {
  const size_t n = size_t(NH) * 3 * H;
  Wc.resize(2 * n), bc.resize(2 * NH);
  std::copy(w.igate_w, w.igate_w + n, Wc.begin()), std::copy(w.fgate_w, w.fgate_w + n, Wc.begin() + n);
  std::copy(w.igate_b, w.igate_b + NH, bc.begin()), std::copy(w.fgate_b, w.fgate_b + NH, bc.begin() + NH);
}

// Gate pre-activations for N rows: g (N, G) = q W[:, :H]^T + k W[:, H:2H]^T + v W[:, 2H:]^T + bias, W (G, 3H).
template <class T>
void gate_preact(T* g, const T* q, const T* k, const T* v, const T* W, const T* bias, int N, int G, int H) {
  gemm<T>(false, true, N, G, H, T(1), q, H, W, 3 * H, T(0), g, G);
  gemm<T>(false, true, N, G, H, T(1), k, H, W + H, 3 * H, T(1), g, G);
  gemm<T>(false, true, N, G, H, T(1), v, H, W + 2 * H, 3 * H, T(1), g, G);
  for (int i = 0; i < N; ++i)
    for (int j = 0; j < G; ++j) g[size_t(i) * G + j] += bias[j];
}

// Backward of gate_preact: dg (N, G); accumulates into dq/dk/dv (N, H) and dW (G, 3H), db (G) (null = skip).
template <class T>
void gate_preact_backward(T* dq, T* dk, T* dv, T* dW, T* db, const T* dg, const T* q, const T* k, const T* v,
                          const T* W, int N, int G, int H) {
  const T* in[3] = {q, k, v};
  T* din[3] = {dq, dk, dv};
  for (int p = 0; p < 3; ++p) {
    if (dW) gemm<T>(true, false, G, H, N, T(1), dg, G, in[p], H, T(1), dW + p * H, 3 * H);
    if (din[p]) gemm<T>(false, false, N, H, G, T(1), dg, G, W + p * H, 3 * H, T(1), din[p], H);
  }
  if (db)
    for (int i = 0; i < N; ++i)
      for (int j = 0; j < G; ++j) db[j] += dg[size_t(i) * G + j];
}

}  // namespace

template <class T>
void mlstm_cell_forward(T* h, MlstmCellCache<T>& c, const T* q, const T* k, const T* v, const MlstmCellWeights<T>& w,
                        int B, int S, int NH, int DH, const MlstmOptions& opt, MlstmStatePtr<T> init,
                        MlstmStatePtr<T> final_state) {
  check_dims("mlstm_cell_forward", B, NH, S, DH, std::max(opt.chunk, 1));
  const bool chunkwise = opt.form == MlstmForm::chunkwise;
  if (chunkwise && opt.chunk <= 0)
    throw Error("mlstm_cell_forward: chunk length " + std::to_string(opt.chunk) + " (hint: use a positive chunk)");
  if (!chunkwise && (init || final_state))
    throw Error("mlstm_cell_forward: the parallel form takes no initial or final state (hint: use "
                "MlstmForm::chunkwise for prefill)");
  const int H = NH * DH, N = B * S;
  const size_t nx = size_t(N) * H, nr = size_t(B) * NH * S;
  c.B = B, c.S = S, c.NH = NH, c.DH = DH, c.opt = opt;
  c.ht.resize(nx), c.ig.resize(nr), c.fg.resize(nr);
  c.ln_mean.resize(size_t(N) * NH), c.ln_rstd.resize(size_t(N) * NH);
  c.backend.resize(B, NH, S, DH, chunkwise ? opt.chunk : 0);
  stack_gate_weights(c.w_cat, c.b_cat, w, NH, H);
  c.g_cat.resize(size_t(N) * 2 * NH);
  gate_preact(c.g_cat.data(), q, k, v, c.w_cat.data(), c.b_cat.data(), N, 2 * NH, H);
  split_gates(c.ig.data(), c.fg.data(), c.g_cat.data(), B, S, NH);
  run_forward<T>("mlstm_cell_forward", c.ht.data(), c.backend.view(), q, k, v, c.ig.data(), c.fg.data(), init,
                 final_state, B, NH, S, DH, chunkwise ? opt.chunk : std::max(S, 1), chunkwise, true, opt.eps);
  multihead_layernorm_forward(h, c.ln_mean.data(), c.ln_rstd.data(), c.ht.data(), w.outnorm_w, N, NH, DH);
}

template <class T>
void mlstm_cell_backward(T* dq, T* dk, T* dv, const MlstmCellGrads<T>& g, const T* dh, const MlstmCellCache<T>& c,
                         const T* q, const T* k, const T* v, const MlstmCellWeights<T>& w, bool accumulate) {
  const int B = c.B, S = c.S, NH = c.NH, DH = c.DH, H = NH * DH, N = B * S;
  const size_t nx = size_t(N) * H, nr = size_t(B) * NH * S;
  if (c.ht.size() != nx)
    throw Error("mlstm_cell_backward: the cache does not hold a forward (hint: call mlstm_cell_forward with this "
                "cache first)");
  const bool chunkwise = c.opt.form == MlstmForm::chunkwise;
  c.d_ht.resize(nx), c.d_ig.assign(nr, T(0)), c.d_fg.assign(nr, T(0));
  multihead_layernorm_backward(c.d_ht.data(), g.outnorm_w, dh, c.ht.data(), c.ln_mean.data(), c.ln_rstd.data(),
                               w.outnorm_w, N, NH, DH, false);  // d_ht written whole: no zeroing pass
  run_backward<T>("mlstm_cell_backward", dq, dk, dv, c.d_ig.data(), c.d_fg.data(), c.d_ht.data(), c.ht.data(),
                  c.backend.view(), q, k, v, c.ig.data(), c.fg.data(), B, NH, S, DH,
                  chunkwise ? c.opt.chunk : std::max(S, 1), chunkwise, true, c.opt.eps, !accumulate);
  c.d_gcat.resize(size_t(N) * 2 * NH);
  join_gates(c.d_gcat.data(), c.d_ig.data(), c.d_fg.data(), B, S, NH);
  const bool dW = g.igate_w || g.fgate_w, db = g.igate_b || g.fgate_b;
  c.d_wcat.assign(dW ? c.w_cat.size() : 0, T(0)), c.d_bcat.assign(db ? 2 * NH : 0, T(0));
  gate_preact_backward(dq, dk, dv, dW ? c.d_wcat.data() : nullptr, db ? c.d_bcat.data() : nullptr,
                       c.d_gcat.data(), q, k, v, c.w_cat.data(), N, 2 * NH, H);
  const size_t nw = size_t(NH) * 3 * H;
  if (g.igate_w)
    for (size_t i = 0; i < nw; ++i) g.igate_w[i] += c.d_wcat[i];
  if (g.fgate_w)
    for (size_t i = 0; i < nw; ++i) g.fgate_w[i] += c.d_wcat[nw + i];
  if (g.igate_b)
    for (int i = 0; i < NH; ++i) g.igate_b[i] += c.d_bcat[i];
  if (g.fgate_b)
    for (int i = 0; i < NH; ++i) g.fgate_b[i] += c.d_bcat[NH + i];
}

namespace {
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
#define XM_LD16(p) (*reinterpret_cast<const v16f*>(p))
#define XM_ST16(p, x) (*reinterpret_cast<v16f*>(p) = (x))
// The float state pass of one head for DH % 64 == 0: C = fa C + ka_scale k v^T, hv = q^T C, in column blocks of 64
// whose read-out sums and v stay in registers (4 vectors each; AVX2: 8), so each element of C costs one load and one
// store. The state is the step's largest memory stream (256 KB per row and block in the music config).
[[gnu::noinline]] XM_CLONES void state_pass64(float* __restrict C, float* __restrict hv, const float* __restrict qv,
                                              const float* __restrict kv, const float* __restrict vv, float fa,
                                              float ka_scale, int DH) {
  for (int cb = 0; cb < DH; cb += 64) {
    const v16f v0 = XM_LD16(vv + cb), v1 = XM_LD16(vv + cb + 16), v2 = XM_LD16(vv + cb + 32),
               v3 = XM_LD16(vv + cb + 48);
    v16f h0 = {}, h1 = {}, h2 = {}, h3 = {};
    for (int a = 0; a < DH; ++a) {
      const float ka = ka_scale * kv[a], qa = qv[a];
      float* Crow = C + size_t(a) * DH + cb;
      const v16f c0 = fa * XM_LD16(Crow) + ka * v0, c1 = fa * XM_LD16(Crow + 16) + ka * v1,
                 c2 = fa * XM_LD16(Crow + 32) + ka * v2, c3 = fa * XM_LD16(Crow + 48) + ka * v3;
      XM_ST16(Crow, c0), XM_ST16(Crow + 16, c1), XM_ST16(Crow + 32, c2), XM_ST16(Crow + 48, c3);
      h0 += qa * c0, h1 += qa * c1, h2 += qa * c2, h3 += qa * c3;
    }
    XM_ST16(hv + cb, h0), XM_ST16(hv + cb + 16, h1), XM_ST16(hv + cb + 32, h2), XM_ST16(hv + cb + 48, h3);
  }
}
// The same pass for DH a multiple of 128: whole 128-column rows (8 vectors each of v, C and h: AVX-512 keeps them all
// in registers), so C is read front to back in one pass instead of two half-row passes. The pass is bound by how
// fast C arrives: 1.29x faster on one thread, 1.09x on two (music shape, 16 rows x 4 heads x 3 blocks); a software
// prefetch 4-32 rows ahead was tried and gained nothing.
[[gnu::noinline]] XM_CLONES void state_pass128(float* __restrict C, float* __restrict hv, const float* __restrict qv,
                                               const float* __restrict kv, const float* __restrict vv, float fa,
                                               float ka_scale, int DH) {
  for (int cb = 0; cb < DH; cb += 128) {
    v16f v[8], h[8];
    for (int j = 0; j < 8; ++j) v[j] = XM_LD16(vv + cb + 16 * j), h[j] = v16f{};
    for (int a = 0; a < DH; ++a) {
      const float ka = ka_scale * kv[a], qa = qv[a];
      float* Crow = C + size_t(a) * DH + cb;
      for (int j = 0; j < 8; ++j) {
        const v16f c = fa * XM_LD16(Crow + 16 * j) + ka * v[j];
        XM_ST16(Crow + 16 * j, c);
        h[j] += qa * c;
      }
    }
    for (int j = 0; j < 8; ++j) XM_ST16(hv + cb + 16 * j, h[j]);
  }
}

#undef XM_LD16
#undef XM_ST16

// One (row, head) of the cell's generation step, fused in one pass: the two gate pre-activations (dot products of the
// row's [q; k; v] with the head's gate weights, in gate_preact's order), the stabilised gates, the state update with
// the read-out (step_head's loop), the normaliser, and the head's group norm with gain 1 + w. hv: the head's DH
// outputs. Cloned for wide vectors; float sums are vector reductions, double sums in order (the reference path).
template <class T>
[[gnu::noinline]] XM_CLONES void cell_step_head(T* __restrict hv, T* __restrict C, T* __restrict n, T* __restrict m,
                                                const T* __restrict qrow, const T* __restrict krow,
                                                const T* __restrict vrow, const T* __restrict wi, T bi,
                                                const T* __restrict wf, T bf, const T* __restrict gain, int H,
                                                int hh, int DH, T scale, double eps) {
  T gi[3] = {0, 0, 0}, gf[3] = {0, 0, 0};
  const T* rows[3] = {qrow, krow, vrow};
  for (int p = 0; p < 3; ++p) {
    const T* __restrict x = rows[p];
    const T* __restrict a = wi + size_t(p) * H;
    const T* __restrict b = wf + size_t(p) * H;
    T si = 0, sf = 0;
    if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : si, sf)
      for (int j = 0; j < H; ++j) si += x[j] * a[j], sf += x[j] * b[j];
    } else {
      for (int j = 0; j < H; ++j) si += x[j] * a[j], sf += x[j] * b[j];
    }
    gi[p] = si, gf[p] = sf;
  }
  const T ig = ((gi[0] + gi[1]) + gi[2]) + bi, fg = ((gf[0] + gf[1]) + gf[2]) + bf;
  const T m_prev = *m;
  const T lf = log_sigmoid(fg);
  const T m_new = std::max(lf + m_prev, ig);
  const T fa = std::exp(lf + m_prev - m_new), ka_scale = std::exp(ig - m_new) * scale;
  const T* __restrict qv = qrow + size_t(hh) * DH;
  const T* __restrict kv = krow + size_t(hh) * DH;
  const T* __restrict vv = vrow + size_t(hh) * DH;
  T qn = 0;
  if constexpr (sizeof(T) == 4) {
    if (DH % 64 == 0) {
      if (DH % 128 == 0)
        state_pass128(C, hv, qv, kv, vv, fa, ka_scale, DH);
      else
        state_pass64(C, hv, qv, kv, vv, fa, ka_scale, DH);
      for (int a = 0; a < DH; ++a) {
        n[a] = fa * n[a] + ka_scale * kv[a];
        qn += qv[a] * n[a];
      }
    }
  }
  if (sizeof(T) != 4 || DH % 64 != 0) {
    for (int d = 0; d < DH; ++d) hv[d] = T(0);
    for (int a = 0; a < DH; ++a) {
      const T ka = ka_scale * kv[a], qa = qv[a];
      T* __restrict Crow = C + size_t(a) * DH;
      for (int b = 0; b < DH; ++b) {
        const T c = fa * Crow[b] + ka * vv[b];
        Crow[b] = c;
        hv[b] += qa * c;
      }
      n[a] = fa * n[a] + ka;
      qn += qa * n[a];
    }
  }
  *m = m_new;
  const T inv = T(1) / denominator(qn, m_new, eps);
  // group norm of h~ = hv * inv over the head (two passes, as multihead_layernorm_forward)
  T s = 0, var = 0;
  if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < DH; ++d) s += hv[d] * inv;
  } else {
    for (int d = 0; d < DH; ++d) s += hv[d] * inv;
  }
  const T mu = s / T(DH);
  if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : var)
    for (int d = 0; d < DH; ++d) var += (hv[d] * inv - mu) * (hv[d] * inv - mu);
  } else {
    for (int d = 0; d < DH; ++d) var += (hv[d] * inv - mu) * (hv[d] * inv - mu);
  }
  const T r = T(1) / std::sqrt(var / T(DH) + T(kNormEps));
  for (int d = 0; d < DH; ++d) hv[d] = (hv[d] * inv - mu) * r * (T(1) + gain[d]);
}
}  // namespace

// Fused: one parallel loop over (row, head), each task doing gates, state update, read-out and norm of its head
// (cell_step_head), instead of two gate GEMMs, the backend step and a separate norm pass.
namespace {
template <class T>
void cell_step_pairs(T* h, const MlstmState<T>& state, const T* q, const T* k, const T* v,
                     const MlstmCellWeights<T>& w, int NH, int DH, int bh, double eps) {
  const int H = NH * DH;
  const T scale = T(1) / std::sqrt(T(DH));
  const size_t DD = size_t(DH) * DH, W3 = size_t(3) * H;
  const int b = bh / NH, hh = bh % NH;
  const size_t row = size_t(b) * H;
  cell_step_head(h + row + size_t(hh) * DH, state.C + bh * DD, state.n + size_t(bh) * DH, state.m + bh, q + row,
                 k + row, v + row, w.igate_w + hh * W3, w.igate_b[hh], w.fgate_w + hh * W3, w.fgate_b[hh],
                 w.outnorm_w + size_t(hh) * DH, H, hh, DH, scale, eps);
}
}  // namespace

template <class T>
void mlstm_cell_step(T* h, const MlstmState<T>& state, const T* q, const T* k, const T* v,
                     const MlstmCellWeights<T>& w, int B, int NH, int DH, double eps) {
#pragma omp parallel for schedule(static) if (int64_t(B) * NH * DH * DH >= (1 << 15))
  for (int bh = 0; bh < B * NH; ++bh) cell_step_pairs(h, state, q, k, v, w, NH, DH, bh, eps);
}

template <class T>
void mlstm_cell_step_range(T* h, const MlstmState<T>& state, const T* q, const T* k, const T* v,
                           const MlstmCellWeights<T>& w, int B, int NH, int DH, int bh0, int bh1, double eps) {
  if (bh0 < 0 || bh1 > B * NH) throw Error("mlstm_cell_step_range: pairs out of range");
  for (int bh = bh0; bh < bh1; ++bh) cell_step_pairs(h, state, q, k, v, w, NH, DH, bh, eps);
}

#define XM_MLSTM_INSTANTIATE(T)                                                                                  \
  template void mlstm_parallel_forward<T>(T*, const MlstmCache<T>&, const T*, const T*, const T*, const T*,      \
                                          const T*, int, int, int, int, double);                                 \
  template void mlstm_parallel_backward<T>(T*, T*, T*, T*, T*, const T*, const T*, const MlstmCache<T>&,         \
                                           const T*, const T*, const T*, const T*, const T*, int, int, int, int, \
                                           double);                                                              \
  template void mlstm_chunkwise_forward<T>(T*, const MlstmCache<T>&, const T*, const T*, const T*, const T*,     \
                                           const T*, MlstmStatePtr<T>, MlstmStatePtr<T>, int, int, int,  \
                                           int, int, double);                                                    \
  template void mlstm_chunkwise_backward<T>(T*, T*, T*, T*, T*, const T*, const T*, const MlstmCache<T>&,        \
                                            const T*, const T*, const T*, const T*, const T*, int, int, int,     \
                                            int, int, double);                                                   \
  template void mlstm_step<T>(T*, const MlstmState<T>&, const T*, const T*, const T*, const T*, const T*, int,   \
                              int, int, double);                                                                 \
  template void mlstm_cell_forward<T>(T*, MlstmCellCache<T>&, const T*, const T*, const T*,                      \
                                      const MlstmCellWeights<T>&, int, int, int, int, const MlstmOptions&,       \
                                      MlstmStatePtr<T>, MlstmStatePtr<T>);                               \
  template void mlstm_cell_backward<T>(T*, T*, T*, const MlstmCellGrads<T>&, const T*, const MlstmCellCache<T>&, \
                                       const T*, const T*, const T*, const MlstmCellWeights<T>&, bool);          \
  template void mlstm_cell_step<T>(T*, const MlstmState<T>&, const T*, const T*, const T*,                       \
                                   const MlstmCellWeights<T>&, int, int, int, double);                    \
  template void mlstm_cell_step_range<T>(T*, const MlstmState<T>&, const T*, const T*, const T*,                 \
                                         const MlstmCellWeights<T>&, int, int, int, int, int, double);

XM_MLSTM_INSTANTIATE(float)
XM_MLSTM_INSTANTIATE(double)

}  // namespace xm::nn

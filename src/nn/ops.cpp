// ops.cpp: the layer ops of nn/ops.h (forward/backward, float and double). Plain loops with OpenMP over rows
// for elementwise work and xm::nn::gemm for every matrix product. Not the recurrent cells, not the model.
#include "nn/ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "nn/fastmath.h"
#include "nn/gemm.h"
#include "nn/parallel.h"
#include "nn/simd.h"

namespace xm::nn {

namespace {
// Parallelise a loop only when it has enough work to pay for the fork.
constexpr int64_t kParMin = 1 << 14;
}  // namespace

// ---------------------------------------------------------------------------------------------- embedding
template <class T>
void embedding_forward(T* out, const int32_t* ids, const T* table, int N, int V, int D) {
  for (int n = 0; n < N; ++n)
    if (ids[n] < 0 || ids[n] >= V)
      throw Error("embedding: token id " + std::to_string(ids[n]) + " at row " + std::to_string(n) +
                  " is outside the vocabulary [0, " + std::to_string(V) + "); check the tokenizer and vocab_size");
#pragma omp parallel for if (int64_t(N) * D > kParMin)
  for (int n = 0; n < N; ++n) std::memcpy(out + int64_t(n) * D, table + int64_t(ids[n]) * D, sizeof(T) * D);
}

// Threads split the D columns (each gradient element still sums its rows in order, as on one thread).
template <class T>
void embedding_backward(T* d_table, const T* d_out, const int32_t* ids, int N, int V, int D) {
  const int per_min = 64;
  const int parts = int64_t(N) * D > kParMin ? std::max(1, D / per_min) : 1;
#pragma omp parallel for if (parts > 1)
  for (int p = 0; p < parts; ++p) {
    const int d0 = int(int64_t(D) * p / parts), d1 = int(int64_t(D) * (p + 1) / parts);
    for (int n = 0; n < N; ++n) {
      T* dst = d_table + int64_t(ids[n]) * D;
      const T* src = d_out + int64_t(n) * D;
      for (int d = d0; d < d1; ++d) dst[d] += src[d];
    }
  }
}

// ---------------------------------------------------------------------------------------------- linear
template <class T>
void linear_forward(T* out, const T* in, const T* W, const T* bias, int N, int I, int O) {
  gemm<T>(false, true, N, O, I, T(1), in, I, W, I, T(0), out, O);
  if (bias) {
#pragma omp parallel for if (int64_t(N) * O > kParMin)
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < O; ++o) out[int64_t(n) * O + o] += bias[o];
  }
}

template <class T>
void linear_backward(T* d_in, T* d_W, T* d_bias, const T* d_out, const T* in, const T* W, int N, int I, int O) {
  if (d_in) gemm<T>(false, false, N, I, O, T(1), d_out, O, W, I, T(1), d_in, I);
  if (d_W) gemm<T>(true, false, O, I, N, T(1), d_out, O, in, I, T(1), d_W, I);
  if (d_bias)
    for (int n = 0; n < N; ++n)
      for (int o = 0; o < O; ++o) d_bias[o] += d_out[int64_t(n) * O + o];
}

// ---------------------------------------------------------------------------------------------- headwise
// Small blocks (the mLSTM q/k/v projections are 4x4) go through direct loops; larger ones through gemm.
// 4x4 blocks in float (the music config) have vector kernels: 16 lanes = 4 blocks of a row; within each block
// lane (h, o) needs x[h, d] for d = 0..3, a shuffle inside each group of 4 lanes, times a weight vector laid out
// per d as Wd[d][h*4 + o] = W[h, o, d]. GCC vector extensions: the clones (nn/simd.h) make them AVX-512, AVX2 or SSE.
namespace {
// 16 floats, loadable from any float address (aligned(4)) and aliasing anything; LD16/ST16 load and store them.
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
typedef int v16i __attribute__((vector_size(64)));
#define XM_LD16(p) (*reinterpret_cast<const v16f*>(p))
#define XM_ST16(p, v) (*reinterpret_cast<v16f*>(p) = (v))
// lane (4g + o) <- x[4g + d]
#define XM_SPREAD(x, d)                                                                                        \
  __builtin_shuffle((x), v16i{d, d, d, d, 4 + d, 4 + d, 4 + d, 4 + d, 8 + d, 8 + d, 8 + d, 8 + d, 12 + d, 12 + d, \
                              12 + d, 12 + d})

// Wd (4, I): Wd[d][h*4 + o] = W[h, o, d] (transposed: Wd[d][h*4 + o] = W[h, d, o], the d_in form).
void pack_4x4(float* Wd, const float* W, int NB, bool transposed) {
  const int I = NB * 4;
  for (int h = 0; h < NB; ++h)
    for (int o = 0; o < 4; ++o)
      for (int d = 0; d < 4; ++d)
        Wd[d * I + h * 4 + o] = transposed ? W[h * 16 + d * 4 + o] : W[h * 16 + o * 4 + d];
}

// rows [n0, n1): y[n, :] (+)= per-block 4x4 products of x[n, :] with the packed weights (I % 16 == 0).
template <bool kAccumulate>
[[gnu::noinline]] XM_CLONES void headwise4_rows(float* __restrict y, const float* __restrict x,
                                                 const float* __restrict Wd, int n0, int n1, int I) {
  const float *W0 = Wd, *W1 = Wd + I, *W2 = Wd + 2 * I, *W3 = Wd + 3 * I;
  for (int n = n0; n < n1; ++n) {
    const float* xr = x + int64_t(n) * I;
    float* yr = y + int64_t(n) * I;
    for (int j = 0; j < I; j += 16) {
      [[maybe_unused]] const v16f xv = XM_LD16(xr + j);  // (GCC 12 misses its use inside __builtin_shuffle)
      v16f acc = XM_SPREAD(xv, 0) * XM_LD16(W0 + j) + XM_SPREAD(xv, 1) * XM_LD16(W1 + j) +
                 XM_SPREAD(xv, 2) * XM_LD16(W2 + j) + XM_SPREAD(xv, 3) * XM_LD16(W3 + j);
      if constexpr (kAccumulate) acc += XM_LD16(yr + j);
      XM_ST16(yr + j, acc);
    }
  }
}

// Two projections of the same rows at once (the mLSTM q and k from x_c): each x row is read once.
[[gnu::noinline]] XM_CLONES void headwise4_rows2(float* __restrict y1, float* __restrict y2, const float* __restrict x,
                                                 const float* __restrict Wd1, const float* __restrict Wd2, int n0,
                                                 int n1, int I) {
  for (int n = n0; n < n1; ++n) {
    const float* xr = x + int64_t(n) * I;
    float* r1 = y1 + int64_t(n) * I;
    float* r2 = y2 + int64_t(n) * I;
    for (int j = 0; j < I; j += 16) {
      [[maybe_unused]] const v16f xv = XM_LD16(xr + j);  // (GCC 12: see headwise4_rows)
      const v16f s0 = XM_SPREAD(xv, 0), s1 = XM_SPREAD(xv, 1), s2 = XM_SPREAD(xv, 2), s3 = XM_SPREAD(xv, 3);
      XM_ST16(r1 + j, s0 * XM_LD16(Wd1 + j) + s1 * XM_LD16(Wd1 + I + j) + s2 * XM_LD16(Wd1 + 2 * I + j) +
                          s3 * XM_LD16(Wd1 + 3 * I + j));
      XM_ST16(r2 + j, s0 * XM_LD16(Wd2 + j) + s1 * XM_LD16(Wd2 + I + j) + s2 * XM_LD16(Wd2 + 2 * I + j) +
                          s3 * XM_LD16(Wd2 + 3 * I + j));
    }
  }
}

// Columns [j0, j1) of the weight gradient over all N rows: acc (4, I), acc[d][h*4 + o] += dy[n, h*4+o] x[n, h*4+d].
[[gnu::noinline]] XM_CLONES void headwise4_dw_cols(float* __restrict acc, const float* __restrict dy,
                                                   const float* __restrict x, int N, int I, int j0, int j1) {
  for (int j = j0; j < j1; j += 16) {
    v16f a0 = XM_LD16(acc + j), a1 = XM_LD16(acc + I + j), a2 = XM_LD16(acc + 2 * I + j),
         a3 = XM_LD16(acc + 3 * I + j);
    for (int n = 0; n < N; ++n) {
      const v16f g = XM_LD16(dy + int64_t(n) * I + j), xv = XM_LD16(x + int64_t(n) * I + j);
      a0 += g * XM_SPREAD(xv, 0);
      a1 += g * XM_SPREAD(xv, 1);
      a2 += g * XM_SPREAD(xv, 2);
      a3 += g * XM_SPREAD(xv, 3);
    }
    XM_ST16(acc + j, a0), XM_ST16(acc + I + j, a1), XM_ST16(acc + 2 * I + j, a2), XM_ST16(acc + 3 * I + j, a3);
  }
}

// The input and weight gradients of columns [j0, j1) in one pass over the rows: d_in[n, j] (+)= the transposed 4x4
// products of dy[n, :] (Wt packed transposed, as headwise4_rows<true>), acc as in headwise4_dw_cols; kSets = 2 does
// two projections of the same input (the mLSTM q and k) in the same pass, d_in receiving both. Rows in blocks of
// 32, so each thread streams its part of every row once instead of a column strip of all N rows per 16 columns (a
// 2 KB stride through 8 MB); every sum keeps its order (rows ascending).
template <int kSets, bool kAccumulate>
[[gnu::noinline]] XM_CLONES void headwise4_back_cols(float* __restrict d_in, float* __restrict acc0,
                                                     float* __restrict acc1, const float* __restrict dy0,
                                                     const float* __restrict dy1, const float* __restrict x,
                                                     const float* __restrict Wt0, const float* __restrict Wt1, int N,
                                                     int I, int j0, int j1) {
  constexpr int kRows = 32;
  float* acc[2] = {acc0, acc1};
  const float* dys[2] = {dy0, dy1};
  const float* Wts[2] = {Wt0, Wt1};
  for (int nb = 0; nb < N; nb += kRows) {
    const int ne = std::min(N, nb + kRows);
    for (int j = j0; j < j1; j += 16) {
      v16f a[kSets][4], w[kSets][4];
      for (int s = 0; s < kSets; ++s)
        for (int d = 0; d < 4; ++d) a[s][d] = XM_LD16(acc[s] + d * I + j), w[s][d] = XM_LD16(Wts[s] + d * I + j);
      for (int n = nb; n < ne; ++n) {
        [[maybe_unused]] const v16f xv = XM_LD16(x + int64_t(n) * I + j);  // (GCC 12: see headwise4_rows)
        float* dr = d_in + int64_t(n) * I + j;
        v16f dsum = {};
        for (int s = 0; s < kSets; ++s) {
          const v16f g = XM_LD16(dys[s] + int64_t(n) * I + j);
          a[s][0] += g * XM_SPREAD(xv, 0);
          a[s][1] += g * XM_SPREAD(xv, 1);
          a[s][2] += g * XM_SPREAD(xv, 2);
          a[s][3] += g * XM_SPREAD(xv, 3);
          const v16f d =
              XM_SPREAD(g, 0) * w[s][0] + XM_SPREAD(g, 1) * w[s][1] + XM_SPREAD(g, 2) * w[s][2] + XM_SPREAD(g, 3) * w[s][3];
          dsum += d;
        }
        if constexpr (kAccumulate) dsum += XM_LD16(dr);
        XM_ST16(dr, dsum);
      }
      for (int s = 0; s < kSets; ++s)
        for (int d = 0; d < 4; ++d) XM_ST16(acc[s] + d * I + j, a[s][d]);
    }
  }
}

template <class T>
constexpr bool is_float = sizeof(T) == 4;

// The vector path applies: float, 4x4 blocks, a whole number of 16-lane vectors per row.
template <class T>
bool use_headwise4(int NB, int DI, int DO) {
  return is_float<T> && DI == 4 && DO == 4 && NB % 4 == 0;
}

// y (N, I) (+)= headwise 4x4 of x with W (NB, 4, 4), threads over rows.
template <bool kAccumulate>
void headwise4_apply(float* y, const float* x, const float* W, int N, int NB, bool transposed) {
  const int I = NB * 4;
  std::vector<float> Wd(size_t(4) * I);
  pack_4x4(Wd.data(), W, NB, transposed);
  parallel_ranges(N, int64_t(N) * I * 4 > kParMin, [&](int64_t n0, int64_t n1) {
    headwise4_rows<kAccumulate>(y, x, Wd.data(), int(n0), int(n1), I);
  });
}
}  // namespace

template <class T>
void headwise_forward(T* out, const T* in, const T* W, int N, int NB, int DI, int DO) {
  const int64_t in_ld = int64_t(NB) * DI, out_ld = int64_t(NB) * DO;
  if constexpr (is_float<T>) {
    if (use_headwise4<T>(NB, DI, DO)) {
      headwise4_apply<false>(out, in, W, N, NB, false);
      return;
    }
  }
  if (DI * DO <= 256) {
#pragma omp parallel for if (int64_t(N) * NB * DI * DO > kParMin)
    for (int n = 0; n < N; ++n) {
      const T* x = in + n * in_ld;
      T* y = out + n * out_ld;
      for (int h = 0; h < NB; ++h) {
        const T* Wh = W + int64_t(h) * DO * DI;
        for (int o = 0; o < DO; ++o) {
          T acc = 0;
          for (int d = 0; d < DI; ++d) acc += x[h * DI + d] * Wh[o * DI + d];
          y[h * DO + o] = acc;
        }
      }
    }
    return;
  }
  for (int h = 0; h < NB; ++h)
    gemm<T>(false, true, N, DO, DI, T(1), in + int64_t(h) * DI, int(in_ld), W + int64_t(h) * DO * DI, DI, T(0),
            out + int64_t(h) * DO, int(out_ld));
}

namespace {
// The float 4x4 backward of one or two projections of the same input: every d_W non-null; d_in null (one
// projection only): the weight gradient alone.
void headwise4_backward(float* d_in, float* const* d_W, const float* const* d_out, const float* in,
                        const float* const* W, int sets, int N, int NB, bool accumulate) {
  const int I = NB * 4;
  std::vector<float> acc(size_t(8) * I, 0.f), Wt(size_t(8) * I);
  for (int s = 0; s < sets; ++s) pack_4x4(Wt.data() + size_t(4) * I * s, W[s], NB, true);
  float *acc0 = acc.data(), *acc1 = acc0 + size_t(4) * I;
  const float *Wt0 = Wt.data(), *Wt1 = Wt0 + size_t(4) * I;
  // threads split the columns in whole 16-wide vectors; each weight sums its rows in order
  parallel_ranges(I / 16, int64_t(N) * I * 4 > kParMin, [&](int64_t v0, int64_t v1) {
    const int j0 = int(v0) * 16, j1 = int(v1) * 16;
    const float* dy1 = sets == 2 ? d_out[1] : d_out[0];
    if (!d_in)
      headwise4_dw_cols(acc0, d_out[0], in, N, I, j0, j1);
    else if (sets == 2 && accumulate)
      headwise4_back_cols<2, true>(d_in, acc0, acc1, d_out[0], dy1, in, Wt0, Wt1, N, I, j0, j1);
    else if (sets == 2)
      headwise4_back_cols<2, false>(d_in, acc0, acc1, d_out[0], dy1, in, Wt0, Wt1, N, I, j0, j1);
    else if (accumulate)
      headwise4_back_cols<1, true>(d_in, acc0, acc1, d_out[0], dy1, in, Wt0, Wt1, N, I, j0, j1);
    else
      headwise4_back_cols<1, false>(d_in, acc0, acc1, d_out[0], dy1, in, Wt0, Wt1, N, I, j0, j1);
  });
  for (int s = 0; s < sets; ++s)
    for (int h = 0; h < NB; ++h)
      for (int o = 0; o < 4; ++o)
        for (int d = 0; d < 4; ++d) d_W[s][h * 16 + o * 4 + d] += acc[size_t(4) * I * s + size_t(d) * I + h * 4 + o];
}
}  // namespace

template <class T>
void headwise_forward2(T* out1, T* out2, const T* in, const T* W1, const T* W2, int N, int NB, int DI, int DO) {
  if constexpr (is_float<T>) {
    if (use_headwise4<T>(NB, DI, DO)) {
      const int I = NB * 4;
      std::vector<float> Wd(size_t(8) * I);
      pack_4x4(Wd.data(), W1, NB, false);
      pack_4x4(Wd.data() + size_t(4) * I, W2, NB, false);
      parallel_ranges(N, int64_t(N) * I * 8 > kParMin, [&](int64_t n0, int64_t n1) {
        headwise4_rows2(out1, out2, in, Wd.data(), Wd.data() + size_t(4) * I, int(n0), int(n1), I);
      });
      return;
    }
  }
  headwise_forward(out1, in, W1, N, NB, DI, DO);
  headwise_forward(out2, in, W2, N, NB, DI, DO);
}

template <class T>
void headwise_backward(T* d_in, T* d_W, const T* d_out, const T* in, const T* W, int N, int NB, int DI, int DO,
                       bool accumulate) {
  const int64_t in_ld = int64_t(NB) * DI, out_ld = int64_t(NB) * DO;
  if constexpr (is_float<T>) {
    if (use_headwise4<T>(NB, DI, DO) && d_W) {
      float* dWs[1] = {d_W};
      const float* dys[1] = {d_out};
      const float* Ws[1] = {W};
      headwise4_backward(d_in, dWs, dys, in, Ws, 1, N, NB, accumulate);
      return;
    }
  }
  if (d_in && !accumulate) std::fill(d_in, d_in + N * in_ld, T(0));
  if constexpr (is_float<T>) {
    if (use_headwise4<T>(NB, DI, DO)) {
      if (d_in) headwise4_apply<true>(d_in, d_out, W, N, NB, true);
      return;
    }
  }
  if (DI * DO <= 256) {
    if (d_in) {
#pragma omp parallel for if (int64_t(N) * NB * DI * DO > kParMin)
      for (int n = 0; n < N; ++n) {
        const T* dy = d_out + n * out_ld;
        T* dx = d_in + n * in_ld;
        for (int h = 0; h < NB; ++h) {
          const T* Wh = W + int64_t(h) * DO * DI;
          for (int o = 0; o < DO; ++o) {
            T g = dy[h * DO + o];
            for (int d = 0; d < DI; ++d) dx[h * DI + d] += g * Wh[o * DI + d];
          }
        }
      }
    }
    if (d_W) {
#pragma omp parallel for if (int64_t(N) * NB * DI * DO > kParMin)
      for (int h = 0; h < NB; ++h) {
        T* dWh = d_W + int64_t(h) * DO * DI;
        for (int n = 0; n < N; ++n) {
          const T* dy = d_out + n * out_ld + h * DO;
          const T* x = in + n * in_ld + h * DI;
          for (int o = 0; o < DO; ++o)
            for (int d = 0; d < DI; ++d) dWh[o * DI + d] += dy[o] * x[d];
        }
      }
    }
    return;
  }
  for (int h = 0; h < NB; ++h) {
    if (d_in)
      gemm<T>(false, false, N, DI, DO, T(1), d_out + int64_t(h) * DO, int(out_ld), W + int64_t(h) * DO * DI, DI,
              T(1), d_in + int64_t(h) * DI, int(in_ld));
    if (d_W)
      gemm<T>(true, false, DO, DI, N, T(1), d_out + int64_t(h) * DO, int(out_ld), in + int64_t(h) * DI, int(in_ld),
              T(1), d_W + int64_t(h) * DO * DI, DI);
  }
}

template <class T>
void headwise_backward2(T* d_in, T* d_W1, T* d_W2, const T* d_out1, const T* d_out2, const T* in, const T* W1,
                        const T* W2, int N, int NB, int DI, int DO) {
  if constexpr (is_float<T>) {
    if (use_headwise4<T>(NB, DI, DO) && d_in && d_W1 && d_W2) {
      float* dWs[2] = {d_W1, d_W2};
      const float* dys[2] = {d_out1, d_out2};
      const float* Ws[2] = {W1, W2};
      headwise4_backward(d_in, dWs, dys, in, Ws, 2, N, NB, true);
      return;
    }
  }
  headwise_backward(d_in, d_W1, d_out1, in, W1, N, NB, DI, DO);
  headwise_backward(d_in, d_W2, d_out2, in, W2, N, NB, DI, DO);
}

// ---------------------------------------------------------------------------------------------- norms
// Both norms are one kernel: rows of NH groups of DH values, each group normalised, gain (1 + w[col]).
namespace {
// Groups [g0, g1) of DH values: two-pass mean and variance in T (omp simd reductions vectorise), gain 1 + w.
template <class T>
[[gnu::noinline]] XM_CLONES void norm_groups_fwd(T* __restrict out, T* __restrict mean, T* __restrict rstd,
                                                 const T* __restrict in, const T* __restrict w, int64_t g0,
                                                 int64_t g1, int NH, int DH) {
  for (int64_t g = g0; g < g1; ++g) {
    const T* x = in + g * DH;
    T* y = out + g * DH;
    const T* wg = w + (g % NH) * DH;
    T s = 0, v = 0, mu, r;
    if constexpr (sizeof(T) == 4) {  // float: vector sums (reordered)
#pragma omp simd reduction(+ : s)
      for (int d = 0; d < DH; ++d) s += x[d];
      mu = s / T(DH);
#pragma omp simd reduction(+ : v)
      for (int d = 0; d < DH; ++d) v += (x[d] - mu) * (x[d] - mu);
    } else {  // double (the reference path of the tests): sums in order
      for (int d = 0; d < DH; ++d) s += x[d];
      mu = s / T(DH);
      for (int d = 0; d < DH; ++d) v += (x[d] - mu) * (x[d] - mu);
    }
    r = T(1) / std::sqrt(v / T(DH) + T(kNormEps));
    mean[g] = mu;
    rstd[g] = r;
    for (int d = 0; d < DH; ++d) y[d] = (x[d] - mu) * r * (T(1) + wg[d]);
  }
}

template <class T, bool kAccumulate>
[[gnu::noinline]] XM_CLONES void norm_groups_bwd(T* __restrict d_in, const T* __restrict d_out,
                                                 const T* __restrict in, const T* __restrict mean,
                                                 const T* __restrict rstd, const T* __restrict w, int64_t g0,
                                                 int64_t g1, int NH, int DH) {
  for (int64_t g = g0; g < g1; ++g) {
    const T* x = in + g * DH;
    const T* dy = d_out + g * DH;
    T* dx = d_in + g * DH;
    const T* wg = w + (g % NH) * DH;
    const T mu = mean[g], r = rstd[g];
    T s1 = 0, s2 = 0;  // mean of dxhat and of dxhat * xhat
    if constexpr (sizeof(T) == 4) {
#pragma omp simd reduction(+ : s1, s2)
      for (int d = 0; d < DH; ++d) {
        T xh = (x[d] - mu) * r, dxh = dy[d] * (T(1) + wg[d]);
        s1 += dxh;
        s2 += dxh * xh;
      }
    } else {
      for (int d = 0; d < DH; ++d) {
        T xh = (x[d] - mu) * r, dxh = dy[d] * (T(1) + wg[d]);
        s1 += dxh;
        s2 += dxh * xh;
      }
    }
    s1 /= T(DH);
    s2 /= T(DH);
    for (int d = 0; d < DH; ++d) {
      T xh = (x[d] - mu) * r, dxh = dy[d] * (T(1) + wg[d]);
      if constexpr (kAccumulate)
        dx[d] += r * (dxh - s1 - xh * s2);
      else
        dx[d] = r * (dxh - s1 - xh * s2);
    }
  }
}

template <class T>
void group_norm_fwd(T* out, T* mean, T* rstd, const T* in, const T* w, int N, int NH, int DH) {
  const int64_t G = int64_t(N) * NH;
  parallel_ranges(G, G * DH > kParMin,
                  [&](int64_t g0, int64_t g1) { norm_groups_fwd(out, mean, rstd, in, w, g0, g1, NH, DH); });
}

// Columns [c0, c1) of the gain gradient: d_w[c] += sum_n dy[n, c] (x[n, c] - mean) rstd, rows in order (cloned: the
// column loops vectorise).
template <class T>
[[gnu::noinline]] XM_CLONES void norm_gain_bwd_cols(T* __restrict d_w, const T* __restrict d_out,
                                                    const T* __restrict in, const T* __restrict mean,
                                                    const T* __restrict rstd, int N, int NH, int DH, int64_t c0,
                                                    int64_t c1) {
  const int64_t cols = int64_t(NH) * DH;
  for (int n = 0; n < N; ++n)
    for (int64_t c = c0; c < c1;) {  // the part of each head (group) inside [c0, c1)
      const int64_t h = c / DH, e = std::min(c1, (h + 1) * DH), g = int64_t(n) * NH + h;
      const T mu = mean[g], r = rstd[g];
      const T* dy = d_out + n * cols;
      const T* x = in + n * cols;
      for (; c < e; ++c) d_w[c] += dy[c] * (x[c] - mu) * r;
    }
}

template <class T>
void group_norm_bwd(T* d_in, T* d_w, const T* d_out, const T* in, const T* mean, const T* rstd, const T* w, int N,
                    int NH, int DH, bool accumulate = true) {
  const int64_t G = int64_t(N) * NH;
  if (d_in)
    parallel_ranges(G, G * DH > kParMin, [&](int64_t g0, int64_t g1) {
      if (accumulate)
        norm_groups_bwd<T, true>(d_in, d_out, in, mean, rstd, w, g0, g1, NH, DH);
      else
        norm_groups_bwd<T, false>(d_in, d_out, in, mean, rstd, w, g0, g1, NH, DH);
    });
  if (d_w) {
    // threads split the NH*DH columns; each column sums its rows in order, as on one thread
    const int64_t cols = int64_t(NH) * DH;
    parallel_ranges(cols, G * DH > kParMin && cols >= 64, [&](int64_t c0, int64_t c1) {
      norm_gain_bwd_cols(d_w, d_out, in, mean, rstd, N, NH, DH, c0, c1);
    });
  }
}
}  // namespace

template <class T>
void layernorm_forward(T* out, T* mean, T* rstd, const T* in, const T* w, int N, int D) {
  group_norm_fwd(out, mean, rstd, in, w, N, 1, D);
}
template <class T>
void layernorm_backward(T* d_in, T* d_w, const T* d_out, const T* in, const T* mean, const T* rstd, const T* w, int N,
                        int D) {
  group_norm_bwd(d_in, d_w, d_out, in, mean, rstd, w, N, 1, D);
}
template <class T>
void multihead_layernorm_forward(T* out, T* mean, T* rstd, const T* in, const T* w, int N, int NH, int DH) {
  group_norm_fwd(out, mean, rstd, in, w, N, NH, DH);
}
template <class T>
void multihead_layernorm_backward(T* d_in, T* d_w, const T* d_out, const T* in, const T* mean, const T* rstd,
                                  const T* w, int N, int NH, int DH, bool accumulate) {
  group_norm_bwd(d_in, d_w, d_out, in, mean, rstd, w, N, NH, DH, accumulate);
}

// ---------------------------------------------------------------------------------------------- conv1d
namespace {
// The conv weights W (C, K) as Wt (K, C), so the loops over channels read them contiguously (W[c * K + j] strided by
// K kept them scalar). The calling thread's buffer: OpenMP workers of the caller's loops use the returned pointer.
template <class T>
const T* conv_weights_t(const T* W, int C, int K) {
  thread_local std::vector<T> wt;
  wt.resize(size_t(C) * K);
  for (int c = 0; c < C; ++c)
    for (int j = 0; j < K; ++j) wt[size_t(j) * C + c] = W[size_t(c) * K + j];
  return wt.data();
}
}  // namespace

namespace {
// The conv loops, cloned so their channel loops vectorise (AVX-512/AVX2); rows r = b S + t of the (B, S, C) tensors.
// Each output element sums its taps in the same order as the plain loops did.
template <class T>
[[gnu::noinline]] XM_CLONES void conv_fwd_rows(T* __restrict out, T* __restrict act, const T* __restrict in,
                                               const T* __restrict Wt, const T* __restrict bias, int S, int C, int K,
                                               int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int t = int(r % S);
    T* y = out + r * C;
    if (bias)
      for (int c = 0; c < C; ++c) y[c] = bias[c];
    else
      for (int c = 0; c < C; ++c) y[c] = T(0);
    for (int j = 0; j < K; ++j) {
      const int ts = t - (K - 1) + j;
      if (ts < 0) continue;
      const T* x = in + (r - (K - 1) + j) * C;
      const T* w = Wt + int64_t(j) * C;
      for (int c = 0; c < C; ++c) y[c] += w[c] * x[c];
    }
    if (act) {  // SiLU of the row while it is in cache, exactly as silu_forward computes it
      T* a = act + r * C;
      for (int c = 0; c < C; ++c) a[c] = y[c] * sigmoid_hot(y[c]);
    }
  }
}
// d_in[b, ts] += sum_j W[:, j] * d_out[b, ts + (K-1) - j]: gather form, each row written by one thread.
template <class T>
[[gnu::noinline]] XM_CLONES void conv_back_in_rows(T* __restrict d_in, const T* __restrict d_out,
                                                   const T* __restrict Wt, int S, int C, int K, int64_t r0,
                                                   int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const int ts = int(r % S);
    T* dx = d_in + r * C;
    for (int j = 0; j < K; ++j) {
      const int t = ts + (K - 1) - j;
      if (t >= S) continue;
      const T* dy = d_out + (r + (K - 1) - j) * C;
      const T* w = Wt + int64_t(j) * C;
      for (int c = 0; c < C; ++c) dx[c] += w[c] * dy[c];
    }
  }
}
// Channels [c0, c1) of the weight (into the (K, C) scratch dWt) and bias gradients, summed over (b, t) in order.
template <class T>
[[gnu::noinline]] XM_CLONES void conv_back_w_cols(T* __restrict dWt, T* __restrict d_bias, const T* __restrict d_out,
                                                  const T* __restrict in, int B, int S, int C, int K, int64_t c0,
                                                  int64_t c1) {
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < S; ++t) {
      const T* dy = d_out + (int64_t(b) * S + t) * C;
      if (d_bias)
        for (int64_t c = c0; c < c1; ++c) d_bias[c] += dy[c];
      if (!dWt) continue;
      for (int j = 0; j < K; ++j) {
        const int ts = t - (K - 1) + j;
        if (ts < 0) continue;
        const T* x = in + (int64_t(b) * S + ts) * C;
        T* dw = dWt + int64_t(j) * C;
        for (int64_t c = c0; c < c1; ++c) dw[c] += dy[c] * x[c];
      }
    }
}
}  // namespace

template <class T>
void causal_conv1d_forward(T* out, const T* in, const T* W_, const T* bias, int B, int S, int C, int K, T* silu_out) {
  const T* Wt = conv_weights_t(W_, C, K);
  parallel_ranges(int64_t(B) * S, int64_t(B) * S * C * K > kParMin,
                  [&](int64_t r0, int64_t r1) { conv_fwd_rows(out, silu_out, in, Wt, bias, S, C, K, r0, r1); });
}

template <class T>
void causal_conv1d_backward(T* d_in, T* d_W, T* d_bias, const T* d_out, const T* in, const T* W_, int B, int S, int C,
                            int K) {
  if (d_in) {
    const T* Wt = conv_weights_t(W_, C, K);
    parallel_ranges(int64_t(B) * S, int64_t(B) * S * C * K > kParMin,
                    [&](int64_t r0, int64_t r1) { conv_back_in_rows(d_in, d_out, Wt, S, C, K, r0, r1); });
  }
  if (d_W || d_bias) {
    // threads split the channels; each weight sums over (b, t) in order into a (K, C) scratch (contiguous in c),
    // then adds that sum to d_W: the same on any number of threads
    thread_local std::vector<T> dwt_buf;
    dwt_buf.assign(d_W ? size_t(K) * C : 0, T(0));
    T* const dWt = d_W ? dwt_buf.data() : nullptr;
    parallel_ranges(C, int64_t(B) * S * C * K > kParMin && C >= 32, [&](int64_t c0, int64_t c1) {
      conv_back_w_cols(dWt, d_bias, d_out, in, B, S, C, K, c0, c1);
      if (d_W)
        for (int64_t c = c0; c < c1; ++c)
          for (int j = 0; j < K; ++j) d_W[c * K + j] += dWt[int64_t(j) * C + c];
    });
  }
}

namespace {
// One step of rows [0, B): the state shifts by one row while it is read (one pass instead of a memmove and a read),
// the new input goes in last; the taps sum in order k = 0..K-1 after the bias, as before. Cloned (vector loops).
template <class T>
[[gnu::noinline]] XM_CLONES void conv_step_rows(T* __restrict out, T* __restrict state, const T* __restrict x,
                                                const T* __restrict Wt, const T* __restrict bias, int B, int C,
                                                int K) {
  for (int b = 0; b < B; ++b) {
    T* st = state + int64_t(b) * K * C;
    const T* xb = x + int64_t(b) * C;
    T* y = out + int64_t(b) * C;
    if (bias)
      for (int c = 0; c < C; ++c) y[c] = bias[c];
    else
      for (int c = 0; c < C; ++c) y[c] = T(0);
    for (int k = 0; k + 1 < K; ++k) {
      T* dst = st + int64_t(k) * C;
      const T* src = dst + C;
      const T* w = Wt + int64_t(k) * C;
      for (int c = 0; c < C; ++c) {
        const T v = src[c];
        dst[c] = v;
        y[c] += v * w[c];
      }
    }
    T* last = st + int64_t(K - 1) * C;
    const T* w = Wt + int64_t(K - 1) * C;
    for (int c = 0; c < C; ++c) {
      last[c] = xb[c];
      y[c] += xb[c] * w[c];
    }
  }
}
}  // namespace

template <class T>
void causal_conv1d_step(T* out, T* state, const T* x, const T* W_, const T* bias, int B, int C, int K) {
  conv_step_rows(out, state, x, conv_weights_t(W_, C, K), bias, B, C, K);
}

template <class T>
void causal_conv1d_prefill(T* out, T* state, const T* in, const T* W_, const T* bias, int B, int S, int C, int K) {
  const T* Wt = conv_weights_t(W_, C, K);
#pragma omp parallel for if (int64_t(B) * S * C * K > kParMin)
  for (int b = 0; b < B; ++b) {
    const T* st = state + int64_t(b) * K * C;
    for (int t = 0; t < S; ++t) {
      T* y = out + (int64_t(b) * S + t) * C;
      for (int c = 0; c < C; ++c) y[c] = bias ? bias[c] : T(0);
      for (int j = 0; j < K; ++j) {
        int u = t - (K - 1) + j;  // input time; u < 0 reads state row K + u
        const T* x = u >= 0 ? in + (int64_t(b) * S + u) * C : st + int64_t(K + u) * C;
        const T* w = Wt + int64_t(j) * C;
        for (int c = 0; c < C; ++c) y[c] += w[c] * x[c];
      }
    }
  }
  for (int b = 0; b < B; ++b) {
    T* st = state + int64_t(b) * K * C;
    for (int k = 0; k < K; ++k) {  // row k <- input S-K+k; reads only rows > k (not yet overwritten)
      int u = S - K + k;
      const T* src = u >= 0 ? in + (int64_t(b) * S + u) * C : st + int64_t(K + u) * C;
      std::memmove(st + int64_t(k) * C, src, sizeof(T) * C);
    }
  }
}

template <class T>
void causal_conv1d_final_state(T* state, const T* in, int B, int S, int C, int K) {
  for (int b = 0; b < B; ++b)
    for (int k = 0; k < K; ++k) {
      int t = S - K + k;  // row k of the state holds input t = S-K+k
      T* dst = state + (int64_t(b) * K + k) * C;
      if (t < 0)
        std::fill(dst, dst + C, T(0));
      else
        std::memcpy(dst, in + (int64_t(b) * S + t) * C, sizeof(T) * C);
    }
}

// ---------------------------------------------------------------------------------------------- activations
namespace {
template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
template <class T>
inline T gelu(T x) {  // exact GELU x Phi(x); float through the vectorisable normal CDF of nn/fastmath.h
  if constexpr (sizeof(T) == 4)
    return x * normal_cdf_hot(x);
  else
    return T(0.5) * x * (T(1) + std::erf(x * T(0.70710678118654752440)));
}
template <class T>
inline T gelu_grad(T x) {
  if constexpr (sizeof(T) == 4) {
    return normal_cdf_hot(x) + x * normal_pdf_hot(x);
  } else {
    const T cdf = T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
    const T pdf = std::exp(T(-0.5) * x * x) * T(0.39894228040143267794);
    return cdf + x * pdf;
  }
}
template <class T>
inline T act_f(Activation a, T x) {
  switch (a) {
    case Activation::gelu: return gelu(x);
    case Activation::silu: return x * sigmoid(x);
    case Activation::relu: return x > T(0) ? x : T(0);
  }
  return x;
}
template <class T>
inline T act_grad(Activation a, T x) {
  switch (a) {
    case Activation::gelu: return gelu_grad(x);
    case Activation::silu: {
      T s = sigmoid(x);
      return s * (T(1) + x * (T(1) - s));
    }
    case Activation::relu: return x > T(0) ? T(1) : T(0);
  }
  return T(1);
}
}  // namespace

namespace {
// SiLU over [i0, i1) with the vectorisable exp (nn/fastmath.h); out may alias in.
template <class T>
[[gnu::noinline]] XM_CLONES void silu_fwd_range(T* out, const T* in, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const T x = in[i];
    out[i] = x * sigmoid_hot(x);
  }
}
template <class T, bool kAccumulate>
[[gnu::noinline]] XM_CLONES void silu_bwd_range(T* __restrict d_in, const T* __restrict d_out,
                                                const T* __restrict in, int64_t i0, int64_t i1) {
  for (int64_t i = i0; i < i1; ++i) {
    const T x = in[i], sg = sigmoid_hot(x);
    const T d = d_out[i] * (sg * (T(1) + x * (T(1) - sg)));
    if constexpr (kAccumulate)
      d_in[i] += d;
    else
      d_in[i] = d;
  }
}
}  // namespace

template <class T>
void silu_forward(T* out, const T* in, int64_t n) {
  parallel_ranges(n, n > kParMin, [&](int64_t i0, int64_t i1) { silu_fwd_range(out, in, i0, i1); });
}
template <class T>
void silu_backward(T* d_in, const T* d_out, const T* in, int64_t n, bool accumulate) {
  parallel_ranges(n, n > kParMin, [&](int64_t i0, int64_t i1) {
    if (accumulate)
      silu_bwd_range<T, true>(d_in, d_out, in, i0, i1);
    else
      silu_bwd_range<T, false>(d_in, d_out, in, i0, i1);
  });
}
template <class T>
void gelu_forward(T* out, const T* in, int64_t n) {
#pragma omp parallel for if (n > kParMin)
  for (int64_t i = 0; i < n; ++i) out[i] = gelu(in[i]);
}
template <class T>
void gelu_backward(T* d_in, const T* d_out, const T* in, int64_t n) {
#pragma omp parallel for if (n > kParMin)
  for (int64_t i = 0; i < n; ++i) d_in[i] += d_out[i] * gelu_grad(in[i]);
}

Activation parse_activation(const char* name) {
  std::string s = name ? name : "";
  if (s == "gelu") return Activation::gelu;
  if (s == "swish" || s == "silu") return Activation::silu;
  if (s == "relu") return Activation::relu;
  throw Error("act_fn \"" + s + "\" is not supported; use \"gelu\", \"swish\" or \"relu\"");
}
const char* activation_name(Activation a) {
  switch (a) {
    case Activation::gelu: return "gelu";
    case Activation::silu: return "swish";
    case Activation::relu: return "relu";
  }
  return "?";
}

// ---------------------------------------------------------------------------------------------- gated FFN
template <class T>
void gated_ffn_forward(T* out, T* cache_up, T* cache_h, const T* in, const T* W_up, const T* W_down, int N, int D,
                       int P, Activation act) {
  linear_forward<T>(cache_up, in, W_up, nullptr, N, D, 2 * P);
  gated_ffn_gate(cache_h, cache_up, N, P, act);
  linear_forward<T>(out, cache_h, W_down, nullptr, N, P, D);
}

namespace {
// The GELU gate of rows [n0, n1), columns [p0, p1) (act = gelu, the official default): h = gelu(g) u,
// up = [g | u] (N, 2P).
// Out of line and cloned so the float loop vectorises (the generic loop below switches on the activation).
template <class T>
[[gnu::noinline]] XM_CLONES void gelu_gate_rows(T* __restrict h, const T* __restrict up, int64_t n0, int64_t n1,
                                                int P, int p0, int p1) {
  for (int64_t n = n0; n < n1; ++n) {
    const T* g = up + n * 2 * P;
    const T* u = g + P;
    T* hn = h + n * P;
    for (int p = p0; p < p1; ++p) hn[p] = gelu(g[p]) * u[p];
  }
}
// Its backward: d_up = [dh u gelu'(g) | dh gelu(g)].
template <class T>
[[gnu::noinline]] XM_CLONES void gelu_gate_back_rows(T* __restrict d_up, const T* __restrict d_h,
                                                     const T* __restrict up, int64_t n0, int64_t n1, int P) {
  for (int64_t n = n0; n < n1; ++n) {
    const T* g = up + n * 2 * P;
    const T* u = g + P;
    const T* dh = d_h + n * P;
    T* dg = d_up + n * 2 * P;
    T* du = dg + P;
    if constexpr (sizeof(T) == 4) {
      for (int p = 0; p < P; ++p) {
        const T x = g[p], cdf = normal_cdf_hot(x);
        dg[p] = dh[p] * u[p] * (cdf + x * normal_pdf_hot(x));
        du[p] = dh[p] * (x * cdf);
      }
    } else {
      for (int p = 0; p < P; ++p) dg[p] = dh[p] * u[p] * gelu_grad(g[p]), du[p] = dh[p] * gelu(g[p]);
    }
  }
}
}  // namespace

template <class T>
void gated_ffn_gate(T* h, const T* up, int N, int P, Activation act) {
  if (act == Activation::gelu) {
    parallel_ranges(N, int64_t(N) * P > kParMin,
                    [&](int64_t n0, int64_t n1) { gelu_gate_rows(h, up, n0, n1, P, 0, P); });
    return;
  }
#pragma omp parallel for if (int64_t(N) * P > kParMin)
  for (int n = 0; n < N; ++n) gated_ffn_gate_cols(h + int64_t(n) * P, up + int64_t(n) * 2 * P, 1, P, act, 0, P);
}

template <class T>
void gated_ffn_gate_cols(T* h, const T* up, int N, int P, Activation act, int p0, int p1) {
  if (act == Activation::gelu) {
    gelu_gate_rows(h, up, 0, N, P, p0, p1);
    return;
  }
  for (int n = 0; n < N; ++n) {
    const T* g = up + int64_t(n) * 2 * P;
    const T* u = g + P;
    T* hn = h + int64_t(n) * P;
    for (int p = p0; p < p1; ++p) hn[p] = act_f(act, g[p]) * u[p];
  }
}

template <class T>
void gated_ffn_backward(T* d_in, T* d_W_up, T* d_W_down, const T* d_out, const T* cache_up, const T* cache_h,
                        const T* in, const T* W_up, const T* W_down, int N, int D, int P, Activation act) {
  // Scratch kept per thread between calls: a fresh 19 MB (music config) each step cost page faults.
  // (thread_local: the calling thread's buffers; the OpenMP workers below must use the raw pointers.)
  thread_local std::vector<T> d_h_buf, d_up_buf;
  d_h_buf.resize(size_t(N) * P), d_up_buf.resize(size_t(N) * 2 * P);
  T* const d_h = d_h_buf.data();
  T* const d_up = d_up_buf.data();
  gemm<T>(false, false, N, P, D, T(1), d_out, D, W_down, P, T(0), d_h, P);  // d_h = d_out W_down
  linear_backward<T>(nullptr, d_W_down, nullptr, d_out, cache_h, W_down, N, P, D);
  if (act == Activation::gelu) {
    parallel_ranges(N, int64_t(N) * P > kParMin,
                    [&](int64_t n0, int64_t n1) { gelu_gate_back_rows(d_up, d_h, cache_up, n0, n1, P); });
  } else {
#pragma omp parallel for if (int64_t(N) * P > kParMin)
    for (int n = 0; n < N; ++n) {
      const T* g = cache_up + int64_t(n) * 2 * P;
      const T* u = g + P;
      const T* dh = d_h + int64_t(n) * P;
      T* dg = d_up + int64_t(n) * 2 * P;
      T* du = dg + P;
      for (int p = 0; p < P; ++p) {
        dg[p] = dh[p] * u[p] * act_grad(act, g[p]);
        du[p] = dh[p] * act_f(act, g[p]);
      }
    }
  }
  linear_backward<T>(d_in, d_W_up, nullptr, d_up, in, W_up, N, D, 2 * P);
}

// ---------------------------------------------------------------------------------------------- residual
template <class T>
void residual_forward(T* out, const T* a, const T* b, int64_t n) {
#pragma omp parallel for if (n > kParMin)
  for (int64_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
template <class T>
void residual_backward(T* d_a, T* d_b, const T* d_out, int64_t n) {
  if (d_a) {
#pragma omp parallel for if (n > kParMin)
    for (int64_t i = 0; i < n; ++i) d_a[i] += d_out[i];
  }
  if (d_b) {
#pragma omp parallel for if (n > kParMin)
    for (int64_t i = 0; i < n; ++i) d_b[i] += d_out[i];
  }
}

// ---------------------------------------------------------------------------------------------- cross-entropy
namespace {
// log sum_v exp(x_v) of one float row: the max and the sum of exp(x - max) as vector reductions with the vectorisable
// exp of nn/fastmath.h, the sum in double (the double path below keeps libm's exp, bit for bit as before).
[[gnu::noinline]] XM_CLONES double logsumexp_row(const float* __restrict x, int V) {
  float mx = x[0];
#pragma omp simd reduction(max : mx)
  for (int v = 1; v < V; ++v) mx = std::max(mx, x[v]);
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int v = 0; v < V; ++v) s += double(exp_fast(x[v] - mx));
  return double(mx) + std::log(s);
}
// d (+)= scale (exp(logp) - smooth) over one row.
template <class T, bool kAccumulate>
[[gnu::noinline]] XM_CLONES void softmax_grad_row(T* __restrict d, const T* __restrict lp, T scale, T smooth, int V) {
  for (int v = 0; v < V; ++v) {
    const T g = scale * (exp_hot(lp[v]) - smooth);
    if constexpr (kAccumulate)
      d[v] += g;
    else
      d[v] = g;
  }
}
}  // namespace

template <class T>
double cross_entropy_forward(T* cache_logp, int64_t* count_out, const T* logits, const int32_t* targets, int N, int V,
                             int ignore_index, double label_smoothing) {
  for (int n = 0; n < N; ++n)
    if (targets[n] != ignore_index && (targets[n] < 0 || targets[n] >= V))
      throw Error("cross_entropy: target " + std::to_string(targets[n]) + " at row " + std::to_string(n) +
                  " is outside [0, " + std::to_string(V) + ") and is not the ignore index " +
                  std::to_string(ignore_index));
  double total = 0;
  int64_t count = 0;
#pragma omp parallel for reduction(+ : total, count) if (int64_t(N) * V > kParMin)
  for (int n = 0; n < N; ++n) {
    const T* x = logits + int64_t(n) * V;
    double lse;
    if constexpr (sizeof(T) == 4) {
      lse = logsumexp_row(x, V);
    } else {
      double mx = -INFINITY;
      for (int v = 0; v < V; ++v) mx = std::max(mx, double(x[v]));
      double s = 0;
      for (int v = 0; v < V; ++v) s += std::exp(double(x[v]) - mx);
      lse = mx + std::log(s);
    }
    if (cache_logp)
      for (int v = 0; v < V; ++v) cache_logp[int64_t(n) * V + v] = T(double(x[v]) - lse);
    if (targets[n] == ignore_index) continue;
    double l = -(1.0 - label_smoothing) * (double(x[targets[n]]) - lse);
    if (label_smoothing != 0.0) {
      double sum_logp = 0;
      for (int v = 0; v < V; ++v) sum_logp += double(x[v]) - lse;
      l -= label_smoothing / V * sum_logp;
    }
    total += l;
    ++count;
  }
  if (count_out) *count_out = count;
  return count ? total / double(count) : 0.0;
}

template <class T>
void cross_entropy_backward(T* d_logits, double d_loss, const T* cache_logp, const int32_t* targets, int N, int V,
                            int ignore_index, double label_smoothing, bool accumulate) {
  int64_t count = 0;
  for (int n = 0; n < N; ++n) count += targets[n] != ignore_index;
  const T scale = T(count ? d_loss / double(count) : 0.0);
  const T smooth = T(label_smoothing / V), keep = T(1.0 - label_smoothing);
#pragma omp parallel for if (int64_t(N) * V > kParMin)
  for (int n = 0; n < N; ++n) {
    T* d = d_logits + int64_t(n) * V;
    if (targets[n] == ignore_index) {
      if (!accumulate) std::fill(d, d + V, T(0));
      continue;
    }
    const T* lp = cache_logp + int64_t(n) * V;
    if (accumulate)
      softmax_grad_row<T, true>(d, lp, scale, smooth, V);
    else
      softmax_grad_row<T, false>(d, lp, scale, smooth, V);
    d[targets[n]] -= scale * keep;
  }
}

// ---------------------------------------------------------------------------------------------- instantiations
#define XM_OPS_INSTANTIATE(T)                                                                                     \
  template void embedding_forward<T>(T*, const int32_t*, const T*, int, int, int);                               \
  template void embedding_backward<T>(T*, const T*, const int32_t*, int, int, int);                              \
  template void linear_forward<T>(T*, const T*, const T*, const T*, int, int, int);                              \
  template void linear_backward<T>(T*, T*, T*, const T*, const T*, const T*, int, int, int);                     \
  template void headwise_forward<T>(T*, const T*, const T*, int, int, int, int);                                 \
  template void headwise_backward<T>(T*, T*, const T*, const T*, const T*, int, int, int, int, bool);            \
  template void headwise_forward2<T>(T*, T*, const T*, const T*, const T*, int, int, int, int);                  \
  template void headwise_backward2<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, int, int, int, \
                                      int);                                                                       \
  template void layernorm_forward<T>(T*, T*, T*, const T*, const T*, int, int);                                  \
  template void layernorm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, const T*, int, int);       \
  template void multihead_layernorm_forward<T>(T*, T*, T*, const T*, const T*, int, int, int);                   \
  template void multihead_layernorm_backward<T>(T*, T*, const T*, const T*, const T*, const T*, const T*, int,   \
                                                int, int, bool);                                                 \
  template void causal_conv1d_forward<T>(T*, const T*, const T*, const T*, int, int, int, int, T*);              \
  template void causal_conv1d_backward<T>(T*, T*, T*, const T*, const T*, const T*, int, int, int, int);         \
  template void causal_conv1d_step<T>(T*, T*, const T*, const T*, const T*, int, int, int);                      \
  template void causal_conv1d_final_state<T>(T*, const T*, int, int, int, int);                                  \
  template void causal_conv1d_prefill<T>(T*, T*, const T*, const T*, const T*, int, int, int, int);              \
  template void silu_forward<T>(T*, const T*, int64_t);                                                          \
  template void silu_backward<T>(T*, const T*, const T*, int64_t, bool);                                         \
  template void gelu_forward<T>(T*, const T*, int64_t);                                                          \
  template void gelu_backward<T>(T*, const T*, const T*, int64_t);                                               \
  template void gated_ffn_forward<T>(T*, T*, T*, const T*, const T*, const T*, int, int, int, Activation);       \
  template void gated_ffn_gate<T>(T*, const T*, int, int, Activation);                                          \
  template void gated_ffn_gate_cols<T>(T*, const T*, int, int, Activation, int, int);                            \
  template void gated_ffn_backward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const T*, const T*,    \
                                      int, int, int, Activation);                                                \
  template void residual_forward<T>(T*, const T*, const T*, int64_t);                                            \
  template void residual_backward<T>(T*, T*, const T*, int64_t);                                                 \
  template double cross_entropy_forward<T>(T*, int64_t*, const T*, const int32_t*, int, int, int, double);       \
  template void cross_entropy_backward<T>(T*, double, const T*, const int32_t*, int, int, int, double, bool);

XM_OPS_INSTANTIATE(float)
XM_OPS_INSTANTIATE(double)

}  // namespace xm::nn

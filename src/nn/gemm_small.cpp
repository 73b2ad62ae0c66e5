// gemm_small.cpp: the engine's own kernel for products with few rows in float, C(M, N) = alpha A(M, K) B(N, K)^T +
// beta C with 8 <= M <= 16 (a generation step of 16 rows against a weight matrix in the PyTorch (out, in) layout).
// OpenBLAS packs B for such shapes on every call (its copy routine took twice the time of its kernel in a batch-16
// generation profile); this kernel reads B exactly once, straight from the weights. Not a general GEMM.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "nn/gemm.h"
#include "nn/simd.h"

namespace xm::nn {

namespace {
// 16 floats (one row of A^T, zero-padded): AVX-512 holds it in one register, AVX2 in two. aligned(4) and may_alias:
// loads from any float address.
typedef float v16f __attribute__((vector_size(64), aligned(4), may_alias));
#define XM_LD16(p) (*reinterpret_cast<const v16f*>(p))
#define XM_ST16(p, v) (*reinterpret_cast<v16f*>(p) = (v))

// Ct (n1 - n0, 16): Ct[o - n0][m] = sum_k B[o, k] AT[k, m], kO output columns at a time (kO independent FMA
// chains, one broadcast of B[o, k] each: 8 fill AVX-512's registers, AVX2 takes 4), then the rest one by one.
template <int kO>
[[gnu::noinline]] XM_CLONES void small_nt_panel(float* __restrict Ct, const float* __restrict AT,
                                                const float* __restrict B, int ldb, int K, int n0, int n1) {
  int o = n0;
  for (; o + kO <= n1; o += kO) {
    const float* b[kO];
    for (int j = 0; j < kO; ++j) b[j] = B + size_t(o + j) * ldb;
    v16f c[kO] = {};
    int k = 0;
    if (o + 2 * kO <= n1) {
      // the next group's rows, one cache line each per 16 k, fetched into L2 while this group computes
      for (; k + 16 <= K; k += 16) {
        for (int j = 0; j < kO; ++j) __builtin_prefetch(b[j] + size_t(kO) * ldb + k, 0, 2);
        for (int kk = k; kk < k + 16; ++kk) {
          const v16f a = XM_LD16(AT + size_t(kk) * 16);
          for (int j = 0; j < kO; ++j) c[j] += b[j][kk] * a;
        }
      }
    }
    for (; k < K; ++k) {
      const v16f a = XM_LD16(AT + size_t(k) * 16);
      for (int j = 0; j < kO; ++j) c[j] += b[j][k] * a;
    }
    float* out = Ct + size_t(o - n0) * 16;
    for (int j = 0; j < kO; ++j) XM_ST16(out + 16 * j, c[j]);
  }
  for (; o < n1; ++o) {
    const float* b0 = B + size_t(o) * ldb;
    v16f c0 = {};
    for (int k = 0; k < K; ++k) c0 += b0[k] * XM_LD16(AT + size_t(k) * 16);
    XM_ST16(Ct + size_t(o - n0) * 16, c0);
  }
}

// In-register transpose of a 16 x 16 float block (r[i][j] becomes r[j][i]): 32-bit and 64-bit interleaves within
// 128-bit lanes, then two rounds of 128-bit lane shuffles (64 shuffles for 256 floats).
#define XM_SH(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
[[gnu::always_inline]] inline void transpose16(v16f* r) {
  v16f t[16], u[16], v[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = XM_SH(r[2 * i], r[2 * i + 1], 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
    t[2 * i + 1] = XM_SH(r[2 * i], r[2 * i + 1], 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
  }
  for (int i = 0; i < 4; ++i)
    for (int h = 0; h < 2; ++h) {
      const v16f a = t[4 * i + h], b = t[4 * i + h + 2];
      u[4 * i + 2 * h] = XM_SH(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
      u[4 * i + 2 * h + 1] = XM_SH(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
  for (int j = 0; j < 4; ++j)
    for (int h = 0; h < 2; ++h) {
      const v16f a = u[8 * h + j], b = u[8 * h + 4 + j];
      v[8 * h + j] = XM_SH(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
      v[8 * h + 4 + j] = XM_SH(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
    }
  for (int j = 0; j < 8; ++j) {
    const v16f a = v[j], b = v[8 + j];
    r[j] = XM_SH(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
    r[j + 8] = XM_SH(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  }
}
#undef XM_SH

// AT (K, 16) = A (M, K)^T with rows m >= M zero: 16 k at a time through transpose16.
[[gnu::noinline]] XM_CLONES void pack_at(float* __restrict AT, const float* __restrict A, int lda, int M, int K) {
  int k0 = 0;
  for (; k0 + 16 <= K; k0 += 16) {
    v16f r[16];
    for (int m = 0; m < 16; ++m) r[m] = m < M ? XM_LD16(A + size_t(m) * lda + k0) : v16f{};
    transpose16(r);
    for (int j = 0; j < 16; ++j) XM_ST16(AT + size_t(k0 + j) * 16, r[j]);
  }
  for (; k0 < K; ++k0)
    for (int m = 0; m < 16; ++m) AT[size_t(k0) * 16 + m] = m < M ? A[size_t(m) * lda + k0] : 0.f;
}

// C[m][o] = alpha Ct[o - n0][m] (+ beta C[m][o]; beta 0 never reads C) for m < M, o in [n0, n1): 16 outputs at a
// time through transpose16. (Reading Ct down its columns, one float per 64-byte row, was 8% of a batch-16 step.)
[[gnu::noinline]] XM_CLONES void unpack_ct(float* __restrict C, int ldc, const float* __restrict Ct, int M, int n0,
                                           int n1, float alpha, float beta) {
  int o = n0;
  for (; o + 16 <= n1; o += 16) {
    v16f r[16];
    for (int j = 0; j < 16; ++j) r[j] = XM_LD16(Ct + size_t(o - n0 + j) * 16);
    transpose16(r);
    if (M == 16 && beta == 0.f) {
      // (the common case: the team's whole batch) unrolled, so r[m] stays in registers; a runtime m indexed them
      // through a compare chain (7% of a batch-16 generation profile)
#pragma GCC unroll 16
      for (int m = 0; m < 16; ++m) XM_ST16(C + size_t(m) * ldc + o, alpha * r[m]);
      continue;
    }
    for (int m = 0; m < M; ++m) {
      float* c = C + size_t(m) * ldc + o;
      if (beta == 0.f)
        XM_ST16(c, alpha * r[m]);
      else
        XM_ST16(c, alpha * r[m] + beta * XM_LD16(c));
    }
  }
  for (; o < n1; ++o)
    for (int m = 0; m < M; ++m) {
      float* c = C + size_t(m) * ldc + o;
      const float x = alpha * Ct[size_t(o - n0) * 16 + m];
      *c = beta == 0.f ? x : x + beta * *c;
    }
}

bool cpu_has_avx512() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool yes = [] {
    __builtin_cpu_init();
    return bool(__builtin_cpu_supports("avx512f"));
  }();
  return yes;
#else
  return false;
#endif
}
}  // namespace

void gemm_small_pack(float* AT, const float* A, int lda, int M, int K) { pack_at(AT, A, lda, M, K); }

void gemm_small_nt_packed(int M, int N, int K, float alpha, const float* AT, const float* B, int ldb, float beta,
                          float* C, int ldc) {
  // Scratch per thread, kept between calls: a panel of transposed results.
  thread_local std::vector<float> ct;
  constexpr int kPanel = 256;  // output columns per pass: the results stay in L1
  if (ct.size() < size_t(kPanel) * 16) ct.resize(size_t(kPanel) * 16);
  for (int n0 = 0; n0 < N; n0 += kPanel) {
    const int n1 = std::min(N, n0 + kPanel);
    if (cpu_has_avx512())
      small_nt_panel<8>(ct.data(), AT, B, ldb, K, n0, n1);
    else
      small_nt_panel<4>(ct.data(), AT, B, ldb, K, n0, n1);
    unpack_ct(C, ldc, ct.data(), M, n0, n1, alpha, beta);
  }
}

void gemm_small_nt(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                   float* C, int ldc) {
  thread_local std::vector<float> at;  // A^T padded to 16 lanes, kept between calls
  if (at.size() < size_t(K) * 16) at.resize(size_t(K) * 16);
  pack_at(at.data(), A, lda, M, K);
  gemm_small_nt_packed(M, N, K, alpha, at.data(), B, ldb, beta, C, ldc);
}

}  // namespace xm::nn

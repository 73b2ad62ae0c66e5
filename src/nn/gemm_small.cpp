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
    for (int k = 0; k < K; ++k) {
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

void gemm_small_nt(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                   float* C, int ldc) {
  // Scratch per thread, kept between calls: A^T padded to 16 lanes, and a panel of transposed results.
  thread_local std::vector<float> at, ct;
  if (at.size() < size_t(K) * 16) at.resize(size_t(K) * 16);
  for (int k = 0; k < K; ++k) {
    float* row = at.data() + size_t(k) * 16;
    for (int m = 0; m < 16; ++m) row[m] = m < M ? A[size_t(m) * lda + k] : 0.f;
  }
  constexpr int kPanel = 256;  // output columns per pass: the results stay in L1
  if (ct.size() < size_t(kPanel) * 16) ct.resize(size_t(kPanel) * 16);
  for (int n0 = 0; n0 < N; n0 += kPanel) {
    const int n1 = std::min(N, n0 + kPanel);
    if (cpu_has_avx512())
      small_nt_panel<8>(ct.data(), at.data(), B, ldb, K, n0, n1);
    else
      small_nt_panel<4>(ct.data(), at.data(), B, ldb, K, n0, n1);
    for (int m = 0; m < M; ++m) {
      float* c = C + size_t(m) * ldc;
      const float* r = ct.data() + m;
      if (beta == 0.f)
        for (int o = n0; o < n1; ++o) c[o] = alpha * r[size_t(o - n0) * 16];
      else
        for (int o = n0; o < n1; ++o) c[o] = alpha * r[size_t(o - n0) * 16] + beta * c[o];
    }
  }
}

}  // namespace xm::nn

// gemm.h: the one matrix-multiply entry point of the engine, templated on the float type. float and double
// go to OpenBLAS (cblas_sgemm / cblas_dgemm) when it is linked, else to a plain loop. Row-major only.
// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, with op = transpose when ta / tb.
// Threads (nn/runtime.h): OpenBLAS runs single-threaded; a large product called from outside a parallel region
// is split into row (or column) panels over the OpenMP threads, so one pool serves kernels and GEMMs alike.
#pragma once
#include <algorithm>
#include <cstddef>

#ifdef XM_HAVE_BLAS
#include <cblas.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

namespace xm::nn {

template <class T>
inline void gemm_ref(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
                     T beta, T* C, int ldc) {
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      T acc = 0;
      for (int k = 0; k < K; ++k) {
        T a = ta ? A[size_t(k) * lda + i] : A[size_t(i) * lda + k];
        T b = tb ? B[size_t(j) * ldb + k] : B[size_t(k) * ldb + j];
        acc += a * b;
      }
      C[size_t(i) * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * C[size_t(i) * ldc + j]);
    }
  }
}

// Float C(M, N) = alpha A(M, K) B(N, K)^T + beta C for 1 <= M <= 16 (nn/gemm_small.cpp): reads B once, unpacked.
// gemm_serial takes it for kSmallRowsMin..16 rows with B transposed (generation steps against weight matrices).
void gemm_small_nt(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb, float beta,
                   float* C, int ldc);
constexpr int kSmallRowsMin = 8, kSmallRowsMax = 16;
// The same in two parts, for callers that run many column ranges against one A (a team of threads sharing out a
// weight matrix's columns): AT (K, 16) = A^T packed once (rows M..15 zero), then products of ranges of B's rows.
void gemm_small_pack(float* AT, const float* A, int lda, int M, int K);
void gemm_small_nt_packed(int M, int N, int K, float alpha, const float* AT, const float* B, int ldb, float beta,
                          float* C, int ldc);

// One product on the calling thread.
template <class T>
inline void gemm_serial(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb,
                        T beta, T* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if constexpr (sizeof(T) == 4) {
    if (!ta && tb && M >= kSmallRowsMin && M <= kSmallRowsMax && K > 0) {
      gemm_small_nt(M, N, K, float(alpha), (const float*)A, lda, (const float*)B, ldb, float(beta), (float*)C, ldc);
      return;
    }
  }
#ifdef XM_HAVE_BLAS
  if constexpr (sizeof(T) == 4) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                (const float*)A, lda, (const float*)B, ldb, beta, (float*)C, ldc);
    return;
  } else if constexpr (sizeof(T) == 8) {
    cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N, K, alpha,
                (const double*)A, lda, (const double*)B, ldb, beta, (double*)C, ldc);
    return;
  }
#endif
  gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// Below this many multiply-adds a product stays on one thread (a fork/join costs more than it saves), unless it has
// few rows and a large B: then it streams B from memory (generation steps), and two cores stream twice as fast.
constexpr double kGemmParallelMin = double(1 << 20);
constexpr double kGemmStreamMin = double(1 << 16);  // elements of B
constexpr int kGemmStreamRows = 32;

template <class T>
inline void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
                 T* C, int ldc) {
  if (M <= 0 || N <= 0) return;
#ifdef _OPENMP
  const int nt = omp_in_parallel() ? 1 : omp_get_max_threads();
  if (nt > 1 && (double(M) * N * K >= kGemmParallelMin || (M <= kGemmStreamRows && double(N) * K >= kGemmStreamMin))) {
    // Panels of whole 16-row (or 16-column) blocks, one per thread, along the longer side of C.
    const bool rows = M >= N;
    const int len = rows ? M : N;
    const int parts = std::min(nt, (len + 15) / 16);
    if (parts > 1) {
      const int per = ((len + parts - 1) / parts + 15) / 16 * 16;
#pragma omp parallel for num_threads(parts) schedule(static, 1)
      for (int p = 0; p < parts; ++p) {
        const int a = p * per, n = std::min(len, a + per) - a;
        if (n <= 0) continue;
        if (rows)
          gemm_serial(ta, tb, n, N, K, alpha, ta ? A + a : A + size_t(a) * lda, lda, B, ldb, beta,
                      C + size_t(a) * ldc, ldc);
        else
          gemm_serial(ta, tb, M, n, K, alpha, A, lda, tb ? B + size_t(a) * ldb : B + a, ldb, beta, C + a, ldc);
      }
      return;
    }
  }
#endif
  gemm_serial(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace xm::nn

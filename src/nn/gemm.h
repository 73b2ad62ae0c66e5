// gemm.h: the one matrix-multiply entry point of the engine, templated on the float type. float and double
// go to OpenBLAS (cblas_sgemm / cblas_dgemm) when it is linked, else to a plain loop. Row-major only.
// C(M,N) = alpha * op(A)(M,K) * op(B)(K,N) + beta * C, with op = transpose when ta / tb.
#pragma once
#include <cstddef>

#ifdef XM_HAVE_BLAS
#include <cblas.h>
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

template <class T>
inline void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta,
                 T* C, int ldc) {
  if (M <= 0 || N <= 0) return;
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

}  // namespace xm::nn

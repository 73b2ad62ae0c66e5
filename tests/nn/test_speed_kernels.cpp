// test_speed_kernels.cpp: the generation-speed kernels agree with the plain paths: the few-rows float GEMM
// (gemm_small_nt) against the double reference loop, and the fused mLSTM cell step against its unfused composition
// (gate pre-activations, backend step, multi-head norm) at the music shape, in float and double. Not speed tests.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "nn/gemm.h"
#include "nn/mlstm.h"
#include "nn/ops.h"
#include "nn/runtime.h"

namespace {

std::vector<double> randn(size_t n, uint64_t seed, double sd = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0, sd);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// The unfused cell step: both gates by plain loops, the backend step, then the multi-head norm.
template <class T>
void cell_step_unfused(T* h, const xm::nn::MlstmState<T>& st, const T* q, const T* k, const T* v,
                       const xm::nn::MlstmCellWeights<T>& w, int B, int NH, int DH) {
  const int H = NH * DH;
  std::vector<T> ig(size_t(B) * NH), fg(size_t(B) * NH), ht(size_t(B) * H), mu(size_t(B) * NH), rs(size_t(B) * NH);
  for (int b = 0; b < B; ++b)
    for (int hh = 0; hh < NH; ++hh) {
      T si = 0, sf = 0;
      const T* in[3] = {q + size_t(b) * H, k + size_t(b) * H, v + size_t(b) * H};
      for (int p = 0; p < 3; ++p)
        for (int j = 0; j < H; ++j) {
          si += in[p][j] * w.igate_w[size_t(hh) * 3 * H + size_t(p) * H + j];
          sf += in[p][j] * w.fgate_w[size_t(hh) * 3 * H + size_t(p) * H + j];
        }
      ig[size_t(b) * NH + hh] = si + w.igate_b[hh];
      fg[size_t(b) * NH + hh] = sf + w.fgate_b[hh];
    }
  xm::nn::mlstm_step(ht.data(), st, q, k, v, ig.data(), fg.data(), B, NH, DH);
  xm::nn::multihead_layernorm_forward(h, mu.data(), rs.data(), ht.data(), w.outnorm_w, B, NH, DH);
}

// Steps the fused and the unfused cell side by side from the zero state; returns the largest |difference| of the
// outputs and of the state C over all steps.
template <class T>
double fused_vs_unfused(int B, int NH, int DH, int steps, int threads) {
  xm::nn::set_threads(threads);
  const int H = NH * DH;
  const auto wi = cast<T>(randn(size_t(NH) * 3 * H, 31, 0.02)), wf = cast<T>(randn(size_t(NH) * 3 * H, 32, 0.02));
  const auto bi = cast<T>(randn(size_t(NH), 33)), bf = cast<T>(randn(size_t(NH), 34, 2.0));
  const auto wn = cast<T>(randn(size_t(H), 35, 0.1));
  xm::nn::MlstmCellWeights<T> w{wi.data(), bi.data(), wf.data(), bf.data(), wn.data()};
  xm::nn::MlstmStateBuffer<T> s1, s2;
  s1.reset(B, NH, DH), s2.reset(B, NH, DH);
  std::vector<T> h1(size_t(B) * H), h2(size_t(B) * H);
  double worst = 0;
  for (int t = 0; t < steps; ++t) {
    const auto q = cast<T>(randn(size_t(B) * H, 100 + t)), k = cast<T>(randn(size_t(B) * H, 200 + t)),
               v = cast<T>(randn(size_t(B) * H, 300 + t));
    xm::nn::mlstm_cell_step(h1.data(), s1.view(), q.data(), k.data(), v.data(), w, B, NH, DH);
    cell_step_unfused(h2.data(), s2.view(), q.data(), k.data(), v.data(), w, B, NH, DH);
    for (size_t i = 0; i < h1.size(); ++i) worst = std::max(worst, std::fabs(double(h1[i]) - double(h2[i])));
    for (size_t i = 0; i < s1.C.size(); ++i)
      worst = std::max(worst, std::fabs(double(s1.C[i]) - double(s2.C[i])) / (1 + std::fabs(double(s2.C[i]))));
    for (size_t i = 0; i < s1.m.size(); ++i) worst = std::max(worst, std::fabs(double(s1.m[i]) - double(s2.m[i])));
  }
  return worst;
}

}  // namespace

// C = alpha A B^T + beta C with 8..16 rows (the few-rows kernel gemm_serial uses for float) against the double
// loop: strided operands, an odd K and N (tails), beta 0 ignoring what C held (NaN) and beta != 0 accumulating.
TEST(nn, gemm_small_rows_matches_reference) {
  for (int M : {8, 13, 16})
    for (int N : {3, 301})
      for (int K : {1, 64, 257})
        for (int b = 0; b < 2; ++b) {
          const int lda = K + 3, ldb = K + 5, ldc = N + 2;
          const auto A = randn(size_t(M) * lda, 1 + M), Bm = randn(size_t(N) * ldb, 2 + N),
                     C0 = randn(size_t(M) * ldc, 3 + K);
          const double alpha = 0.75, beta = b ? -0.5 : 0.0;
          std::vector<double> want = C0;
          xm::nn::gemm_ref<double>(false, true, M, N, K, alpha, A.data(), lda, Bm.data(), ldb, beta, want.data(), ldc);
          std::vector<float> Cf = cast<float>(C0);
          if (!b)
            for (auto& x : Cf) x = std::numeric_limits<float>::quiet_NaN();
          const auto Af = cast<float>(A), Bf = cast<float>(Bm);
          xm::nn::gemm_serial<float>(false, true, M, N, K, float(alpha), Af.data(), lda, Bf.data(), ldb, float(beta),
                                     Cf.data(), ldc);
          double worst = 0;
          for (int m = 0; m < M; ++m)
            for (int n = 0; n < N; ++n) {
              const size_t i = size_t(m) * ldc + n;
              worst = std::max(worst, std::fabs(double(Cf[i]) - want[i]) / (1 + std::fabs(want[i])));
            }
          EXPECT_LT(worst, 2e-5) << "M " << M << " N " << N << " K " << K << " beta " << beta;
          // padding columns of C are left alone
          if (b) {
            for (int m = 0; m < M; ++m)
              for (int n = N; n < ldc; ++n) {
                EXPECT_EQ(Cf[size_t(m) * ldc + n], float(C0[size_t(m) * ldc + n]));
              }
          }
        }
}

// The fused generation step of the mLSTM cell (one pass per row and head) equals gates + backend step + norm.
TEST(nn, mlstm_cell_step_fused_matches_unfused_double) {
  EXPECT_LT(fused_vs_unfused<double>(3, 2, 16, 12, 2), 1e-12);
}
TEST(nn, mlstm_cell_step_fused_matches_unfused_float_music_shape) {
  // 16 rows x 4 heads x 128 (the batch-16 generation of the music config), threaded
  EXPECT_LT(fused_vs_unfused<float>(16, 4, 128, 6, 2), 2e-4);
  // the other state-pass widths: 64-column blocks (DH = 64, 192) and two 128-column blocks (DH = 256)
  EXPECT_LT(fused_vs_unfused<float>(3, 2, 64, 6, 2), 2e-4);
  EXPECT_LT(fused_vs_unfused<float>(2, 1, 192, 5, 1), 2e-4);
  EXPECT_LT(fused_vs_unfused<float>(2, 2, 256, 5, 2), 2e-4);
}

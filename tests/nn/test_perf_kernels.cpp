// test_perf_kernels.cpp: the fast paths added for speed agree with the plain ones: the float 4x4 headwise vector
// kernels against the double loops, the threaded GEMM split against one serial GEMM, the float norms against
// double. Not speed tests (those are `xlstm-music bench`).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nn/fastmath.h"
#include "nn/gemm.h"
#include "nn/ops.h"
#include "nn/runtime.h"

namespace {

std::vector<double> randn(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0, 1);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
std::vector<float> to_float(const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); }

// max |a - b| / (1 + |b|)
double max_rel(const std::vector<float>& a, const std::vector<double>& b) {
  double m = 0;
  for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]) / (1 + std::fabs(b[i])));
  return m;
}

}  // namespace

// The mLSTM q/k/v projections (128 blocks of 4x4, 37 rows: threads get unequal slices) in float take the vector
// kernels; forward, d_in and d_W must match the double loops, accumulating into non-zero buffers.
TEST(nn, headwise_4x4_vector_kernels_match_double) {
  const int N = 37, NB = 128, I = NB * 4;
  const auto x = randn(size_t(N) * I, 1), W = randn(size_t(NB) * 16, 2), dy = randn(size_t(N) * I, 3);
  const auto din0 = randn(size_t(N) * I, 4), dw0 = randn(size_t(NB) * 16, 5);
  std::vector<double> y(size_t(N) * I), din = din0, dw = dw0;
  xm::nn::headwise_forward<double>(y.data(), x.data(), W.data(), N, NB, 4, 4);
  xm::nn::headwise_backward<double>(din.data(), dw.data(), dy.data(), x.data(), W.data(), N, NB, 4, 4);
  const auto xf = to_float(x), Wf = to_float(W), dyf = to_float(dy);
  std::vector<float> yf(size_t(N) * I), dinf = to_float(din0), dwf = to_float(dw0);
  xm::nn::headwise_forward<float>(yf.data(), xf.data(), Wf.data(), N, NB, 4, 4);
  xm::nn::headwise_backward<float>(dinf.data(), dwf.data(), dyf.data(), xf.data(), Wf.data(), N, NB, 4, 4);
  EXPECT_LT(max_rel(yf, y), 1e-5);
  EXPECT_LT(max_rel(dinf, din), 1e-5);
  EXPECT_LT(max_rel(dwf, dw), 1e-5);
  // one gradient at a time (the fused pass needs both): the same values
  std::vector<float> din_only = to_float(din0), dw_only = to_float(dw0);
  xm::nn::headwise_backward<float>(din_only.data(), nullptr, dyf.data(), xf.data(), Wf.data(), N, NB, 4, 4);
  xm::nn::headwise_backward<float>(nullptr, dw_only.data(), dyf.data(), xf.data(), Wf.data(), N, NB, 4, 4);
  EXPECT_LT(max_rel(din_only, din), 1e-5);
  EXPECT_LT(max_rel(dw_only, dw), 1e-5);
  // forward: two projections of the same input in one pass = two calls
  std::vector<float> q1(size_t(N) * I), k1(size_t(N) * I), q2(size_t(N) * I), k2(size_t(N) * I);
  const auto Wkf = to_float(randn(size_t(NB) * 16, 8));
  xm::nn::headwise_forward<float>(q1.data(), xf.data(), Wf.data(), N, NB, 4, 4);
  xm::nn::headwise_forward<float>(k1.data(), xf.data(), Wkf.data(), N, NB, 4, 4);
  xm::nn::headwise_forward2<float>(q2.data(), k2.data(), xf.data(), Wf.data(), Wkf.data(), N, NB, 4, 4);
  EXPECT_EQ(q2, q1);
  EXPECT_EQ(k2, k1);
  // two projections of the same input in one pass = two calls; overwrite = accumulate into zeros
  const auto W2 = randn(size_t(NB) * 16, 6), dy2 = randn(size_t(N) * I, 7);
  const auto W2f = to_float(W2), dy2f = to_float(dy2);
  std::vector<float> din_a = to_float(din0), dw1_a = to_float(dw0), dw2_a = to_float(dw0);
  std::vector<float> din_b = din_a, dw1_b = dw1_a, dw2_b = dw2_a;
  xm::nn::headwise_backward<float>(din_a.data(), dw1_a.data(), dyf.data(), xf.data(), Wf.data(), N, NB, 4, 4);
  xm::nn::headwise_backward<float>(din_a.data(), dw2_a.data(), dy2f.data(), xf.data(), W2f.data(), N, NB, 4, 4);
  xm::nn::headwise_backward2<float>(din_b.data(), dw1_b.data(), dw2_b.data(), dyf.data(), dy2f.data(), xf.data(),
                                    Wf.data(), W2f.data(), N, NB, 4, 4);
  std::vector<double> din_ad(din_a.begin(), din_a.end()), dw1_ad(dw1_a.begin(), dw1_a.end()),
      dw2_ad(dw2_a.begin(), dw2_a.end());
  EXPECT_LT(max_rel(din_b, din_ad), 1e-6);
  EXPECT_EQ(dw1_b, dw1_a);  // the same sums in the same order
  EXPECT_EQ(dw2_b, dw2_a);
  for (bool with_dw : {true, false}) {
    std::vector<float> zero(size_t(N) * I, 0.f), over(size_t(N) * I, 1e30f), dwa = to_float(dw0), dwb = dwa;
    xm::nn::headwise_backward<float>(zero.data(), with_dw ? dwa.data() : nullptr, dyf.data(), xf.data(), Wf.data(), N,
                                     NB, 4, 4);
    xm::nn::headwise_backward<float>(over.data(), with_dw ? dwb.data() : nullptr, dyf.data(), xf.data(), Wf.data(), N,
                                     NB, 4, 4, false);
    std::vector<double> zd(zero.begin(), zero.end());
    EXPECT_LT(max_rel(over, zd), 1e-6) << with_dw;
    EXPECT_EQ(dwb, dwa);
  }
}

// A product large enough to be split over threads equals the serial product, in every transpose combination and
// both split directions (tall C: rows; wide C: columns), with beta accumulating.
TEST(nn, gemm_thread_split_matches_serial) {
  xm::nn::set_threads(2);
  const int shapes[2][3] = {{300, 70, 64}, {40, 333, 96}};  // (M, N, K), both above the split threshold
  for (const auto& sh : shapes) {
    const int M = sh[0], N = sh[1], K = sh[2];
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        const auto A = randn(size_t(M) * K, 7), B = randn(size_t(K) * N, 8), C0 = randn(size_t(M) * N, 9);
        std::vector<double> C1 = C0, C2 = C0;
        const int lda = ta ? M : K, ldb = tb ? K : N;
        xm::nn::gemm<double>(ta, tb, M, N, K, 0.5, A.data(), lda, B.data(), ldb, 0.25, C1.data(), N);
        xm::nn::gemm_serial<double>(ta, tb, M, N, K, 0.5, A.data(), lda, B.data(), ldb, 0.25, C2.data(), N);
        double md = 0;
        for (size_t i = 0; i < C1.size(); ++i) md = std::max(md, std::fabs(C1[i] - C2[i]));
        EXPECT_LT(md, 1e-12) << "M " << M << " N " << N << " ta " << ta << " tb " << tb;
      }
  }
}

// The float norms sum with vector reductions; they must still agree with the double path.
TEST(nn, float_group_norm_matches_double) {
  const int N = 19, NH = 4, DH = 64, D = NH * DH;
  auto x = randn(size_t(N) * D, 11);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 3 + 2 * x[i];  // an offset and scale the two-pass sums must handle
  const auto w = randn(size_t(D), 12), dy = randn(size_t(N) * D, 13);
  std::vector<double> y(size_t(N) * D), mu(size_t(N) * NH), rs(size_t(N) * NH), dx(size_t(N) * D, 0.0);
  xm::nn::multihead_layernorm_forward<double>(y.data(), mu.data(), rs.data(), x.data(), w.data(), N, NH, DH);
  xm::nn::multihead_layernorm_backward<double>(dx.data(), nullptr, dy.data(), x.data(), mu.data(), rs.data(),
                                               w.data(), N, NH, DH);
  const auto xf = to_float(x), wf = to_float(w), dyf = to_float(dy);
  std::vector<float> yf(size_t(N) * D), muf(size_t(N) * NH), rsf(size_t(N) * NH), dxf(size_t(N) * D, 0.f);
  xm::nn::multihead_layernorm_forward<float>(yf.data(), muf.data(), rsf.data(), xf.data(), wf.data(), N, NH, DH);
  xm::nn::multihead_layernorm_backward<float>(dxf.data(), nullptr, dyf.data(), xf.data(), muf.data(), rsf.data(),
                                              wf.data(), N, NH, DH);
  EXPECT_LT(max_rel(yf, y), 1e-5);
  EXPECT_LT(max_rel(dxf, dx), 1e-4);
}

// The vectorisable exp of the float hot loops: within a few ulp of libm over the whole finite range, clamped (finite,
// non-zero) outside it; the double version to ~1e-15 (the double reference path itself keeps libm, exp_hot).
TEST(nn, exp_fast_matches_libm) {
  double worst_f = 0, worst_d = 0;
  for (int i = -870000; i <= 880000; ++i) {
    const float x = float(i) * 1e-4f;
    const double want = std::exp(double(x));
    worst_f = std::max(worst_f, std::fabs(double(xm::nn::exp_fast(x)) - want) / want);
    const double xd = double(i) * 8.0e-4;  // [-696, 704]
    worst_d = std::max(worst_d, std::fabs(xm::nn::exp_fast(xd) - std::exp(xd)) / std::exp(xd));
  }
  EXPECT_LT(worst_f, 3e-7);
  EXPECT_LT(worst_d, 1e-15);
  EXPECT_GT(xm::nn::exp_fast(-1000.0f), 0.f);
  EXPECT_TRUE(std::isfinite(xm::nn::exp_fast(1000.0f)));
  EXPECT_NEAR(xm::nn::sigmoid_hot(0.f), 0.5f, 1e-7);
  EXPECT_EQ(xm::nn::sigmoid_hot(-1000.f) >= 0.f, true);
}

// The gated FFN backward keeps its scratch between calls and runs its elementwise part on all threads (a size over
// the parallel threshold): twice in a row, in float, it must match the double result.
TEST(nn, gated_ffn_backward_threaded_scratch_matches_double) {
  xm::nn::set_threads(2);
  const int N = 256, D = 64, P = 128;
  const auto x = randn(size_t(N) * D, 21), Wu = randn(size_t(2 * P) * D, 22), Wd = randn(size_t(D) * P, 23);
  const auto dy = randn(size_t(N) * D, 24);
  std::vector<double> out(size_t(N) * D), up(size_t(N) * 2 * P), h(size_t(N) * P), dx(size_t(N) * D, 0.0),
      dWu(Wu.size(), 0.0), dWd(Wd.size(), 0.0);
  xm::nn::gated_ffn_forward<double>(out.data(), up.data(), h.data(), x.data(), Wu.data(), Wd.data(), N, D, P,
                                    xm::nn::Activation::gelu);
  xm::nn::gated_ffn_backward<double>(dx.data(), dWu.data(), dWd.data(), dy.data(), up.data(), h.data(), x.data(),
                                     Wu.data(), Wd.data(), N, D, P, xm::nn::Activation::gelu);
  const auto xf = to_float(x), Wuf = to_float(Wu), Wdf = to_float(Wd), dyf = to_float(dy);
  for (int rep = 0; rep < 2; ++rep) {
    std::vector<float> o(size_t(N) * D), u(size_t(N) * 2 * P), hh(size_t(N) * P), dxf(size_t(N) * D, 0.f),
        dWuf(Wu.size(), 0.f), dWdf(Wd.size(), 0.f);
    xm::nn::gated_ffn_forward<float>(o.data(), u.data(), hh.data(), xf.data(), Wuf.data(), Wdf.data(), N, D, P,
                                     xm::nn::Activation::gelu);
    xm::nn::gated_ffn_backward<float>(dxf.data(), dWuf.data(), dWdf.data(), dyf.data(), u.data(), hh.data(),
                                      xf.data(), Wuf.data(), Wdf.data(), N, D, P, xm::nn::Activation::gelu);
    EXPECT_LT(max_rel(dxf, dx), 1e-3) << "rep " << rep;
    EXPECT_LT(max_rel(dWuf, dWu), 1e-3) << "rep " << rep;
    EXPECT_LT(max_rel(dWdf, dWd), 1e-3) << "rep " << rep;
  }
}

// Tests of nn/ops.h: a finite-difference gradient check in double for every op (TEST(nn, gradcheck_<op>)),
// plus forward checks against direct formulas, the conv step form against the sequence form, and float
// against double. Not the cells (test_slstm*, test_mlstm*) and not the model (tests/model).
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "nn/gradcheck.h"
#include "nn/ops.h"

using namespace xm::nn;
using xmtest::gradcheck;
using xmtest::random_vector;

TEST(nn, gradcheck_embedding) {
  const int N = 5, V = 4, D = 3;
  std::vector<int32_t> ids = {1, 3, 1, 0, 2};
  std::vector<double> table = random_vector(V * D, 1), d_table;
  auto fwd = [&] {
    std::vector<double> y(N * D);
    embedding_forward(y.data(), ids.data(), table.data(), N, V, D);
    return y;
  };
  auto bwd = [&](const std::vector<double>& dy) { embedding_backward(d_table.data(), dy.data(), ids.data(), N, V, D); };
  EXPECT_TRUE(gradcheck("embedding", {{"table", &table, &d_table}}, fwd, bwd));
  ids[2] = 4;
  EXPECT_THROW(fwd(), xm::Error);
}

TEST(nn, gradcheck_linear) {
  const int N = 4, I = 5, O = 3;
  std::vector<double> x = random_vector(N * I, 2), W = random_vector(O * I, 3), b = random_vector(O, 4), dx, dW, db;
  auto fwd = [&] {
    std::vector<double> y(N * O);
    linear_forward(y.data(), x.data(), W.data(), b.data(), N, I, O);
    return y;
  };
  auto bwd = [&](const std::vector<double>& dy) {
    linear_backward(dx.data(), dW.data(), db.data(), dy.data(), x.data(), W.data(), N, I, O);
  };
  EXPECT_TRUE(gradcheck("linear", {{"x", &x, &dx}, {"W", &W, &dW}, {"b", &b, &db}}, fwd, bwd));
  // y = x W^T + b, directly
  std::vector<double> y = fwd();
  for (int n = 0; n < N; ++n)
    for (int o = 0; o < O; ++o) {
      double r = b[o];
      for (int i = 0; i < I; ++i) r += x[n * I + i] * W[o * I + i];
      EXPECT_NEAR(y[n * O + o], r, 1e-14);
    }
}

// Both code paths of the headwise op: small blocks (direct loops) and large blocks (gemm).
TEST(nn, gradcheck_headwise) {
  for (int DI : {4, 20}) {
    const int N = 3, NB = 3, DO = DI == 4 ? 4 : 18;
    std::vector<double> x = random_vector(N * NB * DI, 5), W = random_vector(NB * DO * DI, 6), dx, dW;
    auto fwd = [&] {
      std::vector<double> y(N * NB * DO);
      headwise_forward(y.data(), x.data(), W.data(), N, NB, DI, DO);
      return y;
    };
    auto bwd = [&](const std::vector<double>& dy) {
      headwise_backward(dx.data(), dW.data(), dy.data(), x.data(), W.data(), N, NB, DI, DO);
    };
    EXPECT_TRUE(gradcheck("headwise DI=" + std::to_string(DI), {{"x", &x, &dx}, {"W", &W, &dW}}, fwd, bwd));
    std::vector<double> y = fwd();
    for (int n = 0; n < N; ++n)
      for (int h = 0; h < NB; ++h)
        for (int o = 0; o < DO; ++o) {
          double r = 0;
          for (int d = 0; d < DI; ++d) r += x[n * NB * DI + h * DI + d] * W[(h * DO + o) * DI + d];
          EXPECT_NEAR(y[n * NB * DO + h * DO + o], r, 1e-13);
        }
  }
}

TEST(nn, gradcheck_layernorm) {
  const int N = 4, D = 7;
  std::vector<double> x = random_vector(N * D, 7, -2, 2), w = random_vector(D, 8, -0.5, 0.5), dx, dw;
  std::vector<double> mean(N), rstd(N);
  auto fwd = [&] {
    std::vector<double> y(N * D);
    layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), N, D);
    return y;
  };
  auto bwd = [&](const std::vector<double>& dy) {
    layernorm_backward(dx.data(), dw.data(), dy.data(), x.data(), mean.data(), rstd.data(), w.data(), N, D);
  };
  EXPECT_TRUE(gradcheck("layernorm", {{"x", &x, &dx}, {"w", &w, &dw}}, fwd, bwd));
  // F.layer_norm(x, eps=1e-5, weight=1+w): biased variance
  std::vector<double> y = fwd();
  for (int n = 0; n < N; ++n) {
    double mu = 0, var = 0;
    for (int d = 0; d < D; ++d) mu += x[n * D + d] / D;
    for (int d = 0; d < D; ++d) var += (x[n * D + d] - mu) * (x[n * D + d] - mu) / D;
    for (int d = 0; d < D; ++d)
      EXPECT_NEAR(y[n * D + d], (x[n * D + d] - mu) / std::sqrt(var + 1e-5) * (1 + w[d]), 1e-13);
  }
}

TEST(nn, gradcheck_multihead_layernorm) {
  const int N = 3, NH = 3, DH = 5;
  std::vector<double> x = random_vector(N * NH * DH, 9, -2, 2), w = random_vector(NH * DH, 10, -0.5, 0.5), dx, dw;
  std::vector<double> mean(N * NH), rstd(N * NH);
  auto fwd = [&] {
    std::vector<double> y(N * NH * DH);
    multihead_layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), N, NH, DH);
    return y;
  };
  auto bwd = [&](const std::vector<double>& dy) {
    multihead_layernorm_backward(dx.data(), dw.data(), dy.data(), x.data(), mean.data(), rstd.data(), w.data(), N,
                                 NH, DH);
  };
  EXPECT_TRUE(gradcheck("multihead_layernorm", {{"x", &x, &dx}, {"w", &w, &dw}}, fwd, bwd));
  // each head is normalised on its own: head 1 of row 2 has mean 0 and (before the gain) variance ~1
  std::vector<double> y = fwd();
  double mu = 0, var = 0;
  for (int d = 0; d < DH; ++d) mu += y[2 * NH * DH + DH + d] / (1 + w[DH + d]) / DH;
  for (int d = 0; d < DH; ++d) var += std::pow(y[2 * NH * DH + DH + d] / (1 + w[DH + d]) - mu, 2) / DH;
  EXPECT_NEAR(mu, 0.0, 1e-13);
  EXPECT_NEAR(var, 1.0, 1e-3);  // eps 1e-5 over a variance of O(1)
}

// accumulate = false (the training step's zero-free buffers) writes what accumulating into zeros gives, over garbage.
TEST(nn, multihead_layernorm_backward_can_overwrite) {
  const int N = 5, NH = 4, DH = 16, C = NH * DH;
  std::vector<double> xd = random_vector(N * C, 60), wd = random_vector(C, 61, -0.3, 0.3), dyd = random_vector(N * C, 62);
  std::vector<float> x(xd.begin(), xd.end()), w(wd.begin(), wd.end()), dy(dyd.begin(), dyd.end());
  std::vector<float> y(N * C), mean(N * NH), rstd(N * NH), acc(N * C, 0.0f), over(N * C, -7.0f);
  multihead_layernorm_forward(y.data(), mean.data(), rstd.data(), x.data(), w.data(), N, NH, DH);
  multihead_layernorm_backward<float>(acc.data(), nullptr, dy.data(), x.data(), mean.data(), rstd.data(), w.data(), N, NH, DH);
  multihead_layernorm_backward<float>(over.data(), nullptr, dy.data(), x.data(), mean.data(), rstd.data(), w.data(), N, NH, DH,
                               false);
  EXPECT_EQ(over, acc);
}

TEST(nn, gradcheck_causal_conv1d) {
  const int B = 2, S = 6, C = 3, K = 4;
  std::vector<double> x = random_vector(B * S * C, 11), W = random_vector(C * K, 12), b = random_vector(C, 13), dx,
                      dW, db;
  auto fwd = [&] {
    std::vector<double> y(B * S * C);
    causal_conv1d_forward(y.data(), x.data(), W.data(), b.data(), B, S, C, K);
    return y;
  };
  auto bwd = [&](const std::vector<double>& dy) {
    causal_conv1d_backward(dx.data(), dW.data(), db.data(), dy.data(), x.data(), W.data(), B, S, C, K);
  };
  EXPECT_TRUE(gradcheck("causal_conv1d", {{"x", &x, &dx}, {"W", &W, &dW}, {"b", &b, &db}}, fwd, bwd));
  // W[c, K-1] multiplies the current input: a delta at t=0 shows W[c, K-1-t] at time t.
  std::vector<double> delta(B * S * C, 0.0), y(B * S * C);
  delta[1] = 1.0;  // b=0, t=0, c=1
  causal_conv1d_forward(y.data(), delta.data(), W.data(), b.data(), B, S, C, K);
  for (int t = 0; t < S; ++t) EXPECT_DOUBLE_EQ(y[t * C + 1], b[1] + (t < K ? W[1 * K + (K - 1 - t)] : 0.0));
}

// The conv forward's fused SiLU output is exactly silu_forward of its output (float: the vectorised exp in both).
TEST(nn, causal_conv1d_forward_fused_silu_equals_separate) {
  const int B = 3, S = 37, C = 48, K = 4;
  const auto xd = random_vector(B * S * C, 70, -3, 3), Wd = random_vector(C * K, 71), bd = random_vector(C, 72);
  std::vector<float> x(xd.begin(), xd.end()), W(Wd.begin(), Wd.end()), b(bd.begin(), bd.end());
  std::vector<float> y1(B * S * C), a1(B * S * C), y2(B * S * C), a2(B * S * C, -1.0f);
  causal_conv1d_forward(y1.data(), x.data(), W.data(), b.data(), B, S, C, K);
  silu_forward(a1.data(), y1.data(), int64_t(B) * S * C);
  causal_conv1d_forward(y2.data(), x.data(), W.data(), b.data(), B, S, C, K, a2.data());
  EXPECT_EQ(y2, y1);
  EXPECT_EQ(a2, a1);
}

TEST(nn, causal_conv1d_step_equals_sequence) {
  const int B = 2, S = 7, C = 5, K = 4;
  std::vector<double> x = random_vector(B * S * C, 14), W = random_vector(C * K, 15), b = random_vector(C, 16);
  std::vector<double> y(B * S * C);
  causal_conv1d_forward(y.data(), x.data(), W.data(), b.data(), B, S, C, K);
  std::vector<double> state(B * K * C, 0.0), xt(B * C), yt(B * C);
  for (int t = 0; t < S; ++t) {
    for (int bb = 0; bb < B; ++bb)
      for (int c = 0; c < C; ++c) xt[bb * C + c] = x[(bb * S + t) * C + c];
    causal_conv1d_step(yt.data(), state.data(), xt.data(), W.data(), b.data(), B, C, K);
    for (int bb = 0; bb < B; ++bb)
      for (int c = 0; c < C; ++c) EXPECT_NEAR(yt[bb * C + c], y[(bb * S + t) * C + c], 1e-14) << "t " << t;
    // the hand-over state after t+1 inputs equals the step loop's state
    std::vector<double> fs(B * K * C), prefix;
    for (int bb = 0; bb < B; ++bb)
      prefix.insert(prefix.end(), x.begin() + bb * S * C, x.begin() + (bb * S + t + 1) * C);
    causal_conv1d_final_state(fs.data(), prefix.data(), B, t + 1, C, K);
    EXPECT_EQ(fs, state) << "t " << t;
  }
}

TEST(nn, gradcheck_silu_gelu) {
  const int n = 9;
  std::vector<double> x = random_vector(n, 17, -4, 4), dx;
  for (int which = 0; which < 2; ++which) {
    auto fwd = [&] {
      std::vector<double> y(n);
      (which ? gelu_forward<double> : silu_forward<double>)(y.data(), x.data(), n);
      return y;
    };
    auto bwd = [&](const std::vector<double>& dy) {
      if (which)
        gelu_backward<double>(dx.data(), dy.data(), x.data(), n);
      else
        silu_backward<double>(dx.data(), dy.data(), x.data(), n);
    };
    EXPECT_TRUE(gradcheck(which ? "gelu" : "silu", {{"x", &x, &dx}}, fwd, bwd));
  }
  double y;
  double one = 1.0;
  gelu_forward(&y, &one, 1);
  EXPECT_NEAR(y, 0.8413447460685429, 1e-15);  // Phi(1): the exact (erf) GELU, not the tanh approximation
  silu_forward(&y, &one, 1);
  EXPECT_NEAR(y, 1.0 / (1.0 + std::exp(-1.0)), 1e-15);
  // accumulate = false writes the gradient over whatever the buffer held
  std::vector<float> xf(x.begin(), x.end()), dyf(n, 0.5f), acc(n, 0.0f), over(n, 123.0f);
  silu_backward(acc.data(), dyf.data(), xf.data(), n);
  silu_backward(over.data(), dyf.data(), xf.data(), n, false);
  EXPECT_EQ(over, acc);
}

// The gate by column ranges (as a step team shares it out) equals the whole gate, bit for bit, for each activation.
TEST(nn, gated_ffn_gate_by_columns_equals_whole) {
  const int N = 5, P = 37;
  const std::vector<double> upd = random_vector(N * 2 * P, 21);
  const std::vector<float> up(upd.begin(), upd.end());
  for (Activation act : {Activation::gelu, Activation::silu, Activation::relu}) {
    std::vector<float> whole(N * P), parts(N * P, -7.f);
    gated_ffn_gate(whole.data(), up.data(), N, P, act);
    for (int p0 : {16, 0, 32}) gated_ffn_gate_cols(parts.data(), up.data(), N, P, act, p0, std::min(P, p0 + 16));
    EXPECT_EQ(parts, whole) << activation_name(act);
  }
}

TEST(nn, gradcheck_gated_ffn) {
  const int N = 3, D = 5, P = 4;
  for (Activation act : {Activation::gelu, Activation::silu}) {
    std::vector<double> x = random_vector(N * D, 18), Wu = random_vector(2 * P * D, 19), Wd = random_vector(D * P, 20);
    std::vector<double> up(N * 2 * P), h(N * P), dx, dWu, dWd;
    auto fwd = [&] {
      std::vector<double> y(N * D);
      gated_ffn_forward(y.data(), up.data(), h.data(), x.data(), Wu.data(), Wd.data(), N, D, P, act);
      return y;
    };
    auto bwd = [&](const std::vector<double>& dy) {
      gated_ffn_backward(dx.data(), dWu.data(), dWd.data(), dy.data(), up.data(), h.data(), x.data(), Wu.data(),
                         Wd.data(), N, D, P, act);
    };
    EXPECT_TRUE(gradcheck(std::string("gated_ffn ") + activation_name(act),
                          {{"x", &x, &dx}, {"W_up", &Wu, &dWu}, {"W_down", &Wd, &dWd}}, fwd, bwd));
  }
  EXPECT_EQ(parse_activation("swish"), Activation::silu);
  EXPECT_THROW(parse_activation("tanh"), xm::Error);
}

TEST(nn, gradcheck_residual) {
  const int n = 6;
  std::vector<double> a = random_vector(n, 21), b = random_vector(n, 22), da, db;
  auto fwd = [&] {
    std::vector<double> y(n);
    residual_forward(y.data(), a.data(), b.data(), n);
    return y;
  };
  auto bwd = [&](const std::vector<double>& dy) { residual_backward(da.data(), db.data(), dy.data(), n); };
  EXPECT_TRUE(gradcheck("residual", {{"a", &a, &da}, {"b", &b, &db}}, fwd, bwd));
}

TEST(nn, gradcheck_cross_entropy) {
  const int N = 5, V = 6;
  std::vector<int32_t> t = {2, -100, 5, 0, 2};
  for (double eps : {0.0, 0.1}) {
    std::vector<double> x = random_vector(N * V, 23, -3, 3), dx, logp(N * V);
    auto fwd = [&] {
      return std::vector<double>{cross_entropy_forward(logp.data(), nullptr, x.data(), t.data(), N, V, -100, eps)};
    };
    auto bwd = [&](const std::vector<double>& dl) {
      cross_entropy_backward(dx.data(), dl[0], logp.data(), t.data(), N, V, -100, eps);
    };
    EXPECT_TRUE(gradcheck("cross_entropy eps " + std::to_string(eps), {{"logits", &x, &dx}}, fwd, bwd));
    // the mean over the 4 non-ignored rows of the PyTorch definition
    int64_t count = 0;
    double loss = cross_entropy_forward<double>(nullptr, &count, x.data(), t.data(), N, V, -100, eps);
    EXPECT_EQ(count, 4);
    double ref = 0;
    for (int n = 0; n < N; ++n) {
      if (t[n] < 0) continue;
      double s = 0;
      for (int v = 0; v < V; ++v) s += std::exp(x[n * V + v]);
      double l = -(1 - eps) * (x[n * V + t[n]] - std::log(s));
      for (int v = 0; v < V; ++v) l -= eps / V * (x[n * V + v] - std::log(s));
      ref += l / 4;
    }
    EXPECT_NEAR(loss, ref, 1e-13);
    // accumulate = false: the same gradient written over garbage, zeros on the ignored row
    std::vector<double> acc(N * V, 0.0), over(N * V, 9.0);
    cross_entropy_backward(acc.data(), 0.7, logp.data(), t.data(), N, V, -100, eps);
    cross_entropy_backward(over.data(), 0.7, logp.data(), t.data(), N, V, -100, eps, false);
    EXPECT_EQ(over, acc);
  }
  std::vector<int32_t> bad = {6};
  std::vector<double> x(V, 0.0);
  EXPECT_THROW(cross_entropy_forward<double>(nullptr, nullptr, x.data(), bad.data(), 1, V), xm::Error);
}

// float kernels give the double results to float precision (same code, other type).
TEST(nn, ops_float_matches_double) {
  const int N = 6, D = 16, P = 8;
  std::vector<double> x = random_vector(N * D, 24, -2, 2), w = random_vector(D, 25, -0.3, 0.3);
  std::vector<double> Wu = random_vector(2 * P * D, 26), Wd = random_vector(D * P, 27);
  std::vector<float> xf(x.begin(), x.end()), wf(w.begin(), w.end()), Wuf(Wu.begin(), Wu.end()), Wdf(Wd.begin(), Wd.end());
  std::vector<double> ln(N * D), m(N), r(N), y(N * D), up(N * 2 * P), h(N * P);
  std::vector<float> lnf(N * D), mf(N), rf(N), yf(N * D), upf(N * 2 * P), hf(N * P);
  layernorm_forward(ln.data(), m.data(), r.data(), x.data(), w.data(), N, D);
  layernorm_forward(lnf.data(), mf.data(), rf.data(), xf.data(), wf.data(), N, D);
  gated_ffn_forward(y.data(), up.data(), h.data(), ln.data(), Wu.data(), Wd.data(), N, D, P, Activation::gelu);
  gated_ffn_forward(yf.data(), upf.data(), hf.data(), lnf.data(), Wuf.data(), Wdf.data(), N, D, P, Activation::gelu);
  for (int i = 0; i < N * D; ++i) EXPECT_NEAR(yf[i], y[i], 1e-4 * (1 + std::fabs(y[i])));
}

// The float GELU (the vectorised normal CDF of nn/fastmath.h, not erff) keeps its relative accuracy into the
// negative tail, where 0.5 (1 + erff(x / sqrt 2)) cancels (4.6e-4 relative near x = -4); its gradient likewise,
// also inside the gated FFN's backward.
TEST(nn, float_gelu_matches_double_into_the_tails) {
  const int n = 16001;
  std::vector<float> xf(n), yf(n), dxf(n, 0.0f), onef(n, 1.0f);
  for (int i = 0; i < n; ++i) xf[i] = float(-8.0 + 16.0 * i / (n - 1));
  gelu_forward(yf.data(), xf.data(), n);
  gelu_backward(dxf.data(), onef.data(), xf.data(), n);
  double worst = 0, worst_grad = 0;
  for (int i = 0; i < n; ++i) {
    // the reference through erfc: double 1 + erf(x) cancels too (10% off at x = -8)
    const double x = xf[i], cdf = 0.5 * std::erfc(-x / std::sqrt(2.0)), y = x * cdf;
    const double dy = cdf + x * std::exp(-0.5 * x * x) / std::sqrt(2.0 * M_PI);
    if (y != 0) worst = std::max(worst, std::fabs(yf[i] - y) / std::fabs(y));
    worst_grad = std::max(worst_grad, std::fabs(dxf[i] - dy));
  }
  EXPECT_LT(worst, 1e-5);        // relative, all of [-8, 8] (under 2e-6 for |x| <= 4)
  EXPECT_LT(worst_grad, 1e-6);   // absolute (the gradient crosses zero near x = -0.75)
  // gated FFN backward, float against double
  const int N = 5, D = 8, P = 6;
  std::vector<double> in = random_vector(N * D, 40, -2, 2), Wu = random_vector(2 * P * D, 41, -1.5, 1.5),
                      Wd = random_vector(D * P, 42), dy = random_vector(N * D, 43);
  std::vector<double> out(N * D), up(N * 2 * P), h(N * P), din(N * D, 0.0), dWu(2 * P * D, 0.0), dWd(D * P, 0.0);
  gated_ffn_forward(out.data(), up.data(), h.data(), in.data(), Wu.data(), Wd.data(), N, D, P, Activation::gelu);
  gated_ffn_backward(din.data(), dWu.data(), dWd.data(), dy.data(), up.data(), h.data(), in.data(), Wu.data(),
                     Wd.data(), N, D, P, Activation::gelu);
  auto to_f = [](const std::vector<double>& v) { return std::vector<float>(v.begin(), v.end()); };
  std::vector<float> inf = to_f(in), Wuf = to_f(Wu), Wdf = to_f(Wd), dyf = to_f(dy);
  std::vector<float> outf(N * D), upf(N * 2 * P), hf(N * P), dinf(N * D, 0.0f), dWuf(2 * P * D, 0.0f),
      dWdf(D * P, 0.0f);
  gated_ffn_forward(outf.data(), upf.data(), hf.data(), inf.data(), Wuf.data(), Wdf.data(), N, D, P, Activation::gelu);
  gated_ffn_backward(dinf.data(), dWuf.data(), dWdf.data(), dyf.data(), upf.data(), hf.data(), inf.data(), Wuf.data(),
                     Wdf.data(), N, D, P, Activation::gelu);
  for (int i = 0; i < N * D; ++i) EXPECT_NEAR(dinf[i], din[i], 1e-4 * (1 + std::fabs(din[i]))) << i;
  for (int i = 0; i < 2 * P * D; ++i) EXPECT_NEAR(dWuf[i], dWu[i], 1e-4 * (1 + std::fabs(dWu[i]))) << i;
}

// The prefill form continues from a step state: two prefills and a step loop give the same outputs and state.
TEST(nn, causal_conv1d_prefill_continues_from_state) {
  const int B = 2, S = 9, C = 3, K = 4, S1 = 2, S2 = 5;
  std::vector<double> x = random_vector(B * S * C, 30), W = random_vector(C * K, 31), b = random_vector(C, 32);
  std::vector<double> st_loop(B * K * C, 0.0), st(B * K * C, 0.0), xt(B * C), yt(B * C);
  std::vector<double> want(B * S * C);
  for (int t = 0; t < S; ++t) {
    for (int bb = 0; bb < B; ++bb)
      for (int c = 0; c < C; ++c) xt[bb * C + c] = x[(bb * S + t) * C + c];
    causal_conv1d_step(yt.data(), st_loop.data(), xt.data(), W.data(), b.data(), B, C, K);
    for (int bb = 0; bb < B; ++bb)
      for (int c = 0; c < C; ++c) want[(bb * S + t) * C + c] = yt[bb * C + c];
  }
  int t0 = 0;
  for (int len : {S1, S2, S - S1 - S2}) {
    std::vector<double> seg, y(B * len * C);
    for (int bb = 0; bb < B; ++bb)
      seg.insert(seg.end(), x.begin() + (bb * S + t0) * C, x.begin() + (bb * S + t0 + len) * C);
    causal_conv1d_prefill(y.data(), st.data(), seg.data(), W.data(), b.data(), B, len, C, K);
    for (int bb = 0; bb < B; ++bb)
      for (int t = 0; t < len; ++t)
        for (int c = 0; c < C; ++c)
          EXPECT_NEAR(y[(bb * len + t) * C + c], want[(bb * S + t0 + t) * C + c], 1e-14) << "t " << t0 + t;
    t0 += len;
  }
  EXPECT_EQ(st, st_loop);
}

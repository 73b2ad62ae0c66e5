// Tests of the sLSTM cell (nn/slstm.h): against the official float64 vectors (both initial-state cases,
// double and float), finite differences of the backward (through the initial state too), and
// self-consistency: step loop == fused loop, two chained segments == one, the per-element first-step rule.
// Not speed tests.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "nn/gradcheck.h"
#include "nn/slstm.h"
#include "nn/vectors.h"

namespace {

using xm::nn::SlstmDims;

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Everything one cell call needs, in type T.
template <class T>
struct Cell {
  SlstmDims d;
  std::vector<T> Wx, R, bias, state0;  // state0 empty = null
  std::vector<T> y, state_out, cache;

  void forward() {
    size_t H = d.H();
    y.assign(size_t(d.B) * d.S * H, T(0));
    state_out.assign(4 * size_t(d.B) * H, T(0));
    cache.assign(xm::nn::slstm_cache_size(d), T(0));
    xm::nn::slstm_forward<T>(y.data(), state_out.data(), cache.data(), Wx.data(), R.data(), bias.data(),
                             state0.empty() ? nullptr : state0.data(), d);
  }
};

// Random cell inputs in double; a state with n in [0.5, 1.5) when with_state (else a null state).
Cell<double> random_cell(SlstmDims d, uint64_t seed, bool with_state) {
  Cell<double> c;
  c.d = d;
  size_t H = d.H();
  c.Wx = xmtest::random_vector(size_t(d.B) * d.S * 4 * H, seed, -1.5, 1.5);
  c.R = xmtest::random_vector(size_t(d.NH) * 4 * d.DH * d.DH, seed + 1, -0.6, 0.6);
  c.bias = xmtest::random_vector(4 * H, seed + 2, -1.0, 1.0);
  if (with_state) {
    size_t BH = size_t(d.B) * H;
    c.state0 = xmtest::random_vector(4 * BH, seed + 3, -1.0, 1.0);
    std::vector<double> n = xmtest::random_vector(BH, seed + 4, 0.5, 1.5);
    std::copy(n.begin(), n.end(), c.state0.begin() + 2 * BH);
  }
  return c;
}

// Runs one case of slstm_cell.json in type T and compares every output and gradient.
template <class T>
void check_vector_case(const xm::json& j, const std::string& name, double rtol, double atol, double grad_rtol,
                       double grad_atol) {
  SCOPED_TRACE(name);
  const xm::json& cs = j.at("cases").at(name);
  Cell<T> c;
  c.d = SlstmDims{j.at("config").at("B").get<int>(), 0, j.at("config").at("num_heads").get<int>(),
                  j.at("config").at("head_dim").get<int>()};
  xmtest::VecTensor Wx = xmtest::vec_tensor(cs.at("Wx"), "Wx");
  c.d.S = int(Wx.dim(1));
  ASSERT_EQ(Wx.dim(2), 4 * c.d.H());
  c.Wx = cast<T>(Wx.data);
  c.R = cast<T>(xmtest::vec_at(j, {"params", "recurrent_kernel_int"}).data);
  c.bias = cast<T>(xmtest::vec_at(j, {"params", "bias_int"}).data);
  std::vector<double> s0 = xmtest::vec_tensor(cs.at("state0"), "state0").data;
  bool zero_state = std::all_of(s0.begin(), s0.end(), [](double v) { return v == 0.0; });
  if (!zero_state) c.state0 = cast<T>(s0);  // the zero case goes through the null-state path
  c.forward();

  EXPECT_TRUE(xmtest::all_close("h", c.y, xmtest::vec_tensor(cs.at("h")).data, rtol, atol));
  std::vector<T> states_all(c.state_out.size() * c.d.S);
  xm::nn::slstm_cache_states<T>(states_all.data(), c.cache.data(), c.y.data(), c.d);
  EXPECT_TRUE(
      xmtest::all_close("states_all", states_all, xmtest::vec_tensor(cs.at("states_all")).data, rtol, atol));
  EXPECT_TRUE(xmtest::all_close("final_state", c.state_out, xmtest::vec_tensor(cs.at("final_state")).data,
                                rtol, atol));

  std::vector<T> probe = cast<T>(xmtest::vec_tensor(cs.at("probe")).data);
  double loss = 0;
  for (size_t i = 0; i < probe.size(); ++i) loss += double(c.y[i]) * double(probe[i]);
  double want_loss = cs.at("probe_loss").get<double>();
  EXPECT_NEAR(loss, want_loss, atol + rtol * std::fabs(want_loss));

  std::vector<T> dWx(c.Wx.size(), T(0)), dR(c.R.size(), T(0)), db(c.bias.size(), T(0));
  xm::nn::slstm_backward<T>(dWx.data(), dR.data(), db.data(), nullptr, probe.data(), nullptr, c.cache.data(),
                            c.R.data(), c.d);
  EXPECT_TRUE(
      xmtest::all_close("grad_Wx", dWx, xmtest::vec_tensor(cs.at("grad_Wx")).data, grad_rtol, grad_atol));
  EXPECT_TRUE(xmtest::all_close("grad_recurrent_kernel_int", dR,
                                xmtest::vec_tensor(cs.at("grad_recurrent_kernel_int")).data, grad_rtol,
                                grad_atol));
  EXPECT_TRUE(xmtest::all_close("grad_bias_int", db, xmtest::vec_tensor(cs.at("grad_bias_int")).data,
                                grad_rtol, grad_atol));
}

// A plain reference of the forward, straight from xlstm-spec.md (a) with libm functions and the per-element
// first-step rule: the check on the kernel's own vectorised exp / log1p / tanh over large inputs.
std::vector<double> reference_forward(const Cell<double>& c, std::vector<double>* state_out) {
  const int B = c.d.B, S = c.d.S, NH = c.d.NH, DH = c.d.DH, H = c.d.H();
  std::vector<double> st = c.state0.empty() ? std::vector<double>(4 * B * H, 0.0) : c.state0;
  std::vector<double> y(size_t(B) * S * H), raw(4 * H);
  for (int t = 0; t < S; ++t) {
    for (int b = 0; b < B; ++b) {
      double* ys = &st[size_t(b) * H];
      double *cs = ys + size_t(B) * H, *ns = cs + size_t(B) * H, *ms = ns + size_t(B) * H;
      for (int g = 0; g < 4; ++g)
        for (int h = 0; h < NH; ++h)
          for (int o = 0; o < DH; ++o) {
            double ry = 0;
            for (int i = 0; i < DH; ++i)
              ry += ys[h * DH + i] * c.R[(size_t(h) * 4 * DH + g * DH + o) * DH + i];
            int k = g * H + h * DH + o;
            raw[k] = c.Wx[(size_t(b) * S + t) * 4 * H + k] + ry + c.bias[k];
          }
      for (int k = 0; k < H; ++k) {
        double ir = raw[k], fr = raw[H + k], zr = raw[2 * H + k], orr = raw[3 * H + k];
        double logsig_f = fr >= 0 ? -std::log1p(std::exp(-fr)) : fr - std::log1p(std::exp(fr));
        double lfm = ms[k] + logsig_f;
        double m = ns[k] == 0 ? ir : std::max(ir, lfm);
        double ig = std::min(std::exp(ir - m), 1.0), fg = std::min(std::exp(lfm - m), 1.0);
        cs[k] = fg * cs[k] + ig * std::tanh(zr);
        ns[k] = fg * ns[k] + ig;
        ms[k] = m;
        ys[k] = cs[k] / ns[k] / (1 + std::exp(-orr));
        y[(size_t(b) * S + t) * H + k] = ys[k];
      }
    }
  }
  if (state_out) *state_out = st;
  return y;
}

}  // namespace

TEST(nn, slstm_matches_libm_reference_over_large_inputs) {
  // Pre-activations up to +-25 (saturated gates, exp arguments far below zero, tanh near +-1) and up to
  // +-0.01 (tanh and logsigmoid near 0), in double (the vectorised math must hold to ~1e-12) and in float.
  for (double scale : {25.0, 0.01}) {
    SCOPED_TRACE("scale " + std::to_string(scale));
    Cell<double> c = random_cell(SlstmDims{3, 9, 2, 8}, 808, true);
    for (auto& v : c.Wx) v *= scale;
    std::vector<double> want_state;
    std::vector<double> want = reference_forward(c, &want_state);
    c.forward();
    EXPECT_TRUE(xmtest::all_close("y (double)", c.y, want, 1e-12, 1e-14));
    EXPECT_TRUE(xmtest::all_close("state (double)", c.state_out, want_state, 1e-12, 1e-12));
    Cell<float> f;
    f.d = c.d;
    f.Wx = cast<float>(c.Wx);
    f.R = cast<float>(c.R);
    f.bias = cast<float>(c.bias);
    f.state0 = cast<float>(c.state0);
    f.forward();
    EXPECT_TRUE(xmtest::all_close("y (float)", f.y, want, 1e-4, 1e-5));
  }
}

TEST(nn, slstm_matches_official_vectors_double) {
  XM_REQUIRE_VECTORS(j, "slstm_cell.json");
  // m is treated as a constant in our backward; y is exactly invariant to m, so the gradients agree with the
  // vectors' autograd-through-max to rounding, as the outputs do.
  check_vector_case<double>(j, "zero_init_state", 1e-12, 1e-14, 1e-12, 1e-14);
  check_vector_case<double>(j, "nonzero_init_state", 1e-12, 1e-14, 1e-12, 1e-14);
}

TEST(nn, slstm_matches_official_vectors_float) {
  XM_REQUIRE_VECTORS(j, "slstm_cell.json");
  check_vector_case<float>(j, "zero_init_state", 1e-4, 1e-5, 1e-4, 1e-5);
  check_vector_case<float>(j, "nonzero_init_state", 1e-4, 1e-5, 1e-4, 1e-5);
}

TEST(nn, slstm_backward_matches_finite_differences_with_state) {
  // Odd sizes (B 3 split over tasks, DH 3) and a nonzero initial state: every input's gradient, state
  // included.
  Cell<double> c = random_cell(SlstmDims{3, 5, 2, 3}, 101, true);
  std::vector<double> dWx, dR, db, ds0;
  auto fwd = [&] {
    c.forward();
    return c.y;
  };
  auto bwd = [&](const std::vector<double>& dy) {
    xm::nn::slstm_backward<double>(dWx.data(), dR.data(), db.data(), ds0.data(), dy.data(), nullptr,
                                   c.cache.data(), c.R.data(), c.d);
  };
  EXPECT_TRUE(xmtest::gradcheck(
      "slstm", {{"Wx", &c.Wx, &dWx}, {"R", &c.R, &dR}, {"bias", &c.bias, &db}, {"state0", &c.state0, &ds0}},
      fwd, bwd));
}

TEST(nn, slstm_backward_matches_finite_differences_zero_state) {
  // Null initial state: the first step uses m = i_raw (n == 0), whose gradient flows through later steps
  // only.
  Cell<double> c = random_cell(SlstmDims{2, 6, 2, 2}, 202, false);
  std::vector<double> dWx, dR, db;
  auto fwd = [&] {
    c.forward();
    return c.y;
  };
  auto bwd = [&](const std::vector<double>& dy) {
    xm::nn::slstm_backward<double>(dWx.data(), dR.data(), db.data(), nullptr, dy.data(), nullptr,
                                   c.cache.data(), c.R.data(), c.d);
  };
  EXPECT_TRUE(xmtest::gradcheck("slstm_zero_state",
                                {{"Wx", &c.Wx, &dWx}, {"R", &c.R, &dR}, {"bias", &c.bias, &db}}, fwd, bwd));
}

TEST(nn, slstm_two_chained_segments_equal_one_sequence) {
  // Forward: segment A (S1 steps) then B (S2 steps) from A's final state == one call over S1 + S2.
  // Backward: B's d_state0 passed as A's d_state_out == the one-call backward (truncated-BPTT hand-over).
  const int B = 2, NH = 2, DH = 4, S1 = 3, S2 = 4, H = NH * DH;
  Cell<double> full = random_cell(SlstmDims{B, S1 + S2, NH, DH}, 303, true);
  full.forward();
  Cell<double> a = full, b = full;
  a.d.S = S1;
  b.d.S = S2;
  a.Wx.clear();
  b.Wx.clear();
  for (int bb = 0; bb < B; ++bb) {
    auto row = full.Wx.begin() + size_t(bb) * (S1 + S2) * 4 * H;
    a.Wx.insert(a.Wx.end(), row, row + size_t(S1) * 4 * H);
    b.Wx.insert(b.Wx.end(), row + size_t(S1) * 4 * H, row + size_t(S1 + S2) * 4 * H);
  }
  a.forward();
  b.state0 = a.state_out;
  b.forward();
  EXPECT_TRUE(xmtest::all_close("final_state", b.state_out, full.state_out, 1e-13, 1e-13));
  std::vector<double> y_ab;
  for (int bb = 0; bb < B; ++bb) {
    y_ab.insert(y_ab.end(), a.y.begin() + size_t(bb) * S1 * H, a.y.begin() + size_t(bb + 1) * S1 * H);
    y_ab.insert(y_ab.end(), b.y.begin() + size_t(bb) * S2 * H, b.y.begin() + size_t(bb + 1) * S2 * H);
  }
  EXPECT_TRUE(xmtest::all_close("y", y_ab, full.y, 1e-13, 1e-13));

  std::vector<double> dy = xmtest::random_vector(full.y.size(), 304);
  std::vector<double> dy_a, dy_b;
  for (int bb = 0; bb < B; ++bb) {
    auto row = dy.begin() + size_t(bb) * (S1 + S2) * H;
    dy_a.insert(dy_a.end(), row, row + size_t(S1) * H);
    dy_b.insert(dy_b.end(), row + size_t(S1) * H, row + size_t(S1 + S2) * H);
  }
  std::vector<double> dWx(full.Wx.size(), 0), dR(full.R.size(), 0), db(full.bias.size(), 0),
      ds0(4 * B * H, 0);
  xm::nn::slstm_backward<double>(dWx.data(), dR.data(), db.data(), ds0.data(), dy.data(), nullptr,
                                 full.cache.data(), full.R.data(), full.d);
  std::vector<double> dWx_a(a.Wx.size(), 0), dWx_b(b.Wx.size(), 0), dR2(full.R.size(), 0),
      db2(full.bias.size(), 0), ds_mid(4 * B * H, 0), ds0_2(4 * B * H, 0);
  xm::nn::slstm_backward<double>(dWx_b.data(), dR2.data(), db2.data(), ds_mid.data(), dy_b.data(), nullptr,
                                 b.cache.data(), b.R.data(), b.d);
  xm::nn::slstm_backward<double>(dWx_a.data(), dR2.data(), db2.data(), ds0_2.data(), dy_a.data(),
                                 ds_mid.data(), a.cache.data(), a.R.data(), a.d);
  std::vector<double> dWx_ab;
  for (int bb = 0; bb < B; ++bb) {
    dWx_ab.insert(dWx_ab.end(), dWx_a.begin() + size_t(bb) * S1 * 4 * H,
                  dWx_a.begin() + size_t(bb + 1) * S1 * 4 * H);
    dWx_ab.insert(dWx_ab.end(), dWx_b.begin() + size_t(bb) * S2 * 4 * H,
                  dWx_b.begin() + size_t(bb + 1) * S2 * 4 * H);
  }
  EXPECT_TRUE(xmtest::all_close("dWx", dWx_ab, dWx, 1e-11, 1e-13));
  EXPECT_TRUE(xmtest::all_close("dR", dR2, dR, 1e-11, 1e-13));
  EXPECT_TRUE(xmtest::all_close("dbias", db2, db, 1e-11, 1e-13));
  EXPECT_TRUE(xmtest::all_close("d_state0", ds0_2, ds0, 1e-11, 1e-13));
}

TEST(nn, slstm_step_loop_equals_fused_loop) {
  for (bool with_state : {false, true}) {
    SCOPED_TRACE(with_state ? "nonzero initial state" : "zero initial state");
    const int B = 3, S = 7, NH = 4, DH = 5, H = NH * DH;
    Cell<double> c = random_cell(SlstmDims{B, S, NH, DH}, 404, with_state);
    c.forward();
    std::vector<double> state = with_state ? c.state0 : std::vector<double>(4 * B * H, 0.0);
    std::vector<double> y(c.y.size()), yt(B * H), wxt(B * 4 * H);
    for (int t = 0; t < S; ++t) {
      for (int b = 0; b < B; ++b)
        std::copy_n(c.Wx.begin() + (size_t(b) * S + t) * 4 * H, 4 * H, wxt.begin() + size_t(b) * 4 * H);
      xm::nn::slstm_step<double>(yt.data(), state.data(), wxt.data(), c.R.data(), c.bias.data(), B, NH, DH);
      for (int b = 0; b < B; ++b)
        std::copy_n(yt.begin() + size_t(b) * H, H, y.begin() + (size_t(b) * S + t) * H);
    }
    EXPECT_TRUE(xmtest::all_close("y", y, c.y, 1e-14, 1e-15));
    EXPECT_TRUE(xmtest::all_close("state", state, c.state_out, 1e-14, 1e-15));
  }
}

// The step in two parts (recurrent products by (gate, head), pointwise part by rows, as a team of threads runs it)
// equals slstm_step bit for bit in float, over several steps from a nonzero state; the music shape (16 rows: the
// few-rows GEMM kernel) and a small odd one.
TEST(nn, slstm_step_in_parts_equals_step_float) {
  struct Shape { int B, NH, DH; };
  for (Shape sh : {Shape{16, 4, 64}, Shape{5, 2, 3}}) {
    const int B = sh.B, NH = sh.NH, DH = sh.DH, H = NH * DH;
    SCOPED_TRACE("B " + std::to_string(B) + " DH " + std::to_string(DH));
    std::mt19937 rng(uint32_t(B * 7 + DH));
    std::normal_distribution<float> nd(0.f, 1.f);
    auto fill = [&](std::vector<float>& v, float s) { for (auto& x : v) x = s * nd(rng); };
    std::vector<float> R(size_t(NH) * 4 * DH * DH), bias(4 * size_t(H)), Wx(size_t(B) * 4 * H);
    std::vector<float> st1(4 * size_t(B) * H), st2, y1(size_t(B) * H), y2(size_t(B) * H), Ry(size_t(B) * 4 * H);
    fill(R, 0.3f), fill(bias, 0.5f), fill(st1, 1.f);
    for (size_t i = 2 * size_t(B) * H; i < 3 * size_t(B) * H; ++i) st1[i] = std::fabs(st1[i]) + 0.5f;  // n > 0
    st2 = st1;
    for (int t = 0; t < 3; ++t) {
      fill(Wx, 1.f);
      xm::nn::slstm_step<float>(y1.data(), st1.data(), Wx.data(), R.data(), bias.data(), B, NH, DH);
      for (int g = 3; g >= 0; --g)  // any order of the (gate, head) products
        for (int h = 0; h < NH; ++h)
          xm::nn::slstm_step_recurrent<float>(Ry.data(), st2.data(), R.data(), B, NH, DH, g, h);
      for (int r0 : {0, B / 2})
        xm::nn::slstm_step_pointwise<float>(y2.data(), st2.data(), Wx.data(), Ry.data(), bias.data(), B, NH, DH, r0,
                                            r0 == 0 ? B / 2 : B);
      ASSERT_EQ(y1, y2) << "step " << t;
      ASSERT_EQ(st1, st2) << "step " << t;
    }
    EXPECT_GT(std::fabs(y1[0] - y1[size_t(H)]), 1e-4f);  // rows differ: the outputs are not trivially alike
  }
}

TEST(nn, slstm_first_step_rule_is_per_element) {
  // Row 0 starts from zeros (n == 0: m = i_raw), row 1 from a nonzero state. Row 0 must equal a run of row 0
  // alone from the null state; the official vanilla rule (all(n == 0) over the whole tensor) would not apply
  // it.
  const int B = 2, S = 4, NH = 2, DH = 3, H = NH * DH;
  Cell<double> c = random_cell(SlstmDims{B, S, NH, DH}, 505, true);
  for (int k = 0; k < 4; ++k)
    std::fill_n(c.state0.begin() + size_t(k) * B * H, H, 0.0);  // row 0 of y, c, n, m
  // A low i_raw at t = 0 for row 0, head 0, unit 0: below m_{-1} + logsigmoid(f_raw), so max() would not pick
  // it.
  c.Wx[0] = -8.0;
  c.forward();
  Cell<double> r0 = c;
  r0.d.B = 1;
  r0.Wx.assign(c.Wx.begin(), c.Wx.begin() + size_t(S) * 4 * H);
  r0.state0.clear();
  r0.forward();
  EXPECT_TRUE(xmtest::all_close("y row 0", c.y.data(), r0.y, 1e-15, 0));
  std::vector<double> states(4 * S * H);
  xm::nn::slstm_cache_states<double>(states.data(), r0.cache.data(), r0.y.data(), r0.d);
  // i_raw of step 0, head 0, unit 0 = Wx + bias (y_{-1} = 0): the rule sets m_0 to exactly that.
  EXPECT_EQ(states[3 * S * H + 0], r0.Wx[0] + r0.bias[0]);
}

TEST(nn, slstm_backward_keeps_cache_and_accumulates) {
  Cell<double> c = random_cell(SlstmDims{2, 5, 2, 3}, 606, true);
  c.forward();
  std::vector<double> dy = xmtest::random_vector(c.y.size(), 607);
  std::vector<double> dWx(c.Wx.size(), 0), dR(c.R.size(), 0), db(c.bias.size(), 0), ds(c.state0.size(), 0);
  xm::nn::slstm_backward<double>(dWx.data(), dR.data(), db.data(), ds.data(), dy.data(), nullptr,
                                 c.cache.data(), c.R.data(), c.d);
  auto once = std::vector<std::vector<double>>{dWx, dR, db, ds};
  xm::nn::slstm_backward<double>(dWx.data(), dR.data(), db.data(), ds.data(), dy.data(), nullptr,
                                 c.cache.data(), c.R.data(), c.d);
  auto twice = std::vector<std::vector<double>>{dWx, dR, db, ds};
  for (size_t k = 0; k < once.size(); ++k) {
    std::vector<double> doubled(once[k].size());
    for (size_t i = 0; i < doubled.size(); ++i) doubled[i] = 2 * once[k][i];
    EXPECT_TRUE(xmtest::all_close("grad " + std::to_string(k), twice[k], doubled, 1e-15, 0));
  }
}

TEST(nn, slstm_rejects_bad_dims) {
  std::vector<double> buf(64, 0.0);
  EXPECT_THROW(xm::nn::slstm_forward<double>(buf.data(), nullptr, nullptr, buf.data(), buf.data(), buf.data(),
                                             nullptr, SlstmDims{1, 0, 1, 1}),
               xm::Error);
  EXPECT_THROW(xm::nn::slstm_backward<double>(buf.data(), nullptr, nullptr, nullptr, buf.data(), nullptr,
                                              nullptr, buf.data(), SlstmDims{1, 1, 1, 1}),
               xm::Error);
}

TEST(nn, slstm_threaded_split_matches_one_thread) {
#ifndef _OPENMP
  GTEST_SKIP() << "built without OpenMP: there is only the one-thread path";
#else
  // NH 1 and 4 threads split the batch (B 5 -> tasks of 2, 2, 1 rows); the work is above the parallel
  // threshold.
  Cell<double> one = random_cell(SlstmDims{5, 64, 1, 16}, 707, true);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  one.forward();
  std::vector<double> dy = xmtest::random_vector(one.y.size(), 708);
  std::vector<double> dWx1(one.Wx.size(), 0), dR1(one.R.size(), 0), db1(one.bias.size(), 0),
      ds1(one.state0.size(), 0);
  xm::nn::slstm_backward<double>(dWx1.data(), dR1.data(), db1.data(), ds1.data(), dy.data(), nullptr,
                                 one.cache.data(), one.R.data(), one.d);
  Cell<double> four = one;
  omp_set_num_threads(4);
  four.forward();
  std::vector<double> dWx4(one.Wx.size(), 0), dR4(one.R.size(), 0), db4(one.bias.size(), 0),
      ds4(one.state0.size(), 0);
  xm::nn::slstm_backward<double>(dWx4.data(), dR4.data(), db4.data(), ds4.data(), dy.data(), nullptr,
                                 four.cache.data(), four.R.data(), four.d);
  omp_set_num_threads(saved);
  EXPECT_TRUE(xmtest::all_close("y", four.y, one.y, 1e-13, 1e-15));
  EXPECT_TRUE(xmtest::all_close("state", four.state_out, one.state_out, 1e-13, 1e-15));
  EXPECT_TRUE(xmtest::all_close("dWx", dWx4, dWx1, 1e-12, 1e-14));
  EXPECT_TRUE(xmtest::all_close("dR", dR4, dR1, 1e-12, 1e-14));
  EXPECT_TRUE(xmtest::all_close("dbias", db4, db1, 1e-12, 1e-14));
  EXPECT_TRUE(xmtest::all_close("d_state0", ds4, ds1, 1e-12, 1e-14));
#endif
}

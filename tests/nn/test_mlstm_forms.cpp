// Tests that the three mLSTM forms agree on random inputs (parallel == chunkwise for any chunk length,
// chunkwise from a state == recurrent steps, split prefill == whole) and finite-difference checks of every
// mLSTM backward (parallel, chunkwise with a state, cell). Not the official vectors (test_mlstm.cpp).
#include <cmath>
#include <string>
#include <vector>

#include "core/error.h"
#include "nn/gradcheck.h"
#include "nn/mlstm.h"
#include "nn/vectors.h"

using xm::nn::MlstmCache;
using xm::nn::MlstmCacheBuffer;
using xm::nn::MlstmState;
using xm::nn::MlstmStateBuffer;
using xmtest::all_close;
using xmtest::random_vector;

namespace {

template <class T>
std::vector<T> to(const std::vector<double>& v) {
  return std::vector<T>(v.begin(), v.end());
}

// Random backend inputs: gate ranges chosen so both denominator branches and both m sources occur.
struct Inputs {
  int B, NH, S, DH;
  std::vector<double> q, k, v, ig, fg;
  Inputs(int B_, int NH_, int S_, int DH_, uint64_t seed) : B(B_), NH(NH_), S(S_), DH(DH_) {
    size_t n = size_t(B) * NH * S * DH, r = size_t(B) * NH * S;
    q = random_vector(n, seed + 1, -1.5, 1.5), k = random_vector(n, seed + 2, -1.5, 1.5);
    v = random_vector(n, seed + 3, -1, 1);
    ig = random_vector(r, seed + 4, -3, 3), fg = random_vector(r, seed + 5, -1, 5);
  }
  size_t n() const { return q.size(); }
};

// A random nonzero state (C, n, m) as a step loop might have produced.
MlstmStateBuffer<double> random_state(int B, int NH, int DH, uint64_t seed) {
  MlstmStateBuffer<double> s;
  s.C = random_vector(size_t(B) * NH * DH * DH, seed, -0.5, 0.5);
  s.n = random_vector(size_t(B) * NH * DH, seed + 1, -0.5, 0.5);
  s.m = random_vector(size_t(B) * NH, seed + 2, -1, 2);
  return s;
}

std::vector<double> parallel(const Inputs& x, MlstmCacheBuffer<double>* cache, double eps = xm::nn::kMlstmEps) {
  std::vector<double> h(x.n());
  if (cache) cache->resize(x.B, x.NH, x.S, x.DH, 0);
  xm::nn::mlstm_parallel_forward(h.data(), cache ? cache->view() : MlstmCache<double>{}, x.q.data(), x.k.data(),
                                 x.v.data(), x.ig.data(), x.fg.data(), x.B, x.NH, x.S, x.DH, eps);
  return h;
}
std::vector<double> chunkwise(const Inputs& x, int L, MlstmCacheBuffer<double>* cache, MlstmState<double>* init,
                              MlstmState<double>* fin, double eps = xm::nn::kMlstmEps) {
  std::vector<double> h(x.n());
  if (cache) cache->resize(x.B, x.NH, x.S, x.DH, L);
  xm::nn::mlstm_chunkwise_forward(h.data(), cache ? cache->view() : MlstmCache<double>{}, x.q.data(), x.k.data(),
                                  x.v.data(), x.ig.data(), x.fg.data(), init, fin, x.B, x.NH, x.S, x.DH, L, eps);
  return h;
}
// S recurrent steps from state (updated); returns h (B, NH, S, DH).
std::vector<double> step_loop(const Inputs& x, MlstmState<double> state, double eps) {
  const int BH = x.B * x.NH, DH = x.DH, S = x.S;
  std::vector<double> h(x.n()), qs(size_t(BH) * DH), ks(qs.size()), vs(qs.size()), hs(qs.size()), is(BH), fs(BH);
  for (int t = 0; t < S; ++t) {
    for (int bh = 0; bh < BH; ++bh) {
      for (int d = 0; d < DH; ++d) {
        size_t src = (size_t(bh) * S + t) * DH + d;
        qs[bh * DH + d] = x.q[src], ks[bh * DH + d] = x.k[src], vs[bh * DH + d] = x.v[src];
      }
      is[bh] = x.ig[size_t(bh) * S + t], fs[bh] = x.fg[size_t(bh) * S + t];
    }
    xm::nn::mlstm_step(hs.data(), state, qs.data(), ks.data(), vs.data(), is.data(), fs.data(), x.B, x.NH, DH, eps);
    for (int bh = 0; bh < BH; ++bh)
      for (int d = 0; d < DH; ++d) h[(size_t(bh) * S + t) * DH + d] = hs[bh * DH + d];
  }
  return h;
}
// Time steps [t0, t1) of x as their own inputs.
Inputs slice(const Inputs& x, int t0, int t1) {
  Inputs y = x;
  y.S = t1 - t0;
  const int BH = x.B * x.NH;
  y.q.resize(size_t(BH) * y.S * x.DH), y.k.resize(y.q.size()), y.v.resize(y.q.size());
  y.ig.resize(size_t(BH) * y.S), y.fg.resize(y.ig.size());
  for (int bh = 0; bh < BH; ++bh)
    for (int t = t0; t < t1; ++t) {
      for (int d = 0; d < x.DH; ++d) {
        size_t s = (size_t(bh) * x.S + t) * x.DH + d, o = (size_t(bh) * y.S + t - t0) * x.DH + d;
        y.q[o] = x.q[s], y.k[o] = x.k[s], y.v[o] = x.v[s];
      }
      y.ig[size_t(bh) * y.S + t - t0] = x.ig[size_t(bh) * x.S + t];
      y.fg[size_t(bh) * y.S + t - t0] = x.fg[size_t(bh) * x.S + t];
    }
  return y;
}

struct Grads {
  std::vector<double> q, k, v, ig, fg;
};
Grads backward(const Inputs& x, const std::vector<double>& h, const std::vector<double>& dh,
               const MlstmCacheBuffer<double>& cache, int L) {
  Grads g{std::vector<double>(x.n()), std::vector<double>(x.n()), std::vector<double>(x.n()),
          std::vector<double>(x.ig.size()), std::vector<double>(x.fg.size())};
  if (L == 0)
    xm::nn::mlstm_parallel_backward(g.q.data(), g.k.data(), g.v.data(), g.ig.data(), g.fg.data(), dh.data(), h.data(),
                                    cache.view(), x.q.data(), x.k.data(), x.v.data(), x.ig.data(), x.fg.data(), x.B,
                                    x.NH, x.S, x.DH);
  else
    xm::nn::mlstm_chunkwise_backward(g.q.data(), g.k.data(), g.v.data(), g.ig.data(), g.fg.data(), dh.data(),
                                     h.data(), cache.view(), x.q.data(), x.k.data(), x.v.data(), x.ig.data(),
                                     x.fg.data(), x.B, x.NH, x.S, x.DH, L);
  return g;
}

}  // namespace

TEST(nn, mlstm_chunkwise_equals_parallel_random) {
  Inputs x(2, 3, 150, 8, 100);  // S = 150: longer than the chunk and not a multiple of it
  MlstmCacheBuffer<double> pc;
  const std::vector<double> hp = parallel(x, &pc);
  const std::vector<double> dh = random_vector(x.n(), 7);
  const Grads gp = backward(x, hp, dh, pc, 0);
  for (int L : {1, 16, 64, 150, 200}) {
    MlstmCacheBuffer<double> cc;
    const std::vector<double> hc = chunkwise(x, L, &cc, nullptr, nullptr);
    const std::string tag = "L=" + std::to_string(L) + " ";
    EXPECT_TRUE(all_close(tag + "h", hc, hp, 1e-9, 1e-12));
    const Grads gc = backward(x, hc, dh, cc, L);
    EXPECT_TRUE(all_close(tag + "dq", gc.q, gp.q, 1e-9, 1e-12));
    EXPECT_TRUE(all_close(tag + "dk", gc.k, gp.k, 1e-9, 1e-12));
    EXPECT_TRUE(all_close(tag + "dv", gc.v, gp.v, 1e-9, 1e-12));
    EXPECT_TRUE(all_close(tag + "digate", gc.ig, gp.ig, 1e-9, 1e-12));
    EXPECT_TRUE(all_close(tag + "dfgate", gc.fg, gp.fg, 1e-9, 1e-12));
  }
}

TEST(nn, mlstm_chunkwise_from_state_equals_recurrent_random) {
  Inputs x(2, 2, 150, 8, 200);
  for (double eps : {1e-6, 0.0}) {
    for (bool zero : {true, false}) {  // the official zero state, and a nonzero one (continuing a sequence)
      MlstmStateBuffer<double> s0 = random_state(x.B, x.NH, x.DH, 300);
      if (zero) s0.reset(x.B, x.NH, x.DH);
      MlstmStateBuffer<double> rec = s0, fin = s0;
      const std::vector<double> hr = step_loop(x, rec.view(), eps);
      MlstmState<double> iv = s0.view(), fv = fin.view();
      const std::vector<double> hc = chunkwise(x, 64, nullptr, &iv, &fv, eps);
      const std::string tag = std::string(zero ? "zero" : "nonzero") + " state, eps " + std::to_string(eps) + ": ";
      EXPECT_TRUE(all_close(tag + "h", hc, hr, 1e-9, 1e-12));
      EXPECT_TRUE(all_close(tag + "C", fin.C, rec.C, 1e-9, 1e-12));
      EXPECT_TRUE(all_close(tag + "n", fin.n, rec.n, 1e-9, 1e-12));
      EXPECT_TRUE(all_close(tag + "m", fin.m, rec.m, 1e-12, 1e-12));
    }
  }
}

TEST(nn, mlstm_chunkwise_split_prefill_equals_whole) {
  Inputs x(1, 2, 130, 8, 400);
  MlstmStateBuffer<double> z, whole, mid, end;
  z.reset(x.B, x.NH, x.DH), whole.reset(x.B, x.NH, x.DH), mid.reset(x.B, x.NH, x.DH), end.reset(x.B, x.NH, x.DH);
  MlstmState<double> zv = z.view(), wv = whole.view(), mv = mid.view(), ev = end.view();
  const std::vector<double> hw = chunkwise(x, 32, nullptr, &zv, &wv);
  const Inputs a = slice(x, 0, 77), b = slice(x, 77, 130);
  const std::vector<double> ha = chunkwise(a, 32, nullptr, &zv, &mv);
  const std::vector<double> hb = chunkwise(b, 32, nullptr, &mv, &ev);
  const Inputs hw_as = [&] {
    Inputs t = x;
    t.q = hw;
    return t;
  }();
  EXPECT_TRUE(all_close("first part", ha, slice(hw_as, 0, 77).q, 1e-9, 1e-12));
  EXPECT_TRUE(all_close("second part", hb, slice(hw_as, 77, 130).q, 1e-9, 1e-12));
  EXPECT_TRUE(all_close("final C", end.C, whole.C, 1e-9, 1e-12));
  EXPECT_TRUE(all_close("final n", end.n, whole.n, 1e-9, 1e-12));
  EXPECT_TRUE(all_close("final m", end.m, whole.m, 1e-12, 1e-12));
  // The state may be updated in place (init == final_state), as a prefill into a generation state does.
  const std::vector<double> hb2 = chunkwise(b, 32, nullptr, &mv, &mv);
  EXPECT_TRUE(all_close("in place h", hb2, hb, 0, 0));
  EXPECT_TRUE(all_close("in place C", mid.C, whole.C, 1e-9, 1e-12));
  EXPECT_TRUE(all_close("in place m", mid.m, whole.m, 1e-12, 1e-12));
}

TEST(nn, mlstm_float_matches_double) {
  Inputs x(2, 2, 100, 16, 500);
  MlstmCacheBuffer<double> pc;
  const std::vector<double> hd = parallel(x, &pc);
  for (int L : {0, 32}) {
    std::vector<float> h(x.n());
    MlstmCacheBuffer<float> cf;
    cf.resize(x.B, x.NH, x.S, x.DH, L);
    const auto q = to<float>(x.q), k = to<float>(x.k), v = to<float>(x.v), ig = to<float>(x.ig), fg = to<float>(x.fg);
    if (L == 0)
      xm::nn::mlstm_parallel_forward(h.data(), cf.view(), q.data(), k.data(), v.data(), ig.data(), fg.data(), x.B, x.NH,
                                     x.S, x.DH);
    else
      xm::nn::mlstm_chunkwise_forward(h.data(), cf.view(), q.data(), k.data(), v.data(), ig.data(), fg.data(), nullptr,
                                      nullptr, x.B, x.NH, x.S, x.DH, L);
    EXPECT_TRUE(all_close("float h L=" + std::to_string(L), h, hd, 1e-4, 1e-5));
  }
}

TEST(nn, mlstm_parallel_backward_finite_differences) {
  // eps 0.3 makes the output depend visibly on the stabiliser m, so the gradient through max is checked too.
  for (double eps : {1e-6, 0.3}) {
    Inputs x(2, 2, 9, 4, 600);
    MlstmCacheBuffer<double> cache;
    std::vector<double> h;
    Grads g;
    auto fwd = [&] { return h = parallel(x, &cache, eps); };
    auto bwd = [&](const std::vector<double>& dh) {
      xm::nn::mlstm_parallel_backward(g.q.data(), g.k.data(), g.v.data(), g.ig.data(), g.fg.data(), dh.data(),
                                      h.data(), cache.view(), x.q.data(), x.k.data(), x.v.data(), x.ig.data(),
                                      x.fg.data(), x.B, x.NH, x.S, x.DH, eps);
    };
    EXPECT_TRUE(xmtest::gradcheck("mlstm_parallel eps " + std::to_string(eps),
                                  {{"q", &x.q, &g.q}, {"k", &x.k, &g.k}, {"v", &x.v, &g.v}, {"igate", &x.ig, &g.ig},
                                   {"fgate", &x.fg, &g.fg}},
                                  fwd, bwd));
  }
}

TEST(nn, mlstm_chunkwise_backward_finite_differences) {
  // S = 11 in chunks of 4 (the last one short), from a nonzero initial state (held constant).
  for (double eps : {1e-6, 0.3}) {
    Inputs x(2, 2, 11, 4, 700);
    MlstmStateBuffer<double> s0 = random_state(x.B, x.NH, x.DH, 800);
    MlstmState<double> iv = s0.view();
    MlstmCacheBuffer<double> cache;
    std::vector<double> h;
    Grads g;
    auto fwd = [&] { return h = chunkwise(x, 4, &cache, &iv, nullptr, eps); };
    auto bwd = [&](const std::vector<double>& dh) {
      xm::nn::mlstm_chunkwise_backward(g.q.data(), g.k.data(), g.v.data(), g.ig.data(), g.fg.data(), dh.data(),
                                       h.data(), cache.view(), x.q.data(), x.k.data(), x.v.data(), x.ig.data(),
                                       x.fg.data(), x.B, x.NH, x.S, x.DH, 4, eps);
    };
    EXPECT_TRUE(xmtest::gradcheck("mlstm_chunkwise eps " + std::to_string(eps),
                                  {{"q", &x.q, &g.q}, {"k", &x.k, &g.k}, {"v", &x.v, &g.v}, {"igate", &x.ig, &g.ig},
                                   {"fgate", &x.fg, &g.fg}},
                                  fwd, bwd));
  }
}

TEST(nn, mlstm_cell_backward_finite_differences) {
  const int B = 2, S = 9, NH = 2, DH = 4, H = NH * DH;
  const size_t n = size_t(B) * S * H;
  std::vector<double> q = random_vector(n, 901, -1.5, 1.5), k = random_vector(n, 902, -1.5, 1.5),
                      v = random_vector(n, 903), wi = random_vector(size_t(NH) * 3 * H, 904, -0.4, 0.4),
                      bi = random_vector(NH, 905), wf = random_vector(size_t(NH) * 3 * H, 906, -0.4, 0.4),
                      bf = random_vector(NH, 907, 1, 4), wn = random_vector(H, 908, -0.3, 0.3);
  for (auto form : {xm::nn::MlstmForm::parallel, xm::nn::MlstmForm::chunkwise}) {
    xm::nn::MlstmOptions opt;
    opt.form = form, opt.chunk = 4;
    xm::nn::MlstmCellCache<double> cache;
    std::vector<double> dq, dk, dv, dwi, dbi, dwf, dbf, dwn;
    auto weights = [&] { return xm::nn::MlstmCellWeights<double>{wi.data(), bi.data(), wf.data(), bf.data(), wn.data()}; };
    auto fwd = [&] {
      std::vector<double> h(n);
      xm::nn::mlstm_cell_forward(h.data(), cache, q.data(), k.data(), v.data(), weights(), B, S, NH, DH, opt);
      return h;
    };
    auto bwd = [&](const std::vector<double>& dh) {
      xm::nn::MlstmCellGrads<double> g{dwi.data(), dbi.data(), dwf.data(), dbf.data(), dwn.data()};
      xm::nn::mlstm_cell_backward(dq.data(), dk.data(), dv.data(), g, dh.data(), cache, q.data(), k.data(), v.data(),
                                  weights());
    };
    EXPECT_TRUE(xmtest::gradcheck(form == xm::nn::MlstmForm::parallel ? "mlstm_cell parallel" : "mlstm_cell chunkwise",
                                  {{"q", &q, &dq},
                                   {"k", &k, &dk},
                                   {"v", &v, &dv},
                                   {"igate.weight", &wi, &dwi},
                                   {"igate.bias", &bi, &dbi},
                                   {"fgate.weight", &wf, &dwf},
                                   {"fgate.bias", &bf, &dbf},
                                   {"outnorm.weight", &wn, &dwn}},
                                  fwd, bwd));
  }
}

// The float cell at four heads and 16-wide rows (the music config's shape class: vectorised decay rows, few-rows
// GEMMs in the causal products) against the double cell: outputs and every gradient, accumulating into non-zero
// buffers, with a sequence (37) that does not fill the causal products' 16-row blocks.
TEST(nn, mlstm_cell_float_four_heads_matches_double) {
  const int B = 2, S = 37, NH = 4, DH = 16, H = NH * DH;
  const size_t n = size_t(B) * S * H, nw = size_t(NH) * 3 * H;
  std::vector<double> q = random_vector(n, 911, -1.5, 1.5), k = random_vector(n, 912, -1.5, 1.5),
                      v = random_vector(n, 913), wi = random_vector(nw, 914, -0.2, 0.2), bi = random_vector(NH, 915),
                      wf = random_vector(nw, 916, -0.2, 0.2), bf = random_vector(NH, 917, 1, 4),
                      wn = random_vector(H, 918, -0.3, 0.3), dh = random_vector(n, 919);
  auto to_f = [](const std::vector<double>& x) { return std::vector<float>(x.begin(), x.end()); };
  auto run = [&](auto zero, auto& h, auto& dq, auto& dk, auto& dv, auto& dwi, auto& dbi, auto& dwf, auto& dbf,
                 auto& dwn) {
    using T = decltype(zero);
    auto cv = [](const std::vector<double>& x) { return std::vector<T>(x.begin(), x.end()); };
    const auto qT = cv(q), kT = cv(k), vT = cv(v), wiT = cv(wi), biT = cv(bi), wfT = cv(wf), bfT = cv(bf),
               wnT = cv(wn), dhT = cv(dh);
    xm::nn::MlstmCellWeights<T> w{wiT.data(), biT.data(), wfT.data(), bfT.data(), wnT.data()};
    xm::nn::MlstmCellCache<T> cache;
    h.assign(n, T(0));
    xm::nn::mlstm_cell_forward(h.data(), cache, qT.data(), kT.data(), vT.data(), w, B, S, NH, DH);
    xm::nn::MlstmCellGrads<T> g{dwi.data(), dbi.data(), dwf.data(), dbf.data(), dwn.data()};
    xm::nn::mlstm_cell_backward(dq.data(), dk.data(), dv.data(), g, dhT.data(), cache, qT.data(), kT.data(), vT.data(),
                                w);
  };
  // gradients accumulate: start from the same non-zero values in both types
  std::vector<double> g0 = random_vector(n, 920), w0 = random_vector(nw, 921), s0 = random_vector(NH, 922),
                      n0 = random_vector(H, 923);
  std::vector<double> h, dq = g0, dk = g0, dv = g0, dwi = w0, dbi = s0, dwf = w0, dbf = s0, dwn = n0;
  std::vector<float> hf, dqf = to_f(g0), dkf = to_f(g0), dvf = to_f(g0), dwif = to_f(w0), dbif = to_f(s0),
                         dwff = to_f(w0), dbff = to_f(s0), dwnf = to_f(n0);
  run(0.0, h, dq, dk, dv, dwi, dbi, dwf, dbf, dwn);
  run(0.0f, hf, dqf, dkf, dvf, dwif, dbif, dwff, dbff, dwnf);
  auto max_rel = [](const std::vector<float>& a, const std::vector<double>& b) {
    double m = 0;
    for (size_t i = 0; i < b.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]) / (1 + std::fabs(b[i])));
    return m;
  };
  EXPECT_LT(max_rel(hf, h), 1e-4);
  EXPECT_LT(max_rel(dqf, dq), 1e-4);
  EXPECT_LT(max_rel(dkf, dk), 1e-4);
  EXPECT_LT(max_rel(dvf, dv), 1e-4);
  EXPECT_LT(max_rel(dwif, dwi), 1e-4);
  EXPECT_LT(max_rel(dbif, dbi), 1e-4);
  EXPECT_LT(max_rel(dwff, dwf), 1e-4);
  EXPECT_LT(max_rel(dbff, dbf), 1e-4);
  EXPECT_LT(max_rel(dwnf, dwn), 1e-4);
}

// accumulate = false (the training step's buffers, not zeroed first): dq, dk, dv written over garbage equal the
// gradients accumulated into zeros, in both forms.
TEST(nn, mlstm_cell_backward_can_overwrite) {
  const int B = 2, S = 11, NH = 2, DH = 4, H = NH * DH;
  const size_t n = size_t(B) * S * H, nw = size_t(NH) * 3 * H;
  std::vector<double> q = random_vector(n, 931), k = random_vector(n, 932), v = random_vector(n, 933),
                      wi = random_vector(nw, 934, -0.4, 0.4), bi = random_vector(NH, 935),
                      wf = random_vector(nw, 936, -0.4, 0.4), bf = random_vector(NH, 937, 1, 4),
                      wn = random_vector(H, 938, -0.3, 0.3), dh = random_vector(n, 939);
  xm::nn::MlstmCellWeights<double> w{wi.data(), bi.data(), wf.data(), bf.data(), wn.data()};
  for (auto form : {xm::nn::MlstmForm::parallel, xm::nn::MlstmForm::chunkwise}) {
    xm::nn::MlstmOptions opt;
    opt.form = form, opt.chunk = 4;
    xm::nn::MlstmCellCache<double> cache;
    std::vector<double> h(n);
    xm::nn::mlstm_cell_forward(h.data(), cache, q.data(), k.data(), v.data(), w, B, S, NH, DH, opt);
    std::vector<double> gw(nw), gb(NH), gn(H);
    xm::nn::MlstmCellGrads<double> g{gw.data(), gb.data(), gw.data(), gb.data(), gn.data()};
    std::vector<double> dq(n, 0.0), dk(n, 0.0), dv(n, 0.0), oq(n, 5.0), ok(n, -3.0), ov(n, 1e30);
    xm::nn::mlstm_cell_backward(dq.data(), dk.data(), dv.data(), g, dh.data(), cache, q.data(), k.data(), v.data(), w);
    xm::nn::mlstm_cell_backward(oq.data(), ok.data(), ov.data(), g, dh.data(), cache, q.data(), k.data(), v.data(), w,
                                false);
    EXPECT_EQ(oq, dq);
    EXPECT_EQ(ok, dk);
    EXPECT_EQ(ov, dv);
  }
}

TEST(nn, mlstm_rejects_bad_use_with_a_reason) {
  Inputs x(1, 1, 10, 4, 1);
  std::vector<double> h(x.n()), dh(x.n()), dq(x.n());
  MlstmCacheBuffer<double> rows_only;
  rows_only.resize(x.B, x.NH, x.S, x.DH, 0);
  xm::nn::mlstm_chunkwise_forward(h.data(), rows_only.view(), x.q.data(), x.k.data(), x.v.data(), x.ig.data(),
                                  x.fg.data(), nullptr, nullptr, x.B, x.NH, x.S, x.DH, 4);
  try {  // a chunkwise backward needs the chunk states
    xm::nn::mlstm_chunkwise_backward<double>(dq.data(), nullptr, nullptr, nullptr, nullptr, dh.data(), h.data(),
                                     rows_only.view(), x.q.data(), x.k.data(), x.v.data(), x.ig.data(), x.fg.data(),
                                     x.B, x.NH, x.S, x.DH, 4);
    ADD_FAILURE() << "expected xm::Error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("chunk states"), std::string::npos) << e.what();
  }
  EXPECT_THROW(xm::nn::mlstm_parallel_forward(h.data(), MlstmCache<double>{}, x.q.data(), x.k.data(), x.v.data(),
                                              x.ig.data(), x.fg.data(), x.B, x.NH, x.S, 0),
               xm::Error);
}

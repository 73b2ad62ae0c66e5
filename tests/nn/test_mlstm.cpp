// Tests of the mLSTM kernels and cell against the official float64 vectors (mlstm_cell.json): parallel,
// chunkwise and recurrent outputs, final states and gradients, in double (~1e-12) and float (~1e-4).
// Not the random-input agreement of the forms or the finite-difference checks (test_mlstm_forms.cpp).
#include <cmath>
#include <string>
#include <vector>

#include "nn/mlstm.h"
#include "nn/vectors.h"

using xm::nn::MlstmCacheBuffer;
using xm::nn::MlstmState;
using xm::nn::MlstmStateBuffer;
using xmtest::all_close;
using xmtest::vec_at;

namespace {

template <class T>
std::vector<T> cast(const xmtest::VecTensor& t) {
  return std::vector<T>(t.data.begin(), t.data.end());
}

// Backend inputs of the vector file, as T.
template <class T>
struct BackendCase {
  int B, NH, S, DH;
  std::vector<T> q, k, v, ig, fg;
  explicit BackendCase(const xm::json& j) {
    const xm::json& c = j.at("config");
    B = c.at("B"), NH = c.at("num_heads"), S = c.at("S"), DH = c.at("head_dim");
    q = cast<T>(vec_at(j, {"backend", "q"})), k = cast<T>(vec_at(j, {"backend", "k"}));
    v = cast<T>(vec_at(j, {"backend", "v"}));
    ig = cast<T>(vec_at(j, {"backend", "igate_preact"})), fg = cast<T>(vec_at(j, {"backend", "fgate_preact"}));
  }
  size_t n() const { return q.size(); }
};

// Runs S recurrent steps over (B, NH, S, DH) inputs from state; returns h (B, NH, S, DH).
template <class T>
std::vector<T> step_loop(const BackendCase<T>& c, MlstmState<T> state, double eps) {
  std::vector<T> h(c.n()), qs(size_t(c.B) * c.NH * c.DH), ks(qs.size()), vs(qs.size()), hs(qs.size()),
      is(size_t(c.B) * c.NH), fs(is.size());
  for (int t = 0; t < c.S; ++t) {
    for (int bh = 0; bh < c.B * c.NH; ++bh) {
      for (int d = 0; d < c.DH; ++d) {
        size_t src = (size_t(bh) * c.S + t) * c.DH + d;
        qs[bh * c.DH + d] = c.q[src], ks[bh * c.DH + d] = c.k[src], vs[bh * c.DH + d] = c.v[src];
      }
      is[bh] = c.ig[size_t(bh) * c.S + t], fs[bh] = c.fg[size_t(bh) * c.S + t];
    }
    xm::nn::mlstm_step(hs.data(), state, qs.data(), ks.data(), vs.data(), is.data(), fs.data(), c.B, c.NH, c.DH,
                       eps);
    for (int bh = 0; bh < c.B * c.NH; ++bh)
      for (int d = 0; d < c.DH; ++d) h[(size_t(bh) * c.S + t) * c.DH + d] = hs[bh * c.DH + d];
  }
  return h;
}

struct Tol {
  double rtol, atol;
};
template <class T>
Tol tol() {
  return sizeof(T) == 8 ? Tol{1e-10, 1e-12} : Tol{1e-4, 1e-5};
}

const char* kEps[2][2] = {{"eps1e-6", "1e-6"}, {"eps0", "0"}};

template <class T>
void check_backend_forward(const xm::json& j) {
  BackendCase<T> c(j);
  const Tol tl = tol<T>();
  for (auto& e : kEps) {
    const double eps = std::stod(e[1]);
    const std::string sfx = e[0];
    const std::vector<double> want_par = vec_at(j, {"backend", "h_parallel_" + sfx}).data;
    const std::vector<double> want_rec = vec_at(j, {"backend", "h_recurrent_" + sfx}).data;
    // (a) parallel
    std::vector<T> h(c.n());
    MlstmCacheBuffer<T> cache;
    cache.resize(c.B, c.NH, c.S, c.DH, 0);
    xm::nn::mlstm_parallel_forward(h.data(), cache.view(), c.q.data(), c.k.data(), c.v.data(), c.ig.data(),
                                   c.fg.data(), c.B, c.NH, c.S, c.DH, eps);
    EXPECT_TRUE(all_close("parallel h " + sfx, h, want_par, tl.rtol, tl.atol));
    // (b) chunkwise without a state = parallel; chunk 3 does not divide S = 7
    for (int L : {1, 3, 7, 64}) {
      std::vector<T> hc(c.n());
      cache.resize(c.B, c.NH, c.S, c.DH, L);
      xm::nn::mlstm_chunkwise_forward(hc.data(), cache.view(), c.q.data(), c.k.data(), c.v.data(), c.ig.data(),
                                      c.fg.data(), nullptr, nullptr, c.B, c.NH, c.S, c.DH, L, eps);
      EXPECT_TRUE(all_close("chunkwise L=" + std::to_string(L) + " h " + sfx, hc, want_par, tl.rtol, tl.atol));
    }
    // (c) recurrent steps from the zero state
    MlstmStateBuffer<T> st;
    st.reset(c.B, c.NH, c.DH);
    std::vector<T> hr = step_loop(c, st.view(), eps);
    EXPECT_TRUE(all_close("recurrent h " + sfx, hr, want_rec, tl.rtol, tl.atol));
    EXPECT_TRUE(all_close("recurrent C " + sfx, st.C, vec_at(j, {"backend", "final_C_" + sfx}).data, tl.rtol, tl.atol));
    EXPECT_TRUE(all_close("recurrent n " + sfx, st.n, vec_at(j, {"backend", "final_n_" + sfx}).data, tl.rtol, tl.atol));
    EXPECT_TRUE(all_close("recurrent m " + sfx, st.m, vec_at(j, {"backend", "final_m_" + sfx}).data, tl.rtol, tl.atol));
    // (b) chunkwise from the zero state = the recurrent steps, final state included (prefill hand-over)
    for (int L : {2, 4, 64}) {
      MlstmStateBuffer<T> z, fin;
      z.reset(c.B, c.NH, c.DH), fin.reset(c.B, c.NH, c.DH);
      MlstmState<T> zv = z.view(), fv = fin.view();
      std::vector<T> hc(c.n());
      xm::nn::mlstm_chunkwise_forward(hc.data(), xm::nn::MlstmCache<T>{}, c.q.data(), c.k.data(), c.v.data(),
                                      c.ig.data(), c.fg.data(), &zv, &fv, c.B, c.NH, c.S, c.DH, L, eps);
      const std::string tag = "chunkwise-from-zero L=" + std::to_string(L) + " ";
      EXPECT_TRUE(all_close(tag + "h " + sfx, hc, want_rec, tl.rtol, tl.atol));
      EXPECT_TRUE(all_close(tag + "C " + sfx, fin.C, vec_at(j, {"backend", "final_C_" + sfx}).data, tl.rtol, tl.atol));
      EXPECT_TRUE(all_close(tag + "n " + sfx, fin.n, vec_at(j, {"backend", "final_n_" + sfx}).data, tl.rtol, tl.atol));
      EXPECT_TRUE(all_close(tag + "m " + sfx, fin.m, vec_at(j, {"backend", "final_m_" + sfx}).data, tl.rtol, tl.atol));
    }
  }
}

template <class T>
void check_backend_gradients(const xm::json& j) {
  BackendCase<T> c(j);
  const Tol tl = sizeof(T) == 8 ? Tol{1e-9, 1e-12} : Tol{2e-4, 2e-5};
  const std::vector<T> probe = cast<T>(vec_at(j, {"backend", "probe"}));
  for (int L : {0, 3, 64}) {  // 0: the parallel form
    std::vector<T> h(c.n());
    MlstmCacheBuffer<T> cache;
    cache.resize(c.B, c.NH, c.S, c.DH, L);
    if (L == 0)
      xm::nn::mlstm_parallel_forward(h.data(), cache.view(), c.q.data(), c.k.data(), c.v.data(), c.ig.data(),
                                     c.fg.data(), c.B, c.NH, c.S, c.DH);
    else
      xm::nn::mlstm_chunkwise_forward(h.data(), cache.view(), c.q.data(), c.k.data(), c.v.data(), c.ig.data(),
                                      c.fg.data(), nullptr, nullptr, c.B, c.NH, c.S, c.DH, L);
    std::vector<T> dq(c.n()), dk(c.n()), dv(c.n()), di(c.ig.size()), df(c.fg.size());
    if (L == 0)
      xm::nn::mlstm_parallel_backward(dq.data(), dk.data(), dv.data(), di.data(), df.data(), probe.data(), h.data(),
                                      cache.view(), c.q.data(), c.k.data(), c.v.data(), c.ig.data(), c.fg.data(),
                                      c.B, c.NH, c.S, c.DH);
    else
      xm::nn::mlstm_chunkwise_backward(dq.data(), dk.data(), dv.data(), di.data(), df.data(), probe.data(),
                                       h.data(), cache.view(), c.q.data(), c.k.data(), c.v.data(), c.ig.data(),
                                       c.fg.data(), c.B, c.NH, c.S, c.DH, L);
    const std::string tag = L == 0 ? "parallel " : "chunkwise L=" + std::to_string(L) + " ";
    EXPECT_TRUE(all_close(tag + "dq", dq, vec_at(j, {"backend", "grad_parallel_q"}).data, tl.rtol, tl.atol));
    EXPECT_TRUE(all_close(tag + "dk", dk, vec_at(j, {"backend", "grad_parallel_k"}).data, tl.rtol, tl.atol));
    EXPECT_TRUE(all_close(tag + "dv", dv, vec_at(j, {"backend", "grad_parallel_v"}).data, tl.rtol, tl.atol));
    EXPECT_TRUE(
        all_close(tag + "digate", di, vec_at(j, {"backend", "grad_parallel_igate_preact"}).data, tl.rtol, tl.atol));
    EXPECT_TRUE(
        all_close(tag + "dfgate", df, vec_at(j, {"backend", "grad_parallel_fgate_preact"}).data, tl.rtol, tl.atol));
  }
}

// Cell: forward (parallel and chunkwise), step loop, chunkwise prefill from the zero state.
template <class T>
void check_cell(const xm::json& j) {
  const xm::json& cfg = j.at("config");
  const int B = cfg.at("B"), NH = cfg.at("num_heads"), S = cfg.at("S"), DH = cfg.at("head_dim");
  const int H = NH * DH;
  const Tol tl = tol<T>();
  const std::vector<T> q = cast<T>(vec_at(j, {"cell", "q"})), k = cast<T>(vec_at(j, {"cell", "k"})),
                       v = cast<T>(vec_at(j, {"cell", "v"}));
  const std::vector<T> wi = cast<T>(vec_at(j, {"cell", "params", "igate.weight"})),
                       bi = cast<T>(vec_at(j, {"cell", "params", "igate.bias"})),
                       wf = cast<T>(vec_at(j, {"cell", "params", "fgate.weight"})),
                       bf = cast<T>(vec_at(j, {"cell", "params", "fgate.bias"})),
                       wn = cast<T>(vec_at(j, {"cell", "params", "outnorm.weight"}));
  xm::nn::MlstmCellWeights<T> w{wi.data(), bi.data(), wf.data(), bf.data(), wn.data()};
  const std::vector<double> want_fwd = vec_at(j, {"cell", "h_forward_parallel"}).data;
  const std::vector<double> want_step = vec_at(j, {"cell", "h_step_loop"}).data;
  const std::vector<double> wC = vec_at(j, {"cell", "final_state_C"}).data, wn_ = vec_at(j, {"cell", "final_state_n"}).data,
                            wm = vec_at(j, {"cell", "final_state_m"}).data;
  xm::nn::MlstmCellCache<T> cache;
  std::vector<T> h(size_t(B) * S * H);
  xm::nn::mlstm_cell_forward(h.data(), cache, q.data(), k.data(), v.data(), w, B, S, NH, DH);
  EXPECT_TRUE(all_close("cell forward parallel", h, want_fwd, tl.rtol, tl.atol));
  xm::nn::MlstmOptions opt;
  opt.form = xm::nn::MlstmForm::chunkwise, opt.chunk = 3;
  xm::nn::mlstm_cell_forward(h.data(), cache, q.data(), k.data(), v.data(), w, B, S, NH, DH, opt);
  EXPECT_TRUE(all_close("cell forward chunkwise", h, want_fwd, tl.rtol, tl.atol));
  // Step loop from the official zero state.
  MlstmStateBuffer<T> st;
  st.reset(B, NH, DH);
  std::vector<T> hs(size_t(B) * H), hloop(h.size()), qs(hs.size()), ks(hs.size()), vs(hs.size());
  for (int t = 0; t < S; ++t) {
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < H; ++i) {
        size_t src = (size_t(b) * S + t) * H + i;
        qs[b * H + i] = q[src], ks[b * H + i] = k[src], vs[b * H + i] = v[src];
      }
    xm::nn::mlstm_cell_step(hs.data(), st.view(), qs.data(), ks.data(), vs.data(), w, B, NH, DH);
    for (int b = 0; b < B; ++b)
      for (int i = 0; i < H; ++i) hloop[(size_t(b) * S + t) * H + i] = hs[b * H + i];
  }
  EXPECT_TRUE(all_close("cell step loop", hloop, want_step, tl.rtol, tl.atol));
  EXPECT_TRUE(all_close("cell step final C", st.C, wC, tl.rtol, tl.atol));
  EXPECT_TRUE(all_close("cell step final n", st.n, wn_, tl.rtol, tl.atol));
  EXPECT_TRUE(all_close("cell step final m", st.m, wm, tl.rtol, tl.atol));
  // Prefill: chunkwise from the zero state gives the step loop's outputs and state.
  MlstmStateBuffer<T> z, fin;
  z.reset(B, NH, DH), fin.reset(B, NH, DH);
  MlstmState<T> zv = z.view(), fv = fin.view();
  opt.chunk = 4;
  xm::nn::mlstm_cell_forward(h.data(), cache, q.data(), k.data(), v.data(), w, B, S, NH, DH, opt, &zv, &fv);
  EXPECT_TRUE(all_close("cell prefill h", h, want_step, tl.rtol, tl.atol));
  EXPECT_TRUE(all_close("cell prefill C", fin.C, wC, tl.rtol, tl.atol));
  EXPECT_TRUE(all_close("cell prefill n", fin.n, wn_, tl.rtol, tl.atol));
  EXPECT_TRUE(all_close("cell prefill m", fin.m, wm, tl.rtol, tl.atol));
}

}  // namespace

TEST(nn, mlstm_backend_forward_matches_official_double) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  check_backend_forward<double>(j);
}
TEST(nn, mlstm_backend_forward_matches_official_float) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  check_backend_forward<float>(j);
}
TEST(nn, mlstm_backend_gradients_match_official_double) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  check_backend_gradients<double>(j);
}
TEST(nn, mlstm_backend_gradients_match_official_float) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  check_backend_gradients<float>(j);
}
TEST(nn, mlstm_cell_matches_official_double) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  check_cell<double>(j);
}
TEST(nn, mlstm_cell_matches_official_float) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  check_cell<float>(j);
}
// The vectors' own sanity: the two official forms differ by the documented eps effect, which our parallel and
// recurrent outputs must reproduce (so the eps convention is the official one, not merely close).
TEST(nn, mlstm_parallel_and_recurrent_differ_by_official_eps_effect) {
  XM_REQUIRE_VECTORS(j, "mlstm_cell.json");
  BackendCase<double> c(j);
  std::vector<double> h(c.n());
  xm::nn::mlstm_parallel_forward(h.data(), xm::nn::MlstmCache<double>{}, c.q.data(), c.k.data(), c.v.data(),
                                 c.ig.data(), c.fg.data(), c.B, c.NH, c.S, c.DH);
  MlstmStateBuffer<double> st;
  st.reset(c.B, c.NH, c.DH);
  std::vector<double> hr = step_loop(c, st.view(), 1e-6);
  double got = xmtest::max_abs_diff(h.data(), std::vector<double>(hr.begin(), hr.end()).data(), h.size());
  double want = j.at("backend").at("maxabs_parallel_minus_recurrent_eps1e-6").get<double>();
  EXPECT_NEAR(got, want, 1e-12 + 1e-6 * want);
}

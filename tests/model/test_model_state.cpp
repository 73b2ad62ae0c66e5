// Tests of the recurrent API of the xLSTM LM: a step loop reproduces the official step-loop logits and final
// states (model.json), agrees with the full forward, prefill + steps equals the step loop, and state rows can be
// copied (branching) and reset independently, and a batch stepped by a team of threads equals one thread's steps,
// the team's work sharing handing out every unit once. Not the training path (test_model_vectors.cpp).
#include <atomic>
#include <random>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/blocks.h"
#include "model/vector_model.h"
#include "nn/runtime.h"

using namespace xm::model;

namespace {
struct Fixture {
  xm::json j;
  XlstmConfig cfg;
  std::vector<int32_t> ids;
  int B = 0, S = 0;
};
Fixture make(const xm::json& j) {
  Fixture f;
  f.cfg = xmtest::vector_model_config(j.at("config"));
  xmtest::VecTensor ids = xmtest::vec_tensor(j.at("token_ids"));
  f.B = int(ids.dim(0)), f.S = int(ids.dim(1));
  for (int v : ids.as_int()) f.ids.push_back(v);
  return f;
}
// ids[:, t]
std::vector<int32_t> column(const std::vector<int32_t>& ids, int B, int S, int t) {
  std::vector<int32_t> c(static_cast<size_t>(B));
  for (int b = 0; b < B; ++b) c[size_t(b)] = ids[size_t(b) * S + t];
  return c;
}
// Runs steps t0..t1-1 and writes logits (B, S, V) at those positions.
template <class T>
void step_loop(const XlstmLM<T>& m, LmState<T>& st, const std::vector<int32_t>& ids, int B, int S, int t0, int t1,
               std::vector<T>& logits) {
  const int V = m.config().vocab_size;
  logits.resize(size_t(B) * S * V);
  Workspace<T> ws;
  std::vector<T> lt(size_t(B) * V);
  for (int t = t0; t < t1; ++t) {
    auto col = column(ids, B, S, t);
    m.step(lt.data(), st, col.data(), ws);
    for (int b = 0; b < B; ++b)
      std::copy(lt.begin() + size_t(b) * V, lt.begin() + size_t(b + 1) * V, logits.begin() + (size_t(b) * S + t) * V);
  }
}
}  // namespace

TEST(model, step_loop_matches_vectors) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Fixture f = make(j);
  XlstmLM<double> m(f.cfg);
  ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
  LmState<double> st = m.new_state(f.B);
  std::vector<double> logits;
  step_loop(m, st, f.ids, f.B, f.S, 0, f.S, logits);
  EXPECT_TRUE(xmtest::all_close("logits_step_loop", logits, xmtest::vec_tensor(j.at("logits_step_loop")).data,
                                1e-9, 1e-11));
  // the official final states, block by block
  const auto& fs = j.at("final_step_state");
  auto cmp = [&](const std::string& key, const double* got) {
    xmtest::VecTensor want = xmtest::vec_tensor(fs.at(key), key);
    EXPECT_TRUE(xmtest::all_close(key, got, want.data, 1e-9, 1e-11));
  };
  for (int b : {0, 2}) {
    auto s = st.mlstm(b);
    const std::string p = "block_" + std::to_string(b) + ".";
    cmp(p + "mlstm_state.0", s.cell.C);
    cmp(p + "mlstm_state.1", s.cell.n);
    cmp(p + "mlstm_state.2", s.cell.m);
    cmp(p + "conv_state.0", s.conv);
  }
  auto s1 = st.slstm(1);
  cmp("block_1.conv_state.0", s1.conv);
  cmp("block_1.slstm_state", s1.cell);
  // and the full (parallel) forward agrees up to the mLSTM eps effect (FORMAT.md: 2.9e-7 here)
  LmCache<double> c;
  m.forward(c, f.ids.data(), nullptr, f.B, f.S);
  EXPECT_LT(xmtest::max_abs_diff(logits.data(), c.logits.data(), logits.size()), 1e-6);
  EXPECT_TRUE(xmtest::all_close("forward vs vector logits", c.logits, xmtest::vec_tensor(j.at("logits")).data, 1e-9,
                                1e-11));
}

TEST(model, prefill_then_steps_equals_step_loop) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Fixture f = make(j);
  for (int form = 0; form < 2; ++form) {
    XlstmLM<double> m(f.cfg);
    ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
    m.options().mlstm.form = form ? xm::nn::MlstmForm::chunkwise : xm::nn::MlstmForm::parallel;
    m.options().mlstm.chunk = 4;
    const int V = f.cfg.vocab_size, S1 = 5, S2 = 3;
    LmState<double> ref = m.new_state(f.B);
    std::vector<double> want;
    step_loop(m, ref, f.ids, f.B, f.S, 0, f.S, want);
    // prefill S1 tokens, prefill S2 more from that state, then step the rest
    LmState<double> st = m.new_state(f.B);
    LmCache<double> c;
    std::vector<int32_t> seg(size_t(f.B) * S1);
    for (int b = 0; b < f.B; ++b)
      for (int t = 0; t < S1; ++t) seg[size_t(b) * S1 + t] = f.ids[size_t(b) * f.S + t];
    m.prefill(c, st, seg.data(), S1);
    for (int b = 0; b < f.B; ++b)
      for (int t = 0; t < S1; ++t)
        for (int v = 0; v < V; ++v)
          EXPECT_NEAR(c.logits[(size_t(b) * S1 + t) * V + v], want[(size_t(b) * f.S + t) * V + v], 1e-10);
    seg.assign(size_t(f.B) * S2, 0);
    for (int b = 0; b < f.B; ++b)
      for (int t = 0; t < S2; ++t) seg[size_t(b) * S2 + t] = f.ids[size_t(b) * f.S + S1 + t];
    m.prefill(c, st, seg.data(), S2);
    for (int b = 0; b < f.B; ++b)
      for (int t = 0; t < S2; ++t)
        for (int v = 0; v < V; ++v)
          EXPECT_NEAR(c.logits[(size_t(b) * S2 + t) * V + v], want[(size_t(b) * f.S + S1 + t) * V + v], 1e-10);
    std::vector<double> got;
    step_loop(m, st, f.ids, f.B, f.S, S1 + S2, f.S, got);
    for (int b = 0; b < f.B; ++b)
      for (int t = S1 + S2; t < f.S; ++t)
        for (int v = 0; v < V; ++v)
          EXPECT_NEAR(got[(size_t(b) * f.S + t) * V + v], want[(size_t(b) * f.S + t) * V + v], 1e-10);
    EXPECT_TRUE(xmtest::all_close("final state", st.data(), ref.data(), 1e-9, 1e-11));
    // the prefill's cache cannot be used for a backward
    EXPECT_THROW(m.backward(c), xm::Error);
  }
}

TEST(model, state_rows_copy_and_reset_independently) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Fixture f = make(j);
  XlstmLM<double> m(f.cfg);
  ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
  const int V = f.cfg.vocab_size, half = 6;
  // run both rows for `half` steps, then: copy row 0 into row 1 (branch), reset it, and continue with row 0's
  // tokens in row 0 and a fresh start in row 1
  LmState<double> st = m.new_state(2);
  std::vector<double> tmp;
  step_loop(m, st, f.ids, 2, f.S, 0, half, tmp);
  LmState<double> branch = st;  // a copy is a branch: stepping it leaves st alone
  std::vector<double> a, b;
  step_loop(m, branch, f.ids, 2, f.S, half, f.S, a);
  step_loop(m, st, f.ids, 2, f.S, half, f.S, b);
  EXPECT_EQ(a, b);
  // row copy: a 1-row state continued from row 1 of a 2-row state gives row 1's logits
  LmState<double> two = m.new_state(2), one = m.new_state(1);
  step_loop(m, two, f.ids, 2, f.S, 0, half, tmp);
  one.copy_row(0, two, 1);
  std::vector<int32_t> row1(f.ids.begin() + f.S, f.ids.end());
  std::vector<double> r1, r2;
  step_loop(m, one, row1, 1, f.S, half, f.S, r1);
  step_loop(m, two, f.ids, 2, f.S, half, f.S, r2);
  for (int t = half; t < f.S; ++t)
    for (int v = 0; v < V; ++v) EXPECT_EQ(r1[size_t(t) * V + v], r2[(size_t(f.S) + t) * V + v]);
  // reset_row(1) then stepping row 1 from t = 0 equals a fresh 1-row state; row 0 is unaffected
  LmState<double> st2 = m.new_state(2);
  step_loop(m, st2, f.ids, 2, f.S, 0, half, tmp);
  st2.reset_row(1);
  LmState<double> fresh = m.new_state(1);
  std::vector<double> lf, l2;
  Workspace<double> ws;
  std::vector<double> lt2(size_t(2) * V), lt1(static_cast<size_t>(V));
  for (int t = 0; t < f.S - half; ++t) {
    int32_t pair[2] = {f.ids[size_t(half + t)], f.ids[size_t(f.S) + t]};
    m.step(lt2.data(), st2, pair, ws);
    m.step(lt1.data(), fresh, &pair[1], ws);
    for (int v = 0; v < V; ++v) {
      EXPECT_NEAR(lt2[size_t(V) + v], lt1[size_t(v)], 1e-12) << "t " << t;
      EXPECT_NEAR(lt2[size_t(v)], b[size_t(half + t) * V + v], 1e-12) << "row 0 changed by the reset of row 1";
    }
  }
  EXPECT_THROW(st2.reset_row(2), xm::Error);
}

// Memory is constant in the generated length: the state's size depends only on the config and the batch.
TEST(model, state_size_is_independent_of_length) {
  XlstmConfig cfg = music_reference_config();
  LmState<float> st(cfg, 3);
  const size_t I = 512, NH = 4, DH = 128, D = 256, K = 4;
  const size_t per_m = K * I + NH * DH * DH + NH * DH + NH, per_s = K * D + 4 * D;
  EXPECT_EQ(st.size(), 3 * (3 * per_m + per_s));
}

// The team's work sharing: in each of several phases (a barrier between them) every block of StepTeam::chunks and
// every unit of per-thread queues goes to exactly one thread, whatever the interleaving.
TEST(model, step_team_hands_out_every_unit_once_per_phase) {
#ifdef _OPENMP
  for (int P : {2, 3, 4}) {
    const int blocks[4] = {64, 16, 5, 1};
    std::vector<std::atomic<int>> seen(64 * 4 * 2 + 4 * 24);
    xm::model::StepShared shared(P);
    int team_size = 0;
#pragma omp parallel num_threads(P)
    {
      const int p = omp_get_thread_num(), np = omp_get_num_threads();
#pragma omp single
      team_size = np;
      const xm::model::StepTeam team(p, np, 0, 0, &shared);
      for (int rep = 0; rep < 2; ++rep)
        for (int ph = 0; ph < 4; ++ph) {
          team.chunks(0, blocks[ph], np, [&](int b0, int b1) {
            for (int b = b0; b < b1; ++b) seen[size_t((rep * 4 + ph) * 64 + b)]++;
          });
          team.sync();
        }
      for (int j = 0; j < np; ++j) {  // queue q: 20 + q units; each thread drains its own queue first
        const int q = (p + j) % np;
        team.chunks(q, 20 + q, 1, [&](int u0, int u1) {
          for (int u = u0; u < u1; ++u) seen[size_t(512 + q * 24 + u)]++;
        });
      }
    }
    ASSERT_EQ(team_size, P) << "OpenMP gave fewer threads";
    for (int rep = 0; rep < 2; ++rep)
      for (int ph = 0; ph < 4; ++ph)
        for (int b = 0; b < 64; ++b)
          EXPECT_EQ(seen[size_t((rep * 4 + ph) * 64 + b)].load(), b < blocks[ph] ? 1 : 0)
              << P << " threads, phase " << ph << ", block " << b;
    for (int q = 0; q < P; ++q)
      for (int u = 0; u < 24; ++u)
        EXPECT_EQ(seen[size_t(512 + q * 24 + u)].load(), u < 20 + q ? 1 : 0) << "queue " << q;
  }
#else
  GTEST_SKIP() << "built without OpenMP";
#endif
}

// A batch stepped by a team of threads (StepTeam: rows split over the threads, weight products split by columns)
// gives the logits and the final state of the same batch stepped on one thread.
namespace {
template <class T>
double max_diff(const T* a, const T* b, size_t n) {
  double d = 0;
  for (size_t i = 0; i < n; ++i) d = std::max(d, std::abs(double(a[i]) - double(b[i])));
  return d;
}
template <class T>
void team_matches_one_thread(const XlstmConfig& cfg, int B, int threads, double tol) {
  XlstmLM<T> m(cfg);
  m.init(7);
  const int V = cfg.vocab_size, S = 10;
  std::mt19937 rng(uint32_t(B * 31 + threads));
  std::uniform_int_distribution<int> tok(0, V - 1);
  LmState<T> one = m.new_state(B), team = m.new_state(B);
  Workspace<T> w1, w2;
  std::vector<T> l1(size_t(B) * V), l2(size_t(B) * V);
  std::vector<int32_t> col(static_cast<size_t>(B));
  double worst = 0;
  for (int t = 0; t < S; ++t) {
    for (auto& c : col) c = tok(rng);
    xm::nn::set_threads(1);
    m.step(l1.data(), one, col.data(), w1);
    xm::nn::set_threads(threads);
    m.step(l2.data(), team, col.data(), w2);
    worst = std::max(worst, max_diff(l1.data(), l2.data(), l1.size()));
  }
  xm::nn::set_threads(0);
  EXPECT_LT(worst, tol) << "B " << B << ", " << threads << " threads";
  EXPECT_LT(max_diff(one.data().data(), team.data().data(), one.size()), tol);
  // the logits are not all alike (a step that wrote nothing would pass the comparison above)
  EXPECT_GT(max_diff(l2.data(), l2.data() + V, size_t(V)), 1e-3);
}
}  // namespace

TEST(model, step_by_a_team_of_threads_equals_one_thread) {
  const XlstmConfig cfg = music_reference_config();  // m, s, m, m; sLSTM with conv and gated FFN
  team_matches_one_thread<float>(cfg, 16, 2, 2e-5);  // 8 rows a thread: the few-rows GEMM kernel
  team_matches_one_thread<float>(cfg, 5, 3, 2e-5);   // uneven rows (1, 2, 2)
  team_matches_one_thread<float>(cfg, 16, 3, 2e-5);  // 16 rows (5, 5, 6), chunks shared out three ways
  team_matches_one_thread<double>(cfg, 4, 2, 1e-12);
  XlstmConfig plain = cfg;  // an sLSTM block without conv and without FFN (no product inside the block)
  plain.slstm->conv1d_kernel_size = 0;
  plain.feedforward.reset();
  team_matches_one_thread<float>(plain, 6, 2, 2e-5);
}

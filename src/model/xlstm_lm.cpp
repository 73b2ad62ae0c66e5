// xlstm_lm.cpp: see xlstm_lm.h. Embedding -> blocks -> post norm -> head -> cross-entropy, and back.
// Not the blocks' internals (mlstm_block.cpp, slstm_block.cpp).
#include "model/xlstm_lm.h"

#include <algorithm>
#include <cstring>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "model/init.h"

namespace xm::model {

namespace {
XlstmConfig validated(XlstmConfig c) {
  c.validate();
  return c;
}
}  // namespace

template <class T>
XlstmLM<T>::XlstmLM(const XlstmConfig& cfg, LmOptions opt)
    : cfg_(validated(cfg)), opt_(opt), table_(cfg_), types_(cfg_.block_types()) {
  params_.assign(size_t(table_.total()), T(0));
  grads_.assign(size_t(table_.total()), T(0));
  pv_ = make_view(table_, cfg_, params_.data());
  gv_ = make_view(table_, cfg_, grads_.data());
}

template <class T>
void XlstmLM<T>::init(uint64_t seed) {
  init_params(params_.data(), table_, cfg_, seed);
}

template <class T>
void XlstmLM<T>::zero_grad() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template <class T>
double XlstmLM<T>::run(LmCache<T>& c, const int32_t* ids, const int32_t* targets, int B, int S,
                       LmState<T>* state) const {
  if (B <= 0 || S <= 0)
    throw Error("xLSTM forward: batch " + std::to_string(B) + " x sequence " + std::to_string(S) + " is empty");
  const int N = B * S, D = cfg_.embedding_dim, V = cfg_.vocab_size, NB = cfg_.num_blocks;
  c.B = B, c.S = S, c.from_state = state != nullptr;
  c.ids.assign(ids, ids + N);
  if (targets)
    c.targets.assign(targets, targets + N);
  else
    c.targets.clear();
  c.resid.resize(size_t(NB) + 1);
  for (auto& r : c.resid) r.resize(size_t(N) * D);
  c.mlstm.resize(size_t(NB));
  c.slstm.resize(size_t(NB));

  nn::embedding_forward(c.resid[0].data(), ids, pv_.embedding, N, V, D);
  for (int b = 0; b < NB; ++b) {
    const T* x = c.resid[size_t(b)].data();
    T* out = c.resid[size_t(b) + 1].data();
    if (types_[size_t(b)] == BlockType::mlstm) {
      MlstmBlockState<T> st{};
      if (state) st = state->mlstm(b);
      mlstm_block_forward(out, c.mlstm[size_t(b)], x, pv_.mlstm[size_t(b)], mlstm_block_dims(cfg_, B, S), opt_.mlstm,
                          state ? &st : nullptr);
    } else {
      SlstmBlockState<T> st{};
      if (state) st = state->slstm(b);
      slstm_block_forward(out, c.slstm[size_t(b)], x, pv_.slstm[size_t(b)], slstm_block_dims(cfg_, B, S),
                          state ? &st : nullptr);
    }
  }
  c.post.resize(size_t(N) * D);
  if (pv_.post_norm_w) {
    c.post_mean.resize(size_t(N)), c.post_rstd.resize(size_t(N));
    nn::layernorm_forward(c.post.data(), c.post_mean.data(), c.post_rstd.data(), c.resid[size_t(NB)].data(),
                          pv_.post_norm_w, N, D);
  } else {
    c.post = c.resid[size_t(NB)];
  }
  c.logits.resize(size_t(N) * V);
  nn::linear_forward<T>(c.logits.data(), c.post.data(), pv_.head, nullptr, N, D, V);
  c.loss = 0, c.count = 0;
  if (targets) {
    c.logp.resize(size_t(N) * V);
    c.loss = nn::cross_entropy_forward(c.logp.data(), &c.count, c.logits.data(), targets, N, V, kIgnoreIndex,
                                       opt_.label_smoothing);
  }
  return c.loss;
}

template <class T>
double XlstmLM<T>::forward(LmCache<T>& c, const int32_t* ids, const int32_t* targets, int B, int S) const {
  return run(c, ids, targets, B, S, nullptr);
}

template <class T>
void XlstmLM<T>::prefill(LmCache<T>& c, LmState<T>& state, const int32_t* ids, int S) const {
  run(c, ids, nullptr, state.batch(), S, &state);
}

template <class T>
void XlstmLM<T>::backward(LmCache<T>& c, double d_loss) {
  if (c.targets.empty() || c.from_state)
    throw Error("xLSTM backward: the last forward had no targets or started from a recurrent state; "
                "call forward(cache, ids, targets, B, S) first");
  const int B = c.B, S = c.S, N = B * S, D = cfg_.embedding_dim, V = cfg_.vocab_size, NB = cfg_.num_blocks;
  auto& ws = c.ws;
  // slots 0..9 belong to the blocks; the LM uses 10..13
  T* d_logits = ws.raw(10, size_t(N) * V);  // written whole (no zeroing pass)
  nn::cross_entropy_backward(d_logits, d_loss, c.logp.data(), c.targets.data(), N, V, kIgnoreIndex,
                             opt_.label_smoothing, false);
  T* d_post = ws.get(11, size_t(N) * D);
  nn::linear_backward<T>(d_post, gv_.head, nullptr, d_logits, c.post.data(), pv_.head, N, D, V);
  T* d_res = ws.get(12, size_t(N) * D);
  if (pv_.post_norm_w)
    nn::layernorm_backward(d_res, gv_.post_norm_w, d_post, c.resid[size_t(NB)].data(), c.post_mean.data(),
                           c.post_rstd.data(), pv_.post_norm_w, N, D);
  else
    nn::residual_backward<T>(d_res, nullptr, d_post, int64_t(N) * D);
  T* d_prev = ws.get(13, size_t(N) * D);
  for (int b = NB - 1; b >= 0; --b) {
    std::fill(d_prev, d_prev + size_t(N) * D, T(0));
    const T* x = c.resid[size_t(b)].data();
    if (types_[size_t(b)] == BlockType::mlstm)
      mlstm_block_backward(d_prev, gv_.mlstm[size_t(b)], d_res, c.mlstm[size_t(b)], x, pv_.mlstm[size_t(b)],
                           mlstm_block_dims(cfg_, B, S), ws);
    else
      slstm_block_backward(d_prev, gv_.slstm[size_t(b)], d_res, c.slstm[size_t(b)], x, pv_.slstm[size_t(b)],
                           slstm_block_dims(cfg_, B, S), ws);
    std::swap(d_prev, d_res);
  }
  nn::embedding_backward(gv_.embedding, d_res, c.ids.data(), N, V, D);
}

template <class T>
void XlstmLM<T>::step(T* logits, LmState<T>& state, const int32_t* ids, Workspace<T>& ws) const {
  const int B = state.batch(), D = cfg_.embedding_dim, V = cfg_.vocab_size;
  for (int r = 0; r < B; ++r)  // checked here: nothing may throw inside the team below
    if (ids[r] < 0 || ids[r] >= V)
      throw Error("xLSTM step: token id " + std::to_string(ids[r]) + " in row " + std::to_string(r) +
                  " is outside the vocabulary [0, " + std::to_string(V) + ")");
  int P = 1;
#ifdef _OPENMP
  if (!omp_in_parallel()) P = std::min(omp_get_max_threads(), B);
#endif
  // Every buffer the team shares is sized before it starts (slots 0..9 the blocks', 10..12 the LM's).
  const size_t slot = block_step_slot_size(cfg_, B);
  for (size_t i = 0; i < 10; ++i) ws.raw(i, slot);
  ws.raw(10, size_t(B) * D);
  ws.raw(11, size_t(B) * D);
  ws.raw(12, size_t(2) * B);
  if (P <= 1) {
    step_team(logits, state, ids, ws, StepTeam::whole(B));
    return;
  }
  ws.frozen = true;
  StepShared shared(P);
#pragma omp parallel num_threads(P)
  {
#ifdef _OPENMP
    const int p = omp_get_thread_num(), team_size = omp_get_num_threads();
#else
    const int p = 0, team_size = 1;
#endif
    const int r0 = StepTeam::row0(B, p, team_size), r1 = StepTeam::row0(B, p + 1, team_size);
    step_team(logits, state, ids, ws, StepTeam(p, team_size, r0, r1 - r0, &shared));
  }
  ws.frozen = false;
}

template <class T>
void XlstmLM<T>::step_team(T* logits, LmState<T>& state, const int32_t* ids, Workspace<T>& ws,
                           const StepTeam& team) const {
  const int B = state.batch(), D = cfg_.embedding_dim, V = cfg_.vocab_size, NB = cfg_.num_blocks;
  const int r0 = team.r0, n = team.n;
  const size_t oD = size_t(r0) * D;
  // slots 0..9 belong to the blocks; 10, 11 hold the residual stream, 12 the post norm's statistics
  T* x = ws.raw(10, size_t(B) * D);
  T* y = ws.raw(11, size_t(B) * D);
  nn::embedding_forward(x + oD, ids + r0, pv_.embedding, n, V, D);
  for (int b = 0; b < NB; ++b) {
    if (types_[size_t(b)] == BlockType::mlstm) {
      MlstmBlockState<T> st = state.mlstm(b);
      mlstm_block_step(y, x, pv_.mlstm[size_t(b)], mlstm_block_dims(cfg_, B, 1), st, ws, team);
    } else {
      SlstmBlockState<T> st = state.slstm(b);
      slstm_block_step(y, x, pv_.slstm[size_t(b)], slstm_block_dims(cfg_, B, 1), st, ws, team);
    }
    std::swap(x, y);
  }
  if (pv_.post_norm_w) {
    T* stat = ws.raw(12, size_t(2) * B);
    nn::layernorm_forward(y + oD, stat + r0, stat + B + r0, x + oD, pv_.post_norm_w, n, D);
    std::swap(x, y);
  }
  team.sync();
  team.product(logits, x, pv_.head, B, D, V);
}

template class XlstmLM<float>;
template class XlstmLM<double>;

}  // namespace xm::model

// mlstm.h: the mLSTM cell (official xlstm/blocks/mlstm/cell.py + backends.py) and its three equivalent forms:
// parallel (training), chunkwise (long sequences, prefill with state) and the recurrent step (generation).
// Not the mLSTM layer/block (projections, conv, skip, output gate): those are in model/.
//
// Conventions (all functions here):
// - backend tensors are head-major: q, k, v, h~ (B, NH, S, DH); gate pre-activations (B, NH, S); the cell
//   takes and returns (B, S, H) with H = NH*DH (the official (B, S, NH, DH) view of the last dimension);
// - state: C (B, NH, DH, DH) stored C[key][value], n (B, NH, DH), m (B, NH); the official (B,NH,DH,1) and
//   (B,NH,1,1) shapes have the same memory. The official step starts from C = n = 0, m = 0;
// - keys are scaled by 1/sqrt(DH) inside; the denominator is max(|b_t|, exp(-m_t)) + eps, eps = 1e-6,
//   in stabilised units (m_t = the row's largest log-weight), exactly as the official code;
// - GRADIENT RULE: every backward ACCUMULATES (+=) into every gradient buffer it writes; a null gradient
//   pointer means "not needed" (name the type, e.g. mlstm_parallel_backward<float>(...), when passing a bare
//   nullptr). Gradients are exact, through the stabiliser max as torch autograd does;
// - threads: OpenMP over (batch, head), GEMMs inside each; keep BLAS single-threaded meanwhile
//   (OPENBLAS_NUM_THREADS=1 or openblas_set_num_threads(1)) or the two thread pools oversubscribe the cores.
//
// EPS CONVENTION (why the three forms agree): every form computes, for each t,
//   h~_t = N_t / (max(|B_t|, exp(-m_t)) + eps)      (N_t, B_t stabilised by exp(-m_t))
// with m_t = max over the log-weights that reach t. The parallel form has no initial state (m_0 = -inf);
// the recurrent step starts from m_0 = 0, which acts as one more log-weight (F_{t,0} + 0) in that max. The
// chunkwise form takes either: with no initial state it equals the parallel form, with the zero state
// (C = n = 0, m = 0) it equals a loop of recurrent steps, both to rounding (~1e-15 in double). The parallel
// and recurrent forms differ only by where eps lands (~1e-7 with eps = 1e-6; ~1e-15 with eps = 0).
#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace xm::nn {

constexpr double kMlstmEps = 1e-6;  // the official denominator eps
constexpr int kMlstmChunk = 64;     // default chunk length of the chunkwise form

// Views of a recurrent state; m may hold -infinity for "no state yet" (parallel semantics).
template <class T>
struct MlstmState {
  T* C = nullptr;  // (B, NH, DH, DH), C[key][value]
  T* n = nullptr;  // (B, NH, DH)
  T* m = nullptr;  // (B, NH)
};

// How functions take an optional state: a pointer whose T is not deduced from it, so nullptr works.
template <class T>
using MlstmStatePtr = const std::type_identity_t<MlstmState<T>>*;

// An owning state (zeros, m = 0: the official initial state of step()).
template <class T>
struct MlstmStateBuffer {
  std::vector<T> C, n, m;
  void reset(int B, int NH, int DH) {  // zeros everywhere (official step() initial state)
    C.assign(std::size_t(B) * NH * DH * DH, T(0));
    n.assign(std::size_t(B) * NH * DH, T(0));
    m.assign(std::size_t(B) * NH, T(0));
  }
  MlstmState<T> view() { return {C.data(), n.data(), m.data()}; }
};

// What a forward saves for its backward (caller-owned buffers; MlstmCacheBuffer sizes and owns them). The per-row
// scalars are always needed; the chunk states only by the chunkwise form (NC = ceil(S / L) chunks).
template <class T>
struct MlstmCache {
  T* m = nullptr;              // (B, NH, S) row stabiliser m_t
  T* b = nullptr;              // (B, NH, S) normaliser sum b_t (stabilised), picks the denominator branch
  int32_t* argmax = nullptr;   // (B, NH, S) source s of m_t: the index of the largest log-weight, -1 = m_0
  T* chunk_C = nullptr;        // (B, NH, NC, DH, DH) state entering each chunk
  T* chunk_n = nullptr;        // (B, NH, NC, DH)
  T* chunk_m = nullptr;        // (B, NH, NC)
};
inline int mlstm_num_chunks(int S, int L) { return (S + L - 1) / L; }

// An owning cache for either form.
template <class T>
struct MlstmCacheBuffer {
  std::vector<T> m, b, chunk_C, chunk_n, chunk_m;
  std::vector<int32_t> argmax;
  // chunk = 0: parallel form (no chunk states); chunk > 0: chunkwise with that chunk length.
  void resize(int B, int NH, int S, int DH, int chunk) {
    std::size_t rows = std::size_t(B) * NH * S;
    m.resize(rows), b.resize(rows), argmax.resize(rows);
    std::size_t nc = chunk > 0 ? std::size_t(B) * NH * mlstm_num_chunks(S, chunk) : 0;
    chunk_C.resize(nc * DH * DH), chunk_n.resize(nc * DH), chunk_m.resize(nc);
  }
  // Pointers into the buffers (null where empty). Backward calls only read through them.
  MlstmCache<T> view() const {
    return {ptr(m), ptr(b), ptr(argmax), ptr(chunk_C), ptr(chunk_n), ptr(chunk_m)};
  }

 private:
  template <class E>
  static E* ptr(const std::vector<E>& v) {
    return v.empty() ? nullptr : const_cast<E*>(v.data());
  }
};

// ---- (a) parallel stabilised form, exactly the official parallel_stabilized_simple: O(S^2) per (b, head).
// cache.m/b/argmax may be null for a forward-only call.
template <class T>
void mlstm_parallel_forward(T* h /* (B, NH, S, DH) */, const MlstmCache<T>& cache, const T* q /* (B,NH,S,DH) */,
                            const T* k /* (B,NH,S,DH) */, const T* v /* (B,NH,S,DH) */,
                            const T* igate /* (B, NH, S) */, const T* fgate /* (B, NH, S) */, int B, int NH, int S,
                            int DH, double eps = kMlstmEps);
// h is the forward's output (the backward needs dh . h for the denominator).
template <class T>
void mlstm_parallel_backward(T* dq /* (B,NH,S,DH) or null */, T* dk /* (B,NH,S,DH) or null */,
                             T* dv /* (B,NH,S,DH) or null */, T* digate /* (B,NH,S) or null */,
                             T* dfgate /* (B,NH,S) or null */, const T* dh /* (B,NH,S,DH) */,
                             const T* h /* (B,NH,S,DH) */, const MlstmCache<T>& cache, const T* q, const T* k,
                             const T* v, const T* igate, const T* fgate, int B, int NH, int S, int DH,
                             double eps = kMlstmEps);

// ---- (b) chunkwise form: chunks of L steps, parallel inside a chunk, state (C, n, m) carried between chunks.
// init: the state before t = 0 (read only), or null for none (= parallel form). final_state: if non-null,
// receives the state after the last step (may alias init). cache (all six pointers) may be null
// pointers for a forward-only call. The backward treats init as a constant (no gradient into it).
template <class T>
void mlstm_chunkwise_forward(T* h /* (B, NH, S, DH) */, const MlstmCache<T>& cache, const T* q, const T* k,
                             const T* v /* (B,NH,S,DH) */, const T* igate, const T* fgate /* (B, NH, S) */,
                             MlstmStatePtr<T> init, MlstmStatePtr<T> final_state, int B, int NH, int S,
                             int DH, int L = kMlstmChunk, double eps = kMlstmEps);
template <class T>
void mlstm_chunkwise_backward(T* dq, T* dk, T* dv /* (B,NH,S,DH) or null */, T* digate,
                              T* dfgate /* (B,NH,S) or null */, const T* dh /* (B,NH,S,DH) */,
                              const T* h /* (B,NH,S,DH) */, const MlstmCache<T>& cache, const T* q, const T* k,
                              const T* v, const T* igate, const T* fgate, int B, int NH, int S, int DH,
                              int L = kMlstmChunk, double eps = kMlstmEps);

// ---- (c) recurrent step, exactly the official recurrent_step_stabilized_simple; state updated in place.
template <class T>
void mlstm_step(T* h /* (B, NH, DH) */, const MlstmState<T>& state, const T* q, const T* k,
                const T* v /* (B, NH, DH) */, const T* igate, const T* fgate /* (B, NH) */, int B, int NH, int DH,
                double eps = kMlstmEps);

// ---- the mLSTM cell (official mLSTMCell): gates from [q; k; v], backend, multi-head LayerNorm.
//   igate = [q;k;v] W_i^T + b_i, fgate = [q;k;v] W_f^T + b_f   (W: (NH, 3H), concat order q, k, v)
//   h = MultiHeadLayerNorm(h~) (per head over DH, gain 1 + w, eps 1e-5, no bias), as (B, S, H).
enum class MlstmForm { parallel, chunkwise };
struct MlstmOptions {
  MlstmForm form = MlstmForm::parallel;
  int chunk = kMlstmChunk;  // chunkwise only
  double eps = kMlstmEps;
};

template <class T>
struct MlstmCellWeights {
  const T* igate_w = nullptr;    // (NH, 3H)  state_dict mlstm_cell.igate.weight
  const T* igate_b = nullptr;    // (NH)      mlstm_cell.igate.bias
  const T* fgate_w = nullptr;    // (NH, 3H)  mlstm_cell.fgate.weight
  const T* fgate_b = nullptr;    // (NH)      mlstm_cell.fgate.bias
  const T* outnorm_w = nullptr;  // (H)       mlstm_cell.outnorm.weight (gain offset)
};
template <class T>
struct MlstmCellGrads {  // each may be null (not needed); accumulated (+=)
  T* igate_w = nullptr;
  T* igate_b = nullptr;
  T* fgate_w = nullptr;
  T* fgate_b = nullptr;
  T* outnorm_w = nullptr;
};

// Activations the cell forward keeps for its backward (owned; sized by the forward).
template <class T>
struct MlstmCellCache {
  int B = 0, S = 0, NH = 0, DH = 0;
  MlstmOptions opt;
  std::vector<T> ig, fg;            // (B, NH, S) gate pre-activations
  std::vector<T> ht;                // (B, S, NH, DH) h~ before the norm
  std::vector<T> ln_mean, ln_rstd;  // (B*S, NH)
  std::vector<T> w_cat, b_cat;      // (2NH, 3H), (2NH): [W_i; W_f], [b_i; b_f] as used by the forward
  std::vector<T> g_cat;             // (B*S, 2NH) scratch
  MlstmCacheBuffer<T> backend;
  // Scratch of the backward, kept between calls so a training loop does not reallocate (and page-fault) it.
  mutable std::vector<T> d_ht, d_ig, d_fg, d_gcat, d_wcat, d_bcat;
};

// h (B, S, H). init / final_state as in mlstm_chunkwise_forward (the parallel form ignores init and
// rejects final_state with xm::Error; use the chunkwise form for prefill).
template <class T>
void mlstm_cell_forward(T* h /* (B, S, H) */, MlstmCellCache<T>& cache, const T* q, const T* k,
                        const T* v /* (B, S, H) */, const MlstmCellWeights<T>& w, int B, int S, int NH, int DH,
                        const MlstmOptions& opt = {}, MlstmStatePtr<T> init = nullptr,
                        MlstmStatePtr<T> final_state = nullptr);
template <class T>
void mlstm_cell_backward(T* dq, T* dk, T* dv /* (B, S, H) or null */, const MlstmCellGrads<T>& g,
                         const T* dh /* (B, S, H) */, const MlstmCellCache<T>& cache, const T* q, const T* k,
                         const T* v /* (B, S, H) */, const MlstmCellWeights<T>& w,
                         bool accumulate = true /* false: dq, dk, dv are overwritten, not added to */);
// One generation step of the cell (official mLSTMCell.step): q, k, v, h (B, H); state updated in place.
template <class T>
void mlstm_cell_step(T* h /* (B, H) */, const MlstmState<T>& state, const T* q, const T* k, const T* v /* (B,H) */,
                     const MlstmCellWeights<T>& w, int B, int NH, int DH, double eps = kMlstmEps);
// The same for the (row, head) pairs bh in [bh0, bh1) only (bh = row * NH + head), on the calling thread: pointers
// are the whole batch's, as for mlstm_cell_step; a team of threads shares the pairs out.
template <class T>
void mlstm_cell_step_range(T* h, const MlstmState<T>& state, const T* q, const T* k, const T* v,
                           const MlstmCellWeights<T>& w, int B, int NH, int DH, int bh0, int bh1,
                           double eps = kMlstmEps);

}  // namespace xm::nn

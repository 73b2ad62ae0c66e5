// blocks.h: the two residual blocks of the xLSTM stack, forward (with a cache), backward and one-token step:
// the mLSTM block (pre-LN, up-projection, causal conv + SiLU, q/k/v headwise, mLSTM cell, learnable skip,
// SiLU output gate, down-projection, residual) and the sLSTM block (pre-LN, conv + SiLU, swapped gate modules,
// sLSTM cell, group norm, residual, then gated FFN with its own LN). Not the LM (embedding, head, loss).
// Activations are (N = B*S, D) row-major; gradient rule as nn/ops.h (backwards accumulate into d_x and grads).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include <sched.h>

#include "model/config.h"
#include "model/params.h"
#include "nn/gemm.h"
#include "nn/mlstm.h"
#include "nn/ops.h"

namespace xm::model {

// An allocator of 64-byte aligned (cache line) storage for std::vector.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlign{64};
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlign)); }
  void deallocate(T* p, size_t) { ::operator delete(p, kAlign); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};

// Scratch buffers reused across blocks and calls: get(slot, n) returns n zeroed elements of slot `slot`;
// raw(slot, n) the same n elements with whatever they held (for buffers the caller overwrites entirely).
// Large buffers are zeroed on all threads (a serial memset of the training step's buffers was ~5% of its wall time).
template <class T>
struct Workspace {
  // 64-byte aligned: the threads of a step team write neighbouring 16-float column blocks of one buffer, each
  // then exactly one cache line of a row (unaligned, two threads wrote halves of the same line).
  std::vector<std::vector<T, AlignedAllocator<T>>> slots;
  // Set while a team of threads shares this workspace: growing a slot then (which would move it under the other
  // threads) is a bug in the team's sizing, and stops the program with a message instead of corrupting memory.
  bool frozen = false;
  T* raw(size_t slot, size_t n) {
    if (slots.size() <= slot || slots[slot].size() < n) {
      if (frozen) {
        std::fprintf(stderr, "xlstm-music: internal error: workspace slot %zu grown to %zu inside a step team\n", slot, n);
        std::abort();
      }
      if (slots.size() <= slot) slots.resize(slot + 1);
      slots[slot].resize(n);
    }
    return slots[slot].data();
  }
  T* get(size_t slot, size_t n) {
    T* p = raw(slot, n);
    const int64_t len = int64_t(n), parts = len >= (int64_t(1) << 18) ? 16 : 1;
#pragma omp parallel for if (parts > 1)
    for (int64_t i = 0; i < parts; ++i) {
      const int64_t a = len * i / parts, b = len * (i + 1) / parts;
      std::fill(p + a, p + b, T(0));
    }
    return p;
  }
};

struct MlstmBlockDims {
  int B = 0, S = 0, D = 0;
  int I = 0;   // inner width (proj_up_dim)
  int NH = 0;  // cell heads (DH = I / NH)
  int bs = 0;  // q/k/v projection block size
  int K = 0;   // conv kernel
  int N() const { return B * S; }
  int DH() const { return I / NH; }
};
struct SlstmBlockDims {
  int B = 0, S = 0, D = 0;
  int NH = 0;  // heads (DH = D / NH)
  int K = 0;   // conv kernel, 0 = no conv
  int P = 0;   // FFN width, 0 = no FFN
  nn::Activation act = nn::Activation::gelu;
  int N() const { return B * S; }
  int DH() const { return D / NH; }
};
MlstmBlockDims mlstm_block_dims(const XlstmConfig& cfg, int B, int S);
SlstmBlockDims slstm_block_dims(const XlstmConfig& cfg, int B, int S);

// Recurrent state of one block for B rows (views; owned by model/state.h's LmState).
template <class T>
struct MlstmBlockState {
  T* conv;                // (B, K, I): last K conv inputs
  nn::MlstmState<T> cell; // C (B, NH, DH, DH), n (B, NH, DH), m (B, NH)
};
template <class T>
struct SlstmBlockState {
  T* conv;   // (B, K, D) or null when K == 0
  T* cell;   // (4, B, D) = (y, c, n, m)
};

template <class T>
struct MlstmBlockCache {
  std::vector<T> xn, ln_mean, ln_rstd;  // (N, D), (N), (N)
  std::vector<T> xm, z, xconv, xc;      // (N, I) each: up-projection halves, conv output, SiLU(conv)
  std::vector<T> q, k, v, hc;           // (N, I) each: cell inputs and normed cell output
  std::vector<T> hs, hg;                // (N, I): hc + skip * xc, and hs * SiLU(z)
  nn::MlstmCellCache<T> cell;
  bool from_state = false;              // forward started from a recurrent state (no backward then)
};
template <class T>
struct SlstmBlockCache {
  std::vector<T> xn, ln_mean, ln_rstd;  // (N, D), (N), (N)
  std::vector<T> xconv, xc;             // (N, D) (empty when K == 0: xc is xn)
  std::vector<T> Wx;                    // (N, 4D) gate pre-activations [i | f | z | o]
  std::vector<T> y, cell;               // (N, D) cell output; cell cache (slstm_cache_size)
  std::vector<T> gn, gn_mean, gn_rstd;  // (N, D), (N, NH), (N, NH): group norm
  std::vector<T> x1;                    // (N, D): x + gn
  std::vector<T> xf, fln_mean, fln_rstd, ffn_up, ffn_h;  // FFN: LN out, stats, up (N, 2P), hidden (N, P)
  bool from_state = false;
};

// out (N, D) = x + block(x). state: null for a training forward from the zero state; otherwise the forward
// starts from *state and leaves the final state there (prompt prefill; the mLSTM cell then runs chunkwise).
template <class T>
void mlstm_block_forward(T* out, MlstmBlockCache<T>& c, const T* x, const MlstmBlockView<T>& w,
                         const MlstmBlockDims& d, const nn::MlstmOptions& opt, MlstmBlockState<T>* state = nullptr);
// d_x (N, D) += d(loss)/dx; grads += d(loss)/dparams, given d_out (N, D). Needs a forward without state.
template <class T>
void mlstm_block_backward(T* d_x, const MlstmBlockView<T>& g, const T* d_out, MlstmBlockCache<T>& c, const T* x,
                          const MlstmBlockView<T>& w, const MlstmBlockDims& d, Workspace<T>& ws);
// The threads that step one batch together (generation). Thread p of P owns rows [r0, r0 + n) of every activation
// and state buffer, all of which hold the whole batch (d.B rows); the cheap row-wise ops (norms, conv, gates) run on
// a thread's own rows. A weight product reads every row of its input, so it sits between two sync()s; its output
// columns are handed out in chunks, first come first served (each weight still read once per step, by one core),
// so a thread that runs slower for a while (a vCPU whose sibling is busy, an interrupt) takes fewer chunks instead of
// holding the other at the next barrier. The mLSTM cell step goes out the same way by (row, head), a thread taking
// another's (row, head) only after that thread has published its rows' inputs (publish/await).
// P = 1: the whole batch on the calling thread, each product parallel on its own (nn::gemm), as outside any team.

// What a team shares during one step: one ticket counter per queue and one "published" mark per thread, each on
// its own cache line, all zero at the step's start.
struct StepShared {
  struct alignas(64) Slot {
    std::atomic<int> v{0};
  };
  explicit StepShared(int P) : tickets(new Slot[size_t(P)]), marks(new Slot[size_t(P)]) {}
  std::unique_ptr<Slot[]> tickets, marks;
};

struct StepTeam {
  int p = 0, P = 1, r0 = 0, n = 0;
  StepShared* shared = nullptr;  // what the team shares (null when P = 1)
  StepTeam(int p_, int P_, int r0_, int n_, StepShared* shared_ = nullptr)
      : p(p_), P(P_), r0(r0_), n(n_), shared(shared_) {}
  static StepTeam whole(int B) { return StepTeam(0, 1, 0, B); }
  // Thread q's rows (the split of XlstmLM::step).
  static int row0(int B, int q, int P) { return int(int64_t(B) * q / P); }
  void sync() const {
    if (P > 1) {
#pragma omp barrier
    }
  }

  // Units [0, units) of queue q, each to the first thread that asks. A phase: every thread calls claim on each
  // queue it uses until it returns false (so that each draws exactly one ticket past the end), and a sync()
  // separates two phases; the next phase's tickets then start after units + P draws.
  bool claim(int q, int units, int& u) const {
    u = shared->tickets[size_t(q)].v.fetch_add(1, std::memory_order_relaxed) - base(q);
    if (u < units) return true;
    base(q) += units + P;
    return false;
  }
  // fn(b0, b1) over [0, blocks) in chunks from queue q: first `big` chunks of 3/4 of blocks / big each (one per
  // thread for a shared queue, one for the owner of a thread's queue), then single blocks, so that the end of the
  // phase balances to one block at the cost of a few tickets. Same rules as claim().
  template <class F>
  void chunks(int q, int blocks, int big, F&& fn) const {
    const int size = blocks * 3 / (4 * big), nbig = size > 0 ? big : 0, units = nbig + blocks - nbig * size;
    for (int u; claim(q, units, u);) {
      if (u < nbig)
        fn(u * size, (u + 1) * size);
      else
        fn(nbig * size + (u - nbig), nbig * size + (u - nbig) + 1);
    }
  }
  // This thread's rows' inputs of the current phase are written (release), and wait until thread q's are.
  void publish() const { shared->marks[size_t(p)].v.store(++epoch_, std::memory_order_release); }
  void await(int q) const {
    for (long i = 0; shared->marks[size_t(q)].v.load(std::memory_order_acquire) < epoch_; ++i)
      if (i > 100000) sched_yield();
  }

  // out (B, N) = in (B, K) W (N, K)^T, the whole batch, columns in 16-column blocks shared out over the team.
  // With out2: W has 2N rows; columns [N, 2N) go to out2 (the mLSTM up projection's two halves in one phase).
  template <class T>
  void product(T* out, const T* in, const T* W, int B, int K, int N, T* out2 = nullptr) const {
    if (P == 1) {
      nn::linear_forward<T>(out, in, W, nullptr, B, K, N);
      if (out2) nn::linear_forward<T>(out2, in, W + size_t(N) * K, nullptr, B, K, N);
      return;
    }
    const Columns<T> cols(in, W, B, K);
    const int NN = out2 ? 2 * N : N;
    chunks(0, (NN + 15) / 16, P, [&](int b0, int b1) {
      const int c0 = std::min(NN, b0 * 16), c1 = std::min(NN, b1 * 16);
      if (out2 && c0 < N && c1 > N) {
        cols(out + c0, N, c0, N);
        cols(out2, N, N, c1);
      } else if (c1 > c0) {
        cols(c0 < N ? out + c0 : out2 + (c0 - N), N, c0, c1);
      }
    });
  }
  // up (B, 2N) = in (B, K) W (2N, K)^T with columns c and N + c in the same chunk, and after(c0, c1) called by the
  // thread that wrote both halves of columns [c0, c1) (the gated FFN's gate needs both; it then needs no phase of
  // its own).
  template <class T, class F>
  void product_pairs(T* up, const T* in, const T* W, int B, int K, int N, F&& after) const {
    if (P == 1) {
      nn::linear_forward<T>(up, in, W, nullptr, B, K, 2 * N);
      after(0, N);
      return;
    }
    const Columns<T> cols(in, W, B, K);
    chunks(0, (N + 15) / 16, P, [&](int b0, int b1) {
      const int c0 = std::min(N, b0 * 16), c1 = std::min(N, b1 * 16);
      if (c1 <= c0) return;
      cols(up + c0, 2 * N, c0, c1);
      cols(up + N + c0, 2 * N, N + c0, N + c1);
      after(c0, c1);
    });
  }

 private:
  // Columns [c0, c1) of in W^T to o (row stride ldo) on this thread; float up to 16 rows: A^T packed once for all
  // of this thread's chunks of one product.
  template <class T>
  struct Columns {
    const T *in, *W;
    int B, K;
    const float* at = nullptr;
    Columns(const T* in_, const T* W_, int B_, int K_) : in(in_), W(W_), B(B_), K(K_) {
      if constexpr (sizeof(T) == 4) {
        if (B >= nn::kSmallRowsMin && B <= nn::kSmallRowsMax) {
          thread_local std::vector<float> buf;
          if (buf.size() < size_t(K) * 16) buf.resize(size_t(K) * 16);
          nn::gemm_small_pack(buf.data(), reinterpret_cast<const float*>(in), K, B, K);
          at = buf.data();
        }
      }
    }
    void operator()(T* o, int ldo, int c0, int c1) const {
      if constexpr (sizeof(T) == 4) {
        if (at) {
          nn::gemm_small_nt_packed(B, c1 - c0, K, 1.f, at, W + size_t(c0) * K, K, 0.f, o, ldo);
          return;
        }
      }
      nn::gemm_serial<T>(false, true, B, c1 - c0, K, T(1), in, K, W + size_t(c0) * K, K, T(0), o, ldo);
    }
  };
  // this thread's claim and publish bookkeeping
  int& base(int q) const {
    if (bases_.size() < size_t(P)) bases_.assign(size_t(P), 0);
    return bases_[size_t(q)];
  }
  mutable std::vector<int> bases_;
  mutable int epoch_ = 0;
};

// One token for B rows: out (B, D) = x + block(x), state updated in place (d.S is ignored).
template <class T>
void mlstm_block_step(T* out, const T* x, const MlstmBlockView<T>& w, const MlstmBlockDims& d,
                      MlstmBlockState<T>& state, Workspace<T>& ws, const StepTeam& team);
template <class T>
void mlstm_block_step(T* out, const T* x, const MlstmBlockView<T>& w, const MlstmBlockDims& d,
                      MlstmBlockState<T>& state, Workspace<T>& ws) {
  mlstm_block_step(out, x, w, d, state, ws, StepTeam::whole(d.B));
}

template <class T>
void slstm_block_forward(T* out, SlstmBlockCache<T>& c, const T* x, const SlstmBlockView<T>& w,
                         const SlstmBlockDims& d, SlstmBlockState<T>* state = nullptr);
template <class T>
void slstm_block_backward(T* d_x, const SlstmBlockView<T>& g, const T* d_out, SlstmBlockCache<T>& c, const T* x,
                          const SlstmBlockView<T>& w, const SlstmBlockDims& d, Workspace<T>& ws);
template <class T>
void slstm_block_step(T* out, const T* x, const SlstmBlockView<T>& w, const SlstmBlockDims& d,
                      SlstmBlockState<T>& state, Workspace<T>& ws, const StepTeam& team);
template <class T>
void slstm_block_step(T* out, const T* x, const SlstmBlockView<T>& w, const SlstmBlockDims& d,
                      SlstmBlockState<T>& state, Workspace<T>& ws) {
  slstm_block_step(out, x, w, d, state, ws, StepTeam::whole(d.B));
}
// The largest workspace slot a block step of B rows uses (slots 0..9; a team's workspace is sized before it starts).
size_t block_step_slot_size(const XlstmConfig& cfg, int B);

}  // namespace xm::model

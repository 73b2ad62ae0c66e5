// xlstm_lm.h: the xLSTM language model (official xLSTMLMModel): token embedding, the block stack (mLSTM and
// sLSTM blocks), post-blocks LayerNorm, LM head; parameters and gradients each in ONE flat buffer laid out by
// the ParamTable (state_dict names and order). Full-sequence forward with a cache and the backward from the
// mean cross-entropy to every parameter; recurrent prefill and one-token steps for generation.
// Not the optimiser (model/optim.h), checkpoint files, sampling or the training loop.
#pragma once
#include <cstdint>
#include <vector>

#include "model/blocks.h"
#include "model/config.h"
#include "model/params.h"
#include "model/state.h"

namespace xm::model {

constexpr int kIgnoreIndex = -100;  // targets with this value do not count in the loss (PyTorch's default)

struct LmOptions {
  nn::MlstmOptions mlstm;        // training form of the mLSTM cell (parallel or chunkwise)
  double label_smoothing = 0.0;  // of the cross-entropy
};

// Everything a forward keeps for its backward, sized by the forward and reused across calls.
template <class T>
struct LmCache {
  int B = 0, S = 0;
  std::vector<int32_t> ids, targets;          // (B*S); targets empty when the forward had none
  std::vector<std::vector<T>> resid;          // num_blocks + 1 residual streams (N, D); resid[0] = embeddings
  std::vector<MlstmBlockCache<T>> mlstm;      // per block (unused entries for sLSTM blocks)
  std::vector<SlstmBlockCache<T>> slstm;      // per block (unused entries for mLSTM blocks)
  std::vector<T> post, post_mean, post_rstd;  // (N, D) after the post-blocks norm, its stats
  std::vector<T> logits;                      // (N, V)
  std::vector<T> logp;                        // (N, V) log-softmax, for the loss backward
  double loss = 0;
  int64_t count = 0;                          // targets that counted in the loss
  bool from_state = false;
  Workspace<T> ws;
};

template <class T>
class XlstmLM {
 public:
  // Validates a copy of cfg, lays out the parameters (all zero) and gradients (zero).
  explicit XlstmLM(const XlstmConfig& cfg, LmOptions opt = {});

  const XlstmConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  LmOptions& options() { return opt_; }
  int64_t num_params() const { return table_.total(); }

  // The flat buffers (table().total() elements each). Never resized after construction.
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  const LmView<T>& param_view() const { return pv_; }
  const LmView<T>& grad_view() const { return gv_; }

  // The official reset_parameters() initialisation with our RNG (model/init.h).
  void init(uint64_t seed);
  void zero_grad();

  // Training forward over B rows of S tokens from the zero state. ids (B, S) in [0, V); targets (B, S) or null
  // (then no loss), entries == kIgnoreIndex skipped. Logits land in cache.logits (B, S, V). Returns the mean
  // cross-entropy over the counted targets (0 when none).
  double forward(LmCache<T>& cache, const int32_t* ids, const int32_t* targets, int B, int S) const;
  // Backward of d_loss * loss from the cache of the last forward (which had targets): ACCUMULATES into grads().
  void backward(LmCache<T>& cache, double d_loss = 1.0);

  // Generation. prefill: runs S tokens per row (B rows = state.batch()) starting from `state` (zero or carried)
  // and leaves the state after the last token; logits of every position in cache.logits (B, S, V). Same
  // result as S calls of step(), up to the mLSTM eps effect being identical (both start from m = 0).
  void prefill(LmCache<T>& cache, LmState<T>& state, const int32_t* ids /* (B, S) */, int S) const;
  // One token per row: logits (B, V), state updated in place. ws: scratch (one per concurrent caller).
  // With several threads the rows are split over a team (StepTeam, blocks.h): each thread steps its rows, the
  // weight products split their columns; the result does not depend on the thread count beyond float rounding.
  void step(T* logits, LmState<T>& state, const int32_t* ids /* (B) */, Workspace<T>& ws) const;
  LmState<T> new_state(int B) const { return LmState<T>(cfg_, B); }

 private:
  void step_team(T* logits, LmState<T>& state, const int32_t* ids, Workspace<T>& ws, const StepTeam& team) const;
  double run(LmCache<T>& cache, const int32_t* ids, const int32_t* targets, int B, int S, LmState<T>* state) const;
  XlstmConfig cfg_;
  LmOptions opt_;
  ParamTable table_;
  std::vector<BlockType> types_;
  std::vector<T> params_, grads_;
  LmView<T> pv_, gv_;
};

}  // namespace xm::model

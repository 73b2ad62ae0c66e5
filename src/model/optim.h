// optim.h: the pieces of one training step over the flat parameter/gradient buffers: AdamW (torch semantics) with
// the official decay/no-decay grouping, gradient clipping by global norm (torch clip_grad_norm_), a linear
// warm-up + cosine learning-rate schedule, and a train_step with gradient accumulation over micro-batches.
// Not the training loop, data loading, logging or checkpoint files (train/).
#pragma once
#include <cstdint>
#include <vector>

#include "model/params.h"
#include "model/xlstm_lm.h"

namespace xm::model {

struct AdamWConfig {
  double beta1 = 0.9, beta2 = 0.999;  // torch defaults (the official experiments do not change them)
  double eps = 1e-8;
  double weight_decay = 0.1;          // applied only to the decay group (ParamEntry::decay)
};

// torch.optim.AdamW: p -= lr * wd * p (decay group); m, v moments; bias-corrected step.
template <class T>
class AdamW {
 public:
  AdamW(const ParamTable& table, AdamWConfig cfg = {});
  // One update of params (table.total() elements) from grads at learning rate lr.
  void step(T* params, const T* grads, double lr);
  int64_t steps() const { return t_; }
  const AdamWConfig& config() const { return cfg_; }
  // Moments, for checkpointing (same layout as the parameters); set_steps restores the step count.
  std::vector<T>& m() { return m_; }
  std::vector<T>& v() { return v_; }
  void set_steps(int64_t t) { t_ = t; }

 private:
  AdamWConfig cfg_;
  std::vector<uint8_t> decay_;
  std::vector<T> m_, v_;
  int64_t t_ = 0;
};

// sqrt(sum g^2) over n elements (accumulated in double).
template <class T>
double grad_global_norm(const T* g, int64_t n);
// torch.nn.utils.clip_grad_norm_: when the norm exceeds max_norm, scales g by max_norm / (norm + 1e-6).
// Returns the norm before clipping. max_norm <= 0 disables clipping (the norm is still returned).
template <class T>
double clip_grad_norm(T* g, int64_t n, double max_norm);

// Linear warm-up from base_lr / warmup_steps to base_lr over warmup_steps, then cosine down to
// base_lr * min_lr_factor at decay_until_steps, constant afterwards. step counts from 0.
struct LrSchedule {
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;
  int64_t decay_until_steps = 0;  // 0: no decay (constant after warm-up)
  double min_lr_factor = 0.1;
  double at(int64_t step) const;
};

// One micro-batch: B rows of S tokens and their targets (kIgnoreIndex = not counted).
struct MicroBatch {
  const int32_t* ids = nullptr;      // (B, S)
  const int32_t* targets = nullptr;  // (B, S)
  int B = 0, S = 0;
};
struct StepResult {
  double loss = 0;       // mean loss over all counted targets of all micro-batches
  double grad_norm = 0;  // before clipping
  double lr = 0;
  int64_t tokens = 0;    // counted targets
};
// Zeroes the gradients, runs forward + backward on each micro-batch with each loss weighted by its share of the
// counted targets (so the accumulated gradient equals that of one batch holding them all), clips to clip_norm
// (<= 0: off) and applies one AdamW update at lr.
template <class T>
StepResult train_step(XlstmLM<T>& model, AdamW<T>& opt, LmCache<T>& cache, const std::vector<MicroBatch>& micro,
                      double lr, double clip_norm);

}  // namespace xm::model

// optim.cpp: see optim.h. AdamW, clipping, schedule, and the accumulating train_step.
// Not the training loop (train/).
#include "model/optim.h"

#include <cmath>

#include "core/error.h"
#include "nn/parallel.h"
#include "nn/simd.h"

namespace xm::model {

template <class T>
AdamW<T>::AdamW(const ParamTable& table, AdamWConfig cfg)
    : cfg_(cfg), decay_(table.decay_mask()), m_(size_t(table.total()), T(0)), v_(size_t(table.total()), T(0)) {}

namespace {
struct AdamWConsts {
  double b1, b2, step_size, bc2_sqrt, decay, eps;
};
// Elements [i0, i1) of the update, in double as before. Branch-free (the decay factor is exactly `decay` or 1, since
// decay - 1 is exact for decay in [0.5, 2]; mask entries are 0 or 1), cloned, and compiled without errno handling
// (CMakeLists.txt: the square root becomes one instruction), so it runs as AVX-512/AVX2 vector code.
template <class T>
[[gnu::noinline]] XM_CLONES void adamw_range(T* __restrict params, const T* __restrict grads, T* __restrict m_,
                                             T* __restrict v_, const uint8_t* __restrict mask, AdamWConsts k,
                                             int64_t i0, int64_t i1) {
  const double dm1 = k.decay - 1.0;
  for (int64_t i = i0; i < i1; ++i) {
    const double g = double(grads[i]);
    double p = double(params[i]) * (1.0 + double(mask[i]) * dm1);
    const double m = k.b1 * double(m_[i]) + (1.0 - k.b1) * g;
    const double v = k.b2 * double(v_[i]) + (1.0 - k.b2) * g * g;
    m_[i] = T(m), v_[i] = T(v);
    p -= k.step_size * m / (std::sqrt(v) / k.bc2_sqrt + k.eps);
    params[i] = T(p);
  }
}
}  // namespace

template <class T>
void AdamW<T>::step(T* params, const T* grads, double lr) {
  ++t_;
  const double b1 = cfg_.beta1, b2 = cfg_.beta2;
  const double bc1 = 1.0 - std::pow(b1, double(t_)), bc2 = 1.0 - std::pow(b2, double(t_));
  const double step_size = lr / bc1, bc2_sqrt = std::sqrt(bc2);
  const AdamWConsts k{b1, b2, step_size, bc2_sqrt, 1.0 - lr * cfg_.weight_decay, cfg_.eps};
  const int64_t n = int64_t(m_.size());
  nn::parallel_ranges(n, n > (1 << 16), [&](int64_t i0, int64_t i1) {
    adamw_range(params, grads, m_.data(), v_.data(), decay_.data(), k, i0, i1);
  });
}

template <class T>
double grad_global_norm(const T* g, int64_t n) {
  double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) s += double(g[i]) * double(g[i]);
  return std::sqrt(s);
}

template <class T>
double clip_grad_norm(T* g, int64_t n, double max_norm) {
  const double norm = grad_global_norm(g, n);
  if (max_norm > 0 && norm > max_norm) {
    const T coef = T(max_norm / (norm + 1e-6));
#pragma omp parallel for simd if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) g[i] *= coef;
  }
  return norm;
}

double LrSchedule::at(int64_t step) const {
  if (step < 0) step = 0;
  if (warmup_steps > 0 && step < warmup_steps) return base_lr * double(step + 1) / double(warmup_steps);
  if (decay_until_steps <= warmup_steps) return base_lr;
  const double min_lr = base_lr * min_lr_factor;
  if (step >= decay_until_steps) return min_lr;
  const double progress = double(step - warmup_steps) / double(decay_until_steps - warmup_steps);
  return min_lr + 0.5 * (base_lr - min_lr) * (1.0 + std::cos(3.14159265358979323846 * progress));
}

template <class T>
StepResult train_step(XlstmLM<T>& model, AdamW<T>& opt, LmCache<T>& cache, const std::vector<MicroBatch>& micro,
                      double lr, double clip_norm) {
  if (micro.empty()) throw Error("train_step: no micro-batches");
  int64_t total = 0;
  std::vector<int64_t> counts;
  for (const auto& mb : micro) {
    int64_t c = 0;
    for (int64_t i = 0; i < int64_t(mb.B) * mb.S; ++i) c += mb.targets[i] != kIgnoreIndex;
    counts.push_back(c);
    total += c;
  }
  StepResult r;
  r.tokens = total;
  r.lr = lr;
  model.zero_grad();
  if (total == 0) return r;  // nothing to learn from: no update
  for (size_t i = 0; i < micro.size(); ++i) {
    if (counts[i] == 0) continue;
    const double w = double(counts[i]) / double(total);
    r.loss += w * model.forward(cache, micro[i].ids, micro[i].targets, micro[i].B, micro[i].S);
    model.backward(cache, w);
  }
  r.grad_norm = clip_grad_norm(model.grads().data(), int64_t(model.grads().size()), clip_norm);
  opt.step(model.params().data(), model.grads().data(), lr);
  return r;
}

template class AdamW<float>;
template class AdamW<double>;
template double grad_global_norm<float>(const float*, int64_t);
template double grad_global_norm<double>(const double*, int64_t);
template double clip_grad_norm<float>(float*, int64_t, double);
template double clip_grad_norm<double>(double*, int64_t, double);
template StepResult train_step<float>(XlstmLM<float>&, AdamW<float>&, LmCache<float>&, const std::vector<MicroBatch>&,
                                      double, double);
template StepResult train_step<double>(XlstmLM<double>&, AdamW<double>&, LmCache<double>&,
                                       const std::vector<MicroBatch>&, double, double);

}  // namespace xm::model

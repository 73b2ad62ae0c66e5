// gradcheck.h: the generic finite-difference gradient harness for every op, cell and model test (in double).
// Probe loss L = sum(out * probe) with a random probe; central differences on each input coordinate are
// compared with the analytic backward, which must ACCUMULATE (+=) into the gradient buffers: the harness
// pre-fills them with random values and subtracts those afterwards. Not a speed test, not an autograd.
//
// Use:
//   std::vector<double> x = ..., w = ..., dx, dw;
//   auto fwd = [&] { std::vector<double> y(n); my_forward(y.data(), x.data(), w.data(), ...); return y; };
//   auto bwd = [&](const std::vector<double>& dy) { my_backward(dx.data(), dw.data(), dy.data(), ...); };
//   EXPECT_TRUE(xmtest::gradcheck("my_op", {{"x", &x, &dx}, {"w", &w, &dw}}, fwd, bwd));
// The backward is called once after one forward at the unperturbed point (so a cache filled by the forward
// is valid); grad buffers are resized to their inputs' sizes by the harness.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace xmtest {

struct GradInput {
  std::string name;
  std::vector<double>* value;  // perturbed in place by the harness, restored afterwards
  std::vector<double>* grad;   // where the backward accumulates d L / d value
};

struct GradCheckOptions {
  double step = 1e-5;      // central-difference step h
  double rtol = 1e-6;      // |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|)
  double atol = 1e-9;
  size_t max_coords = 0;   // per input: 0 = every coordinate, else this many chosen at random
  uint64_t seed = 12345;   // for the probe, the pre-filled gradients and the chosen coordinates
  bool check_accumulate = true;  // pre-fill gradient buffers with noise and expect it kept (+=)
};

// Returns success, or a failure naming each input with bad coordinates (its worst index, both values).
inline ::testing::AssertionResult gradcheck(const std::string& op, std::vector<GradInput> inputs,
                                            const std::function<std::vector<double>()>& forward,
                                            const std::function<void(const std::vector<double>&)>& backward,
                                            GradCheckOptions opt = {}) {
  std::mt19937_64 rng(opt.seed);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);

  std::vector<double> out = forward();
  std::vector<double> probe(out.size());
  for (auto& p : probe) p = uni(rng);
  auto loss = [&]() {
    std::vector<double> y = forward();
    if (y.size() != probe.size()) return double(NAN);
    long double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += (long double)y[i] * probe[i];
    return double(s);
  };

  // Analytic gradients, on top of random pre-filled values (to catch a backward that overwrites).
  std::vector<std::vector<double>> prefill(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    auto& g = *inputs[k].grad;
    g.assign(inputs[k].value->size(), 0.0);
    prefill[k].assign(g.size(), 0.0);
    if (opt.check_accumulate)
      for (auto& v : prefill[k]) v = uni(rng);
    g = prefill[k];
  }
  forward();  // refresh any cache for the unperturbed point
  backward(probe);
  std::vector<std::vector<double>> analytic(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    analytic[k] = *inputs[k].grad;
    for (size_t i = 0; i < analytic[k].size(); ++i) analytic[k][i] -= prefill[k][i];
  }

  std::ostringstream fails;
  fails.precision(12);
  bool ok = true;
  for (size_t k = 0; k < inputs.size(); ++k) {
    auto& x = *inputs[k].value;
    std::vector<size_t> coords;
    if (opt.max_coords == 0 || opt.max_coords >= x.size()) {
      for (size_t i = 0; i < x.size(); ++i) coords.push_back(i);
    } else {
      std::uniform_int_distribution<size_t> pick(0, x.size() - 1);
      for (size_t c = 0; c < opt.max_coords; ++c) coords.push_back(pick(rng));
    }
    size_t bad = 0, worst = 0;
    double worst_excess = -INFINITY, worst_a = 0, worst_n = 0;
    for (size_t i : coords) {
      double x0 = x[i];
      x[i] = x0 + opt.step;
      double lp = loss();
      x[i] = x0 - opt.step;
      double lm = loss();
      x[i] = x0;
      double num = (lp - lm) / (2 * opt.step);
      double a = analytic[k][i];
      double err = std::fabs(a - num);
      if (!(err == err)) err = INFINITY;
      double excess = err - (opt.atol + opt.rtol * std::max(std::fabs(a), std::fabs(num)));
      if (excess > 0) ++bad;
      if (excess > worst_excess) worst_excess = excess, worst = i, worst_a = a, worst_n = num;
    }
    if (bad) {
      ok = false;
      fails << "\n  " << inputs[k].name << ": " << bad << " of " << coords.size()
            << " coordinates differ; worst index " << worst << ": analytic " << worst_a << ", numeric "
            << worst_n;
    }
  }
  forward();  // leave caches consistent with the restored inputs
  if (ok) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << op << ": gradient check failed (h " << opt.step << ", rtol "
                                       << opt.rtol << ", atol " << opt.atol << ")" << fails.str();
}

// Fills v with uniform values in [lo, hi) from a fixed seed (test inputs).
inline std::vector<double> random_vector(size_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uni(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = uni(rng);
  return v;
}

}  // namespace xmtest

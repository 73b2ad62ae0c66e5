// fastmath.h: a branch-free exp the compiler can vectorise (a libm call stops a loop from vectorising), for the
// engine's elementwise hot loops (SiLU, sigmoid gates, the mLSTM decay matrix). float: relative error < 1e-7 (a few
// ulp); double: < 1e-15. Arguments are clamped to the finite range, so exp_fast never returns 0 or inf: below
// about -87 (float) / -708 (double) it returns the smallest normal-ish value, above 88 / 709 a huge finite one.
// Also the normal CDF (for GELU). Not a general math library, and not used where a test needs libm's last bit.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace xm::nn {

namespace fastmath_detail {
template <class T>
struct Const;
template <>
struct Const<float> {
  using I = int32_t;
  static constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  static constexpr float kMin = -87.0f, kMax = 88.0f;
  static constexpr int kMantBits = 23, kBias = 127;
};
template <>
struct Const<double> {
  using I = int64_t;
  static constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  static constexpr double kMin = -708.0, kMax = 709.0;
  static constexpr int kMantBits = 52, kBias = 1023;
};
}  // namespace fastmath_detail

// exp(x) for x already inside the finite range: x = k ln2 + r with |r| <= ln2 / 2, exp(r) by its Taylor
// polynomial (float to r^7: relative error < 6e-9; double to r^13: < 5e-18), 2^k through the exponent bits.
template <class T>
inline T exp_core(T x) {
  using C = fastmath_detail::Const<T>;
  using I = typename C::I;
  const T t = x * T(1.4426950408889634) + C::kMagic;
  const T k = t - C::kMagic;  // round(x / ln 2)
  const I ki = std::bit_cast<I>(t) - std::bit_cast<I>(C::kMagic);
  const T r = (x - k * T(0.693145751953125)) - k * T(1.4286068203094173e-06);
  T p;
  if constexpr (sizeof(T) == 4) {
    p = T(1.0 / 5040);
    p = p * r + T(1.0 / 720);
    p = p * r + T(1.0 / 120);
    p = p * r + T(1.0 / 24);
    p = p * r + T(1.0 / 6);
    p = p * r + T(0.5);
    p = p * r + T(1);
    p = p * r + T(1);
  } else {
    p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
  }
  return p * std::bit_cast<T>(I(ki + C::kBias) << C::kMantBits);
}

// select(c, a, b) = c ? a : b. For float as a bit blend: GCC (with the default -ftrapping-math) turns an FP
// ternary whose result feeds more FP work back into a branch, which stops the loop from vectorising; integer
// masks stay branch-free. Double keeps the plain ternary (SSE2 has no 64-bit mask conversion; the double path
// is the test path, not the fast one).
template <class T>
inline T sel(bool c, T a, T b) {
  if constexpr (sizeof(T) == 4) {
    const int32_t m = -int32_t(c);
    return std::bit_cast<T>((std::bit_cast<int32_t>(a) & m) | (std::bit_cast<int32_t>(b) & ~m));
  } else {
    return c ? a : b;
  }
}

// exp(x) for any x, clamped to the finite range on both sides.
template <class T>
inline T exp_fast(T x) {
  using C = fastmath_detail::Const<T>;
  x = x < T(C::kMin) ? T(C::kMin) : x;
  x = x > T(C::kMax) ? T(C::kMax) : x;
  return exp_core(x);
}

// exp(x) for x <= 0 (the sLSTM cell's exps all have non-positive arguments): only the lower clamp, through sel,
// giving a tiny positive value instead of an underflow to 0.
template <class T>
inline T exp_nonpos(T x) {
  using C = fastmath_detail::Const<T>;
  return exp_core(sel(x < T(C::kMin), T(C::kMin), x));
}

// The engine's choice per type: float (the fast path) gets exp_fast; double (the reference path the tests compare
// with the official float64 vectors and finite differences) keeps libm's exp, bit for bit as before.
template <class T>
inline T exp_hot(T x) {
  if constexpr (sizeof(T) == 4)
    return exp_fast(x);
  else
    return std::exp(x);
}

// 1 / (1 + exp(-x)).
template <class T>
inline T sigmoid_hot(T x) {
  return T(1) / (T(1) + exp_hot(-x));
}

// Phi(x) = (1 + erf(x / sqrt 2)) / 2, the standard normal CDF (exact GELU = x Phi(x)). float: through
// erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z / 2), z = |x| / sqrt 2 (the Chebyshev fit of Numerical Recipes'
// erfcc, relative error < 1.2e-7 for every z >= 0). Evaluated in float, the rounding of z^2 leaves a relative error
// of at most 1.7e-6 for |x| <= 4 and 6e-6 for |x| <= 8 (float 0.5 (1 + erff(x / sqrt 2)) loses 4.6e-4 near x = -4
// to cancellation); branch-free, so the loops around it vectorise. double: libm's erf, as before.
template <class T>
inline T normal_cdf_hot(T x) {
  if constexpr (sizeof(T) == 4) {
    const T z = std::fabs(x) * T(0.70710678118654752440);
    const T t = T(1) / (T(1) + T(0.5) * z);
    T p = T(0.17087277);
    p = p * t + T(-0.82215223);
    p = p * t + T(1.48851587);
    p = p * t + T(-1.13520398);
    p = p * t + T(0.27886807);
    p = p * t + T(-0.18628806);
    p = p * t + T(0.09678418);
    p = p * t + T(0.37409196);
    p = p * t + T(1.00002368);
    p = p * t + T(-1.26551223);
    const T half_erfc = T(0.5) * t * exp_fast(p - z * z);  // = Phi(-|x|)
    return sel(x < T(0), half_erfc, T(1) - half_erfc);
  } else {
    return T(0.5) * (T(1) + std::erf(x * T(0.70710678118654752440)));
  }
}

// exp(-x^2 / 2) / sqrt(2 pi), the standard normal density (GELU's gradient: Phi(x) + x phi(x)).
template <class T>
inline T normal_pdf_hot(T x) {
  return exp_hot(T(-0.5) * x * x) * T(0.39894228040143267794);
}

}  // namespace xm::nn

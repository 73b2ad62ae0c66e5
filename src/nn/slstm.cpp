// slstm.cpp: the sLSTM cell kernels declared in slstm.h: fused forward time loop, BPTT backward, single step.
// Each (head, batch-rows) recurrence runs its whole time loop in one OpenMP task (heads are block-diagonal).
// Not the block around the cell (model/) and not the mLSTM (nn/mlstm.*).
#include "nn/slstm.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/error.h"
#include "nn/fastmath.h"
#include "nn/gemm.h"

namespace xm::nn {

namespace {

// The pointwise loops are the hot spots besides the GEMMs: on x86-64 they are compiled twice, for AVX2 + FMA
// (x86-64-v3) and for the baseline, and the loader picks one for the CPU at hand (an ifunc); the build
// itself stays portable (no -march). Elsewhere they are compiled once.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define XM_SLSTM_CLONES [[gnu::target_clones("arch=x86-64-v3", "default")]]
#else
#define XM_SLSTM_CLONES
#endif

// Per-step planes of one (b, t) cache row, each H wide.
enum Plane { kYPrev = 0, kC, kN, kM, kIGate, kFGate, kZTanh, kOSig, kFSig, kPlanes };

void check_dims(const SlstmDims& d, const char* fn) {
  if (d.B <= 0 || d.S <= 0 || d.NH <= 0 || d.DH <= 0)
    throw Error(std::string(fn) + ": dims must be positive (B " + std::to_string(d.B) + ", S " +
                std::to_string(d.S) + ", NH " + std::to_string(d.NH) + ", DH " + std::to_string(d.DH) +
                "); hint: H = NH * DH is the cell width");
}

int max_threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Below this many multiply-adds per call (B*S*H*4DH) the cell runs on one thread: forking costs more.
constexpr double kParallelMinWork = double(1 << 18);

// How a call splits into (head, batch-rows) tasks. Enough tasks to keep every thread busy, otherwise as many
// rows as possible per task (each step's recurrent matmul then reuses R across more rows).
struct TaskSplit {
  bool parallel;
  int rows;   // batch rows per task
  int tasks;  // NH * ceil(B / rows)
};
TaskSplit split_tasks(const SlstmDims& d) {
  const int threads = max_threads();
  TaskSplit s;
  s.parallel = threads > 1 && double(d.B) * d.S * d.H() * 4 * d.DH >= kParallelMinWork;
  const int chunks = s.parallel ? std::min(d.B, std::max(1, (threads + d.NH - 1) / d.NH)) : 1;
  s.rows = (d.B + chunks - 1) / chunks;
  s.tasks = d.NH * ((d.B + s.rows - 1) / s.rows);
  return s;
}

// Cache sections (offsets in elements).
struct CacheLayout {
  size_t state0, rows, dgates;
  size_t row_stride;  // kPlanes * H per (b, t)
};
CacheLayout cache_layout(const SlstmDims& d) {
  size_t B = d.B, S = d.S, H = d.H();
  CacheLayout L;
  L.state0 = 0;
  L.rows = 4 * B * H;
  L.row_stride = kPlanes * H;
  L.dgates = L.rows + B * S * L.row_stride;
  return L;
}

// ry (nb, 4DH) = ys (nb, DH) * R_h^T, R_h (4DH, DH) the vanilla layout of one head.
template <class T>
inline void recurrent_matmul(T* ry, const T* ys, const T* Rh, int nb, int DH) {
  gemm<T>(false, true, nb, 4 * DH, DH, T(1), ys, DH, Rh, DH, T(0), ry, 4 * DH);
}

// ---- Branch-free elementary functions the compiler can vectorise (libm calls cannot be, and dominated the
// time loop). exp and log1p are accurate to a few ulp; tanh(z) = (1 - e^{-2|z|}) / (1 + e^{-2|z|}) to a few
// ulp in absolute terms. Checked through the cell: against the official float64 vectors (1e-12) and against
// a libm reference over large inputs (tests/nn/test_slstm.cpp). exp_nonpos and sel come from nn/fastmath.h.

// log(1 + u) for u in [0, 1]: 2 atanh(s) with |s| <= 0.1716 after splitting off ln 2 for u > sqrt(2) - 1.
template <class T>
inline T log1p_unit(T u) {
  // Both candidates are computed and then selected (no FP work inside a branch: the loop stays vectorisable).
  const bool big = u > T(0.41421356237309503);
  const T um1 = u - T(1), up3 = u + T(3), up2 = u + T(2);
  const T s = sel(big, um1, u) / sel(big, up3, up2);
  const T s2 = s * s;
  T p;
  if constexpr (sizeof(T) == 4) {
    p = T(1.0 / 9);
    p = p * s2 + T(1.0 / 7);
    p = p * s2 + T(1.0 / 5);
    p = p * s2 + T(1.0 / 3);
    p = p * s2 + T(1);
  } else {
    p = 1.0 / 19;
    p = p * s2 + 1.0 / 17;
    p = p * s2 + 1.0 / 15;
    p = p * s2 + 1.0 / 13;
    p = p * s2 + 1.0 / 11;
    p = p * s2 + 1.0 / 9;
    p = p * s2 + 1.0 / 7;
    p = p * s2 + 1.0 / 5;
    p = p * s2 + 1.0 / 3;
    p = p * s2 + 1.0;
  }
  return sel(big, T(0.69314718055994531), T(0)) + T(2) * s * p;
}

// The pointwise part of one step for one row of one head (DH elements): gates from the raw pre-activations
// raw = ry + wx + bh (ry (4DH) head-local gate-major; wx and bh the row's Wx and the bias at this head, gate
// blocks H apart; summed in the official order (Wx + Ry) + b), state (ys, cs, ns, ms) updated in place, y_t
// to yout, and, with kGates, the gate values to their cache planes. Written without branches so that it
// vectorises; every output is its own restrict pointer (GCC does not vectorise stores to planes of one
// pointer at a runtime stride), and the function stays out of line (GCC also gives up on it once it is
// inlined into the OpenMP task body).
template <class T, bool kGates>
[[gnu::noinline]] XM_SLSTM_CLONES void pointwise_row(const T* __restrict ry, const T* __restrict wx,
                                                     const T* __restrict bh, int H, T* __restrict ys,
                                                     T* __restrict cs, T* __restrict ns, T* __restrict ms,
                                                     T* __restrict yout, T* __restrict ig_out,
                                                     T* __restrict fg_out, T* __restrict zt_out,
                                                     T* __restrict og_out, T* __restrict sf_out, int DH) {
  for (int o = 0; o < DH; ++o) {
    const T ir = (wx[o] + ry[o]) + bh[o];
    const T fr = (wx[H + o] + ry[DH + o]) + bh[H + o];
    const T zr = (wx[2 * H + o] + ry[2 * DH + o]) + bh[2 * H + o];
    const T orr = (wx[3 * H + o] + ry[3 * DH + o]) + bh[3 * H + o];
    const T cp = cs[o], np = ns[o], mp = ms[o];
    // logsigmoid and sigmoid of f_raw from one exp, stable for both signs.
    const T ef = exp_nonpos(-std::fabs(fr));
    const T logsig_f = sel(fr < T(0), fr, T(0)) - log1p_unit(ef);
    const T sig_f = sel(fr >= T(0), T(1), ef) / (T(1) + ef);
    const T lfm = mp + logsig_f;
    // m_t = max(i_raw, lfm), or i_raw where n_{t-1} == 0 (first-step rule, per element). The gate whose
    // exponent is the maximum is exp(0) = 1, so one exp serves both: with x = lfm - i_raw,
    // i_raw wins (or the rule): i' = 1, f' = min(exp(x), 1); else: i' = exp(-x), f' = 1.
    const T x = lfm - ir;
    const bool i_wins = (np == T(0)) | (x <= T(0));
    const T e = exp_nonpos(sel(i_wins, sel(x < T(0), x, T(0)), -x));
    const T mt = sel(i_wins, ir, lfm);
    const T ig = sel(i_wins, T(1), e);
    const T fg = sel(i_wins, e, T(1));
    const T ez = exp_nonpos(T(-2) * std::fabs(zr));
    const T zt_abs = (T(1) - ez) / (T(1) + ez);
    const T zt = std::copysign(zt_abs, zr);
    const T eo = exp_nonpos(-std::fabs(orr));
    const T og = sel(orr >= T(0), T(1), eo) / (T(1) + eo);
    const T ct = fg * cp + ig * zt;
    const T nt = fg * np + ig;
    const T yt = og * ct / nt;
    if constexpr (kGates) {
      ig_out[o] = ig;
      fg_out[o] = fg;
      zt_out[o] = zt;
      og_out[o] = og;
      sf_out[o] = sig_f;
    }
    yout[o] = yt;
    ys[o] = yt;  // the matmul of this step has consumed y_{t-1} already
    cs[o] = ct;
    ns[o] = nt;
    ms[o] = mt;
  }
}

// dst[0..n) += src[0..n).
template <class T>
inline void add_into(T* __restrict dst, const T* __restrict src, int n) {
  for (int i = 0; i < n; ++i) dst[i] += src[i];
}

// Backward of the pointwise part of one step for one row of one head (DH elements), m_t held constant.
// In: dy_t (dy_in + dy_rec), the carried dc/dn of c_t/n_t (updated in place to those of c_{t-1}/n_{t-1}),
// the cache row (planes H apart) and c_{t-1}, n_{t-1}. Out: the raw-gate gradients d_i, d_f, d_z, d_o and
// dlfm = dL/d(m_{t-1} + logsigmoid(f_raw)) (the m_{t-1} gradient at t = 0). Out of line for the same reason
// as pointwise_row.
template <class T>
[[gnu::noinline]] XM_SLSTM_CLONES void pointwise_back_row(
    T* __restrict d_i, T* __restrict d_f, T* __restrict d_z, T* __restrict d_o, T* __restrict dcs,
    T* __restrict dns, T* __restrict dlfm_out, const T* __restrict dy_in, const T* __restrict dy_rec,
    const T* __restrict row, int H, const T* __restrict cprev, const T* __restrict nprev, int DH) {
  for (int o = 0; o < DH; ++o) {
    const T ct = row[kC * H + o], nt = row[kN * H + o];
    const T ig = row[kIGate * H + o], fg = row[kFGate * H + o], zt = row[kZTanh * H + o];
    const T og = row[kOSig * H + o], sf = row[kFSig * H + o];
    const T cp = cprev[o], np = nprev[o];
    const T yt = og * ct / nt;
    const T dyt = dy_in[o] + dy_rec[o];
    const T dc = dcs[o] + dyt * og / nt;
    const T dn = dns[o] - dyt * yt / nt;
    const T dlfm = fg * (dc * cp + dn * np);
    d_i[o] = ig * (zt * dc + dn);
    d_f[o] = dlfm * (T(1) - sf);
    d_z[o] = dc * ig * (T(1) - zt * zt);
    d_o[o] = (T(1) - og) * yt * dyt;
    dcs[o] = fg * dc;
    dns[o] = fg * dn;
    dlfm_out[o] = dlfm;
  }
}

}  // namespace

size_t slstm_cache_size(const SlstmDims& d) {
  size_t B = d.B, S = d.S, H = d.H();
  return 4 * B * H + B * S * (kPlanes + 4) * H;
}

template <class T>
void slstm_forward(T* y, T* state_out, T* cache, const T* Wx, const T* R, const T* bias, const T* state0,
                   const SlstmDims& d) {
  check_dims(d, "slstm_forward");
  const int B = d.B, S = d.S, NH = d.NH, DH = d.DH, H = d.H(), G = 4 * DH;
  const size_t BH = size_t(B) * H;
  const CacheLayout L = cache_layout(d);
  const TaskSplit split = split_tasks(d);
  const int bc = split.rows, tasks = split.tasks;

#pragma omp parallel if (split.parallel)
  {
    // Per-thread working set, allocated once per call (never inside the time loop).
    std::vector<T> acc(size_t(bc) * G), ys(size_t(bc) * DH), cs(size_t(bc) * DH), ns(size_t(bc) * DH),
        ms(size_t(bc) * DH);
#pragma omp for schedule(static)
    for (int task = 0; task < tasks; ++task) {
      const int h = task % NH, b0 = (task / NH) * bc, nb = std::min(bc, B - b0);
      const T* Rh = R + size_t(h) * G * DH;
      const T* bh = bias + size_t(h) * DH;
      // Initial state of this task's rows and head (read before anything is written: state_out may alias).
      for (int bb = 0; bb < nb; ++bb) {
        for (int o = 0; o < DH; ++o) {
          size_t at = size_t(b0 + bb) * H + size_t(h) * DH + o;
          size_t k = size_t(bb) * DH + o;
          ys[k] = state0 ? state0[at] : T(0);
          cs[k] = state0 ? state0[BH + at] : T(0);
          ns[k] = state0 ? state0[2 * BH + at] : T(0);
          ms[k] = state0 ? state0[3 * BH + at] : T(0);
          if (cache) {
            cache[L.state0 + at] = ys[k];
            cache[L.state0 + BH + at] = cs[k];
            cache[L.state0 + 2 * BH + at] = ns[k];
            cache[L.state0 + 3 * BH + at] = ms[k];
          }
        }
      }
      for (int t = 0; t < S; ++t) {
        // acc (nb, 4DH), head-local gate-major (g*DH + o) = R y_{t-1}.
        recurrent_matmul(acc.data(), ys.data(), Rh, nb, DH);
        for (int bb = 0; bb < nb; ++bb) {
          const size_t bt = size_t(b0 + bb) * S + t;
          const size_t k = size_t(bb) * DH;
          T* yout = y + bt * H + size_t(h) * DH;
          const T* a = acc.data() + size_t(bb) * G;
          const T* wx = Wx + bt * 4 * H + size_t(h) * DH;
          T *yk = ys.data() + k, *ck = cs.data() + k, *nk = ns.data() + k, *mk = ms.data() + k;
          if (cache) {
            T* row = cache + L.rows + bt * L.row_stride + size_t(h) * DH;
            std::memcpy(row + kYPrev * H, yk, sizeof(T) * DH);
            pointwise_row<T, true>(a, wx, bh, H, yk, ck, nk, mk, yout, row + kIGate * H, row + kFGate * H,
                                   row + kZTanh * H, row + kOSig * H, row + kFSig * H, DH);
            std::memcpy(row + kC * H, ck, sizeof(T) * DH);
            std::memcpy(row + kN * H, nk, sizeof(T) * DH);
            std::memcpy(row + kM * H, mk, sizeof(T) * DH);
          } else {
            pointwise_row<T, false>(a, wx, bh, H, yk, ck, nk, mk, yout, nullptr, nullptr, nullptr, nullptr,
                                    nullptr, DH);
          }
        }
      }
      if (state_out) {
        for (int bb = 0; bb < nb; ++bb) {
          for (int o = 0; o < DH; ++o) {
            size_t at = size_t(b0 + bb) * H + size_t(h) * DH + o;
            size_t k = size_t(bb) * DH + o;
            state_out[at] = ys[k];
            state_out[BH + at] = cs[k];
            state_out[2 * BH + at] = ns[k];
            state_out[3 * BH + at] = ms[k];
          }
        }
      }
    }
  }
}

template <class T>
void slstm_backward(T* dWx, T* dR, T* dbias, T* d_state0, const T* dy, const T* d_state_out, T* cache,
                    const T* R, const SlstmDims& d) {
  check_dims(d, "slstm_backward");
  if (!cache) throw Error("slstm_backward: cache is null; hint: pass the cache that slstm_forward filled");
  const int B = d.B, S = d.S, NH = d.NH, DH = d.DH, H = d.H(), G = 4 * DH;
  const size_t BH = size_t(B) * H;
  const CacheLayout L = cache_layout(d);
  const T* st0 = cache + L.state0;
  T* dg = cache + L.dgates;  // (B, S, NH, 4DH): raw-gate gradients, head-local gate-major
  const TaskSplit split = split_tasks(d);
  const int bc = split.rows, tasks = split.tasks;
  std::vector<T> db_parts(dbias ? size_t(tasks) * G : 0, T(0));

#pragma omp parallel if (split.parallel)
  {
    std::vector<T> dyr(size_t(bc) * DH), dcs(size_t(bc) * DH), dns(size_t(bc) * DH), dm0(size_t(bc) * DH);
#pragma omp for schedule(static)
    for (int task = 0; task < tasks; ++task) {
      const int h = task % NH, b0 = (task / NH) * bc, nb = std::min(bc, B - b0);
      T* db_part = db_parts.data() + size_t(task) * G;  // this task's column sums of draw
      const T* Rh = R + size_t(h) * G * DH;
      // Carried gradients w.r.t. y (recurrent part), c and n of the state after the current step.
      for (int bb = 0; bb < nb; ++bb) {
        for (int o = 0; o < DH; ++o) {
          size_t at = size_t(b0 + bb) * H + size_t(h) * DH + o;
          size_t k = size_t(bb) * DH + o;
          dyr[k] = d_state_out ? d_state_out[at] : T(0);
          dcs[k] = d_state_out ? d_state_out[BH + at] : T(0);
          dns[k] = d_state_out ? d_state_out[2 * BH + at] : T(0);
          dm0[k] = T(0);
        }
      }
      for (int t = S - 1; t >= 0; --t) {
        for (int bb = 0; bb < nb; ++bb) {
          const size_t b = size_t(b0 + bb), bt = b * S + t;
          const T* row = cache + L.rows + bt * L.row_stride + size_t(h) * DH;
          // c_{t-1}, n_{t-1}: the previous row, or the initial state.
          const T* cprev = t > 0 ? cache + L.rows + (bt - 1) * L.row_stride + kC * H + size_t(h) * DH
                                 : st0 + BH + b * H + size_t(h) * DH;
          const T* nprev = t > 0 ? cprev + (kN - kC) * H : st0 + 2 * BH + b * H + size_t(h) * DH;
          const T* dyt_in = dy + bt * H + size_t(h) * DH;
          T* g = dg + bt * 4 * H + size_t(h) * G;
          const size_t k = size_t(bb) * DH;
          pointwise_back_row<T>(g, g + DH, g + 2 * DH, g + 3 * DH, dcs.data() + k, dns.data() + k,
                                dm0.data() + k, dyt_in, dyr.data() + k, row, H, cprev, nprev, DH);
          if (dWx) {
            T* dw = dWx + bt * 4 * H + size_t(h) * DH;
            for (int gi = 0; gi < 4; ++gi) add_into(dw + size_t(gi) * H, g + gi * DH, DH);
          }
          if (dbias) add_into(db_part, g, G);
        }
        // dy_{t-1} (recurrent part) = draw (nb, 4DH) * R_h (4DH, DH); rows of this task are S*4H apart.
        const T* g0 = dg + (size_t(b0) * S + t) * 4 * H + size_t(h) * G;
        gemm<T>(false, false, nb, DH, G, T(1), g0, S * 4 * H, Rh, DH, T(0), dyr.data(), DH);
      }
      if (d_state0) {
        for (int bb = 0; bb < nb; ++bb) {
          for (int o = 0; o < DH; ++o) {
            size_t at = size_t(b0 + bb) * H + size_t(h) * DH + o;
            size_t k = size_t(bb) * DH + o;
            d_state0[at] += dyr[k];
            d_state0[BH + at] += dcs[k];
            d_state0[2 * BH + at] += dns[k];
            d_state0[3 * BH + at] += dm0[k];
          }
        }
      }
    }

    // Parameter gradients, one head per task: dR_h (4DH, DH) += draw_h^T (4DH, B*S) * y_prev_h (B*S, DH) over
    // all (b, t) at once; dbias from the tasks' column sums (tasks of one head are NH apart).
    if (dR || dbias) {
#pragma omp for schedule(static)
      for (int h = 0; h < NH; ++h) {
        if (dR)
          gemm<T>(true, false, G, DH, B * S, T(1), dg + size_t(h) * G, 4 * H,
                  cache + L.rows + kYPrev * H + size_t(h) * DH, int(L.row_stride), T(1),
                  dR + size_t(h) * G * DH, DH);
        if (dbias) {
          for (int task = h; task < tasks; task += NH) {
            const T* part = db_parts.data() + size_t(task) * G;
            for (int gi = 0; gi < 4; ++gi)
              add_into(dbias + size_t(gi) * H + size_t(h) * DH, part + gi * DH, DH);
          }
        }
      }
    }
  }
}

template <class T>
void slstm_step(T* y, T* state, const T* Wx, const T* R, const T* bias, int B, int NH, int DH) {
  SlstmDims d{B, 1, NH, DH};
  if (y) {
    slstm_forward<T>(y, state, nullptr, Wx, R, bias, state, d);
  } else {
    std::vector<T> tmp(size_t(B) * NH * DH);
    slstm_forward<T>(tmp.data(), state, nullptr, Wx, R, bias, state, d);
  }
}

template <class T>
void slstm_step_recurrent(T* Ry, const T* state, const T* R, int B, int NH, int DH, int g, int h) {
  const int H = NH * DH;
  gemm_serial<T>(false, true, B, DH, DH, T(1), state + size_t(h) * DH, H, R + (size_t(h) * 4 + g) * DH * DH, DH,
                 T(0), Ry + size_t(h) * 4 * DH + size_t(g) * DH, 4 * H);
}

template <class T>
void slstm_step_pointwise(T* y, T* state, const T* Wx, const T* Ry, const T* bias, int B, int NH, int DH, int r0,
                          int r1) {
  const int H = NH * DH;
  const size_t BH = size_t(B) * H;
  for (int b = r0; b < r1; ++b)
    for (int h = 0; h < NH; ++h) {
      const size_t at = size_t(b) * H + size_t(h) * DH;
      pointwise_row<T, false>(Ry + size_t(b) * 4 * H + size_t(h) * 4 * DH, Wx + size_t(b) * 4 * H + size_t(h) * DH,
                              bias + size_t(h) * DH, H, state + at, state + BH + at, state + 2 * BH + at,
                              state + 3 * BH + at, y + at, nullptr, nullptr, nullptr, nullptr, nullptr, DH);
    }
}

template <class T>
void slstm_cache_states(T* states_all, const T* cache, const T* y, const SlstmDims& d) {
  check_dims(d, "slstm_cache_states");
  const int B = d.B, S = d.S, H = d.H();
  const CacheLayout L = cache_layout(d);
  const size_t SBH = size_t(S) * B * H;
  for (int t = 0; t < S; ++t) {
    for (int b = 0; b < B; ++b) {
      const size_t bt = size_t(b) * S + t;
      const T* row = cache + L.rows + bt * L.row_stride;
      T* out = states_all + (size_t(t) * B + b) * H;
      for (int k = 0; k < H; ++k) {
        out[k] = y[bt * H + k];
        out[SBH + k] = row[kC * H + k];
        out[2 * SBH + k] = row[kN * H + k];
        out[3 * SBH + k] = row[kM * H + k];
      }
    }
  }
}

#define XM_SLSTM_INSTANTIATE(T)                                                                         \
  template void slstm_forward<T>(T*, T*, T*, const T*, const T*, const T*, const T*, const SlstmDims&); \
  template void slstm_backward<T>(T*, T*, T*, T*, const T*, const T*, T*, const T*, const SlstmDims&);  \
  template void slstm_step<T>(T*, T*, const T*, const T*, const T*, int, int, int);                     \
  template void slstm_step_recurrent<T>(T*, const T*, const T*, int, int, int, int, int);               \
  template void slstm_step_pointwise<T>(T*, T*, const T*, const T*, const T*, int, int, int, int, int); \
  template void slstm_cache_states<T>(T*, const T*, const T*, const SlstmDims&);
XM_SLSTM_INSTANTIATE(float)
XM_SLSTM_INSTANTIATE(double)
#undef XM_SLSTM_INSTANTIATE

}  // namespace xm::nn

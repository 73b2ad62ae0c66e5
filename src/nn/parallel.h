// parallel.h: the engine's one way of splitting a range over the OpenMP threads: fn(i0, i1) on contiguous slices of
// [0, n), one per thread (the first threads get ceil(n / threads) each). Kernels that split rows, columns or
// 16-column vectors all use it, so every op divides its work the same way. Not a scheduler (no dynamic balancing).
#pragma once
#include <algorithm>
#include <cstdint>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace xm::nn {

template <class F>
void parallel_ranges(int64_t n, bool parallel, F&& fn) {
#pragma omp parallel if (parallel)
  {
    int64_t nt = 1, id = 0;
#ifdef _OPENMP
    nt = omp_get_num_threads(), id = omp_get_thread_num();
#endif
    const int64_t per = (n + nt - 1) / nt, i0 = std::min(n, id * per), i1 = std::min(n, i0 + per);
    if (i1 > i0) fn(i0, i1);
  }
}

}  // namespace xm::nn

// runtime.h: the engine's thread and BLAS policy, decided in one place: one pool of OpenMP threads runs our kernels
// AND splits large GEMMs (xm::nn::gemm), OpenBLAS always runs single-threaded inside them (never two pools that
// oversubscribe the cores); which OpenBLAS kernels (core type) are used; what the OpenMP wait policy is.
// Not the kernels themselves, and not a scheduler: callers pick a thread count once at start-up.
//
// Why (measured, docs/performance.md):
// - OpenBLAS (pthread build) keeps its own thread pool; used from inside OpenMP regions it oversubscribes the cores
//   (up to 5x slower on 2 cores). So OpenBLAS is set to 1 thread, and gemm() parallelises big products itself.
// - libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT when it is loaded, before main() (a setenv in main changes
//   nothing). Its default is a bounded spin of 300k polls (measured ~10 ms of a core per idle gap here) before it
//   sleeps; passive (no spin) made generation 2-6x slower. apply_runtime_env re-executes the program once with
//   GOMP_SPINCOUNT=100000: as fast as the default in our measurements, ~4 ms of spin per idle gap.
// - OpenBLAS picks its kernels when it is loaded (OPENBLAS_CORETYPE or CPU detection); a DYNAMIC_ARCH OpenBLAS can be
//   switched afterwards through its exported gotoblas_dynamic_quit/init, which select_blas_core uses.
#pragma once
#include <string>

namespace xm::nn {

// The thread count of our kernels (OpenMP) and of the GEMM splitting; n <= 0 means every core the process may use.
// Also sets OpenBLAS to one thread. Call before the first engine call, not from inside a parallel region.
void set_threads(int n);
// Threads an engine call uses now (omp_get_max_threads, 1 without OpenMP).
int threads();
// Cores the process may run on (sched_getaffinity), at least 1.
int available_cores();

// When the user did not set OPENBLAS_CORETYPE, the CPU has AVX-512F and the linked OpenBLAS chose an AVX2-or-older
// core (Haswell, Zen, SandyBridge, ...), switches it to its AVX-512 kernels (Cooperlake with AVX512-BF16, else
// SkylakeX). Returns the core in use afterwards (openblas_get_corename), "built-in" without OpenBLAS.
// Safe to call more than once; call before any GEMM runs concurrently.
std::string select_blas_core();

// Re-executes the running program (/proc/self/exe with its own argv) once with GOMP_SPINCOUNT=100000 when the
// user set neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT (and XM_NO_REEXEC is unset). Returns normally when nothing
// needs doing or exec fails (the defaults then stay). Call first thing in a command, before any thread starts.
void apply_runtime_env();

struct RuntimeInfo {
  int threads = 1;             // OpenMP threads of engine calls
  int cores = 1;               // cores available to the process
  std::string blas;            // "OpenBLAS 0.3.21 ..." (openblas_get_config) or "built-in"
  std::string blas_core;       // kernels in use: "Cooperlake", "SkylakeX", "Haswell", ... or "built-in"
  int blas_threads = 1;        // OpenBLAS's own threads (1 under this policy)
  std::string wait_policy;     // OMP_WAIT_POLICY as seen at start-up ("" = libgomp default)
  std::string spin_count;      // GOMP_SPINCOUNT as seen at start-up
  bool avx512 = false;         // CPU has AVX-512F
  bool reexecuted = false;     // this process is the re-executed copy (apply_runtime_env)
};
RuntimeInfo runtime_info();

}  // namespace xm::nn

// runtime.cpp: see runtime.h. Thread count, OpenBLAS threads and kernels, the OpenMP spin re-exec.
// Not the GEMM splitting (nn/gemm.h) nor any kernel.
#include "nn/runtime.h"

#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef XM_HAVE_BLAS
#include <cblas.h>
// Exported by a DYNAMIC_ARCH OpenBLAS (Debian's is one); weak so that other BLAS builds still link.
extern "C" void gotoblas_dynamic_init(void) __attribute__((weak));
extern "C" void gotoblas_dynamic_quit(void) __attribute__((weak));
#endif

namespace xm::nn {

namespace {
constexpr const char* kReexecMark = "XM_RUNTIME_REEXEC";
constexpr const char* kSpinCount = "100000";  // libgomp polls before an idle thread sleeps (default 300000)

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string();
}

bool cpu_has_avx512f() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
#else
  return false;
#endif
}

bool cpu_has_avx512bf16() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("flags", 0) == 0) return line.find(" avx512_bf16") != std::string::npos;
  return false;
}

// Cores whose OpenBLAS kernels use AVX-512 (0.3.21 names).
bool is_avx512_core(const std::string& core) {
  return core == "SkylakeX" || core == "Cooperlake" || core == "SapphireRapids";
}

std::string g_wait_policy_at_start = env_or_empty("OMP_WAIT_POLICY");
std::string g_spin_at_start = env_or_empty("GOMP_SPINCOUNT");
}  // namespace

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? int(n) : 1;
}

void set_threads(int n) {
  if (n <= 0) n = available_cores();
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
#ifdef XM_HAVE_BLAS
  openblas_set_num_threads(1);
#endif
}

int threads() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

std::string select_blas_core() {
#ifdef XM_HAVE_BLAS
  std::string core = openblas_get_corename();
  if (!std::getenv("OPENBLAS_CORETYPE") && cpu_has_avx512f() && !is_avx512_core(core) && gotoblas_dynamic_quit &&
      gotoblas_dynamic_init) {
    const char* want = cpu_has_avx512bf16() ? "Cooperlake" : "SkylakeX";
    setenv("OPENBLAS_CORETYPE", want, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");  // our choice, not the user's: children detect for themselves
    openblas_set_num_threads(1);
    core = openblas_get_corename();
  }
  return core;
#else
  return "built-in";
#endif
}

void apply_runtime_env() {
  if (std::getenv(kReexecMark) || std::getenv("XM_NO_REEXEC")) return;
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;  // the user decided
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  if (all.empty()) return;
  std::vector<char*> argv;
  for (size_t at = 0; at < all.size();) {
    argv.push_back(&all[at]);
    at += std::strlen(&all[at]) + 1;
  }
  argv.push_back(nullptr);
  setenv(kReexecMark, "1", 1);
  setenv("GOMP_SPINCOUNT", kSpinCount, 1);
  std::fflush(nullptr);
  execv("/proc/self/exe", argv.data());
  // exec failed: carry on with libgomp's defaults.
  unsetenv(kReexecMark);
  unsetenv("GOMP_SPINCOUNT");
}

RuntimeInfo runtime_info() {
  RuntimeInfo r;
  r.threads = threads();
  r.cores = available_cores();
#ifdef XM_HAVE_BLAS
  r.blas = openblas_get_config();
  r.blas_core = openblas_get_corename();
  r.blas_threads = openblas_get_num_threads();
#else
  r.blas = r.blas_core = "built-in";
#endif
  r.wait_policy = g_wait_policy_at_start;
  r.spin_count = g_spin_at_start;
  r.avx512 = cpu_has_avx512f();
  r.reexecuted = std::getenv(kReexecMark) != nullptr;
  return r;
}

}  // namespace xm::nn

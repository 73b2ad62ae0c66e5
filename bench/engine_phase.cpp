// engine_phase: runs ONE phase of the engine benchmark (train | forward | gen1 | gen16 | prefill) a given number of
// times on the music reference config, for profilers (perf record, valgrind --tool=callgrind) that should see only
// that phase. Prints the wall and CPU seconds and the minor page faults per run. Not the benchmark itself
// (xlstm-music bench) and asserts nothing.
//
// usage: engine_phase PHASE [--model mixed|mlstm] [--runs N] [--threads N] [--batch B] [--seq S] [--blas-threads N]
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <random>
#include <string>
#include <vector>

#include "model/benchmark.h"
#include "model/optim.h"
#include "model/xlstm_lm.h"
#include "nn/runtime.h"
#ifdef XM_HAVE_BLAS
#include <cblas.h>
#endif

using namespace xm::model;

static double wall_now() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
static long minor_faults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}
// CPU seconds (user + system) of each thread of this process so far, from /proc/self/task/*/stat.
static std::vector<double> thread_cpu_seconds() {
  std::vector<double> out;
  const double tick = double(sysconf(_SC_CLK_TCK));
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream f(e.path() / "stat");
    std::string line;
    std::getline(f, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream in(line.substr(close + 2));
    std::string field;
    double utime = 0, stime = 0;
    for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 14 and 15 (1-based) are utime and stime
      if (i == 14) utime = std::atof(field.c_str());
      if (i == 15) stime = std::atof(field.c_str());
    }
    out.push_back((utime + stime) / tick);
  }
  return out;
}
static double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_phase train|forward|gen1|gen16|prefill [--model M] [--runs N] [--threads N] "
                         "[--batch B] [--seq S]\n");
    return 2;
  }
  std::string phase = argv[1], model_name = "mixed";
  int runs = 3, threads = 1, B = 16, S = 256, blas_threads = 0;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    if (f == "--model") model_name = argv[i + 1];
    else if (f == "--runs") runs = std::atoi(argv[i + 1]);
    else if (f == "--threads") threads = std::atoi(argv[i + 1]);
    else if (f == "--batch") B = std::atoi(argv[i + 1]);
    else if (f == "--seq") S = std::atoi(argv[i + 1]);
    else if (f == "--blas-threads") blas_threads = std::atoi(argv[i + 1]);
    else { std::fprintf(stderr, "unknown flag %s\n", f.c_str()); return 2; }
  }
  xm::nn::set_threads(threads);
  xm::nn::select_blas_core();
#ifdef XM_HAVE_BLAS
  // The alternative thread policy, for comparison: OpenBLAS's own threads (use with --threads 1).
  if (blas_threads > 0) openblas_set_num_threads(blas_threads);
#endif
  const XlstmConfig cfg = bench_model_config(model_name);
  XlstmLM<float> model(cfg);
  model.init(1);
  const int V = cfg.vocab_size;
  std::mt19937 rng(3);
  std::vector<int32_t> ids(size_t(B) * S), tg(size_t(B) * S);
  for (auto& x : ids) x = int32_t(rng() % V);
  for (auto& x : tg) x = int32_t(rng() % V);
  AdamW<float> opt(model.table());
  LmCache<float> cache;
  const std::vector<MicroBatch> micro{{ids.data(), tg.data(), B, S}};
  int gb = phase == "gen16" ? 16 : 1;
  LmState<float> state = model.new_state(phase == "prefill" ? 1 : gb);
  Workspace<float> ws;
  std::vector<float> logits(size_t(gb) * V);
  std::vector<int32_t> cur(static_cast<size_t>(gb), 0);
  auto once = [&] {
    if (phase == "train") train_step(model, opt, cache, micro, 1e-3, 1.0);
    else if (phase == "forward") model.forward(cache, ids.data(), nullptr, B, S);
    else if (phase == "prefill") { state.reset(); model.prefill(cache, state, ids.data(), S); }
    else {
      state.reset();
      for (int t = 0; t < 256; ++t) {
        model.step(logits.data(), state, cur.data(), ws);
        for (int b = 0; b < gb; ++b) {
          const float* l = logits.data() + size_t(b) * V;
          int best = 0;
          for (int v = 1; v < V; ++v) if (l[v] > l[best]) best = v;
          cur[size_t(b)] = best;
        }
      }
    }
  };
  once();  // warm-up
  for (int r = 0; r < runs; ++r) {
    const double c0 = cpu_now(), w0 = wall_now();
    const long f0 = minor_faults();
    once();
    std::printf("%s run %d: %.3f s wall, %.3f CPU s, %ld page faults\n", phase.c_str(), r, wall_now() - w0,
                cpu_now() - c0, minor_faults() - f0);
  }
  // Per-thread CPU over the whole program: with OMP_WAIT_POLICY=passive (idle threads sleep instead of spinning) the
  // difference between the main thread and a worker is the serial part of the work, which caps the thread speed-up.
  const std::vector<double> per = thread_cpu_seconds();
  std::printf("thread CPU s:");
  for (double t : per) std::printf(" %.3f", t);
  std::printf("\n");
  return 0;
}

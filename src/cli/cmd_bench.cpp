// cmd_bench.cpp: `xlstm-music bench`: the engine speed benchmark (model/benchmark.h) as a table or JSON.
// Thin: the timing lives in the library; this file parses flags, applies the thread policy and prints.
#include <algorithm>
#include <cstdio>
#include <string>

#include "cli/cli.h"
#include "core/io.h"
#include "model/benchmark.h"
#include "nn/runtime.h"

namespace {

using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music bench [--json] [--out FILE] [--threads N] [--model "
    "mixed|mlstm|lstm|transformer|both|all]\n"
    "                         [--quick] [--steps N] [--gemm-only]\n"
    "\n"
    "Times the engine (the xLSTM; with --model, also the LSTM and Transformer baselines) on the music "
    "reference\n"
    "workload (vocab 512, embedding 256, batch 16, sequence 256, float32): training steps (forward + "
    "backward +\n"
    "AdamW), forward passes, greedy generation at batch 1 and 16 (256 new tokens: recurrent steps, or the "
    "KV\n"
    "cache) and the prefill of a 1,024-token prompt; reports tokens/s (median), tokens per CPU-second,\n"
    "model FLOP utilisation against the sgemm peak it measures on the same threads, peak memory,\n"
    "and the ratios to the official PyTorch code on this kind of machine "
    "(../shared/reference/pytorch-baseline.md).\n"
    "\n"
    "flags:\n"
    "  --model M    mixed (xLSTM blocks m,s,m,m; default), mlstm (all mLSTM), both (the two), lstm (the\n"
    "               reference's torch.nn.LSTM 3 x 256), transformer (2 pre-LN layers, width 256, rotary), "
    "all,\n"
    "               or a comma-separated list\n"
    "  --threads N  engine threads (OpenMP; OpenBLAS stays single-threaded inside them); default 2, 0 = all "
    "cores\n"
    "  --steps N    timed training / forward steps (median; default 7, after 3 warm-up steps)\n"
    "  --quick      a smoke run: 3 steps, 64 generated tokens, 256-token prefill, one run each\n"
    "  --gemm-only  only the sgemm 1024^3 peak (compare OPENBLAS_CORETYPE settings with it)\n"
    "  --json       print JSON instead of the table\n"
    "  --out FILE   also write the JSON to FILE\n"
    "\n"
    "Environment: unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set (or XM_NO_REEXEC), the command "
    "re-executes\n"
    "itself once with GOMP_SPINCOUNT=100000 (idle OpenMP threads spin about 4 ms, then sleep). When\n"
    "OPENBLAS_CORETYPE is unset and the CPU has AVX-512, OpenBLAS is switched to its AVX-512 kernels if it "
    "chose\n"
    "older ones (docs/performance.md).\n"
    "The machine's load changes the figures: compare runs made at the same time, and the per-CPU-second "
    "column.\n";

int run(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {"--threads", "--model", "--out", "--steps"}, {"--json", "--quick", "--gemm-only"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty())
    throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  xm::model::BenchOptions opt;
  const std::string model = a.get_or("--model", "mixed");
  const std::vector<std::string> known = xm::model::bench_model_names();
  if (model == "both") {
    opt.models = {"mixed", "mlstm"};
  } else if (model == "all") {
    opt.models = known;
  } else {
    opt.models.clear();
    for (size_t pos = 0; pos <= model.size();) {  // a comma-separated list
      const size_t c = std::min(model.find(',', pos), model.size());
      const std::string name = model.substr(pos, c - pos);
      if (std::find(known.begin(), known.end(), name) == known.end())
        throw UsageError("flag --model: '" + name + "' is not mixed, mlstm, lstm, transformer, both or all");
      opt.models.push_back(name);
      pos = c + 1;
    }
  }
  opt.quick = a.has("--quick");
  if (a.has("--gemm-only")) opt.models.clear();
  opt.train_steps = int(a.get_int("--steps", opt.train_steps, 1, 1000));
  const int threads = int(a.get_int("--threads", 2, 0, 1024));

  xm::nn::apply_runtime_env();  // may re-execute this program (same arguments) with GOMP_SPINCOUNT set
  xm::nn::set_threads(threads);
  xm::nn::select_blas_core();

  const bool tty = xm::cli::stderr_is_tty();
  auto progress = [tty](const std::string& m) {
    if (tty) std::fprintf(stderr, "\r\033[Kbench: %s", m.c_str());
  };
  xm::model::BenchReport r = xm::model::run_benchmark(opt, progress);
  if (tty) std::fprintf(stderr, "\r\033[K");
  const xm::ordered_json j = xm::model::bench_to_json(r);
  if (auto out = a.get("--out")) xm::write_file_atomic(*out, j.dump(2) + "\n");
  if (a.has("--json"))
    std::printf("%s\n", j.dump(2).c_str());
  else
    std::fputs(xm::model::bench_to_text(r).c_str(), stdout);
  return 0;
}

xm::cli::Registrar reg({"bench", "time the engine (training, forward, generation) on this machine", kUsage,
                        run});

}  // namespace

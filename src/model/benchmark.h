// benchmark.h: the engine speed benchmark behind `xlstm-music bench`: the music reference config (its all-mLSTM
// twin, and the LSTM and Transformer baselines of the same size, through SeqModel) timed for training steps,
// forward passes, greedy generation at batch 1 and 16, and a long-prompt prefill,
// with the FLOPs per token, the machine's own GEMM peak on the same threads, model FLOP utilisation and peak memory.
// Not a unit test (nothing is asserted) and not a profiler.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/config.h"
#include "nn/runtime.h"

namespace xm::model {

struct BenchOptions {
  // "mixed" (xLSTM m,s,m,m), "mlstm" (all mLSTM), "lstm" (3 x 256), "transformer" (2 layers, width 256)
  std::vector<std::string> models = {"mixed"};
  int B = 16, S = 256;                          // training / forward batch
  int train_steps = 7, warmup = 3;              // median of train_steps after warmup (also for forward)
  int gen_tokens = 256;                         // new tokens per generation run
  std::vector<int> gen_batches = {1, 16};
  int prefill_tokens = 1024;                    // prompt length of the prefill timing (batch 1)
  int repeats = 3;                              // generation / prefill runs (median)
  uint64_t seed = 1;
  bool quick = false;                           // small counts for a smoke run (fills the fields above)
};

// One timed phase: median wall seconds per run and the process CPU seconds per run (all threads), from which
// tokens per second and per CPU-second follow. On a loaded machine the CPU figure is the steadier one.
struct BenchTiming {
  double wall_s = 0, cpu_s = 0;  // median per run
  double tokens = 0;             // tokens per run
  int runs = 0;
  double tok_per_s() const { return wall_s > 0 ? tokens / wall_s : 0; }
  double tok_per_cpu_s() const { return cpu_s > 0 ? tokens / cpu_s : 0; }
};

struct BenchModelResult {
  std::string name;    // "mixed", "mlstm", "lstm" or "transformer"
  std::string family;  // "xlstm", "lstm" or "transformer"
  json config;         // the model config (model files' schema; for xLSTM the official one)
  int64_t params = 0;
  double fwd_flops_per_token = 0;    // forward GEMM-shaped flops per token at sequence S (2 per multiply-add)
  double train_flops_per_token = 0;  // 3x forward
  double last_loss = 0;              // of the last training step (a sanity check: about ln V at init)
  BenchTiming train, forward, prefill;
  std::vector<std::pair<int, BenchTiming>> generate;  // (batch, timing)
  double train_mfu = 0, forward_mfu = 0;              // achieved flop/s over the measured GEMM peak
};

struct BenchReport {
  BenchOptions options;
  nn::RuntimeInfo runtime;
  double gemm_gflops = 0;      // sgemm 1024^3 through xm::nn::gemm on the bench threads (median wall)
  double gemm_gflops_cpu = 0;  // same, per CPU-second
  double peak_rss_mb = 0;      // getrusage ru_maxrss at the end
  double load_before = 0, load_after = 0;  // /proc/loadavg 1-minute load, for judging the noise
  std::vector<BenchModelResult> models;
};

// The benchmark models' names, in the order `both`/`all` run them.
std::vector<std::string> bench_model_names();  // mixed, mlstm, lstm, transformer
// The xLSTM benchmark models: "mixed" = music_reference_config(), "mlstm" = the same with no sLSTM block.
// Throws xm::Error naming the model otherwise.
XlstmConfig bench_model_config(const std::string& name);
// The config (model files' schema, with "family") of any benchmark model at sequence length S: the two above,
// "lstm" = the reference document's torch.nn.LSTM 3 x 256 (embedding 256, untied head), "transformer" = the
// small preset's baseline (2 pre-LN layers of width 256, 4 heads, FFN 1,024, rotary positions).
json bench_seq_model_config(const std::string& name, int S);
// Forward flops per token of a config at sequence length S (GEMM-shaped work only: projections, headwise
// projections, gate pre-activations, the causal mLSTM attention-like products, the sLSTM recurrence, FFN, head).
double forward_flops_per_token(const XlstmConfig& cfg, int S);
// The same for a config of any family as bench_seq_model_config returns (LSTM: input and recurrent products
// and head; Transformer: QKV and output projections, causal attention, FFN and head).
double forward_flops_per_token(const json& cfg, int S);
// sgemm n^3 through xm::nn::gemm on the current threads: {median wall GFLOP/s, median GFLOP per CPU-second}.
std::pair<double, double> measure_gemm_gflops(int n = 1024, int reps = 7);

// Runs everything (threads as set by nn::set_threads beforehand). progress(msg) is called between phases.
BenchReport run_benchmark(const BenchOptions& opt, const std::function<void(const std::string&)>& progress = {});
ordered_json bench_to_json(const BenchReport& r);
// The human table (PyTorch baseline ratios included for the reference workload).
std::string bench_to_text(const BenchReport& r);

}  // namespace xm::model

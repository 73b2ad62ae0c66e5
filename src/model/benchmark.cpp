// benchmark.cpp: see benchmark.h. Times the engine on the music reference workload; medians of wall and CPU time.
// Not a training loop (the data are random tokens) and not part of any test's pass/fail.
#include "model/benchmark.h"

#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <random>

#include "core/error.h"
#include "model/optim.h"
#include "model/seq_model.h"
#include "model/xlstm_lm.h"
#include "nn/gemm.h"

namespace xm::model {

namespace {

double wall_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
double load_avg() {
  std::ifstream f("/proc/loadavg");
  double l = 0;
  f >> l;
  return l;
}

// Runs fn `warmup` times untimed, then `runs` times timed; median wall and CPU seconds per run.
template <class F>
BenchTiming time_runs(int warmup, int runs, double tokens, F&& fn) {
  for (int i = 0; i < warmup; ++i) fn();
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const double w0 = wall_now(), c0 = cpu_now();
    fn();
    cpu.push_back(cpu_now() - c0);
    wall.push_back(wall_now() - w0);
  }
  BenchTiming t;
  t.wall_s = median(wall), t.cpu_s = median(cpu), t.tokens = tokens, t.runs = runs;
  return t;
}

std::vector<int32_t> random_tokens(size_t n, int V, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, V - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

// B rows of S random next-token pairs: ids[b][t] and targets[b][t] = the id after it.
void random_batch(std::vector<int32_t>& ids, std::vector<int32_t>& targets, int B, int S, int V, uint64_t seed) {
  const std::vector<int32_t> data = random_tokens(size_t(B) * (S + 1), V, seed);
  ids.resize(size_t(B) * S), targets.resize(size_t(B) * S);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < S; ++t) {
      ids[size_t(b) * S + t] = data[size_t(b) * (S + 1) + t];
      targets[size_t(b) * S + t] = data[size_t(b) * (S + 1) + t + 1];
    }
}

// Greedy: the argmax of each row's logits.
void argmax_rows(int32_t* ids, const float* logits, int B, int V) {
  for (int b = 0; b < B; ++b) {
    const float* l = logits + size_t(b) * V;
    ids[b] = int32_t(std::max_element(l, l + V) - l);
  }
}

// The PyTorch baseline (../shared/reference/pytorch-baseline.md, the upper end of each range) for the ratios.
struct Baseline {
  double train, forward, gen_b1, gen_b16;
};
const Baseline* baseline_for(const std::string& model) {
  static const Baseline mixed{2492, 8657, 649, 2884}, mlstm{3703, 11414, 709, 3036}, lstm{9363, 34126, 2062, 27269};
  if (model == "mixed") return &mixed;
  if (model == "mlstm") return &mlstm;
  if (model == "lstm") return &lstm;  // torch.nn.LSTM 3 x 256
  return nullptr;
}

bool is_xlstm(const std::string& name) { return name == "mixed" || name == "mlstm"; }

}  // namespace

XlstmConfig bench_model_config(const std::string& name) {
  XlstmConfig c = music_reference_config();
  if (name == "mixed") return c;
  if (name == "mlstm") {
    c.slstm_at.clear();
    c.validate();
    return c;
  }
  throw Error("bench: unknown model \"" + name + "\"; use mixed, mlstm or both");
}

std::vector<std::string> bench_model_names() { return {"mixed", "mlstm", "lstm", "transformer"}; }

json bench_seq_model_config(const std::string& name, int S) {
  if (is_xlstm(name)) {
    json c = json::parse(config_to_json(bench_model_config(name)).dump());
    c["family"] = "xlstm";
    return c;
  }
  const int V = music_reference_config().vocab_size, D = music_reference_config().embedding_dim;
  if (name == "lstm")
    return {{"family", "lstm"},    {"vocab_size", V},   {"context_length", S}, {"embedding_dim", D},
            {"hidden_dim", D},     {"num_layers", 3},   {"tie_weights", false}};
  if (name == "transformer")
    return {{"family", "transformer"}, {"vocab_size", V}, {"context_length", S}, {"embedding_dim", D},
            {"num_layers", 2},         {"num_heads", 4},  {"ffn_dim", 4 * D},    {"positions", "rotary"}};
  throw Error("bench: unknown model \"" + name + "\"; use mixed, mlstm, lstm or transformer");
}

double forward_flops_per_token(const json& cfg, int S) {
  const std::string family = cfg.value("family", std::string("xlstm"));
  if (family == "xlstm") {
    json official = cfg;
    official.erase("family");
    return forward_flops_per_token(config_from_json(official), S);
  }
  const double V = cfg.at("vocab_size").get<double>(), D = cfg.at("embedding_dim").get<double>();
  const int L = cfg.at("num_layers").get<int>();
  double f = 2 * D * V;  // head (LSTM: from hidden_dim = D here, no projection)
  if (family == "lstm") {
    const double H = cfg.at("hidden_dim").get<double>();
    for (int l = 0; l < L; ++l) f += 2 * 4 * H * ((l == 0 ? D : H) + H);
    return f;
  }
  const double F = cfg.at("ffn_dim").get<double>();
  // QKV and output projections, FFN, and causal attention: q k^T and p v over (S+1)/2 keys on average
  return f + L * (2 * 4 * D * D + 2 * 2 * D * F + 2 * 2 * D * (double(S) + 1) / 2);
}

double forward_flops_per_token(const XlstmConfig& cfg, int S) {
  const double D = cfg.embedding_dim, V = cfg.vocab_size;
  double f = 2 * D * V;  // LM head
  for (BlockType t : cfg.block_types()) {
    if (t == BlockType::mlstm) {
      const double I = cfg.mlstm_inner_dim(), NH = cfg.mlstm->num_heads, bs = cfg.mlstm->qkv_proj_blocksize;
      f += 2 * D * 2 * I + 2 * I * D;      // proj_up, proj_down
      f += 3 * 2 * I * bs;                 // q, k, v headwise (block size bs)
      f += 2 * 2 * NH * 3 * I;             // input and forget gate pre-activations
      f += 2 * 2 * I * (double(S) + 1) / 2;  // causal q k^T and S v: on average (S+1)/2 keys per query
    } else {
      const double NH = cfg.slstm->num_heads, DH = D / NH;
      f += 4 * 2 * D * DH;                 // four headwise gate projections
      f += 2 * 4 * D * DH;                 // recurrent kernel
      if (cfg.feedforward) {
        const double P = cfg.ffn_dim();
        f += 2 * D * 2 * P + 2 * P * D;
      }
    }
  }
  return f;
}

std::pair<double, double> measure_gemm_gflops(int n, int reps) {
  std::vector<float> A(size_t(n) * n), B(size_t(n) * n), C(size_t(n) * n);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (auto& x : A) x = u(rng);
  for (auto& x : B) x = u(rng);
  auto run = [&] { nn::gemm<float>(false, false, n, n, n, 1.f, A.data(), n, B.data(), n, 0.f, C.data(), n); };
  BenchTiming t = time_runs(2, reps, 1, run);
  const double flop = 2.0 * n * n * n;
  return {flop / t.wall_s / 1e9, flop / t.cpu_s / 1e9};
}

namespace {
// The phases for an xLSTM model through XlstmLM itself: train_step, the forward, recurrent step() generation
// and the chunkwise prefill.
void run_xlstm_model(BenchModelResult& m, const BenchOptions& opt,
                     const std::function<void(const std::string&)>& say) {
  const std::string& name = m.name;
  const XlstmConfig cfg = bench_model_config(name);
  const int V = cfg.vocab_size, B = opt.B, S = opt.S;
  XlstmLM<float> model(cfg);
  model.init(opt.seed);
  m.params = model.num_params();
  m.fwd_flops_per_token = forward_flops_per_token(cfg, S);
  m.train_flops_per_token = 3 * m.fwd_flops_per_token;

  // Training: forward + backward + clip + AdamW on random next-token data.
  std::vector<int32_t> ids, targets;
  random_batch(ids, targets, B, S, V, opt.seed + 1);
  AdamW<float> adamw(model.table());
  LmCache<float> cache;
  const std::vector<MicroBatch> micro{{ids.data(), targets.data(), B, S}};
  say(name + ": training steps");
  m.train = time_runs(opt.warmup, opt.train_steps, double(B) * S, [&] {
    m.last_loss = train_step(model, adamw, cache, micro, 1e-3, 1.0).loss;
  });
  say(name + ": forward");
  m.forward = time_runs(1, opt.train_steps, double(B) * S,
                        [&] { model.forward(cache, ids.data(), nullptr, B, S); });

  // Generation: greedy recurrent steps from a one-token prompt (token 0), gen_tokens new tokens per row.
  for (int gb : opt.gen_batches) {
    say(name + ": generation, batch " + std::to_string(gb));
    LmState<float> state = model.new_state(gb);
    Workspace<float> ws;
    std::vector<float> logits(size_t(gb) * V);
    std::vector<int32_t> cur(static_cast<size_t>(gb), 0);
    auto generate = [&] {
      state.reset();
      std::fill(cur.begin(), cur.end(), 0);
      for (int t = 0; t < opt.gen_tokens; ++t) {
        model.step(logits.data(), state, cur.data(), ws);
        argmax_rows(cur.data(), logits.data(), gb, V);
      }
    };
    m.generate.push_back({gb, time_runs(1, opt.repeats, double(gb) * opt.gen_tokens, generate)});
  }

  // Prefill of a long prompt at batch 1 (chunkwise mLSTM, fused sLSTM scan), from the zero state.
  say(name + ": prefill " + std::to_string(opt.prefill_tokens) + " tokens");
  {
    const std::vector<int32_t> prompt = random_tokens(size_t(opt.prefill_tokens), V, opt.seed + 2);
    LmState<float> state = model.new_state(1);
    LmCache<float> pc;
    m.prefill = time_runs(1, opt.repeats, double(opt.prefill_tokens), [&] {
      state.reset();
      model.prefill(pc, state, prompt.data(), opt.prefill_tokens);
    });
  }
}

// The same phases for a model of another family through the SeqModel interface (the LSTM and Transformer
// baselines): a training step (zero_grad, forward, backward, clipping, AdamW), a forward pass, greedy
// generation with new_state / next / feed, and the prefill as one feed() of the whole prompt.
void run_seq_model(BenchModelResult& m, const BenchOptions& opt, const std::function<void(const std::string&)>& say) {
  const int B = opt.B, S = opt.S;
  std::unique_ptr<SeqModel> model = make_seq_model(m.config, "bench model " + m.name);
  const int V = model->vocab_size();
  model->init(opt.seed);
  m.params = model->num_params();
  m.fwd_flops_per_token = forward_flops_per_token(m.config, S);
  m.train_flops_per_token = 3 * m.fwd_flops_per_token;

  std::vector<int32_t> ids, targets;
  random_batch(ids, targets, B, S, V, opt.seed + 1);
  AdamW<float> adamw(model->table());
  say(m.name + ": training steps");
  m.train = time_runs(opt.warmup, opt.train_steps, double(B) * S, [&] {
    model->zero_grad();
    m.last_loss = model->forward(ids.data(), targets.data(), B, S);
    model->backward(1.0);
    clip_grad_norm(model->grads().data(), model->num_params(), 1.0);
    adamw.step(model->params().data(), model->grads().data(), 1e-3);
  });
  say(m.name + ": forward");
  m.forward = time_runs(1, opt.train_steps, double(B) * S, [&] { model->forward(ids.data(), nullptr, B, S); });

  for (int gb : opt.gen_batches) {
    say(m.name + ": generation, batch " + std::to_string(gb));
    std::vector<int32_t> cur(static_cast<size_t>(gb), 0);
    const PickFn greedy = [&](int, const float* logits, int32_t* chosen) {
      argmax_rows(chosen, logits, gb, V);
      std::copy_n(chosen, gb, cur.begin());
    };
    m.generate.push_back({gb, time_runs(1, opt.repeats, double(gb) * opt.gen_tokens, [&] {
                            std::unique_ptr<SeqState> state = model->new_state(gb);
                            std::fill(cur.begin(), cur.end(), 0);
                            model->feed(*state, cur.data(), 1);
                            for (int t = 1; t < opt.gen_tokens; ++t) {
                              model->next(*state, greedy);
                              model->feed(*state, cur.data(), 1);
                            }
                          })});
  }
  say(m.name + ": prefill " + std::to_string(opt.prefill_tokens) + " tokens");
  const std::vector<int32_t> prompt = random_tokens(size_t(opt.prefill_tokens), V, opt.seed + 2);
  m.prefill = time_runs(1, opt.repeats, double(opt.prefill_tokens), [&] {
    std::unique_ptr<SeqState> state = model->new_state(1);
    model->feed(*state, prompt.data(), opt.prefill_tokens);
  });
}
}  // namespace

BenchReport run_benchmark(const BenchOptions& opt_in, const std::function<void(const std::string&)>& progress) {
  BenchOptions opt = opt_in;
  if (opt.quick) {
    opt.train_steps = 3, opt.warmup = 1, opt.gen_tokens = 64, opt.repeats = 1, opt.prefill_tokens = 256;
  }
  auto say = [&](const std::string& m) {
    if (progress) progress(m);
  };
  BenchReport r;
  r.options = opt;
  r.load_before = load_avg();
  r.runtime = nn::runtime_info();
  say("sgemm 1024^3");
  std::tie(r.gemm_gflops, r.gemm_gflops_cpu) = measure_gemm_gflops(1024, opt.quick ? 3 : 7);

  for (const std::string& name : opt.models) {
    BenchModelResult m;
    m.name = name;
    m.config = bench_seq_model_config(name, opt.S);
    m.family = m.config.at("family").get<std::string>();
    if (m.family == "xlstm")
      run_xlstm_model(m, opt, say);
    else
      run_seq_model(m, opt, say);
    const double peak = r.gemm_gflops * 1e9;
    if (peak > 0) {
      m.train_mfu = m.train.tok_per_s() * m.train_flops_per_token / peak;
      m.forward_mfu = m.forward.tok_per_s() * m.fwd_flops_per_token / peak;
    }
    r.models.push_back(std::move(m));
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  r.peak_rss_mb = double(ru.ru_maxrss) / 1024.0;
  r.load_after = load_avg();
  return r;
}

namespace {
ordered_json timing_json(const BenchTiming& t) {
  ordered_json j;
  j["tokens_per_s"] = t.tok_per_s();
  j["tokens_per_cpu_s"] = t.tok_per_cpu_s();
  j["median_wall_s"] = t.wall_s;
  j["median_cpu_s"] = t.cpu_s;
  j["tokens_per_run"] = t.tokens;
  j["runs"] = t.runs;
  return j;
}
}  // namespace

ordered_json bench_to_json(const BenchReport& r) {
  ordered_json j;
  const auto& o = r.options;
  j["workload"] = {{"batch", o.B},           {"sequence", o.S},       {"dtype", "float32"},
                   {"train_steps", o.train_steps}, {"warmup", o.warmup}, {"gen_tokens", o.gen_tokens},
                   {"prefill_tokens", o.prefill_tokens}, {"repeats", o.repeats}, {"quick", o.quick}};
  const auto& rt = r.runtime;
  j["runtime"] = {{"threads", rt.threads},         {"cores", rt.cores},
                  {"blas", rt.blas},               {"blas_core", rt.blas_core},
                  {"blas_threads", rt.blas_threads}, {"omp_wait_policy", rt.wait_policy},
                  {"gomp_spincount", rt.spin_count}, {"avx512", rt.avx512},
                  {"reexecuted", rt.reexecuted}};
  j["gemm_1024_gflops"] = r.gemm_gflops;
  j["gemm_1024_gflops_per_cpu_s"] = r.gemm_gflops_cpu;
  j["peak_rss_mb"] = r.peak_rss_mb;
  j["load_average"] = {{"before", r.load_before}, {"after", r.load_after}};
  ordered_json ms = ordered_json::array();
  for (const auto& m : r.models) {
    ordered_json e;
    e["model"] = m.name;
    e["family"] = m.family;
    e["config"] = m.config;
    e["params"] = m.params;
    e["forward_flops_per_token"] = m.fwd_flops_per_token;
    e["train_flops_per_token"] = m.train_flops_per_token;
    e["last_train_loss"] = m.last_loss;
    e["train"] = timing_json(m.train);
    e["train"]["mfu"] = m.train_mfu;
    e["forward"] = timing_json(m.forward);
    e["forward"]["mfu"] = m.forward_mfu;
    ordered_json g = ordered_json::object();
    for (const auto& [b, t] : m.generate) g["batch_" + std::to_string(b)] = timing_json(t);
    e["generate"] = g;
    e["prefill"] = timing_json(m.prefill);
    e["prefill"]["seconds"] = m.prefill.wall_s;
    if (const Baseline* base = baseline_for(m.name)) {
      ordered_json x;
      x["train"] = m.train.tok_per_s() / base->train;
      x["forward"] = m.forward.tok_per_s() / base->forward;
      for (const auto& [b, t] : m.generate) {
        if (b == 1) x["generate_batch_1"] = t.tok_per_s() / base->gen_b1;
        if (b == 16) x["generate_batch_16"] = t.tok_per_s() / base->gen_b16;
      }
      e["vs_pytorch"] = x;
    }
    ms.push_back(e);
  }
  j["models"] = ms;
  return j;
}

std::string bench_to_text(const BenchReport& r) {
  std::string out;
  char line[512];
  const auto& rt = r.runtime;
  std::snprintf(line, sizeof line,
                "threads %d of %d cores; BLAS %s, core %s, %d BLAS thread; OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n",
                rt.threads, rt.cores, rt.blas.c_str(), rt.blas_core.c_str(), rt.blas_threads,
                rt.wait_policy.empty() ? "(unset)" : rt.wait_policy.c_str(),
                rt.spin_count.empty() ? "(unset)" : rt.spin_count.c_str());
  out += line;
  std::snprintf(line, sizeof line,
                "sgemm 1024^3: %.1f GFLOP/s (%.1f per CPU-second); load average %.1f -> %.1f; peak memory %.0f MB\n"
                "batch %d x sequence %d, float32; medians of %d runs (per CPU-second: tokens over process CPU "
                "time)\n\n",
                r.gemm_gflops, r.gemm_gflops_cpu, r.load_before, r.load_after, r.peak_rss_mb, r.options.B,
                r.options.S, r.options.train_steps);
  out += line;
  for (const auto& m : r.models) {
    const Baseline* base = baseline_for(m.name);
    std::snprintf(line, sizeof line, "%s (%lld parameters, %.2f MFLOP/token forward)\n", m.name.c_str(),
                  (long long)m.params, m.fwd_flops_per_token / 1e6);
    out += line;
    std::snprintf(line, sizeof line, "  %-22s %12s %14s %10s %8s\n", "", "tokens/s", "per CPU-s", "vs torch", "MFU");
    out += line;
    auto row = [&](const std::string& what, const BenchTiming& t, double base_val, double mfu) {
      char ratio[32] = "", mf[32] = "";
      if (base_val > 0) std::snprintf(ratio, sizeof ratio, "%.1fx", t.tok_per_s() / base_val);
      if (mfu > 0) std::snprintf(mf, sizeof mf, "%.1f%%", 100 * mfu);
      std::snprintf(line, sizeof line, "  %-22s %12.0f %14.0f %10s %8s\n", what.c_str(), t.tok_per_s(),
                    t.tok_per_cpu_s(), ratio, mf);
      out += line;
    };
    row("train (fwd+bwd+AdamW)", m.train, base ? base->train : 0, m.train_mfu);
    row("forward", m.forward, base ? base->forward : 0, m.forward_mfu);
    for (const auto& [b, t] : m.generate)
      row("generate, batch " + std::to_string(b), t, base ? (b == 1 ? base->gen_b1 : b == 16 ? base->gen_b16 : 0) : 0,
          0);
    std::snprintf(line, sizeof line, "  prefill %d tokens: %.3f s (%.0f tokens/s)   last training loss %.3f\n\n",
                  int(m.prefill.tokens), m.prefill.wall_s, m.prefill.tok_per_s(), m.last_loss);
    out += line;
  }
  return out;
}

}  // namespace xm::model

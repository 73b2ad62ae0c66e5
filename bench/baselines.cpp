// baselines: times the LSTM and Transformer baselines on the workload of ../shared/reference/pytorch-baseline.md
// (vocab 512, embedding 256, batch 16 x sequence 256): a training step (forward + backward + AdamW), a forward
// pass, and greedy generation at batch 1 and 16, in wall and process-CPU seconds. Prints a table and writes JSON.
// Not a unit test (asserts nothing) and not the xLSTM benchmark (xlstm-music bench).
//
// usage: baselines [--steps N] [--gen N] [--threads N] [--batch B] [--seq S] [--quick] [--out FILE]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "core/json.h"
#include "model/optim.h"
#include "model/seq_model.h"
#include "nn/rng.h"
#include "nn/runtime.h"

using namespace xm::model;
using xm::json;

using xm::bench::now;

namespace {
struct Timing {
  double wall = 0, cpu = 0, tokens = 0;
};
// Median (by CPU time) of `runs` calls of f after `warm` unmeasured ones.
template <class F>
Timing measure(int warm, int runs, double tokens, F f) {
  for (int i = 0; i < warm; ++i) f();
  std::vector<Timing> t;
  for (int i = 0; i < runs; ++i) {
    const double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    f();
    t.push_back({now(CLOCK_MONOTONIC) - w0, now(CLOCK_PROCESS_CPUTIME_ID) - c0, tokens});
  }
  std::sort(t.begin(), t.end(), [](const Timing& a, const Timing& b) { return a.cpu < b.cpu; });
  return t[t.size() / 2];
}
json timing_json(const Timing& t) {
  return {{"wall_s", t.wall}, {"cpu_s", t.cpu}, {"tokens", t.tokens},
          {"tok_per_s", t.wall > 0 ? t.tokens / t.wall : 0}, {"tok_per_cpu_s", t.cpu > 0 ? t.tokens / t.cpu : 0}};
}
}  // namespace

int main(int argc, char** argv) {
  int steps = 5, gen = 128, threads = 2, B = 16, S = 256;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "baselines: flag %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--steps") steps = std::atoi(val().c_str());
    else if (a == "--gen") gen = std::atoi(val().c_str());
    else if (a == "--threads") threads = std::atoi(val().c_str());
    else if (a == "--batch") B = std::atoi(val().c_str());
    else if (a == "--seq") S = std::atoi(val().c_str());
    else if (a == "--out") out = val();
    else if (a == "--quick") steps = 1, gen = 16, S = 64;
    else {
      std::fprintf(stderr, "usage: baselines [--steps N] [--gen N] [--threads N] [--batch B] [--seq S] [--quick] "
                           "[--out FILE]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  if (steps < 1 || gen < 1 || B < 1 || S < 2) {
    std::fprintf(stderr, "baselines: --steps, --gen, --batch must be >= 1 and --seq >= 2\n");
    return 2;
  }
  xm::nn::apply_runtime_env();  // as the CLI does: GOMP spin bounded (nn/runtime.h)
  xm::nn::set_threads(threads);
  xm::nn::select_blas_core();
  const int V = 512;
  const std::vector<std::pair<std::string, json>> models = {
      {"lstm 3x256", {{"family", "lstm"}, {"vocab_size", V}, {"context_length", S}, {"embedding_dim", 256},
                      {"hidden_dim", 256}, {"num_layers", 3}}},
      {"lstm 2x320", {{"family", "lstm"}, {"vocab_size", V}, {"context_length", S}, {"embedding_dim", 256},
                      {"hidden_dim", 320}, {"num_layers", 2}}},
      {"transformer 2x256 rotary",
       {{"family", "transformer"}, {"vocab_size", V}, {"context_length", S}, {"embedding_dim", 256},
        {"num_layers", 2}, {"num_heads", 4}, {"ffn_dim", 1024}, {"positions", "rotary"}}},
  };
  xm::nn::Rng rng(1);
  std::vector<int32_t> ids(size_t(B) * S), tg(size_t(B) * S);
  for (auto& x : ids) x = int32_t(rng.below(V));
  for (auto& x : tg) x = int32_t(rng.below(V));
  json report = {{"threads", xm::nn::threads()}, {"batch", B}, {"seq", S}, {"gen_tokens", gen}, {"models", json::array()}};
  std::printf("%-26s %10s %14s %14s %14s %14s\n", "model", "params", "train tok/cpu-s", "fwd tok/cpu-s",
              "gen1 tok/cpu-s", "gen16 tok/cpu-s");
  for (const auto& [name, cfg] : models) {
    auto m = make_seq_model(cfg);
    m->init(1);
    AdamW<float> opt(m->table());
    double loss = 0;
    const Timing train = measure(1, steps, double(B) * S, [&] {
      m->zero_grad();
      loss = m->forward(ids.data(), tg.data(), B, S);
      m->backward(1.0);
      opt.step(m->params().data(), m->grads().data(), 1e-4);
    });
    const Timing fwd = measure(1, steps, double(B) * S, [&] { m->forward(ids.data(), tg.data(), B, S); });
    auto generate = [&](int GB) {
      return measure(0, 1, double(GB) * gen, [&] {
        auto st = m->new_state(GB);
        std::vector<int32_t> tok(size_t(GB), 0);
        m->feed(*st, tok.data(), 1);
        for (int t = 1; t < gen; ++t) {
          m->next(*st, [&](int, const float* l, int32_t* chosen) {
            for (int b = 0; b < GB; ++b) {
              const float* row = l + size_t(b) * V;
              tok[size_t(b)] = chosen[b] = int32_t(std::max_element(row, row + V) - row);
            }
          });
          m->feed(*st, tok.data(), 1);
        }
      });
    };
    const Timing g1 = generate(1), g16 = generate(16);
    std::printf("%-26s %10lld %14.0f %14.0f %14.0f %14.0f   (loss %.3f)\n", name.c_str(), (long long)m->num_params(),
                train.tokens / train.cpu, fwd.tokens / fwd.cpu, g1.tokens / g1.cpu, g16.tokens / g16.cpu, loss);
    report["models"].push_back({{"name", name}, {"config", cfg}, {"params", m->num_params()}, {"loss", loss},
                                {"train", timing_json(train)}, {"forward", timing_json(fwd)},
                                {"generate_b1", timing_json(g1)}, {"generate_b16", timing_json(g16)}});
  }
  if (!out.empty()) std::ofstream(out) << report.dump(2) << "\n";
  return 0;
}

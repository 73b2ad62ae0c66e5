// family_generation: generation speed and memory of model files of any family (xlstm, tuple, lstm,
// transformer) as the generated sequence grows. Each model samples (temperature 1, no grammar mask, no stop
// rule) from its tokenizer's empty control prefix for the longest length asked; at each checkpoint (default
// 1,024, 4,096 and 16,384 steps) it reports the steps/s of the segment just ended, the generation state's
// bytes (SeqState::bytes: constant for recurrent families, growing for a KV cache) and the process's peak RSS.
// Prints a table and writes JSON. Not a unit test (asserts nothing) and not the xLSTM benchmark.
//
// usage: family_generation [--lengths 1024,4096,16384] [--batch B] [--threads N] [--seed S] [--out FILE]
//                          NAME=MODEL.safetensors ...
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <string>
#include <vector>

#include "bench_clock.h"
#include "core/error.h"
#include "core/json.h"
#include "model/seq_model.h"
#include "nn/rng.h"
#include "nn/runtime.h"
#include "tokens/tokenizer.h"

using namespace xm;
using xm::json;

using bench::now;

namespace {
struct Point {
  int64_t steps = 0;
  double seg_wall = 0, seg_cpu = 0, seg_steps = 0;
  double state_bytes = 0, rss = 0;
};

std::vector<Point> run(const model::SeqModel& m, const std::vector<int32_t>& prefix, int B,
                       const std::vector<int64_t>& lengths, uint64_t seed) {
  const int F = m.fields(), V = m.vocab_size();
  auto state = m.new_state(B);
  std::vector<int32_t> ids;
  const int P = int(prefix.size()) / F;
  for (int b = 0; b < B; ++b) ids.insert(ids.end(), prefix.begin(), prefix.end());
  m.feed(*state, ids.data(), P);
  nn::Rng rng(seed);
  std::vector<int32_t> step(size_t(B) * F);
  std::vector<double> p(static_cast<size_t>(V));
  const model::PickFn pick = [&](int field, const float* logits, int32_t* chosen) {
    for (int b = 0; b < B; ++b) {
      const float* lg = logits + size_t(b) * V;
      double mx = -INFINITY;
      for (int v = 0; v < V; ++v) mx = std::max(mx, double(lg[v]));
      double sum = 0;
      for (int v = 0; v < V; ++v) sum += (p[size_t(v)] = std::isfinite(lg[v]) ? std::exp(double(lg[v]) - mx) : 0.0);
      double u = rng.uniform() * sum;
      int pickv = 0;
      for (int v = 0; v < V; ++v) {
        if (p[size_t(v)] <= 0) continue;
        pickv = v;
        if ((u -= p[size_t(v)]) <= 0) break;
      }
      chosen[b] = pickv;
      step[size_t(b) * F + size_t(field)] = pickv;
    }
  };
  std::vector<Point> out;
  int64_t done = 0;
  for (int64_t L : lengths) {
    const double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    const int64_t from = done;
    for (; done < L; ++done) {
      m.next(*state, pick);
      m.feed(*state, step.data(), 1);
    }
    Point pt;
    pt.steps = L;
    pt.seg_wall = now(CLOCK_MONOTONIC) - w0;
    pt.seg_cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    pt.seg_steps = double(L - from);
    pt.state_bytes = double(state->bytes());
    pt.rss = bench::peak_rss_bytes();
    out.push_back(pt);
  }
  return out;
}

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "family_generation: %s\nusage: family_generation [--lengths 1024,4096,16384] [--batch B] "
               "[--threads N] [--seed S] [--out FILE] NAME=MODEL.safetensors ...\n",
               why.c_str());
  std::exit(2);
}
}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> lengths = {1024, 4096, 16384};
  int batch = 1, threads = 1;
  uint64_t seed = 1;
  std::string out = "family_generation.json";
  std::vector<std::pair<std::string, std::string>> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    if (a == "--lengths") {
      lengths.clear();
      std::string s = val();
      for (size_t pos = 0; pos <= s.size();) {
        const size_t c = std::min(s.find(',', pos), s.size());
        const long long v = std::atoll(s.substr(pos, c - pos).c_str());
        if (v < 1) usage("--lengths needs positive step counts, got '" + s + "'");
        lengths.push_back(v);
        pos = c + 1;
      }
      std::sort(lengths.begin(), lengths.end());
    } else if (a == "--batch") {
      batch = std::atoi(val().c_str());
    } else if (a == "--threads") {
      threads = std::atoi(val().c_str());
    } else if (a == "--seed") {
      seed = uint64_t(std::atoll(val().c_str()));
    } else if (a == "--out") {
      out = val();
    } else if (a.find('=') != std::string::npos && a[0] != '-') {
      models.push_back({a.substr(0, a.find('=')), a.substr(a.find('=') + 1)});
    } else {
      usage("unknown argument '" + a + "'");
    }
  }
  if (models.empty()) usage("no NAME=MODEL given");
  if (batch < 1 || threads < 1) usage("--batch and --threads must be at least 1");
  nn::set_threads(threads);

  json results = json::array();
  std::printf("%-14s %-12s %8s %10s %12s %12s %12s\n", "model", "family", "steps", "steps/s", "cpu steps/s",
              "state MB", "peak RSS MB");
  try {
    for (const auto& [name, path] : models) {
      model::LoadedSeqModel lm = model::load_seq_model(path);
      const model::SeqModel& m = *lm.model;
      std::vector<int32_t> prefix;
      if (!lm.meta.tokenizer.is_null()) prefix = tokens::tokenizer_from_json(lm.meta.tokenizer)->control_prefix({});
      if (prefix.empty()) prefix.assign(size_t(m.fields()), 1);  // one step of BOS-like ids
      const std::vector<Point> pts = run(m, prefix, batch, lengths, seed);
      json jp = json::array();
      for (const Point& p : pts) {
        const double sps = p.seg_steps * batch / p.seg_wall, cps = p.seg_steps * batch / p.seg_cpu;
        std::printf("%-14s %-12s %8lld %10.0f %12.0f %12.2f %12.1f\n", name.c_str(), m.family().c_str(),
                    (long long)p.steps, sps, cps, p.state_bytes / 1e6, p.rss / 1048576.0);
        jp.push_back({{"steps", p.steps},
                      {"segment_steps", p.seg_steps},
                      {"segment_wall_s", p.seg_wall},
                      {"segment_cpu_s", p.seg_cpu},
                      {"steps_per_s", sps},
                      {"steps_per_cpu_s", cps},
                      {"state_bytes", p.state_bytes},
                      {"peak_rss_bytes", p.rss}});
      }
      results.push_back({{"name", name},
                         {"model", path},
                         {"family", m.family()},
                         {"params", m.num_params()},
                         {"fields", m.fields()},
                         {"points", jp}});
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "family_generation: %s\n", e.what());
    return 1;
  }
  std::ofstream(out) << json({{"batch", batch}, {"threads", threads}, {"seed", seed}, {"models", results}}).dump(1)
                     << "\n";
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

// cmd_train.cpp: `xlstm-music train`: flags -> train::TrainOptions (presets of any model family, a config file,
// or the settings of the checkpoint being resumed), the thread policy, a progress bar on a terminal, and the
// summary. Thin: the loop, logs, checkpoints and the divergence guard are in train/trainer.h.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "nn/runtime.h"
#include "train/presets.h"
#include "train/trainer.h"

namespace {

using xm::UsageError;
namespace fs = std::filesystem;

const char* kUsage =
    "usage: xlstm-music train --data CORPUS_DIR (--preset NAME [--family F] | --model-config CONFIG.json)\n"
    "                         --out MODEL.safetensors [flags]\n"
    "\n"
    "Trains a model (xLSTM by default; also the note-tuple model and the LSTM and Transformer baselines) on a\n"
    "corpus prepared by `xlstm-music data prepare`: random windows of\n"
    "the training split, each starting with its piece's control tokens (genre, mood, key, tempo), AdamW with\n"
    "linear warm-up and cosine decay, gradient clipping and accumulation, validation passes (mean NLL per\n"
    "token, also per genre). Beside the model it writes MODEL.log.jsonl (one line per step), MODEL.loss.svg\n"
    "(the loss plot) and MODEL.ckpt.safetensors (model + optimizer state); every write is atomic. A step with\n"
    "a non-finite loss or gradient is skipped; --max-bad-steps of them in a row stop the run (see\n"
    "docs/training.md).\n"
    "\n"
    "flags:\n"
    "  --data DIR              the prepared corpus (its tokenizer fixes the vocabulary size)\n"
    "  --preset NAME           tiny (tests, seconds), small (CPU), base (GPU)\n"
    "  --family F              with --preset: xlstm (default), tuple (needs a --tokenizer tuples corpus), lstm,\n"
    "                          transformer: that family's model of a size comparable with the preset's\n"
    "  --model-config FILE     a model config as JSON: {\"family\": F, ...}, or without \"family\" an official\n"
    "                          xLSTMLMModelConfig (vocab_size, and a tuple model's fields, come from the corpus)\n"
    "  --out FILE              the model file to write (MODEL.safetensors)\n"
    "  --steps N               optimizer steps in all (default: the preset's)\n"
    "  --epochs E              instead of --steps: E passes over the training tokens\n"
    "  --batch B               windows per micro-batch (default: the preset's)\n"
    "  --seq S                 steps per window: tokens, or note tuples for --family tuple (default: the\n"
    "                          preset's, or the config's context_length)\n"
    "  --accum K               micro-batches per step (gradient accumulation, default 1)\n"
    "  --lr LR                 peak learning rate (default: the preset's)\n"
    "  --min-lr-factor F       cosine decay ends at LR * F (default 0.1)\n"
    "  --warmup N              linear warm-up steps (default: the preset's)\n"
    "  --weight-decay W        AdamW weight decay (default 0.1)\n"
    "  --clip C                clip the gradient's global norm to C (default 1; 0 = off)\n"
    "  --eval-every N          validation pass every N steps and at the end (default: the preset's; 0 = end)\n"
    "  --eval-windows N        validation windows per pass (default 256; 0 = the whole valid split)\n"
    "  --checkpoint-every N    checkpoint (and model file) every N steps and at the end (0 = end only)\n"
    "  --resume                continue from MODEL.ckpt.safetensors when it exists, exactly\n"
    "  --stop-at N             stop after step N as if interrupted (checkpointed; continue with --resume)\n"
    "  --max-bad-steps N       stop after N skipped (non-finite) steps in a row (default 5)\n"
    "  --seed N                initialisation and window sampling (default 1)\n"
    "  --threads N             engine threads (OpenMP; default: all cores; OpenBLAS stays single-threaded)\n"
    "  --json                  print the training record as JSON\n"
    "  --quiet                 no progress bar and no notes\n"
    "\n"
    "exit: 0 done, 1 bad input or failed work (a corpus that cannot be read, divergence), 2 usage error\n";

std::string human_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  const long t = long(std::lround(s));
  char b[64];
  if (t >= 3600)
    std::snprintf(b, sizeof b, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else if (t >= 60)
    std::snprintf(b, sizeof b, "%ldm%02lds", t / 60, t % 60);
  else
    std::snprintf(b, sizeof b, "%lds", t);
  return b;
}

std::string human_rate(double r) {
  char b[32];
  if (r >= 1e6)
    std::snprintf(b, sizeof b, "%.2fM", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(b, sizeof b, "%.1fk", r / 1e3);
  else
    std::snprintf(b, sizeof b, "%.0f", r);
  return b;
}

// Steps listed in XM_TRAIN_INJECT_NAN ("3,4,5"): a test hook that makes those gradients NaN.
std::vector<int64_t> injected_nan_steps() {
  std::vector<int64_t> v;
  const char* e = std::getenv("XM_TRAIN_INJECT_NAN");
  if (!e) return v;
  std::stringstream ss(e);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) v.push_back(std::atoll(item.c_str()));
  return v;
}

int run_train(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv,
                  {"--data", "--preset", "--family", "--model-config", "--out", "--steps", "--epochs", "--batch", "--seq",
                   "--accum", "--lr", "--min-lr-factor", "--warmup", "--weight-decay", "--clip", "--eval-every",
                   "--eval-windows", "--checkpoint-every", "--stop-at", "--max-bad-steps", "--seed", "--threads"},
                  {"--resume", "--json", "--quiet"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  xm::nn::apply_runtime_env();  // may re-execute this program (same arguments) with the OpenMP wait policy set
  xm::train::TrainOptions o;
  o.data_dir = a.require("--data");
  o.out = a.require("--out");
  if (a.has("--preset") && a.has("--model-config"))
    throw UsageError("flags --preset and --model-config exclude each other: give one");
  if (a.has("--steps") && a.has("--epochs")) throw UsageError("flags --steps and --epochs exclude each other: give one");
  // Range checks first, so a bad number is a usage error whatever else is wrong.
  const long long steps = a.get_int("--steps", 0, 1, 1LL << 40);
  const double epochs = a.get_double("--epochs", 0, 1e-9, 1e9);
  const long long batch = a.get_int("--batch", 0, 1, 1 << 20);
  const long long seq = a.get_int("--seq", 0, 2, 1 << 24);
  const long long accum = a.get_int("--accum", 1, 1, 1 << 16);
  const double lr = a.get_double("--lr", 0, 1e-12, 1e6);
  const double min_lr_factor = a.get_double("--min-lr-factor", 0.1, 0, 1);
  const long long warmup = a.get_int("--warmup", 0, 0, 1LL << 40);
  const double wd = a.get_double("--weight-decay", 0.1, 0, 1e3);
  const double clip = a.get_double("--clip", 1.0, 0, 1e12);
  const long long eval_every = a.get_int("--eval-every", 0, 0, 1LL << 40);
  const long long eval_windows = a.get_int("--eval-windows", 256, 0, 1LL << 40);
  const long long ckpt_every = a.get_int("--checkpoint-every", 0, 0, 1LL << 40);
  const long long stop_at = a.get_int("--stop-at", 0, 1, 1LL << 40);
  const long long max_bad = a.get_int("--max-bad-steps", 5, 1, 1 << 20);
  const long long seed = a.get_int("--seed", 1, 0, (1LL << 62));
  const long long threads = a.get_int("--threads", 0, 1, 4096);
  const bool quiet = a.has("--quiet");
  o.resume = a.has("--resume");

  // Defaults: the checkpoint's settings when resuming, else the preset's (or a config file's).
  const xm::train::TrainPaths paths = xm::train::train_paths(o.out);
  xm::json run;
  if (o.resume && fs::exists(paths.checkpoint)) run = xm::train::read_checkpoint_run(paths.checkpoint);
  if (a.has("--family") && a.has("--model-config")) {
    // allowed when they agree; checked below
  } else if (a.has("--family") && !a.has("--preset") && !run.is_object()) {
    throw UsageError("flag --family goes with --preset (a --model-config file names its own \"family\")");
  }
  const std::string run_family =
      run.is_object() && run["config"].is_object() ? run["config"].value("family", std::string("xlstm")) : "xlstm";
  xm::train::Preset p;
  xm::json model_config;
  if (a.has("--preset")) {
    p = xm::train::preset(a.require("--preset"));
    model_config = xm::train::preset_model_config(p, a.get_or("--family", run_family));
  } else if (a.has("--model-config")) {
    const std::string f = a.require("--model-config");
    const xm::json j = xm::parse_json(xm::read_file_text(f), f);
    model_config = j.contains("model_config") ? j["model_config"] : j;
    if (!model_config.is_object()) throw xm::Error(f + ": not a JSON object (a model config)");
    const std::string fam = model_config.value("family", std::string("xlstm"));
    if (a.has("--family") && a.require("--family") != fam)
      throw UsageError("flag --family " + a.require("--family") + " disagrees with the \"family\" (" + fam + ") of " + f);
    if (fam == "xlstm") {
      xm::json c = model_config;
      c.erase("family");
      p = xm::train::custom_preset(xm::model::config_from_json(c, f));
    } else {
      p = xm::train::custom_preset(model_config);
    }
  } else if (run.is_object()) {
    const std::string name = run.value("preset", "");
    if (a.has("--family") && a.require("--family") != run_family)
      throw UsageError("flag --family " + a.require("--family") + " disagrees with the family (" + run_family +
                       ") of the run in " + paths.checkpoint.string());
    model_config = run["config"];
    p = name.empty() ? xm::train::custom_preset(model_config) : xm::train::preset(name);
  } else {
    throw UsageError("give --preset NAME (tiny, small, base) or --model-config FILE (see --help)");
  }
  if (run.is_object()) {  // the checkpoint's settings replace the preset's defaults
    p.batch = run.value("batch", p.batch), p.seq = run.value("seq", p.seq), p.lr = run.value("lr", p.lr);
    p.warmup = run.value("warmup", p.warmup), p.steps = run.value("steps", p.steps);
    p.eval_every = run.value("eval_every", p.eval_every);
    p.checkpoint_every = run.value("checkpoint_every", p.checkpoint_every);
  }
  auto pick = [&](const char* key, auto flag_value, auto fallback) {
    using T = decltype(fallback);
    if (a.has(key)) return T(flag_value);
    return fallback;
  };
  o.preset = p.name;
  o.model_config = model_config;
  o.steps = a.has("--epochs") ? 0 : pick("--steps", steps, int64_t(p.steps));
  o.epochs = epochs;
  o.batch = pick("--batch", batch, p.batch);
  o.seq = pick("--seq", seq, p.seq);
  o.accum = pick("--accum", accum, run.is_object() ? run.value("accum", 1) : 1);
  o.lr = pick("--lr", lr, p.lr);
  o.min_lr_factor = pick("--min-lr-factor", min_lr_factor, run.is_object() ? run.value("min_lr_factor", 0.1) : 0.1);
  o.warmup = pick("--warmup", warmup, p.warmup);
  o.weight_decay = pick("--weight-decay", wd, run.is_object() ? run.value("weight_decay", 0.1) : 0.1);
  o.clip = pick("--clip", clip, run.is_object() ? run.value("clip", 1.0) : 1.0);
  o.eval_every = pick("--eval-every", eval_every, p.eval_every);
  o.eval_windows = pick("--eval-windows", eval_windows, run.is_object() ? run.value("eval_windows", int64_t(256)) : 256);
  o.checkpoint_every = pick("--checkpoint-every", ckpt_every, p.checkpoint_every);
  o.stop_at = stop_at;
  o.max_bad_steps = int(pick("--max-bad-steps", max_bad, run.is_object() ? run.value("max_bad_steps", 5) : 5));
  o.seed = uint64_t(pick("--seed", seed, run.is_object() ? run.value("seed", (long long)1) : 1));
  o.threads = xm::train::set_thread_policy(int(threads));
  o.inject_nan_steps = injected_nan_steps();
  std::string cmd = "xlstm-music train";
  for (const auto& s : argv) cmd += " " + s;
  o.command_line = cmd;

  const bool tty = xm::cli::stderr_is_tty() && !quiet;
  bool bar_shown = false;
  o.on_note = [&](const std::string& s) {
    if (quiet) return;
    std::fprintf(stderr, "%s%s\n", bar_shown ? "\r\033[K" : "", s.c_str());
    bar_shown = false;
  };
  if (tty) {
    o.on_step = [&](const xm::train::Progress& pr) {
      const int width = 24;
      const int filled = int(double(width) * double(pr.step) / double(std::max<int64_t>(1, pr.total)));
      std::string bar(size_t(filled), '#');
      bar.resize(size_t(width), '.');
      std::fprintf(stderr, "\r\033[Kstep %lld/%lld [%s] loss %s  %s tok/s  ETA %s", (long long)pr.step,
                   (long long)pr.total, bar.c_str(), pr.skipped ? "skipped" : std::to_string(pr.loss).substr(0, 6).c_str(),
                   human_rate(pr.avg_tokens_per_s).c_str(), human_duration(pr.eta_s).c_str());
      std::fflush(stderr);
      bar_shown = true;
    };
  }
  xm::train::TrainResult r = xm::train::train(o);
  if (bar_shown) std::fputs("\r\033[K", stderr);

  if (a.has("--json")) {
    std::printf("%s\n", r.record.dump(2).c_str());
    return 0;
  }
  auto num = [](const xm::json& j) { return j.is_number() ? std::to_string(j.get<double>()).substr(0, 6) : std::string("-"); };
  std::printf("%s %s: step %lld of %lld, train loss %s, valid loss %s, %s\n",
              r.finished ? "trained" : "stopped", o.out.string().c_str(), (long long)r.step, (long long)r.total,
              num(r.record["train_loss"]).c_str(), num(r.record["val_loss"]).c_str(),
              human_duration(r.record["wall_seconds"].get<double>()).c_str());
  std::printf("  log %s, plot %s, checkpoint %s\n", paths.log.string().c_str(), paths.plot.string().c_str(),
              paths.checkpoint.string().c_str());
  return 0;
}

xm::cli::Registrar reg({"train", "train a model (xLSTM, note tuples, LSTM, Transformer) on a prepared corpus", kUsage,
                        run_train});

}  // namespace

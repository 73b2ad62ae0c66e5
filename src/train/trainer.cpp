// trainer.cpp: see trainer.h. The loop, validation, checkpoints (a model file plus the AdamW moments as
// xm.optim.* tensors and the run state as JSON metadata), the log and the plot.
// Not the window sampling (loader.cpp) nor the SVG drawing (log_plot.cpp).
#include "train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <csignal>
#include <limits>
#include <set>

#include "core/error.h"
#include "core/io.h"
#include "model/model_file.h"
#include "model/optim.h"
#include "model/tuple_model.h"
#include "train/log_plot.h"

namespace fs = std::filesystem;

namespace xm::train {

namespace {

constexpr const char* kAdamM = "xm.optim.adam_m";
constexpr const char* kAdamV = "xm.optim.adam_v";
constexpr size_t kRecentLosses = 20;

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// What a checkpoint carries besides parameters and moments.
struct RunState {
  int64_t step = 0, adam_steps = 0, bad_in_row = 0, skipped = 0, tokens_seen = 0;
  double wall_s = 0;
  std::vector<double> recent;  // the last kRecentLosses finite training losses
  json valid = nullptr;        // the last validation pass: {"step", "loss", "tokens", "per_genre"}
};

json state_to_json(const RunState& s) {
  return {{"step", s.step},         {"adam_steps", s.adam_steps}, {"bad_in_row", s.bad_in_row},
          {"skipped", s.skipped},   {"tokens_seen", s.tokens_seen}, {"wall_seconds", s.wall_s},
          {"recent_losses", s.recent}, {"valid", s.valid}};
}

RunState state_from_json(const json& j, const std::string& what) {
  RunState s;
  s.step = json_get<int64_t>(j, "step", what);
  s.adam_steps = json_get<int64_t>(j, "adam_steps", what);
  s.bad_in_row = json_get<int64_t>(j, "bad_in_row", what);
  s.skipped = json_get<int64_t>(j, "skipped", what);
  s.tokens_seen = json_get<int64_t>(j, "tokens_seen", what);
  s.wall_s = json_get<double>(j, "wall_seconds", what);
  s.recent = json_get<std::vector<double>>(j, "recent_losses", what);
  s.valid = j.value("valid", json(nullptr));
  return s;
}

json run_spec(const TrainOptions& o, const json& config) {
  return {{"preset", o.preset},
          {"config", config},
          {"batch", o.batch},
          {"seq", o.seq},
          {"accum", o.accum},
          {"lr", o.lr},
          {"warmup", o.warmup},
          {"weight_decay", o.weight_decay},
          {"clip", o.clip},
          {"min_lr_factor", o.min_lr_factor},
          {"seed", o.seed},
          {"eval_windows", o.eval_windows},
          {"max_bad_steps", o.max_bad_steps},
          {"steps", o.steps},
          {"eval_every", o.eval_every},
          {"checkpoint_every", o.checkpoint_every},
          {"data", fs::absolute(o.data_dir).lexically_normal().string()}};
}
const std::set<std::string> kMayChangeOnResume = {"steps", "eval_every", "checkpoint_every", "data"};

json corpus_fingerprint(const data::Corpus& c) {
  return {{"tokenizer", c.tokenizer_name()},
          {"vocab_size", c.vocab_size()},
          {"train_sequences", c.sequences(data::Split::Train).size()},
          {"train_tokens", c.num_tokens(data::Split::Train)},
          {"valid_sequences", c.sequences(data::Split::Valid).size()},
          {"valid_tokens", c.num_tokens(data::Split::Valid)}};
}

// The conditioning tables a generator needs: the genres and moods of this corpus that have control tokens.
json conditioning_table(const data::Corpus& c) {
  std::map<std::string, int64_t> genres, moods;
  for (const auto& p : c.pieces()) {
    if (!p.genre.empty()) ++genres[p.genre];
    if (!p.mood.empty()) ++moods[p.mood];
  }
  json j;
  j["genres"] = json::array();
  j["moods"] = json::array();
  for (const auto& g : tokens::genre_names())
    if (genres.count(g)) j["genres"].push_back(g);
  for (const auto& m : tokens::mood_names())
    if (moods.count(m)) j["moods"].push_back(m);
  j["genres_without_token"] = json::array();
  for (const auto& [g, n] : genres)
    if (std::find(tokens::genre_names().begin(), tokens::genre_names().end(), g) == tokens::genre_names().end())
      j["genres_without_token"].push_back(g);
  j["genre_pieces"] = genres;
  j["mood_pieces"] = moods;
  const json& opts = c.index().contains("options") ? c.index()["options"] : json::object();
  j["controls"] = opts.is_object() && opts.contains("conditioning") ? opts["conditioning"] : json(true);
  return j;
}

// Global gradient norm in a fixed summation order (whatever the thread count or schedule), so a resumed run
// clips exactly as an uninterrupted one.
double grad_norm_fixed(const float* g, int64_t n) {
  constexpr int kChunks = 64;
  double part[kChunks] = {};
#pragma omp parallel for schedule(static)
  for (int c = 0; c < kChunks; ++c) {
    double s = 0;
    for (int64_t i = n * c / kChunks; i < n * (c + 1) / kChunks; ++i) s += double(g[i]) * double(g[i]);
    part[c] = s;
  }
  double s = 0;
  for (double p : part) s += p;
  return std::sqrt(s);
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

// Removes temp files of atomic writes (.NAME.tmp-PID-N) left by killed runs whose process is gone.
void remove_stale_temps(const fs::path& file) {
  std::error_code ec;
  const fs::path dir = file.parent_path().empty() ? fs::path(".") : file.parent_path();
  const std::string prefix = file.filename().string() + ".tmp-";  // core/io.h names them .NAME.tmp-PID-N
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(prefix, 0) == 0 ? 0 : name.rfind("." + prefix, 0) == 0 ? 1 : std::string::npos;
    if (at == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + at + prefix.size(), nullptr, 10);
    if (pid > 0 && ::kill(pid_t(pid), 0) != 0 && errno == ESRCH) fs::remove(e.path(), ec);
  }
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}

json null_if_nan(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

TrainPaths train_paths(const fs::path& model_file) {
  TrainPaths p;
  p.model = model_file;
  fs::path stem = model_file;
  if (stem.extension() == ".safetensors") stem.replace_extension();
  const std::string s = stem.string();
  p.checkpoint = s + ".ckpt.safetensors";
  p.log = s + ".log.jsonl";
  p.plot = s + ".loss.svg";
  return p;
}

json read_checkpoint_run(const fs::path& checkpoint) {
  auto lm = model::load_seq_model(checkpoint);
  auto it = lm.meta.other.find("checkpoint");
  if (it == lm.meta.other.end())
    throw Error(checkpoint.string() + ": a model file without a \"checkpoint\" entry in its __metadata__: not a "
                "training checkpoint (hint: checkpoints are the MODEL.ckpt.safetensors files `train` writes)");
  json ck = parse_json(it->second, checkpoint.string() + ": __metadata__ field \"checkpoint\"");
  if (ck.value("format", "") != kCheckpointFormat)
    throw Error(checkpoint.string() + ": checkpoint format is \"" + ck.value("format", "") + "\", this version reads \"" +
                kCheckpointFormat + "\"");
  return json_get<json>(ck, "run", checkpoint.string() + ": checkpoint");
}

EvalResult evaluate(model::SeqModel& m, const WindowLoader& loader, const std::vector<WindowRef>& windows, int B) {
  EvalResult r;
  const int n = loader.row();
  std::vector<int32_t> ids(size_t(B) * n), targets(size_t(B) * n);
  std::vector<float> nll(size_t(B) * n);
  std::map<std::string, double> sum;
  double total = 0;
  for (size_t w0 = 0; w0 < windows.size(); w0 += size_t(B)) {
    const int nb = int(std::min<size_t>(size_t(B), windows.size() - w0));
    for (int b = 0; b < nb; ++b) loader.fill(windows[w0 + size_t(b)], &ids[size_t(b) * n], &targets[size_t(b) * n]);
    m.forward(ids.data(), targets.data(), nb, n);
    m.target_nll(nll.data());
    for (int b = 0; b < nb; ++b) {
      const std::string& g0 = loader.sequences()[windows[w0 + size_t(b)].sequence].genre;
      const std::string g = g0.empty() ? "(none)" : g0;
      for (int t = 0; t < n; ++t) {
        if (targets[size_t(b) * n + t] == model::kIgnoreIndex) continue;
        const double x = double(nll[size_t(b) * n + t]);
        total += x;
        sum[g] += x;
        ++r.tokens;
        ++r.per_genre_tokens[g];
      }
    }
  }
  r.loss = r.tokens ? total / double(r.tokens) : 0.0;
  for (const auto& [g, s] : sum) r.per_genre[g] = s / double(r.per_genre_tokens[g]);
  return r;
}

json resolve_model_config(const json& model_config, const data::Corpus& corpus, int seq, bool from_preset,
                          const std::function<void(const std::string&)>& note) {
  json cfg = model_config.is_object() ? model_config : json::object();
  std::string family = "xlstm";
  if (cfg.contains("family")) {
    if (!cfg["family"].is_string()) throw Error("model config: field \"family\" is not a string");
    family = cfg["family"].get<std::string>();
  }
  const int F = corpus.fields_per_step();
  const bool tuple = family == "tuple";
  if (tuple && F <= 1)
    throw Error("corpus " + corpus.dir().string() + " uses the '" + corpus.tokenizer_name() +
                "' tokenizer, a flat token stream; the tuple model trains on note tuples (hint: prepare the corpus "
                "with --tokenizer tuples, or train another --family)");
  if (!tuple && F != 1)
    throw Error("corpus " + corpus.dir().string() + " uses the '" + corpus.tokenizer_name() + "' tokenizer with " +
                std::to_string(F) + " fields per step; the " + family +
                " model trains on flat token streams (hint: train it with --family tuple, or prepare the corpus with "
                "--tokenizer remi, performance or jsb)");
  const int V = corpus.vocab_size();
  const int old_v = cfg.value("vocab_size", -1);
  if (!from_preset && old_v > 0 && old_v != V)
    note("the config's vocab_size " + std::to_string(old_v) + " is replaced by the corpus's " + std::to_string(V));
  if (family == "xlstm") {
    json c = cfg;
    c.erase("family");
    c["vocab_size"] = V;
    model::XlstmConfig x = model::config_from_json(c, "model config");
    x.vocab_size = V;
    x.context_length = seq;
    if (x.slstm) x.slstm->backend = "vanilla";  // our buffers hold the vanilla layout
    x.validate();
    return json::parse(model::config_to_json(x).dump());
  }
  cfg["vocab_size"] = V;
  cfg["context_length"] = seq;
  if (tuple) {
    json fields = json::array();
    for (const auto& f : model::tuple_fields_from_vocab(corpus.vocab(), (corpus.dir() / "vocab.json").string()))
      fields.push_back({{"name", f.name}, {"start", f.start}, {"count", f.count}});
    if (!from_preset && cfg.contains("fields") && !cfg["fields"].empty() && cfg["fields"] != fields)
      note("the config's fields are replaced by those of the corpus's tokenizer");
    cfg["fields"] = fields;
    if (cfg.contains("backbone") && cfg["backbone"].is_object()) {
      cfg["backbone"]["vocab_size"] = V;
      cfg["backbone"]["context_length"] = seq;
    }
  }
  return model::make_seq_model(cfg, "model config")->config_json();  // validated and normalised
}

TrainResult train(const TrainOptions& opts) {
  TrainOptions o = opts;
  auto note = [&](const std::string& s) {
    if (o.on_note) o.on_note(s);
  };
  if (o.batch < 1) throw Error("training: batch must be at least 1 (--batch)");
  if (o.accum < 1) throw Error("training: accum must be at least 1 (--accum)");
  if (!(o.lr > 0)) throw Error("training: the learning rate must be > 0 (--lr)");
  if (o.max_bad_steps < 1) throw Error("training: max_bad_steps must be at least 1");
  if (o.out.empty()) throw Error("training: no output model file (--out)");
  const TrainPaths paths = train_paths(o.out);

  // The corpus, its windows and the model config it fixes.
  data::Corpus corpus = data::Corpus::open(o.data_dir);
  auto tok = corpus.make_tokenizer();
  const json config = resolve_model_config(o.model_config, corpus, o.seq, !o.preset.empty(), note);
  WindowLoader train_loader(corpus, data::Split::Train, *tok, o.seq);
  if (train_loader.empty())
    throw Error("corpus " + o.data_dir.string() + ": the training split has no tokens (hint: prepare it with more "
                "files or a smaller --split valid=...,test=...)");
  WindowLoader valid_loader(corpus, data::Split::Valid, *tok, o.seq, /*originals_only=*/true);
  const std::vector<WindowRef> valid_windows = valid_loader.fixed_windows(size_t(std::max<int64_t>(0, o.eval_windows)));
  const int64_t window_steps = int64_t(o.batch) * o.seq * o.accum;
  const int64_t window_tokens = window_steps * train_loader.fields();  // input ids of one step of training
  if (o.steps <= 0) {
    if (!(o.epochs > 0)) throw Error("training: give a number of steps (--steps) or epochs (--epochs)");
    o.steps = std::max<int64_t>(1, int64_t(std::ceil(o.epochs * double(train_loader.body_steps()) / double(window_steps))));
  }
  const int64_t total = o.steps;
  const json spec = run_spec(o, config);
  const json fingerprint = corpus_fingerprint(corpus);

  std::unique_ptr<model::SeqModel> model_ptr = model::make_seq_model(config, "model config");
  model::SeqModel& model = *model_ptr;
  model::AdamWConfig ac;
  ac.weight_decay = o.weight_decay;
  model::AdamW<float> opt(model.table(), ac);
  const int64_t N = model.num_params();
  RunState st;
  TrainResult result;
  result.total = total;

  if (!paths.model.parent_path().empty()) fs::create_directories(paths.model.parent_path());
  for (const fs::path& p : {paths.model, paths.checkpoint, paths.log, paths.plot}) remove_stale_temps(p);

  if (o.resume && fs::exists(paths.checkpoint)) {
    const std::string what = paths.checkpoint.string();
    auto lm = model::load_seq_model(paths.checkpoint);
    auto it = lm.meta.other.find("checkpoint");
    if (it == lm.meta.other.end()) throw Error(what + ": not a training checkpoint (no \"checkpoint\" metadata)");
    const json ck = parse_json(it->second, what + ": __metadata__ field \"checkpoint\"");
    if (ck.value("format", "") != kCheckpointFormat)
      throw Error(what + ": checkpoint format \"" + ck.value("format", "") + "\" is not \"" + kCheckpointFormat + "\"");
    const json& old = json_get<json>(ck, "run", what);
    for (const auto& [k, v] : spec.items()) {
      if (kMayChangeOnResume.count(k)) continue;
      const json ov = old.contains(k) ? old[k] : json(nullptr);
      if (ov != v)
        throw Error(what + ": written by a run with " + k + " = " + ov.dump() + ", but this run has " + v.dump() +
                    " (hint: resume with the same settings, or train afresh without --resume)");
    }
    if (json_get<json>(ck, "corpus", what) != fingerprint)
      throw Error(what + ": written for another corpus (" + ck["corpus"].dump() + "), but " + o.data_dir.string() +
                  " holds " + fingerprint.dump() + " (hint: resume on the same prepared corpus)");
    st = state_from_json(json_get<json>(ck, "state", what + ": checkpoint"), what + ": checkpoint state");
    if (lm.model->family() != model.family() || lm.model->num_params() != N)
      throw Error(what + ": holds a " + lm.model->family() + " model of " + std::to_string(lm.model->num_params()) +
                  " parameters, but this run trains a " + model.family() + " model of " + std::to_string(N) +
                  " (hint: resume with the same settings, or train afresh without --resume)");
    model.params() = lm.model->params();
    for (const auto& [name, dst] : {std::pair{kAdamM, &opt.m()}, std::pair{kAdamV, &opt.v()}}) {
      auto x = std::find_if(lm.extras.begin(), lm.extras.end(), [&](const auto& e) { return e.name == name; });
      if (x == lm.extras.end() || x->dtype != DType::F32 || x->bytes.size() != size_t(N) * sizeof(float))
        throw Error(what + ": tensor " + name + " is missing or is not F32 [" + std::to_string(N) + "]");
      std::memcpy(dst->data(), x->bytes.data(), x->bytes.size());
    }
    opt.set_steps(st.adam_steps);
    result.resumed = true;
    result.resumed_from = st.step;
    if (old.value("steps", total) != total)
      note("the run now ends at step " + std::to_string(total) + " (was " + old["steps"].dump() +
           "): the learning-rate schedule changes from here");
    note("resuming from " + what + " at step " + std::to_string(st.step) + " of " + std::to_string(total));
  } else {
    if (o.resume) note("no checkpoint at " + paths.checkpoint.string() + ": starting a new run");
    model.init(o.seed);
  }

  // The log: a resumed run keeps the lines up to its checkpoint (a killed run may have logged past it).
  std::vector<json> lines = result.resumed ? read_log(paths.log, st.step) : std::vector<json>{};
  {
    std::string text;
    for (const json& j : lines) text += j.dump() + "\n";
    write_file_atomic(paths.log, text);
  }
  LossCurves curves = curves_from_log(lines);
  std::FILE* log = std::fopen(paths.log.c_str(), "ab");
  if (!log) throw Error(paths.log.string() + ": cannot open the training log for appending");
  struct Closer {
    std::FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{log};
  auto write_line = [&](const json& j) {
    const std::string s = j.dump() + "\n";
    if (std::fwrite(s.data(), 1, s.size(), log) != s.size() || std::fflush(log) != 0)
      throw Error(paths.log.string() + ": write failed (disk full?)");
    auto c = curves_from_log({j});
    curves.train.insert(curves.train.end(), c.train.begin(), c.train.end());
    curves.valid.insert(curves.valid.end(), c.valid.begin(), c.valid.end());
  };
  const std::string title = "xlstm-music train: " + paths.model.filename().string();
  auto write_plot = [&] { write_file_atomic(paths.plot, loss_svg(curves, title)); };

  auto run_eval = [&](json& line) {
    EvalResult e = evaluate(model, valid_loader, valid_windows, o.batch);
    line["valid_loss"] = e.loss;
    line["valid_tokens"] = e.tokens;
    line["valid_loss_per_genre"] = e.per_genre;
    st.valid = {{"step", st.step}, {"loss", e.loss}, {"tokens", e.tokens}, {"per_genre", e.per_genre}};
    std::string per;
    for (const auto& [g, l] : e.per_genre) per += " " + g + " " + fmt("%.4f", l);
    note("step " + std::to_string(st.step) + ": valid loss " + fmt("%.4f", e.loss) + " over " +
         std::to_string(e.tokens) + " tokens" + (e.per_genre.size() > 1 ? " (" + per.substr(1) + ")" : ""));
    return e.loss;
  };

  auto record = [&] {
    json r;
    r["data"] = spec["data"];
    r["corpus"] = fingerprint;
    r["preset"] = o.preset;
    r["family"] = model.family();
    r["params"] = N;
    r["steps"] = st.step;
    r["steps_planned"] = total;
    r["finished"] = st.step >= total;
    for (const char* k : {"batch", "seq", "accum", "lr", "warmup", "weight_decay", "clip", "min_lr_factor", "seed"})
      r[k] = spec[k];
    r["threads"] = o.threads;
    r["tokens_seen"] = st.tokens_seen;
    double mean = std::numeric_limits<double>::quiet_NaN();
    if (!st.recent.empty()) {
      mean = 0;
      for (double l : st.recent) mean += l;
      mean /= double(st.recent.size());
    }
    r["train_loss"] = null_if_nan(mean);  // mean of the last (up to) 20 steps
    r["train_loss_last"] = st.recent.empty() ? json(nullptr) : json(st.recent.back());
    r["val_loss"] = st.valid.is_object() ? st.valid["loss"] : json(nullptr);
    r["val_loss_per_genre"] = st.valid.is_object() ? st.valid["per_genre"] : json(nullptr);
    r["val_step"] = st.valid.is_object() ? st.valid["step"] : json(nullptr);
    r["skipped_steps"] = st.skipped;
    r["wall_seconds"] = st.wall_s;
    r["command_line"] = o.command_line;
    r["checkpoint"] = paths.checkpoint.filename().string();
    return r;
  };
  auto meta = [&] {
    model::ModelMeta m;
    m.tokenizer = corpus.vocab();
    m.conditioning = conditioning_table(corpus);
    m.training = record();
    return m;
  };
  // The checkpoint first, then the model file: each write is atomic, and a resume reads only the checkpoint.
  auto save_all = [&] {
    if (!all_finite(model.params()))
      throw Error("training diverged: the parameters hold non-finite values at step " + std::to_string(st.step) +
                  "; not saved, the last good checkpoint stays in " + paths.checkpoint.string() +
                  " (hint: lower --lr or --clip)");
    model::ModelMeta cm = meta();
    json ck = {{"format", kCheckpointFormat}, {"run", spec}, {"corpus", fingerprint}, {"state", state_to_json(st)}};
    cm.other["checkpoint"] = ck.dump();
    model::SaveOptions so;
    for (const auto& [name, src] : {std::pair{kAdamM, &opt.m()}, std::pair{kAdamV, &opt.v()}}) {
      model::ExtraTensor x;
      x.name = name;
      x.dtype = DType::F32;
      x.shape = {N};
      x.bytes.resize(size_t(N) * sizeof(float));
      std::memcpy(x.bytes.data(), src->data(), x.bytes.size());
      so.extras.push_back(std::move(x));
    }
    model::save_seq_model(paths.checkpoint, model, cm, so);
    model::save_seq_model(paths.model, model, meta());
    write_plot();
  };

  if (o.stop_at > 0 && o.stop_at <= st.step && st.step < total) {
    note("the checkpoint is at step " + std::to_string(st.step) + ", past --stop-at " + std::to_string(o.stop_at) +
         ": nothing to do");
    result.step = st.step;
    result.record = record();
    return result;
  }
  if (st.step >= total) {
    note("the checkpoint is already at step " + std::to_string(st.step) + " of " + std::to_string(total));
    save_all();
    result.step = st.step;
    result.finished = true;
    result.record = record();
    return result;
  }
  if (!result.resumed) {
    if (valid_windows.empty()) {
      note("the corpus has no validation split: no validation passes (hint: prepare it with --split valid=...)");
    } else {
      json line = {{"step", 0}};
      run_eval(line);
      write_line(line);
    }
  }

  model::LrSchedule sched;
  sched.base_lr = o.lr;
  sched.warmup_steps = o.warmup;
  sched.decay_until_steps = total;
  sched.min_lr_factor = o.min_lr_factor;
  const std::set<int64_t> inject(o.inject_nan_steps.begin(), o.inject_nan_steps.end());
  const size_t per_micro = size_t(o.batch) * size_t(train_loader.row());
  std::vector<int32_t> ids(per_micro * size_t(o.accum)), targets(per_micro * size_t(o.accum));
  const auto loop_start = Clock::now();
  const double wall_base = st.wall_s;
  int64_t steps_here = 0;

  for (int64_t step = st.step + 1; step <= total; ++step) {
    const auto t0 = Clock::now();
    int64_t counted = 0;
    std::vector<int64_t> counts(size_t(o.accum), 0);
    for (int k = 0; k < o.accum; ++k) {
      train_loader.sample_batch(o.seed, step, k, o.batch, &ids[k * per_micro], &targets[k * per_micro]);
      for (size_t i = 0; i < per_micro; ++i) counts[size_t(k)] += targets[k * per_micro + i] != model::kIgnoreIndex;
      counted += counts[size_t(k)];
    }
    // One step over all micro-batches, each loss weighted by its share of the counted targets.
    model.zero_grad();
    double loss = 0;
    for (int k = 0; k < o.accum && counted > 0; ++k) {
      if (counts[size_t(k)] == 0) continue;
      const double w = double(counts[size_t(k)]) / double(counted);
      loss += w * model.forward(&ids[k * per_micro], &targets[k * per_micro], o.batch, train_loader.row());
      model.backward(w);
    }
    if (inject.count(step)) model.grads()[0] = std::numeric_limits<float>::quiet_NaN();
    const double norm = grad_norm_fixed(model.grads().data(), N);
    const double lr = sched.at(step - 1);
    const bool ok = std::isfinite(loss) && std::isfinite(norm);
    if (ok && counted > 0) {
      if (o.clip > 0 && norm > o.clip) {
        const float coef = float(o.clip / (norm + 1e-6));
        for (float& g : model.grads()) g *= coef;
      }
      opt.step(model.params().data(), model.grads().data(), lr);
      st.tokens_seen += counted;
      st.recent.push_back(loss);
      if (st.recent.size() > kRecentLosses) st.recent.erase(st.recent.begin());
      st.bad_in_row = 0;
    } else if (!ok) {
      ++st.bad_in_row;
      ++st.skipped;
    }
    st.step = step;
    st.adam_steps = opt.steps();
    ++steps_here;
    const double dt = seconds_since(t0);
    st.wall_s = wall_base + seconds_since(loop_start);

    Progress pr;
    pr.step = step, pr.total = total, pr.loss = loss, pr.lr = lr, pr.grad_norm = norm, pr.skipped = !ok;
    pr.tokens_per_s = dt > 0 ? double(window_tokens) / dt : 0;
    pr.eta_s = seconds_since(loop_start) / double(steps_here) * double(total - step);
    pr.avg_tokens_per_s = double(window_tokens) * double(steps_here) / std::max(1e-9, seconds_since(loop_start));
    json line = {{"step", step},
                 {"loss", null_if_nan(loss)},
                 {"lr", lr},
                 {"grad_norm", null_if_nan(norm)},
                 {"tokens", counted},
                 {"tokens_per_s", pr.tokens_per_s},
                 {"elapsed_s", st.wall_s}};
    if (!ok) {
      const std::string why = !std::isfinite(loss) ? "non-finite loss" : "non-finite gradient";
      line["skipped"] = true;
      line["reason"] = why;
      note("step " + std::to_string(step) + ": " + why + ", update skipped (" + std::to_string(st.bad_in_row) +
           " in a row)");
      if (st.bad_in_row >= o.max_bad_steps) {
        write_line(line);
        write_plot();
        const bool have_ckpt = fs::exists(paths.checkpoint);
        throw Error("training diverged: " + std::to_string(st.bad_in_row) +
                    " steps in a row had a non-finite loss or gradient (up to step " + std::to_string(step) +
                    "); stopped. " +
                    (have_ckpt ? "The last good checkpoint is kept: " + paths.checkpoint.string() + " (and " +
                                     paths.model.string() + ")"
                               : std::string("No checkpoint had been written yet")) +
                    " (hint: lower --lr, now " + fmt("%g", o.lr) + ", or --clip, then train again or --resume)");
      }
    }
    const bool final = step == total;
    const bool stop = o.stop_at > 0 && step == o.stop_at && !final;
    if (!valid_windows.empty() && ((o.eval_every > 0 && step % o.eval_every == 0) || final)) {
      pr.valid_loss = run_eval(line);
      pr.evaluated = true;
    }
    write_line(line);
    // No periodic checkpoint inside a streak of skipped steps: the last good one stays the one to resume from.
    const bool periodic = o.checkpoint_every > 0 && step % o.checkpoint_every == 0 && st.bad_in_row == 0;
    if (periodic || final || stop) {
      st.wall_s = wall_base + seconds_since(loop_start);
      save_all();
      pr.checkpointed = true;
    } else if (pr.evaluated) {
      write_plot();
    }
    if (o.on_step) o.on_step(pr);
    if (stop) {
      note("stopped after step " + std::to_string(step) + " (--stop-at); continue with --resume");
      break;
    }
  }
  result.step = st.step;
  result.finished = st.step >= total;
  result.record = record();
  return result;
}

}  // namespace xm::train

// trainer.h: the training loop of `xlstm-music train`: a model of any family behind model::SeqModel (xLSTM LM,
// note tuples, LSTM, Transformer; float) on random windows of a prepared corpus with AdamW, warm-up + cosine
// schedule, clipping and gradient accumulation; validation passes (mean NLL per target, also per genre); a JSONL
// log and an SVG loss plot next to the model; atomic checkpoints with the optimiser state from which --resume
// continues exactly; a divergence guard. Not the command line (cli/) nor the math of a step (model/).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/config.h"
#include "model/seq_model.h"
#include "train/loader.h"

namespace xm::train {

inline constexpr const char* kCheckpointFormat = "xlstm-music checkpoint/1";

// The files of a run, all beside the model: for "m.safetensors": m.ckpt.safetensors, m.log.jsonl, m.loss.svg.
struct TrainPaths {
  std::filesystem::path model, checkpoint, log, plot;
};
TrainPaths train_paths(const std::filesystem::path& model_file);

struct Progress {
  int64_t step = 0, total = 0;
  double loss = 0, lr = 0, grad_norm = 0;
  double tokens_per_s = 0;      // this step (inputs of all micro-batches / its wall time)
  double avg_tokens_per_s = 0;  // since this process started the loop
  double eta_s = 0;
  bool skipped = false;        // a non-finite loss or gradient: no update was made
  bool evaluated = false;      // a validation pass ran after this step
  double valid_loss = 0;
  bool checkpointed = false;   // checkpoint and model file written after this step
};

struct TrainOptions {
  std::filesystem::path data_dir;
  std::filesystem::path out;   // MODEL.safetensors
  std::string preset;          // recorded; "" when the config came from a file
  // The model config of any family ({"family": ..., ...}; without "family" the official xLSTM schema). train()
  // sets vocab_size (from the corpus), context_length (= seq) and, for "tuple", the fields of the corpus's vocab.
  json model_config;
  int64_t steps = 0;           // optimiser steps in all; 0: from epochs
  double epochs = 0;           // passes over the training tokens (prefixes not counted), when steps == 0
  int batch = 16, seq = 256, accum = 1;  // seq in steps (note tuples: F ids each)
  double lr = 1e-3, weight_decay = 0.1, clip = 1.0, min_lr_factor = 0.1;
  int64_t warmup = 100;
  int64_t eval_every = 200;        // 0: only at the end
  int64_t checkpoint_every = 200;  // 0: only at the end
  int64_t eval_windows = 256;      // validation windows per pass (0: all of the valid split)
  uint64_t seed = 1;
  bool resume = false;         // continue from the checkpoint when there is one
  int64_t stop_at = 0;         // > 0: stop after this step (checkpointed) as if interrupted
  int max_bad_steps = 5;       // this many skipped steps in a row stop the run
  int threads = 0;             // recorded only (the caller sets the thread policy)
  std::string command_line;    // recorded
  std::vector<int64_t> inject_nan_steps;  // test hook: these steps get a NaN gradient
  std::function<void(const Progress&)> on_step;      // after every step
  std::function<void(const std::string&)> on_note;  // one-line notes (evaluations, checkpoints, skips)
};

struct TrainResult {
  int64_t step = 0;        // last step done
  int64_t total = 0;       // steps planned
  bool finished = false;   // reached total (false after --stop-at)
  bool resumed = false;
  int64_t resumed_from = 0;
  json record;             // the training record written into the model file
};

// The "run" object of a checkpoint file: the resolved options of the run that wrote it (preset, config, batch,
// seq, accum, lr, warmup, weight_decay, clip, min_lr_factor, seed, eval_windows, max_bad_steps, and steps,
// eval_every, checkpoint_every, data). A resumed run must agree on all but the last four (compared field by
// field). Throws xm::Error naming the file when it is not a checkpoint.
json read_checkpoint_run(const std::filesystem::path& checkpoint);

// Trains. Throws xm::Error naming the file or option: a corpus that cannot be opened, an empty training split,
// a checkpoint from another run, a run stopped by the divergence guard (the last good checkpoint is kept).
TrainResult train(const TrainOptions& o);

// Mean negative log-likelihood per counted target (a token; for note tuples one field of a step) of fixed
// windows, over all and per genre ("" -> "(none)").
struct EvalResult {
  double loss = 0;
  int64_t tokens = 0;
  std::map<std::string, double> per_genre;
  std::map<std::string, int64_t> per_genre_tokens;
};
EvalResult evaluate(model::SeqModel& m, const WindowLoader& loader, const std::vector<WindowRef>& windows, int B);

// The config of o.model_config completed for a corpus (vocab_size, context_length = seq, tuple fields) and
// normalised as the run records it (the xLSTM official schema without "family"; other families with it).
// note() hears about replaced values. Throws xm::Error when the family does not fit the corpus.
json resolve_model_config(const json& model_config, const data::Corpus& corpus, int seq, bool from_preset,
                          const std::function<void(const std::string&)>& note);

}  // namespace xm::train

// presets.h: named model presets for `xlstm-music train` (tiny for tests, small for a CPU, base for a GPU) as
// official-schema xLSTM configs, with the training defaults that suit each, and the config of every other model
// family (tuple, lstm, transformer) of comparable size for each preset; and the thread policy of a training or
// inference process. Not the loop (trainer.h) nor the config schemas themselves (model/).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/config.h"

namespace xm::train {

struct Preset {
  std::string name;
  std::string summary;
  model::XlstmConfig config;  // vocab_size and context_length are set per run (corpus, --seq)
  int batch = 16;
  int seq = 256;
  double lr = 1e-3;
  int64_t warmup = 100;
  int64_t steps = 1000;
  int64_t eval_every = 200;
  int64_t checkpoint_every = 200;
};

std::vector<std::string> preset_names();  // "tiny", "small", "base"
// Throws xm::UsageError naming --preset and the known names when unknown.
Preset preset(const std::string& name);
// Training defaults for a config given by --model-config (seq from its context_length when set).
Preset custom_preset(const model::XlstmConfig& cfg);
// The same for a config of any family ({"family": ..., ...}; without "family" the official xLSTM schema).
Preset custom_preset(const json& cfg);

std::vector<std::string> family_names();  // "xlstm", "tuple", "lstm", "transformer"
// The model config JSON of `family` for preset p, of a size comparable with p's xLSTM (see docs/training.md):
// xlstm: p.config in the official schema (no "family" key); tuple: p.config as the backbone, field embeddings
// of width D/4; lstm and transformer: the baselines' schemas. vocab_size, context_length and the tuple fields
// are placeholders that train() sets from the corpus and --seq. Throws xm::UsageError naming --family.
json preset_model_config(const Preset& p, const std::string& family);

// Thread policy (nn/runtime.h): OpenMP runs `threads` threads (<= 0: all cores the process may use) and OpenBLAS
// stays at one thread, since GEMMs are called from inside OpenMP regions (two pools would oversubscribe the
// cores); OpenBLAS's kernels are chosen for this CPU. Returns the thread count.
int set_thread_policy(int threads);

}  // namespace xm::train

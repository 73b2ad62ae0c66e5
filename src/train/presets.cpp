// presets.cpp: see presets.h. The three presets and the thread policy.
// Not a place for per-corpus tuning: flags override every default.
#include "train/presets.h"

#include "core/error.h"
#include "nn/runtime.h"

namespace xm::train {

namespace {
model::XlstmConfig make_config(int blocks, int D, std::vector<int> slstm_at, int heads) {
  model::XlstmConfig c;
  c.vocab_size = 1;  // set per run from the corpus
  c.context_length = 1;
  c.num_blocks = blocks;
  c.embedding_dim = D;
  c.slstm_at = std::move(slstm_at);
  model::MlstmLayerConfig m;
  m.num_heads = heads;
  c.mlstm = m;
  model::SlstmLayerConfig s;
  s.num_heads = heads;
  c.slstm = s;
  c.feedforward = model::FeedForwardConfig{};
  c.validate();
  return c;
}
}  // namespace

std::vector<std::string> preset_names() { return {"tiny", "small", "base"}; }

Preset preset(const std::string& name) {
  Preset p;
  p.name = name;
  if (name == "tiny") {
    p.summary = "2 blocks (mLSTM, sLSTM), D 64: for tests, trains in seconds";
    p.config = make_config(2, 64, {1}, 2);
    p.batch = 8, p.seq = 64, p.lr = 3e-3, p.warmup = 10, p.steps = 200, p.eval_every = 50, p.checkpoint_every = 50;
  } else if (name == "small") {
    p.summary = "4 blocks (m, s, m, m), D 256: the music reference model, for a CPU";
    p.config = make_config(4, 256, {1}, 4);
    p.batch = 16, p.seq = 256, p.lr = 1e-3, p.warmup = 200, p.steps = 20000, p.eval_every = 500,
    p.checkpoint_every = 500;
  } else if (name == "base") {
    p.summary = "12 blocks (sLSTM at 3 and 9), D 512: for a GPU";
    p.config = make_config(12, 512, {3, 9}, 4);
    p.batch = 32, p.seq = 1024, p.lr = 6e-4, p.warmup = 1000, p.steps = 50000, p.eval_every = 1000,
    p.checkpoint_every = 1000;
  } else {
    std::string known;
    for (const auto& n : preset_names()) known += (known.empty() ? "" : ", ") + n;
    throw UsageError("flag --preset: unknown preset '" + name + "' (known: " + known + ")");
  }
  return p;
}

Preset custom_preset(const model::XlstmConfig& cfg) {
  Preset p;
  p.name = "";
  p.summary = "from --model-config";
  p.config = cfg;
  if (cfg.context_length > 1) p.seq = cfg.context_length;
  return p;
}

Preset custom_preset(const json& cfg) {
  const std::string family = cfg.is_object() ? cfg.value("family", std::string("xlstm")) : std::string("xlstm");
  if (family == "xlstm") {
    json c = cfg;
    if (c.is_object()) c.erase("family");
    return custom_preset(model::config_from_json(c));
  }
  Preset p;
  p.name = "";
  p.summary = "from --model-config";
  const int ctx = cfg.value("context_length", -1);
  if (ctx > 1) p.seq = ctx;
  return p;
}

std::vector<std::string> family_names() { return {"xlstm", "tuple", "lstm", "transformer"}; }

json preset_model_config(const Preset& p, const std::string& family) {
  const model::XlstmConfig& c = p.config;
  const int D = c.embedding_dim;
  json xl = json::parse(model::config_to_json(c).dump());
  // Sizes of the baselines by preset (D = the xLSTM's width), chosen so that the parameters outside the
  // embedding and head come near the xLSTM preset's (docs/training.md lists the counts).
  struct Base {
    int lstm_hidden, lstm_layers, tf_layers, tf_heads, tf_ffn;
  };
  const Base b = p.name == "tiny"    ? Base{64, 2, 2, 2, 128}
                 : p.name == "small" ? Base{256, 3, 2, 4, 1024}
                 : p.name == "base"  ? Base{768, 4, 6, 8, 2048}
                                     : Base{D, 2, 2, 4, 4 * D};
  if (family == "xlstm") return xl;
  if (family == "tuple")
    return {{"family", "tuple"},         {"vocab_size", c.vocab_size},          {"context_length", c.context_length},
            {"fields", json::array()},   {"field_embedding_dim", std::max(1, D / 4)}, {"backbone", xl}};
  if (family == "lstm")
    return {{"family", "lstm"},        {"vocab_size", c.vocab_size}, {"context_length", c.context_length},
            {"embedding_dim", D},      {"hidden_dim", b.lstm_hidden}, {"num_layers", b.lstm_layers},
            {"tie_weights", false}};
  if (family == "transformer")
    return {{"family", "transformer"}, {"vocab_size", c.vocab_size}, {"context_length", c.context_length},
            {"embedding_dim", D},      {"num_layers", b.tf_layers},  {"num_heads", b.tf_heads},
            {"ffn_dim", b.tf_ffn},     {"positions", "rotary"}};
  std::string known;
  for (const auto& n : family_names()) known += (known.empty() ? "" : ", ") + n;
  throw UsageError("flag --family: unknown model family '" + family + "' (known: " + known + ")");
}

int set_thread_policy(int threads) {
  nn::set_threads(threads);  // the engine's one policy (nn/runtime.h): OpenMP n threads, OpenBLAS 1
  nn::select_blas_core();
  return nn::threads();
}

}  // namespace xm::train

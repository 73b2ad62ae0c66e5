// cmd_import.cpp: `xlstm-music import --weights W.safetensors --config CONFIG.json --out MODEL.safetensors`:
// turns a state_dict of the official PyTorch xLSTMLMModel (and its config JSON) into an xlstm-music model
// file. Thin: the checks and conversions live in model/model_file.h. Not a training checkpoint converter.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "model/model_file.h"
#include "tokens/tokenizer.h"

namespace {

using xm::Error;
using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music import --weights W.safetensors --config CONFIG.json --out MODEL.safetensors [flags]\n"
    "\n"
    "Brings a model from the official PyTorch xLSTM code into xlstm-music: W is its state_dict saved with\n"
    "safetensors.torch (tensors F32, F64, F16 or BF16, named as xLSTMLMModel.state_dict() names them), "
    "CONFIG\n"
    "its xLSTMLMModelConfig as JSON (the nested dict of the official YAML configs: vocab_size, num_blocks,\n"
    "embedding_dim, slstm_at, mlstm_block.mlstm.*, slstm_block.slstm.*, slstm_block.feedforward.*).\n"
    "Every tensor name, shape and dtype is checked against the config. The sLSTM tensors are read in the\n"
    "layout of slstm_block.slstm.backend (\"vanilla\", or \"cuda\" which is converted). See "
    "docs/model-format.md.\n"
    "\n"
    "flags:\n"
    "  --weights FILE     the state_dict (.safetensors) (required)\n"
    "  --config FILE      the model config JSON (required)\n"
    "  --out FILE         the xlstm-music model file to write (required)\n"
    "  --dtype D          dtype of the stored parameters: F32 (default), F64, BF16 or F16\n"
    "  --tokenizer FILE   a tokenizer vocabulary JSON (`xlstm-music tokenize --vocab-out`) to store with it\n"
    "  --json             print a JSON summary instead of a line\n"
    "\n"
    "exit: 0 done, 1 bad input (the reason names the file, tensor or field), 2 usage error\n";

int run(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {"--weights", "--config", "--out", "--dtype", "--tokenizer"}, {"--json"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty())
    throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  const std::string weights = a.require("--weights"), config = a.require("--config"),
                    out = a.require("--out");
  xm::model::SaveOptions opt;
  opt.dtype = xm::model::parse_float_dtype(a.get_or("--dtype", "F32"), "flag --dtype");

  const xm::json cfg_json = xm::parse_json(xm::read_file_text(config, uint64_t(1) << 26), config);
  std::string backend = "vanilla";
  if (cfg_json.is_object() && cfg_json.contains("slstm_block") && cfg_json["slstm_block"].is_object() &&
      cfg_json["slstm_block"].contains("slstm") && cfg_json["slstm_block"]["slstm"].is_object())
    backend = cfg_json["slstm_block"]["slstm"].value("backend", std::string("vanilla"));
  auto model = xm::model::import_state_dict<double>(weights, cfg_json, config);

  xm::model::ModelMeta meta;
  if (auto t = a.get("--tokenizer")) {
    const xm::json vocab = xm::parse_json(xm::read_file_text(*t, uint64_t(1) << 28), *t);
    std::unique_ptr<xm::tokens::Tokenizer> tok;
    try {
      tok = xm::tokens::tokenizer_from_json(vocab);
    } catch (const std::exception& e) {
      throw Error(*t + ": not a tokenizer vocabulary: " + e.what());
    }
    if (tok->vocab_size() > model->config().vocab_size)
      throw Error(*t + ": the tokenizer has " + std::to_string(tok->vocab_size()) +
                  " tokens but the model's " + "vocab_size is " + std::to_string(model->config().vocab_size) +
                  "; it does not belong to this model");
    meta.tokenizer = tok->vocab_json();
  }
  std::string command_line = "xlstm-music import";
  for (const auto& s : argv) command_line += " " + s;
  meta.training = {{"imported_from", {{"weights", weights}, {"config", config}, {"slstm_layout", backend}}},
                   {"command_line", command_line}};
  xm::model::save_model(out, *model, meta, opt);

  const auto& c = model->config();
  std::string blocks;
  for (auto t : c.block_types()) blocks += t == xm::model::BlockType::mlstm ? 'm' : 's';
  if (a.has("--json")) {
    xm::ordered_json j;
    j["out"] = out;
    j["parameters"] = model->num_params();
    j["tensors"] = model->table().entries().size() + (c.tie_weights ? 1 : 0);
    j["blocks"] = blocks;
    j["dtype"] = xm::dtype_name(opt.dtype);
    j["slstm_layout"] = backend;
    std::fputs((j.dump() + "\n").c_str(), stdout);
  } else {
    std::printf("imported %lld parameters (blocks %s, vocab %d, width %d) from %s into %s (%s)\n",
                (long long)model->num_params(), blocks.c_str(), c.vocab_size, c.embedding_dim,
                weights.c_str(), out.c_str(), xm::dtype_name(opt.dtype));
  }
  return 0;
}

xm::cli::Registrar reg({"import", "bring a model from the official PyTorch xLSTM (state_dict + config) in",
                        kUsage, run});

}  // namespace

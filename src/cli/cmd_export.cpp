// cmd_export.cpp: `xlstm-music export --model MODEL.safetensors --out W.safetensors --config-out
// CONFIG.json`: writes a model as a plain state_dict of the official PyTorch xLSTMLMModel plus its config
// JSON. Thin: model/model_file.h does the work. Not for the xm.* extra tensors (the official model has no
// place for them).
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "model/model_file.h"

namespace {

using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music export --model MODEL.safetensors --out W.safetensors --config-out CONFIG.json "
    "[flags]\n"
    "\n"
    "Writes an xlstm-music model as the official PyTorch xLSTMLMModel would save it: a state_dict "
    ".safetensors\n"
    "(names as xLSTMLMModel.state_dict()) that safetensors.torch.load_file + model.load_state_dict read,\n"
    "and the xLSTMLMModelConfig as JSON (slstm_block.slstm.backend as --backend, default \"vanilla\").\n"
    "See docs/model-format.md for the Python side.\n"
    "\n"
    "flags:\n"
    "  --model FILE       the xlstm-music model file (required)\n"
    "  --out FILE         the state_dict to write (required)\n"
    "  --config-out FILE  the config JSON to write\n"
    "  --dtype D          F32, F64, BF16 or F16 (default: the dtype stored in the model file)\n"
    "  --backend B        sLSTM layout and config backend: vanilla (default, runs on a CPU) or cuda (the\n"
    "                     official GPU kernel's layout: _recurrent_kernel_ (NH, DH, 4DH), head-major "
    "_bias_)\n"
    "\n"
    "exit: 0 done, 1 bad input (the reason names the file, tensor or field), 2 usage error\n";

int run(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {"--model", "--out", "--config-out", "--dtype", "--backend"}, {});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty())
    throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  const std::string model_path = a.require("--model"), out = a.require("--out");
  // double holds every stored dtype exactly, so an export in the stored dtype is bit-exact
  auto loaded = xm::model::load_model<double>(model_path);
  xm::DType dtype = loaded.dtype;
  if (auto d = a.get("--dtype")) dtype = xm::model::parse_float_dtype(*d, "flag --dtype");

  const std::string backend = a.get_or("--backend", "vanilla");
  if (backend != "vanilla" && backend != "cuda")
    throw UsageError("flag --backend: expected vanilla or cuda, got '" + backend + "'");
  const auto layout = backend == "cuda" ? xm::model::SlstmLayout::cuda : xm::model::SlstmLayout::vanilla;

  xm::SafeTensorsWriter w;
  w.set_metadata("format", "pt");  // what safetensors.torch.save_model writes
  xm::model::params_to_state_dict(w, *loaded.model, dtype, layout);
  w.write(out);
  if (auto c = a.get("--config-out")) {
    xm::model::XlstmConfig cfg = loaded.model->config();
    if (cfg.slstm) cfg.slstm->backend = backend;
    xm::write_file_atomic(*c, xm::model::config_to_json(cfg).dump(2) + "\n");
  }
  if (!loaded.extras.empty())
    std::fprintf(stderr,
                 "xlstm-music export: note: %zu extra tensor(s) (%s...) not exported: the official "
                 "xLSTMLMModel has no place for them\n",
                 loaded.extras.size(), loaded.extras[0].name.c_str());
  std::printf("exported %lld parameters from %s to %s (%s)\n", (long long)loaded.model->num_params(),
              model_path.c_str(), out.c_str(), xm::dtype_name(dtype));
  return 0;
}

xm::cli::Registrar reg({"export", "write a model as an official PyTorch xLSTM state_dict + config", kUsage,
                        run});

}  // namespace

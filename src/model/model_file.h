// model_file.h: xlstm-music model files (one self-describing .safetensors: the official xLSTMLMModel
// state_dict tensors + JSON metadata: format, model config, tokenizer, conditioning, training record) and
// interop with plain state_dicts of the official PyTorch code. Not the math (xlstm_lm.h) nor training
// checkpoints' optimiser.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/safetensors.h"
#include "model/config.h"
#include "model/xlstm_lm.h"

namespace xm::model {

// The value of __metadata__["format"] in every model file this version writes and reads.
inline constexpr const char* kModelFormat = "xlstm-music/1";
// Tensors outside the xLSTM LM (note-tuple embeddings and heads, baselines) carry this prefix.
inline constexpr const char* kExtraPrefix = "xm.";

// The JSON metadata of a model file. Each field is stored as a JSON string in __metadata__ under its name;
// null fields are not written.
struct ModelMeta {
  json tokenizer;     // Tokenizer::vocab_json() (tokens/tokenizer.h), or null when unknown
  json conditioning;  // {"genres": [...], "moods": [...], ...} tables, or null
  json training;      // {"data", "steps", "val_loss", "command_line", ...}, or null
  std::map<std::string, std::string> other;  // any further __metadata__ keys, kept verbatim
};

// A tensor outside the LM (its name starts with kExtraPrefix), kept as raw little-endian bytes.
struct ExtraTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

template <class T>
struct LoadedModel {
  std::unique_ptr<XlstmLM<T>> model;  // parameters filled (vanilla sLSTM layout); options default
  ModelMeta meta;
  std::vector<ExtraTensor> extras;
  DType dtype = DType::F32;  // dtype of the stored LM tensors (that of token_embedding.weight)
};

struct SaveOptions {
  DType dtype = DType::F32;         // F32 (default), F64, BF16 or F16 for the LM tensors
  std::vector<ExtraTensor> extras;  // written after the LM tensors; names must start with kExtraPrefix
};

// Writes a model file atomically (temp file, fsync, rename). Tensor names and order are the official
// state_dict's; with tie_weights both token_embedding.weight and lm_head.weight are written (same values).
template <class T>
void save_model(const std::filesystem::path& path, const XlstmLM<T>& model, const ModelMeta& meta = {},
                const SaveOptions& opt = {});
// The file image save_model writes (for tests and in-memory use).
template <class T>
std::vector<uint8_t> serialize_model(const XlstmLM<T>& model, const ModelMeta& meta = {},
                                     const SaveOptions& opt = {});

// Reads a model file: the format tag, the model config (official schema), the other metadata fields (valid
// JSON), then EVERY tensor against the parameter table of that config: unknown and missing names, shapes,
// dtypes (any float dtype: F32, F64, F16, BF16), non-finite values. Throws xm::Error naming the file, the
// tensor or metadata field, and a hint. T is the compute type (float or double); values are converted.
template <class T>
LoadedModel<T> load_model(const std::filesystem::path& path);
template <class T>
LoadedModel<T> load_model_bytes(std::vector<uint8_t> bytes, const std::string& what);

// ---- interop with the official PyTorch xLSTMLMModel (state_dict saved with safetensors.torch) ----

// Layout of the sLSTM _recurrent_kernel_ / _bias_ in a state_dict: "vanilla" (NH, 4DH, DH) and gate-major
// bias, or "cuda" (NH, DH, 4DH) and head-major bias (official cell.py, ParameterProxy). Taken from the
// config's slstm_block.slstm.backend.
enum class SlstmLayout { vanilla, cuda };

// Copies a state_dict into model.params(): checks every name (unknown and missing), shape and dtype against
// model.table(), converts float dtypes to T and the cuda sLSTM layout to vanilla. Tensors named
// kExtraPrefix... go to *extras when extras is non-null (else they are unknown). With tie_weights
// token_embedding.weight and lm_head.weight may both be present (then equal) or either alone. Throws
// xm::Error "<what>: <first problem>
// (+N more problems)" naming the tensor, with a hint; the model's parameters are then partly overwritten.
template <class T>
void params_from_state_dict(XlstmLM<T>& model, const SafeTensors& st, SlstmLayout layout,
                            const std::string& what, std::vector<ExtraTensor>* extras = nullptr);
// Adds every state_dict tensor of model (official names and order) to w in dtype (F32, F64, BF16, F16), the
// sLSTM tensors in `layout`. With tie_weights, lm_head.weight is written as a copy of token_embedding.weight.
template <class T>
void params_to_state_dict(SafeTensorsWriter& w, const XlstmLM<T>& model, DType dtype,
                          SlstmLayout layout = SlstmLayout::vanilla);

// A model from an official state_dict file and its config (the official xLSTMLMModelConfig schema as JSON).
// The sLSTM layout follows the config's backend; the returned model's config says backend "vanilla".
template <class T>
std::unique_ptr<XlstmLM<T>> import_state_dict(const std::filesystem::path& weights, const json& config,
                                              const std::string& config_what = "model config");

// "F32" -> DType::F32 etc. for the dtypes a model file may hold (F32, F64, BF16, F16); throws naming `flag`.
DType parse_float_dtype(const std::string& s, const std::string& flag);

}  // namespace xm::model

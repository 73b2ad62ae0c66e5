// seq_model.h: the one interface every model family offers to training, evaluation, generation, benchmarks and
// the server: the xLSTM LM (official xLSTMLMModel), the note-tuple model, and the LSTM and Transformer
// baselines. float only. A family is chosen by the model config ({"family": ..., ...}); model files of any
// family are written and read here. Not the math of any family (each lives in its own files).
//
// Steps and fields: a model reads steps of fields() ids each (1 for flat tokenizers; the note-tuple tokenizer's
// fields_per_step() for the tuple model). Sequences are flat: a row of S steps is S * fields() ids, step-major.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/model_file.h"
#include "model/params.h"

namespace xm::model {

// The recurrent (or key-value-cache) generation state of a model for B independent rows.
class SeqState {
 public:
  virtual ~SeqState() = default;
  virtual int batch() const = 0;
  // Zeros row b (a new sequence in that slot); the other rows are untouched.
  virtual void reset_row(int b) = 0;
  // Row dst_row becomes a copy of row src_row of src (a state of the same model; src may be *this).
  virtual void copy_row(int dst_row, const SeqState& src, int src_row) = 0;
  // Memory held now, in bytes (for reports: constant for recurrent families, growing for a KV cache).
  virtual size_t bytes() const = 0;
  // Steps fed so far (the same for every row: rows advance together).
  virtual int64_t steps() const = 0;
};

// Called by SeqModel::next() once per field, in field order: logits (B, vocab_size()) of that field for every
// row (ids outside the field's range are -inf); the callback writes the chosen id of each row into chosen (B).
// A later field's logits may depend on the ids chosen for the earlier fields of the same step.
using PickFn = std::function<void(int field, const float* logits, int32_t* chosen)>;

class SeqModel {
 public:
  virtual ~SeqModel() = default;

  // ---- identity ----
  virtual std::string family() const = 0;  // "xlstm", "tuple", "lstm", "transformer"
  virtual int vocab_size() const = 0;      // the global id space (every field's ids lie inside it)
  virtual int fields() const { return 1; }
  virtual int context_length() const = 0;  // the training length in steps (<= 0: not set)
  // The model config as stored in model files: {"family": family(), ...family fields}; for "xlstm" the
  // official xLSTMLMModelConfig schema plus "family".
  virtual json config_json() const = 0;

  // ---- parameters (one flat buffer each, laid out by table(); table().decay_mask() groups AdamW) ----
  virtual const ParamTable& table() const = 0;
  virtual std::vector<float>& params() = 0;
  virtual const std::vector<float>& params() const = 0;
  virtual std::vector<float>& grads() = 0;
  int64_t num_params() const { return table().total(); }
  virtual void init(uint64_t seed) = 0;  // the family's initialisation, deterministic in seed
  void zero_grad() { std::fill(grads().begin(), grads().end(), 0.0f); }

  // ---- training and evaluation ----
  // Forward over B rows of L = S * fields() ids from the zero state. targets (B, L) or null: targets[b][i] is
  // the id that position i predicts (for flat models the next token; for tuples field f of the next step),
  // kIgnoreIndex = not counted. Keeps what backward() needs. Returns the mean cross-entropy (nats) over the
  // counted targets (0 when none).
  virtual double forward(const int32_t* ids, const int32_t* targets, int B, int L) = 0;
  // Backward of d_loss * (the last forward's mean loss), ACCUMULATED into grads().
  virtual void backward(double d_loss = 1.0) = 0;
  // NLL (nats) of every target of the last forward, (B, L); 0 where the target was kIgnoreIndex.
  virtual void target_nll(float* out) const = 0;
  // Optional: label smoothing of the training loss (families that do not support it throw for eps != 0).
  virtual void set_label_smoothing(double eps) = 0;

  // ---- generation ----
  virtual std::unique_ptr<SeqState> new_state(int B) const = 0;
  // Feeds S steps per row (ids (B, S * fields()), rows of state.batch()) into the state, using the fastest
  // form the family has (parallel/chunkwise prefill for many steps, one recurrent step for S == 1).
  virtual void feed(SeqState& state, const int32_t* ids, int S) const = 0;
  // The distribution of the next step after everything fed so far, field by field through pick (see PickFn).
  // Does not feed the chosen step: call feed(state, chosen, 1) for that. Needs at least one fed step.
  virtual void next(SeqState& state, const PickFn& pick) const = 0;
};

// A new model of the family named by cfg["family"] (absent: "xlstm", the official schema), parameters zero.
// vocab_size must be set in cfg. Throws xm::Error naming the field when the config is bad.
std::unique_ptr<SeqModel> make_seq_model(const json& cfg, const std::string& what = "model config");

// An xLSTM LM of the official schema, wrapped (the adapter over XlstmLM<float>).
std::unique_ptr<SeqModel> wrap_xlstm(std::unique_ptr<XlstmLM<float>> lm);
// The wrapped XlstmLM of a model of family "xlstm" (null for other families).
XlstmLM<float>* as_xlstm(SeqModel& m);

// Model files of any family. "xlstm" models are written exactly as save_model() writes them (official names;
// PyTorch interop); other families write their table() entries (names start with kExtraPrefix) as F32 (or
// opt.dtype) and the metadata keys "family" and "model_config" (= config_json()). opt.extras are appended.
void save_seq_model(const std::filesystem::path& path, const SeqModel& m, const ModelMeta& meta = {},
                    const SaveOptions& opt = {});
struct LoadedSeqModel {
  std::unique_ptr<SeqModel> model;
  ModelMeta meta;
  std::vector<ExtraTensor> extras;  // tensors outside the model's table (optimizer state of checkpoints)
  DType dtype = DType::F32;
};
// Reads a model file of any family, checking every tensor's name, shape and dtype against the family's table;
// errors name the file and the tensor or field.
LoadedSeqModel load_seq_model(const std::filesystem::path& path);

}  // namespace xm::model

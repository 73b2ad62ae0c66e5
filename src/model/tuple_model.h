// tuple_model.h: the note-tuple model (family "tuple", issue 4): each step is one note of F fields (event, shift,
// pitch, duration, velocity, program[, chord]); every field has its own embedding, the embeddings are concatenated
// and projected to the model width, the xLSTM block stack (model/blocks.h, official init) and its post-blocks norm
// run over the steps, and one head per field predicts the next step field by field, each later head seeing the
// fields already chosen. Templated on T so finite differences in double check every gradient.
// Not the tokenizer (tokens/tuples.cpp) and not the SeqModel plumbing of files (seq_model.h).
//
// The math, for step s with post-norm hidden h_s (D) and the next step's ids t_0..t_{F-1}:
//   x_s = W_in [E_0[id_0] ; ... ; E_{F-1}[id_{F-1}]]                         (concatenation, F*d -> D)
//   u_f = h_s + sum_{g<f} C_g[t_g]   (teacher forcing; an ignored t_g adds nothing)
//   logits_f = W_f u_f + b_f          over field f's own id range only
// Tensors (all "xm.tuple."-prefixed): the backbone's official names ("xm.tuple.xlstm_block_stack..."), then
// field_embedding.<name>.weight (count_f, d), in_proj.weight (D, F*d), cond_embedding.<name>.weight (count_g, D)
// for every field but the last, head.<name>.weight (count_f, D), head.<name>.bias (count_f).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "model/blocks.h"
#include "model/config.h"
#include "model/params.h"
#include "model/state.h"
#include "model/xlstm_lm.h"

namespace xm::model {

class SeqModel;

struct TupleField {
  std::string name;  // "pitch"; [a-z0-9_]+, unique
  int start = 0;     // first id of the field in the global id space
  int count = 0;     // ids of the field: [start, start + count)
};

struct TupleConfig {
  int vocab_size = -1;       // the global id space (every field lies inside it)
  int context_length = -1;   // training length in steps (<= 0: not set)
  std::vector<TupleField> fields;
  int field_embedding_dim = 32;  // d: width of each field's embedding
  XlstmConfig backbone;      // the block stack; its vocab_size/context_length mirror the above (embedding unused)

  int num_fields() const { return int(fields.size()); }
  // Checks every field (names, ranges inside vocab_size, no overlap), d >= 1, and the backbone; throws
  // xm::Error "<what>: field ..." with a hint.
  void validate(const std::string& what = "tuple model config");
};

// {"family": "tuple", "vocab_size", "context_length", "fields": [{"name","start","count"}...],
//  "field_embedding_dim", "backbone": {official xLSTMLMModelConfig}}. vocab_size may be left out (then the end of
// the last field); the backbone's vocab_size and context_length are ignored (the top-level ones win).
TupleConfig tuple_config_from_json(const json& j, const std::string& what = "tuple model config");
json tuple_config_to_json(const TupleConfig& c);
// The fields of a tokenizer vocabulary (Tokenizer::vocab_json(): its "fields" array); throws naming what when the
// vocabulary has none (a flat tokenizer).
std::vector<TupleField> tuple_fields_from_vocab(const json& vocab, const std::string& what);

template <class T>
struct TupleView {
  LmView<T> backbone;        // blocks and post norm (embedding and head are empty)
  std::vector<T*> field_emb;  // per field (count_f, d)
  T* in_proj = nullptr;       // (D, F*d)
  std::vector<T*> cond_emb;   // per field but the last (count_g, D)
  std::vector<T*> head_w;     // per field (count_f, D)
  std::vector<T*> head_b;     // per field (count_f)
};

template <class T>
struct TupleCache {
  int B = 0, S = 0;                             // rows, steps
  std::vector<int32_t> ids, targets;            // (B, S*F); targets empty when the forward had none
  std::vector<T> x;                             // (N, F*d) concatenated field embeddings
  std::vector<std::vector<T>> resid;            // num_blocks + 1 streams (N, D); resid[0] = W_in x
  std::vector<MlstmBlockCache<T>> mlstm;
  std::vector<SlstmBlockCache<T>> slstm;
  std::vector<T> post, post_mean, post_rstd;    // (N, D): h, and the norm's stats
  std::vector<std::vector<T>> logits, logp;     // per field (N, count_f): local logits, log-softmax
  std::vector<std::vector<int32_t>> local_tgt;  // per field (N): target - start_f, or kIgnoreIndex
  std::vector<int64_t> counts;                  // per field: counted targets
  double loss = 0;
  int64_t count = 0;
  bool from_state = false;
  Workspace<T> ws;
};

template <class T>
class TupleLM {
 public:
  explicit TupleLM(const TupleConfig& cfg, LmOptions opt = {});  // validates; parameters and gradients zero

  const TupleConfig& config() const { return cfg_; }
  const ParamTable& table() const { return table_; }
  LmOptions& options() { return opt_; }
  int fields() const { return cfg_.num_fields(); }
  std::vector<T>& params() { return params_; }
  const std::vector<T>& params() const { return params_; }
  std::vector<T>& grads() { return grads_; }
  void init(uint64_t seed);  // backbone: the official init; field tensors: small_init, biases 0
  void zero_grad();

  // Training forward over B rows of S steps (ids (B, S*F), each id inside its field's range) from the zero
  // state. targets (B, S*F) or null: targets[b][s*F + f] is field f of step s+1 (kIgnoreIndex: not counted).
  // Logits of field f land in c.logits[f] (B*S, count_f). Returns the mean cross-entropy over all counted
  // targets of all fields. Throws xm::Error naming row, step and field for an id outside its field.
  double forward(TupleCache<T>& c, const int32_t* ids, const int32_t* targets, int B, int S) const;
  // Backward of d_loss * loss of the last forward (which had targets); ACCUMULATES into grads().
  void backward(TupleCache<T>& c, double d_loss = 1.0);

  // Generation: S steps per row (ids (B, S*F)) from `state` (zero or carried); h (B, D) gets the post-norm
  // hidden of the last step. S == 1 uses the one-step recurrent form, S > 1 the prefill form.
  void feed(TupleCache<T>& c, LmState<T>& state, T* h, const int32_t* ids, int S) const;
  // Local logits (B, count_f) of field f from h (B, D) and chosen (B, F): the ids already chosen for the fields
  // before f (each inside its field's range).
  void head(T* logits, const T* h, const int32_t* chosen, int f, int B, Workspace<T>& ws) const;
  LmState<T> new_state(int B) const { return LmState<T>(cfg_.backbone, B); }

 private:
  void hidden(TupleCache<T>& c, const int32_t* ids, int B, int S, LmState<T>* state) const;
  // u (N, D) = h + sum_{g<f} C_g[t_g] for rows with given tuple (stride F); ignored ids add nothing.
  void head_input(T* u, const T* h, const int32_t* tuple, int f, int N) const;
  TupleConfig cfg_;
  LmOptions opt_;
  ParamTable table_;       // exposed names ("xm.tuple....")
  ParamTable view_table_;  // the backbone's official names over the same buffer start (embedding and head empty)
  std::vector<BlockType> types_;
  std::vector<T> params_, grads_;
  TupleView<T> pv_, gv_;
};

// The family factory's entry (make_seq_model with "family": "tuple").
std::unique_ptr<SeqModel> make_tuple_model(const json& cfg, const std::string& what);
// The wrapped TupleLM of a model of family "tuple" (null for other families).
TupleLM<float>* as_tuple(SeqModel& m);

}  // namespace xm::model

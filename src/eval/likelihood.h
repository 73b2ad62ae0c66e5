// likelihood.h: the likelihood of a model (any family behind model::SeqModel) on a split of a prepared corpus:
// NLL per token, perplexity, bits per note and per second, overall and per genre, and NLL by position in the
// sequence (for length extrapolation). Not training (train/) and not the music metrics (metrics.h).
//
// Every piece of the split is run from the start of its sequence, control prefix included; the prefix tokens
// are given, not predicted, and every body token is predicted exactly once. Two ways through long pieces:
// - carry (family "xlstm"): the recurrent state is carried from one window of `seq` steps to the next, so each
//   token is predicted from the whole piece before it (the same numbers as one forward over the whole piece);
// - windows (every family; --no-carry): windows of seq+1 steps as train::WindowLoader::fixed_windows makes them,
//   each from the zero state and starting with the piece's control prefix.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "data/corpus.h"
#include "model/seq_model.h"

namespace xm::eval {

struct LikelihoodOptions {
  data::Split split = data::Split::Valid;
  int seq = 0;              // steps per window; 0: the model's context_length (256 when it has none)
  int64_t max_pieces = 0;   // > 0: only the first N pieces of the split (index order)
  int64_t positions = 0;    // > 0: pieces cut to this many steps (prefix included); position buckets up to it
  int bucket = 64;          // steps per position bucket
  bool carry_state = true;  // carry the state across windows where the family allows (see above)
  int batch = 8;            // rows per forward
  // After each batch: (done, total) in pieces (carry) or windows (windows mode).
  std::function<void(int64_t done, int64_t total)> progress;
};

// NLL totals of a group of pieces and the figures derived from them.
struct NllTotals {
  int64_t pieces = 0;
  int64_t tokens = 0;   // predicted tokens (ids) counted
  double nll = 0;       // summed NLL, nats
  int64_t notes = 0;    // notes of the pieces (index.json; decoded from the evaluated tokens when cut short)
  double seconds = 0;   // their length in seconds (likewise)
  double nll_per_token() const;    // nll / tokens
  double perplexity() const;       // exp(nll_per_token)
  double bits_per_note() const;    // nll / ln 2 / notes
  double bits_per_second() const;  // nll / ln 2 / seconds
  void add(const NllTotals& o);
};

struct PositionBucket {
  int64_t from = 0, to = 0;  // steps [from, to]; to = -1: open-ended (from and beyond)
  int64_t tokens = 0;
  double nll = 0;
  bool beyond_context = false;  // from >= the model's context_length
};

struct PieceNll {
  const data::PieceInfo* piece = nullptr;
  NllTotals totals;   // pieces = 1
  int64_t steps = 0;  // evaluated steps (prefix included)
  bool cut = false;   // cut to LikelihoodOptions::positions
};

struct LikelihoodReport {
  std::string family;
  int vocab_size = 0, context_length = 0, fields = 1;
  int64_t num_params = 0;
  std::string corpus;
  std::string split;
  std::string mode;  // "carry" or "windows"
  int seq = 0;
  int64_t positions = 0;
  int bucket = 64;
  NllTotals overall;
  std::map<std::string, NllTotals> genres;  // "" -> "(none)"
  std::vector<PositionBucket> by_position;
  std::vector<PieceNll> pieces;
  int64_t skipped_pieces = 0;  // no body tokens after the prefix
  double elapsed_s = 0;
};

// Checks that the model can read the corpus: vocabulary sizes (both named), fields per step, tokenizer name
// (when the model file records one). Throws xm::Error with a hint.
void check_model_matches_corpus(const model::SeqModel& m, const json& model_tokenizer, const data::Corpus& corpus,
                                const std::string& model_what);

// Runs the evaluation. Throws xm::Error when the split has no pieces (naming the split and the corpus, with the
// counts of each split), when seq leaves no room after a prefix, or on a vocabulary mismatch.
LikelihoodReport evaluate_likelihood(model::SeqModel& m, const data::Corpus& corpus, const LikelihoodOptions& opt);

json to_json(const LikelihoodReport& r);
std::string to_text(const LikelihoodReport& r);

}  // namespace xm::eval

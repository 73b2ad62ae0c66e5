// loader.h: training windows over a prepared corpus: random windows of S+1 steps from a split's sequences
// (a pure function of seed, step and micro-batch, so a resumed run draws exactly the batches it would have
// drawn), each beginning with its piece's control prefix (BOS, genre, mood, key, tempo) even when taken from
// the middle of the piece; and the fixed windows of a validation pass. A step is one token for flat tokenizers
// and fields_per_step() ids (one note tuple) for the note-tuple tokenizer: windows start on step boundaries and
// the targets are the next step's fields. Not the training loop (trainer.h).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/corpus.h"
#include "tokens/tokenizer.h"

namespace xm::train {

// One sequence of a split as the loader sees it: its tokens split into the control prefix and the body.
struct LoaderSequence {
  const data::PieceInfo* piece = nullptr;
  data::TokenView tokens;        // the whole sequence (prefix + body), in ids
  std::vector<int32_t> prefix;   // the control prefix it starts with (BOS and control steps), maybe empty
  std::string genre;             // the piece's genre tag ("" = none)
};

// A window: its sequence and the step where its body part starts (0 = the piece's start).
struct WindowRef {
  uint32_t sequence = 0;
  uint64_t body_start = 0;  // in steps (= tokens for flat tokenizers)
};

// Windows of S+1 steps: prefix, then body steps from body_start, then padding steps. Input ids are the first S
// steps, targets the last S (target i = the id F positions later: the same field of the next step). Targets
// that are not counted (model::kIgnoreIndex), whole steps at a time: control-prefix steps (conditioning is
// given, not predicted), padding, and, for a window that starts inside a piece, the first body step (it cannot
// follow from the prefix alone).
class WindowLoader {
 public:
  // originals_only: leave out the transposed copies. Throws xm::Error when a sequence's prefix leaves no room
  // for music in S+1 steps (naming the piece and --seq) or a sequence is not whole steps.
  WindowLoader(const data::Corpus& corpus, data::Split split, const tokens::Tokenizer& tok, int S,
               bool originals_only = false);

  int seq() const { return S_; }         // steps per window (inputs)
  int fields() const { return F_; }      // ids per step
  int row() const { return S_ * F_; }    // ids per window row (inputs, and targets)
  bool empty() const { return seqs_.empty(); }
  const std::vector<LoaderSequence>& sequences() const { return seqs_; }
  uint64_t body_steps() const { return total_body_; }                 // music steps (prefixes not counted)
  uint64_t body_tokens() const { return total_body_ * uint64_t(F_); }  // music ids

  // Fills the inputs and targets of a window: ids (S*F), targets (S*F).
  void fill(const WindowRef& w, int32_t* ids /* (S*F) */, int32_t* targets /* (S*F) */) const;

  // B random windows for (seed, step, micro): a sequence drawn with probability proportional to its body
  // length, then a start uniform over the positions that keep the window inside it. Deterministic.
  std::vector<WindowRef> sample(uint64_t seed, int64_t step, int micro, int B) const;
  void sample_batch(uint64_t seed, int64_t step, int micro, int B, int32_t* ids /* (B, S*F) */,
                    int32_t* targets /* (B, S*F) */) const;

  // Fixed windows covering every sequence in index order, each body step predicted exactly once; at most
  // max_windows (evenly spaced over the full list when there are more; 0 = all).
  std::vector<WindowRef> fixed_windows(size_t max_windows) const;

 private:
  int S_ = 0, F_ = 1;
  std::vector<int32_t> pad_;        // one padding step (F ids)
  std::vector<LoaderSequence> seqs_;
  std::vector<uint64_t> cum_body_;  // cumulative body lengths in steps (for weighted sampling)
  uint64_t total_body_ = 0;
};

}  // namespace xm::train

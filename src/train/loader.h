// loader.h: training windows over a prepared corpus: random windows of S+1 tokens from a split's sequences
// (a pure function of seed, step and micro-batch, so a resumed run draws exactly the batches it would have
// drawn), each beginning with its piece's control prefix (BOS, genre, mood, key, tempo) even when taken from
// the middle of the piece; and the fixed windows of a validation pass. Not the training loop (trainer.h).
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
  data::TokenView tokens;        // the whole sequence (prefix + body)
  std::vector<int32_t> prefix;   // the control prefix it starts with (BOS and control tokens), maybe empty
  std::string genre;             // the piece's genre tag ("" = none)
};

// A window: its sequence and where its body part starts (0 = the piece's start).
struct WindowRef {
  uint32_t sequence = 0;
  uint64_t body_start = 0;
};

// Windows of S+1 tokens: prefix, then body tokens from body_start, then padding. Input ids are the first S,
// targets the last S. Targets that are not counted (model::kIgnoreIndex): control-prefix tokens (conditioning
// is given, not predicted), padding, and, for a window that starts inside a piece, the first body token (it
// cannot follow from the prefix alone).
class WindowLoader {
 public:
  // originals_only: leave out the transposed copies. Throws xm::Error when a sequence's prefix leaves no room
  // for music in S+1 tokens (naming the piece and --seq) or the corpus is not a flat token stream.
  WindowLoader(const data::Corpus& corpus, data::Split split, const tokens::Tokenizer& tok, int S,
               bool originals_only = false);

  int seq() const { return S_; }
  bool empty() const { return seqs_.empty(); }
  const std::vector<LoaderSequence>& sequences() const { return seqs_; }
  uint64_t body_tokens() const { return total_body_; }  // music tokens (prefixes not counted)

  // Fills ids (S+1 tokens of the window, then cut by the caller) for a window.
  // ids: (S) inputs, targets: (S).
  void fill(const WindowRef& w, int32_t* ids /* (S) */, int32_t* targets /* (S) */) const;

  // B random windows for (seed, step, micro): a sequence drawn with probability proportional to its body
  // length, then a start uniform over the positions that keep the window inside it. Deterministic.
  std::vector<WindowRef> sample(uint64_t seed, int64_t step, int micro, int B) const;
  void sample_batch(uint64_t seed, int64_t step, int micro, int B, int32_t* ids /* (B, S) */,
                    int32_t* targets /* (B, S) */) const;

  // Fixed windows covering every sequence in index order, each body token predicted exactly once; at most
  // max_windows (evenly spaced over the full list when there are more; 0 = all).
  std::vector<WindowRef> fixed_windows(size_t max_windows) const;

 private:
  int S_ = 0;
  int32_t pad_ = 0;
  std::vector<LoaderSequence> seqs_;
  std::vector<uint64_t> cum_body_;  // cumulative body lengths (for weighted sampling)
  uint64_t total_body_ = 0;
};

}  // namespace xm::train

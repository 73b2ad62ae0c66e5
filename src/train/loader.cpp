// loader.cpp: see loader.h. Window sampling and filling over the mmapped token views.
// Not the loop, the evaluation arithmetic or any file writing.
#include "train/loader.h"

#include <algorithm>

#include "core/error.h"
#include "model/xlstm_lm.h"
#include "nn/rng.h"

namespace xm::train {

namespace {
// A well-mixed 64-bit seed from (seed, step, micro): each batch has its own independent stream.
uint64_t mix_seed(uint64_t seed, int64_t step, int micro) {
  auto sm = [](uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  return sm(sm(sm(seed) ^ uint64_t(step)) ^ (uint64_t(uint32_t(micro)) << 1));
}
}  // namespace

WindowLoader::WindowLoader(const data::Corpus& corpus, data::Split split, const tokens::Tokenizer& tok, int S,
                           bool originals_only)
    : S_(S) {
  if (S < 2) throw Error("training window: --seq " + std::to_string(S) + " is too short (at least 2)");
  if (corpus.fields_per_step() != 1)
    throw Error("corpus " + corpus.dir().string() + " uses the '" + corpus.tokenizer_name() + "' tokenizer with " +
                std::to_string(corpus.fields_per_step()) +
                " fields per step; the xLSTM LM trains on flat token streams (hint: prepare the corpus with "
                "--tokenizer remi, performance or jsb)");
  pad_ = tok.pad_id() >= 0 ? tok.pad_id() : 0;
  for (const data::SequenceRef& r : corpus.sequences(split, originals_only)) {
    LoaderSequence s;
    s.piece = r.piece;
    s.tokens = corpus.tokens(*r.sequence);
    s.genre = r.piece->genre;
    // The control prefix the sequence was written with: read the controls back, rebuild the prefix, and
    // accept it only when the sequence really starts with it (a corpus without conditioning may not).
    std::vector<int32_t> head(std::min<size_t>(s.tokens.size(), 32));
    for (size_t i = 0; i < head.size(); ++i) head[i] = s.tokens[i];
    std::vector<int32_t> pre = tok.control_prefix(tok.read_conditioning(head));
    if (pre.size() <= head.size() && std::equal(pre.begin(), pre.end(), head.begin())) s.prefix = pre;
    if (s.tokens.size() <= s.prefix.size()) continue;  // no music in it
    if (int(s.prefix.size()) + 2 > S + 1)
      throw Error("training window: --seq " + std::to_string(S) + " leaves no room for music after the " +
                  std::to_string(s.prefix.size()) + " control tokens of " + r.piece->source +
                  " (hint: use a longer --seq)");
    total_body_ += s.tokens.size() - s.prefix.size();
    cum_body_.push_back(total_body_);
    seqs_.push_back(std::move(s));
  }
}

void WindowLoader::fill(const WindowRef& w, int32_t* ids, int32_t* targets) const {
  const LoaderSequence& s = seqs_.at(w.sequence);
  const size_t P = s.prefix.size(), L = s.tokens.size();
  std::vector<int32_t> win(size_t(S_) + 1, pad_);
  std::vector<uint8_t> counted(size_t(S_) + 1, 0);  // may this token be a target
  for (size_t i = 0; i < P; ++i) win[i] = s.prefix[i];
  for (size_t i = P, j = P + w.body_start; i < win.size() && j < L; ++i, ++j) {
    win[i] = s.tokens[j];
    counted[i] = 1;
  }
  if (w.body_start > 0 && P > 0) counted[P] = 0;  // a mid-piece start does not follow from the prefix
  for (int t = 0; t < S_; ++t) {
    ids[t] = win[size_t(t)];
    targets[t] = counted[size_t(t) + 1] ? win[size_t(t) + 1] : model::kIgnoreIndex;
  }
}

std::vector<WindowRef> WindowLoader::sample(uint64_t seed, int64_t step, int micro, int B) const {
  if (seqs_.empty()) throw Error("training window: the split has no tokens to sample");
  nn::Rng rng(mix_seed(seed, step, micro));
  std::vector<WindowRef> out(static_cast<size_t>(B));
  for (auto& w : out) {
    const uint64_t u = rng.below(total_body_);
    const size_t i = size_t(std::upper_bound(cum_body_.begin(), cum_body_.end(), u) - cum_body_.begin());
    const LoaderSequence& s = seqs_[i];
    const uint64_t body = s.tokens.size() - s.prefix.size();
    const uint64_t span = uint64_t(S_) + 1 - s.prefix.size();  // body tokens a window holds
    const uint64_t last_start = body > span ? body - span : 0;
    w.sequence = uint32_t(i);
    w.body_start = rng.below(last_start + 1);
  }
  return out;
}

void WindowLoader::sample_batch(uint64_t seed, int64_t step, int micro, int B, int32_t* ids,
                                int32_t* targets) const {
  std::vector<WindowRef> w = sample(seed, step, micro, B);
  for (int b = 0; b < B; ++b) fill(w[size_t(b)], ids + size_t(b) * S_, targets + size_t(b) * S_);
}

std::vector<WindowRef> WindowLoader::fixed_windows(size_t max_windows) const {
  std::vector<WindowRef> all;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    const LoaderSequence& s = seqs_[i];
    const uint64_t body = s.tokens.size() - s.prefix.size();
    const uint64_t span = uint64_t(S_) + 1 - s.prefix.size();
    // Consecutive windows overlap by one body token: the last target of one is the (uncounted) first body
    // token of the next, so every body token is predicted once.
    for (uint64_t b = 0;; b += span - 1) {
      all.push_back({uint32_t(i), b});
      if (b + span >= body) break;
    }
  }
  if (max_windows == 0 || all.size() <= max_windows) return all;
  std::vector<WindowRef> picked;
  for (size_t k = 0; k < max_windows; ++k) picked.push_back(all[k * all.size() / max_windows]);
  return picked;
}

}  // namespace xm::train

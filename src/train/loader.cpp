// loader.cpp: see loader.h. Window sampling and filling over the mmapped token views, in steps of F ids.
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
    : S_(S), F_(std::max(1, corpus.fields_per_step())) {
  if (S < 2) throw Error("training window: --seq " + std::to_string(S) + " is too short (at least 2)");
  pad_ = tok.pad_step();
  if (F_ == 1) pad_ = {tok.pad_id() >= 0 ? tok.pad_id() : 0};
  if (int(pad_.size()) != F_)
    throw Error("corpus " + corpus.dir().string() + ": the tokenizer's padding step has " +
                std::to_string(pad_.size()) + " ids, but the corpus has " + std::to_string(F_) + " fields per step");
  const size_t F = size_t(F_);
  for (const data::SequenceRef& r : corpus.sequences(split, originals_only)) {
    LoaderSequence s;
    s.piece = r.piece;
    s.tokens = corpus.tokens(*r.sequence);
    s.genre = r.piece->genre;
    if (s.tokens.size() % F)
      throw Error("corpus " + corpus.dir().string() + ": the sequence of " + r.piece->source + " holds " +
                  std::to_string(s.tokens.size()) + " ids, not a whole number of " + std::to_string(F) +
                  "-id steps (hint: prepare the corpus again)");
    // The control prefix the sequence was written with: read the controls back, rebuild the prefix, and
    // accept it only when the sequence really starts with it (a corpus without conditioning may not).
    std::vector<int32_t> head(std::min<size_t>(s.tokens.size(), 32 * F));
    for (size_t i = 0; i < head.size(); ++i) head[i] = s.tokens[i];
    std::vector<int32_t> pre = tok.control_prefix(tok.read_conditioning(head));
    if (pre.size() % F == 0 && pre.size() <= head.size() && std::equal(pre.begin(), pre.end(), head.begin()))
      s.prefix = pre;
    if (s.tokens.size() <= s.prefix.size()) continue;  // no music in it
    const size_t P = s.prefix.size() / F;
    if (int(P) + 2 > S + 1)
      throw Error("training window: --seq " + std::to_string(S) + " leaves no room for music after the " +
                  std::to_string(P) + (F > 1 ? " control steps of " : " control tokens of ") + r.piece->source +
                  " (hint: use a longer --seq)");
    total_body_ += (s.tokens.size() - s.prefix.size()) / F;
    cum_body_.push_back(total_body_);
    seqs_.push_back(std::move(s));
  }
}

void WindowLoader::fill(const WindowRef& w, int32_t* ids, int32_t* targets) const {
  const LoaderSequence& s = seqs_.at(w.sequence);
  const size_t F = size_t(F_), P = s.prefix.size() / F, L = s.tokens.size() / F;  // in steps
  const size_t steps = size_t(S_) + 1;
  std::vector<int32_t> win(steps * F);
  std::vector<uint8_t> counted(steps, 0);  // may this step be a target
  for (size_t i = 0; i < steps; ++i) std::copy(pad_.begin(), pad_.end(), win.begin() + i * F);
  std::copy(s.prefix.begin(), s.prefix.end(), win.begin());
  for (size_t i = P, j = P + w.body_start; i < steps && j < L; ++i, ++j) {
    for (size_t f = 0; f < F; ++f) win[i * F + f] = s.tokens[j * F + f];
    counted[i] = 1;
  }
  if (w.body_start > 0 && P > 0) counted[P] = 0;  // a mid-piece start does not follow from the prefix
  const size_t n = size_t(S_) * F;
  for (size_t t = 0; t < n; ++t) {
    ids[t] = win[t];
    targets[t] = counted[t / F + 1] ? win[t + F] : model::kIgnoreIndex;
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
    const uint64_t body = (s.tokens.size() - s.prefix.size()) / uint64_t(F_);  // in steps
    const uint64_t span = uint64_t(S_) + 1 - s.prefix.size() / uint64_t(F_);  // body steps a window holds
    const uint64_t last_start = body > span ? body - span : 0;
    w.sequence = uint32_t(i);
    w.body_start = rng.below(last_start + 1);
  }
  return out;
}

void WindowLoader::sample_batch(uint64_t seed, int64_t step, int micro, int B, int32_t* ids,
                                int32_t* targets) const {
  std::vector<WindowRef> w = sample(seed, step, micro, B);
  const size_t n = size_t(row());
  for (int b = 0; b < B; ++b) fill(w[size_t(b)], ids + size_t(b) * n, targets + size_t(b) * n);
}

std::vector<WindowRef> WindowLoader::fixed_windows(size_t max_windows) const {
  std::vector<WindowRef> all;
  for (size_t i = 0; i < seqs_.size(); ++i) {
    const LoaderSequence& s = seqs_[i];
    const uint64_t body = (s.tokens.size() - s.prefix.size()) / uint64_t(F_);  // in steps
    const uint64_t span = uint64_t(S_) + 1 - s.prefix.size() / uint64_t(F_);
    // Consecutive windows overlap by one body step: the last target of one is the (uncounted) first body
    // step of the next, so every body step is predicted once.
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

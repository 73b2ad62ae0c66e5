// flat_seq_model.h: the SeqModel adapter shared by the single-field baselines (LSTM and Transformer): their LM
// class (forward / backward / feed over flat token ids) and their generation cache behind SeqModel and
// SeqState. Internal to src/model; not the families' math, and not the xLSTM or note-tuple adapters.
//
// A family supplies Traits: `using LM` (the float LM, constructible from its config, with forward, backward,
// target_nll, set_label_smoothing, feed(cache, ids, S, logits)), `using Cache` (with members B, reset_row(b),
// copy_row(dst, src, src_row), bytes()), `static constexpr const char* kFamily`, `static json
// config_json(const LM&)` and `static Cache new_cache(const LM&, int B)`.
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/seq_model.h"

namespace xm::model {

template <class Cache>
struct FlatSeqState final : SeqState {
  Cache cache;
  std::vector<float> logits;  // (B, V) after the last fed step
  int V = 0;
  int64_t n = 0;
  int batch() const override { return cache.B; }
  void reset_row(int b) override {
    cache.reset_row(b);  // checks b
    std::fill_n(logits.begin() + size_t(b) * V, V, 0.0f);
  }
  void copy_row(int dst, const SeqState& src, int src_row) override {
    const auto* s = dynamic_cast<const FlatSeqState*>(&src);
    if (!s) throw Error("copy_row: the source state belongs to another model family");
    if (s->V != V) throw Error("copy_row: the source state belongs to a model of another vocabulary");
    cache.copy_row(dst, s->cache, src_row);  // checks the shapes and both rows
    if (s != this || dst != src_row)
      std::copy_n(s->logits.begin() + size_t(src_row) * V, V, logits.begin() + size_t(dst) * V);
    n = s->n;  // rows advance together
  }
  size_t bytes() const override { return cache.bytes() + logits.size() * sizeof(float); }
  int64_t steps() const override { return n; }
};

template <class Traits>
class FlatSeqModel final : public SeqModel {
  using LM = typename Traits::LM;
  using State = FlatSeqState<typename Traits::Cache>;

 public:
  template <class Config>
  explicit FlatSeqModel(const Config& c) : lm_(c) {}
  std::string family() const override { return Traits::kFamily; }
  int vocab_size() const override { return lm_.config().vocab_size; }
  int context_length() const override { return lm_.config().context_length; }
  json config_json() const override { return Traits::config_json(lm_); }
  const ParamTable& table() const override { return lm_.table(); }
  std::vector<float>& params() override { return lm_.params(); }
  const std::vector<float>& params() const override { return lm_.params(); }
  std::vector<float>& grads() override { return lm_.grads(); }
  void init(uint64_t seed) override { lm_.init(seed); }
  double forward(const int32_t* ids, const int32_t* targets, int B, int L) override {
    return lm_.forward(ids, targets, B, L);
  }
  void backward(double d_loss) override { lm_.backward(d_loss); }
  void target_nll(float* out) const override { lm_.target_nll(out); }
  void set_label_smoothing(double eps) override {
    if (!(eps >= 0.0 && eps < 1.0)) throw Error("label smoothing " + std::to_string(eps) + " is outside [0, 1)");
    lm_.set_label_smoothing(eps);
  }
  std::unique_ptr<SeqState> new_state(int B) const override {
    if (B <= 0) throw Error("new_state: batch " + std::to_string(B) + " must be positive");
    auto s = std::make_unique<State>();
    s->cache = Traits::new_cache(lm_, B);
    s->V = vocab_size();
    s->logits.assign(size_t(B) * size_t(s->V), 0.0f);
    return s;
  }
  void feed(SeqState& state, const int32_t* ids, int S) const override {
    State& s = own(state, "feed");
    if (S <= 0) return;
    lm_.feed(s.cache, ids, S, s.logits.data());
    s.n += S;
  }
  void next(SeqState& state, const PickFn& pick) const override {
    State& s = own(state, "next");
    if (s.n == 0) throw Error("next: feed at least one step (a BOS or control token) first");
    std::vector<int32_t> chosen(size_t(s.batch()));
    pick(0, s.logits.data(), chosen.data());
  }

 private:
  static State& own(SeqState& state, const char* what) {
    auto* s = dynamic_cast<State*>(&state);
    if (!s) throw Error(std::string(what) + ": the state belongs to another model family");
    return *s;
  }
  LM lm_;
};

}  // namespace xm::model

// tuple_model.cpp: see tuple_model.h. Config, parameter table, forward/backward of the note-tuple model, its
// recurrent feed and per-field heads, and the SeqModel adapter. Not the blocks' internals (mlstm_block.cpp,
// slstm_block.cpp) nor model files (seq_model.cpp).
#include "model/tuple_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "core/error.h"
#include "model/init.h"
#include "model/seq_model.h"
#include "nn/ops.h"
#include "nn/rng.h"

namespace xm::model {

namespace {
constexpr const char* kPrefix = "xm.tuple.";

bool good_name(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
  return true;
}
}  // namespace

// ------------------------------------------------------------------------------------------------ config
void TupleConfig::validate(const std::string& what) {
  if (fields.empty()) throw Error(what + ": field \"fields\" is empty (hint: take it from a note-tuple vocabulary)");
  if (field_embedding_dim < 1)
    throw Error(what + ": field \"field_embedding_dim\" is " + std::to_string(field_embedding_dim) + "; use at least 1");
  if (vocab_size <= 0) {
    for (const auto& f : fields) vocab_size = std::max(vocab_size, f.start + f.count);
  }
  std::set<std::string> names;
  std::vector<std::pair<int, int>> spans;
  for (size_t i = 0; i < fields.size(); ++i) {
    const TupleField& f = fields[i];
    const std::string at = what + ": fields[" + std::to_string(i) + "]";
    if (!good_name(f.name))
      throw Error(at + ": name \"" + f.name + "\" must be 1 to 64 characters of a-z, 0-9, _");
    if (!names.insert(f.name).second) throw Error(at + ": name \"" + f.name + "\" appears twice");
    if (f.start < 0 || f.count < 1 || int64_t(f.start) + f.count > vocab_size)
      throw Error(at + " (" + f.name + "): ids [" + std::to_string(f.start) + ", " +
                  std::to_string(int64_t(f.start) + f.count) + ") do not lie inside the vocabulary [0, " +
                  std::to_string(vocab_size) + ") (hint: vocab_size and fields must come from one tokenizer)");
    spans.push_back({f.start, f.start + f.count});
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second)
      throw Error(what + ": the id ranges of two fields overlap at id " + std::to_string(spans[i].first) +
                  " (each field needs its own ids)");
  backbone.vocab_size = vocab_size;
  backbone.context_length = context_length;
  if (backbone.slstm) backbone.slstm->backend = "vanilla";
  try {
    backbone.validate();
  } catch (const Error& e) {
    throw Error(what + ": backbone: " + e.what());
  }
}

TupleConfig tuple_config_from_json(const json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  TupleConfig c;
  if (j.contains("family") && j["family"] != "tuple")
    throw Error(what + ": field \"family\" is " + j["family"].dump() + ", not \"tuple\"");
  c.vocab_size = json_get_or<int>(j, "vocab_size", -1, what);
  c.context_length = json_get_or<int>(j, "context_length", -1, what);
  c.field_embedding_dim = json_get_or<int>(j, "field_embedding_dim", 32, what);
  const json fields = json_get<json>(j, "fields", what);
  if (!fields.is_array()) throw Error(what + ": field \"fields\" is not an array");
  for (size_t i = 0; i < fields.size(); ++i) {
    const std::string at = what + ": fields[" + std::to_string(i) + "]";
    if (!fields[i].is_object()) throw Error(at + " is not an object {\"name\", \"start\", \"count\"}");
    TupleField f;
    f.name = json_get<std::string>(fields[i], "name", at);
    f.start = json_get<int>(fields[i], "start", at);
    f.count = json_get<int>(fields[i], "count", at);
    c.fields.push_back(f);
  }
  json bb = json_get<json>(j, "backbone", what);
  if (!bb.is_object()) throw Error(what + ": field \"backbone\" is not an object (the official xLSTM schema)");
  int end = 0;
  for (const auto& f : c.fields) end = std::max(end, f.start + f.count);
  bb["vocab_size"] = std::max({c.vocab_size, end, 1});
  bb["context_length"] = c.context_length;
  try {
    c.backbone = config_from_json(bb, what + ": backbone");
  } catch (const Error& e) {
    const std::string msg = e.what();
    throw Error(msg.rfind(what, 0) == 0 ? msg : what + ": backbone: " + msg);
  }
  c.validate(what);
  return c;
}

json tuple_config_to_json(const TupleConfig& c) {
  json fields = json::array();
  for (const auto& f : c.fields) fields.push_back({{"name", f.name}, {"start", f.start}, {"count", f.count}});
  XlstmConfig bb = c.backbone;
  if (bb.slstm) bb.slstm->backend = "vanilla";
  return {{"family", "tuple"},
          {"vocab_size", c.vocab_size},
          {"context_length", c.context_length},
          {"fields", fields},
          {"field_embedding_dim", c.field_embedding_dim},
          {"backbone", json::parse(config_to_json(bb).dump())}};
}

std::vector<TupleField> tuple_fields_from_vocab(const json& vocab, const std::string& what) {
  if (!vocab.is_object() || !vocab.contains("fields") || !vocab["fields"].is_array() || vocab["fields"].empty())
    throw Error(what + ": the vocabulary has no \"fields\" (the tuple model needs a note-tuple corpus; hint: "
                "prepare it with --tokenizer tuples)");
  std::vector<TupleField> out;
  for (size_t i = 0; i < vocab["fields"].size(); ++i) {
    const json& f = vocab["fields"][i];
    const std::string at = what + ": fields[" + std::to_string(i) + "]";
    out.push_back({json_get<std::string>(f, "name", at), json_get<int>(f, "start", at), json_get<int>(f, "count", at)});
  }
  return out;
}

// ------------------------------------------------------------------------------------------------ the model
template <class T>
TupleLM<T>::TupleLM(const TupleConfig& cfg, LmOptions opt) : cfg_(cfg), opt_(opt) {
  cfg_.validate();
  const XlstmConfig& bb = cfg_.backbone;
  types_ = bb.block_types();
  const int64_t D = bb.embedding_dim, d = cfg_.field_embedding_dim, F = cfg_.num_fields();
  // The backbone's entries (blocks and post norm come first in the official order), then the field tensors.
  std::vector<ParamEntry> view, mine;
  const ParamTable full(bb);
  for (const ParamEntry& e : full.entries()) {
    if (e.name == "token_embedding.weight" || e.name == "lm_head.weight") continue;
    ParamEntry o;
    o.name = e.name, o.shape = e.shape, o.decay = e.decay;
    view.push_back(o);
    o.name = kPrefix + e.name;
    mine.push_back(o);
  }
  for (const char* n : {"token_embedding.weight", "lm_head.weight"}) view.push_back({n, {0}, 0, 0, false});
  const bool emb_decay = bb.weight_decay_on_embedding;
  auto add = [&](const std::string& n, std::vector<int64_t> shape, bool decay) {
    mine.push_back({kPrefix + n, std::move(shape), 0, 0, decay});
  };
  for (const auto& f : cfg_.fields) add("field_embedding." + f.name + ".weight", {f.count, d}, emb_decay);
  add("in_proj.weight", {D, F * d}, true);
  for (int g = 0; g + 1 < F; ++g)
    add("cond_embedding." + cfg_.fields[size_t(g)].name + ".weight", {cfg_.fields[size_t(g)].count, D}, emb_decay);
  for (const auto& f : cfg_.fields) {
    add("head." + f.name + ".weight", {f.count, D}, true);
    add("head." + f.name + ".bias", {f.count}, false);
  }
  table_ = ParamTable(std::move(mine));
  view_table_ = ParamTable(std::move(view));
  params_.assign(size_t(table_.total()), T(0));
  grads_.assign(size_t(table_.total()), T(0));
  for (auto* pair : {&pv_, &gv_}) {
    T* base = (pair == &pv_ ? params_ : grads_).data();
    TupleView<T>& v = *pair;
    v.backbone = make_view(view_table_, bb, base);
    v.backbone.embedding = v.backbone.head = nullptr;
    auto at = [&](const std::string& n) { return base + table_.at(kPrefix + n).offset; };
    v.field_emb.clear(), v.cond_emb.clear(), v.head_w.clear(), v.head_b.clear();
    for (int f = 0; f < F; ++f) {
      const std::string& n = cfg_.fields[size_t(f)].name;
      v.field_emb.push_back(at("field_embedding." + n + ".weight"));
      if (f + 1 < F) v.cond_emb.push_back(at("cond_embedding." + n + ".weight"));
      v.head_w.push_back(at("head." + n + ".weight"));
      v.head_b.push_back(at("head." + n + ".bias"));
    }
    v.in_proj = at("in_proj.weight");
  }
}

template <class T>
void TupleLM<T>::init(uint64_t seed) {
  std::fill(params_.begin(), params_.end(), T(0));
  init_params(params_.data(), view_table_, cfg_.backbone, seed);
  const int D = cfg_.backbone.embedding_dim, d = cfg_.field_embedding_dim;
  const auto& entries = table_.entries();
  for (size_t idx = 0; idx < entries.size(); ++idx) {
    const ParamEntry& e = entries[idx];
    if (e.name.find(".xlstm_block_stack.") != std::string::npos) continue;  // the backbone's own init
    nn::Rng rng(seed * 0x100000001B3ull + 0x7475706CEull + idx);
    double sd = 0;  // biases stay 0
    if (e.name.find(".field_embedding.") != std::string::npos)
      sd = small_init_std(d);
    else if (e.name.find(".bias") == std::string::npos)
      sd = small_init_std(D);  // in_proj, cond_embedding, head weights: like the official proj_up / lm_head
    T* p = params_.data() + e.offset;
    for (int64_t i = 0; i < e.numel; ++i) p[i] = sd == 0 ? T(0) : T(rng.normal(0.0, sd));
  }
}

template <class T>
void TupleLM<T>::zero_grad() {
  std::fill(grads_.begin(), grads_.end(), T(0));
}

template <class T>
void TupleLM<T>::hidden(TupleCache<T>& c, const int32_t* ids, int B, int S, LmState<T>* state) const {
  if (B <= 0 || S <= 0)
    throw Error("tuple model forward: batch " + std::to_string(B) + " x steps " + std::to_string(S) + " is empty");
  const XlstmConfig& bb = cfg_.backbone;
  const int F = fields(), d = cfg_.field_embedding_dim, D = bb.embedding_dim, NB = bb.num_blocks, N = B * S;
  c.B = B, c.S = S, c.from_state = state != nullptr;
  c.ids.assign(ids, ids + size_t(N) * F);
  c.x.resize(size_t(N) * F * d);
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      const TupleField& fd = cfg_.fields[size_t(f)];
      const int32_t id = ids[size_t(n) * F + f];
      if (id < fd.start || id >= fd.start + fd.count)
        throw Error("tuple model: id " + std::to_string(id) + " at row " + std::to_string(n / S) + ", step " +
                    std::to_string(n % S) + ", field " + fd.name + " is outside the field's ids [" +
                    std::to_string(fd.start) + ", " + std::to_string(fd.start + fd.count) +
                    ") (hint: the input must be whole note-tuple steps of the model's tokenizer)");
      std::memcpy(&c.x[(size_t(n) * F + f) * d], pv_.field_emb[size_t(f)] + size_t(id - fd.start) * d, sizeof(T) * d);
    }
  c.resid.resize(size_t(NB) + 1);
  for (auto& r : c.resid) r.resize(size_t(N) * D);
  c.mlstm.resize(size_t(NB));
  c.slstm.resize(size_t(NB));
  nn::linear_forward<T>(c.resid[0].data(), c.x.data(), pv_.in_proj, nullptr, N, F * d, D);
  for (int b = 0; b < NB; ++b) {
    const T* x = c.resid[size_t(b)].data();
    T* out = c.resid[size_t(b) + 1].data();
    if (types_[size_t(b)] == BlockType::mlstm) {
      MlstmBlockState<T> st{};
      if (state) st = state->mlstm(b);
      mlstm_block_forward(out, c.mlstm[size_t(b)], x, pv_.backbone.mlstm[size_t(b)], mlstm_block_dims(bb, B, S),
                          opt_.mlstm, state ? &st : nullptr);
    } else {
      SlstmBlockState<T> st{};
      if (state) st = state->slstm(b);
      slstm_block_forward(out, c.slstm[size_t(b)], x, pv_.backbone.slstm[size_t(b)], slstm_block_dims(bb, B, S),
                          state ? &st : nullptr);
    }
  }
  if (pv_.backbone.post_norm_w) {
    c.post.resize(size_t(N) * D), c.post_mean.resize(size_t(N)), c.post_rstd.resize(size_t(N));
    nn::layernorm_forward(c.post.data(), c.post_mean.data(), c.post_rstd.data(), c.resid[size_t(NB)].data(),
                          pv_.backbone.post_norm_w, N, D);
  } else {
    c.post = c.resid[size_t(NB)];
  }
}

template <class T>
void TupleLM<T>::head_input(T* u, const T* h, const int32_t* tuple, int f, int N) const {
  const int F = fields(), D = cfg_.backbone.embedding_dim;
  std::copy(h, h + size_t(N) * D, u);
  for (int g = 0; g < f; ++g) {
    const TupleField& fd = cfg_.fields[size_t(g)];
    for (int n = 0; n < N; ++n) {
      const int32_t t = tuple[size_t(n) * F + g];
      if (t == kIgnoreIndex) continue;
      const T* row = pv_.cond_emb[size_t(g)] + size_t(t - fd.start) * D;
      T* dst = u + size_t(n) * D;
      for (int i = 0; i < D; ++i) dst[i] += row[i];
    }
  }
}

template <class T>
double TupleLM<T>::forward(TupleCache<T>& c, const int32_t* ids, const int32_t* targets, int B, int S) const {
  const int F = fields(), D = cfg_.backbone.embedding_dim, N = B * S;
  if (targets) {
    for (int64_t i = 0; i < int64_t(N) * F; ++i) {
      const int32_t t = targets[i];
      const TupleField& fd = cfg_.fields[size_t(i % F)];
      if (t != kIgnoreIndex && (t < fd.start || t >= fd.start + fd.count))
        throw Error("tuple model: target " + std::to_string(t) + " at row " + std::to_string(i / F / S) + ", step " +
                    std::to_string(i / F % S) + ", field " + fd.name + " is outside the field's ids [" +
                    std::to_string(fd.start) + ", " + std::to_string(fd.start + fd.count) + ")");
    }
  }
  hidden(c, ids, B, S, nullptr);
  if (targets)
    c.targets.assign(targets, targets + size_t(N) * F);
  else
    c.targets.clear();
  // Without targets every head sees h alone (no chosen fields to condition on).
  std::vector<int32_t> none;
  if (!targets) none.assign(size_t(N) * F, kIgnoreIndex);
  const int32_t* tuple = targets ? targets : none.data();
  c.logits.resize(size_t(F)), c.logp.resize(size_t(F)), c.local_tgt.resize(size_t(F));
  c.counts.assign(size_t(F), 0);
  T* u = c.ws.get(20, size_t(N) * D);
  double total = 0;
  c.count = 0;
  for (int f = 0; f < F; ++f) {
    const TupleField& fd = cfg_.fields[size_t(f)];
    head_input(u, c.post.data(), tuple, f, N);
    c.logits[size_t(f)].resize(size_t(N) * fd.count);
    nn::linear_forward<T>(c.logits[size_t(f)].data(), u, pv_.head_w[size_t(f)], pv_.head_b[size_t(f)], N, D, fd.count);
    if (!targets) continue;
    auto& lt = c.local_tgt[size_t(f)];
    lt.resize(size_t(N));
    for (int n = 0; n < N; ++n) {
      const int32_t t = targets[size_t(n) * F + f];
      lt[size_t(n)] = t == kIgnoreIndex ? kIgnoreIndex : t - fd.start;
    }
    c.logp[size_t(f)].resize(size_t(N) * fd.count);
    int64_t cnt = 0;
    const double mean = nn::cross_entropy_forward(c.logp[size_t(f)].data(), &cnt, c.logits[size_t(f)].data(), lt.data(),
                                                  N, fd.count, kIgnoreIndex, opt_.label_smoothing);
    c.counts[size_t(f)] = cnt;
    total += mean * double(cnt);
    c.count += cnt;
  }
  c.loss = c.count ? total / double(c.count) : 0.0;
  return c.loss;
}

template <class T>
void TupleLM<T>::backward(TupleCache<T>& c, double d_loss) {
  if (c.targets.empty() || c.from_state)
    throw Error("tuple model backward: the last forward had no targets; call forward(cache, ids, targets, B, S) first");
  const XlstmConfig& bb = cfg_.backbone;
  const int B = c.B, S = c.S, N = B * S, F = fields(), d = cfg_.field_embedding_dim, D = bb.embedding_dim;
  const int NB = bb.num_blocks;
  auto& ws = c.ws;
  // slots 0..9 belong to the blocks; the tuple model uses 20..25
  T* u = ws.get(20, size_t(N) * D);
  T* d_u = ws.get(21, size_t(N) * D);
  T* d_suffix = ws.get(22, size_t(N) * D);  // sum of d_u over the fields after g: the gradient of C_g's rows
  if (c.count > 0) {
    for (int f = F - 1; f >= 0; --f) {
      const TupleField& fd = cfg_.fields[size_t(f)];
      if (c.counts[size_t(f)] > 0) {
        T* d_logits = ws.get(23, size_t(N) * fd.count);
        nn::cross_entropy_backward(d_logits, d_loss * double(c.counts[size_t(f)]) / double(c.count),
                                   c.logp[size_t(f)].data(), c.local_tgt[size_t(f)].data(), N, fd.count, kIgnoreIndex,
                                   opt_.label_smoothing);
        head_input(u, c.post.data(), c.targets.data(), f, N);
        std::fill(d_u, d_u + size_t(N) * D, T(0));
        nn::linear_backward<T>(d_u, gv_.head_w[size_t(f)], gv_.head_b[size_t(f)], d_logits, u, pv_.head_w[size_t(f)],
                               N, D, fd.count);
        for (size_t i = 0; i < size_t(N) * D; ++i) d_suffix[i] += d_u[i];
      }
      if (f == 0) break;
      const int g = f - 1;
      const TupleField& gd = cfg_.fields[size_t(g)];
      for (int n = 0; n < N; ++n) {
        const int32_t t = c.targets[size_t(n) * F + g];
        if (t == kIgnoreIndex) continue;
        T* dst = gv_.cond_emb[size_t(g)] + size_t(t - gd.start) * D;
        const T* src = d_suffix + size_t(n) * D;
        for (int i = 0; i < D; ++i) dst[i] += src[i];
      }
    }
  }
  // d_suffix now holds d(loss)/dh over all heads.
  T* d_res = ws.get(24, size_t(N) * D);
  if (pv_.backbone.post_norm_w)
    nn::layernorm_backward(d_res, gv_.backbone.post_norm_w, d_suffix, c.resid[size_t(NB)].data(), c.post_mean.data(),
                           c.post_rstd.data(), pv_.backbone.post_norm_w, N, D);
  else
    nn::residual_backward<T>(d_res, nullptr, d_suffix, int64_t(N) * D);
  T* d_prev = ws.get(25, size_t(N) * D);
  for (int b = NB - 1; b >= 0; --b) {
    std::fill(d_prev, d_prev + size_t(N) * D, T(0));
    const T* x = c.resid[size_t(b)].data();
    if (types_[size_t(b)] == BlockType::mlstm)
      mlstm_block_backward(d_prev, gv_.backbone.mlstm[size_t(b)], d_res, c.mlstm[size_t(b)], x,
                           pv_.backbone.mlstm[size_t(b)], mlstm_block_dims(bb, B, S), ws);
    else
      slstm_block_backward(d_prev, gv_.backbone.slstm[size_t(b)], d_res, c.slstm[size_t(b)], x,
                           pv_.backbone.slstm[size_t(b)], slstm_block_dims(bb, B, S), ws);
    std::swap(d_prev, d_res);
  }
  T* d_x = ws.get(26, size_t(N) * F * d);
  nn::linear_backward<T>(d_x, gv_.in_proj, nullptr, d_res, c.x.data(), pv_.in_proj, N, F * d, D);
  for (int n = 0; n < N; ++n)
    for (int f = 0; f < F; ++f) {
      const int32_t id = c.ids[size_t(n) * F + f];
      T* dst = gv_.field_emb[size_t(f)] + size_t(id - cfg_.fields[size_t(f)].start) * d;
      const T* src = d_x + (size_t(n) * F + f) * d;
      for (int i = 0; i < d; ++i) dst[i] += src[i];
    }
}

template <class T>
void TupleLM<T>::feed(TupleCache<T>& c, LmState<T>& state, T* h, const int32_t* ids, int S) const {
  const XlstmConfig& bb = cfg_.backbone;
  const int B = state.batch(), F = fields(), d = cfg_.field_embedding_dim, D = bb.embedding_dim, NB = bb.num_blocks;
  if (S > 1) {
    hidden(c, ids, B, S, &state);
    for (int b = 0; b < B; ++b)
      std::memcpy(h + size_t(b) * D, &c.post[(size_t(b) * S + S - 1) * D], sizeof(T) * D);
    return;
  }
  auto& ws = c.ws;
  // slots 0..9 belong to the blocks; 10..13 are the step's streams
  T* emb = ws.get(10, size_t(B) * F * d);
  for (int b = 0; b < B; ++b)
    for (int f = 0; f < F; ++f) {
      const TupleField& fd = cfg_.fields[size_t(f)];
      const int32_t id = ids[size_t(b) * F + f];
      if (id < fd.start || id >= fd.start + fd.count)
        throw Error("tuple model: id " + std::to_string(id) + " at row " + std::to_string(b) + ", field " + fd.name +
                    " is outside the field's ids [" + std::to_string(fd.start) + ", " +
                    std::to_string(fd.start + fd.count) + ")");
      std::memcpy(emb + (size_t(b) * F + f) * d, pv_.field_emb[size_t(f)] + size_t(id - fd.start) * d, sizeof(T) * d);
    }
  T* x = ws.get(11, size_t(B) * D);
  T* y = ws.get(12, size_t(B) * D);
  nn::linear_forward<T>(x, emb, pv_.in_proj, nullptr, B, F * d, D);
  for (int b = 0; b < NB; ++b) {
    if (types_[size_t(b)] == BlockType::mlstm) {
      MlstmBlockState<T> st = state.mlstm(b);
      mlstm_block_step(y, x, pv_.backbone.mlstm[size_t(b)], mlstm_block_dims(bb, B, 1), st, ws);
    } else {
      SlstmBlockState<T> st = state.slstm(b);
      slstm_block_step(y, x, pv_.backbone.slstm[size_t(b)], slstm_block_dims(bb, B, 1), st, ws);
    }
    std::swap(x, y);
  }
  if (pv_.backbone.post_norm_w) {
    T* stat = ws.get(13, size_t(2) * B);
    nn::layernorm_forward(h, stat, stat + B, x, pv_.backbone.post_norm_w, B, D);
  } else {
    std::copy(x, x + size_t(B) * D, h);
  }
}

template <class T>
void TupleLM<T>::head(T* logits, const T* h, const int32_t* chosen, int f, int B, Workspace<T>& ws) const {
  const int F = fields(), D = cfg_.backbone.embedding_dim;
  if (f < 0 || f >= F) throw Error("tuple model: no field " + std::to_string(f) + " (the model has " + std::to_string(F) + ")");
  for (int b = 0; b < B; ++b)
    for (int g = 0; g < f; ++g) {
      const TupleField& gd = cfg_.fields[size_t(g)];
      const int32_t t = chosen[size_t(b) * F + g];
      if (t < gd.start || t >= gd.start + gd.count)
        throw Error("tuple model: the id chosen for field " + gd.name + " of row " + std::to_string(b) + " (" +
                    std::to_string(t) + ") is outside the field's ids [" + std::to_string(gd.start) + ", " +
                    std::to_string(gd.start + gd.count) + ")");
    }
  T* u = ws.get(14, size_t(B) * D);
  head_input(u, h, chosen, f, B);
  nn::linear_forward<T>(logits, u, pv_.head_w[size_t(f)], pv_.head_b[size_t(f)], B, D, cfg_.fields[size_t(f)].count);
}

template class TupleLM<float>;
template class TupleLM<double>;

// ------------------------------------------------------------------------------------------------ SeqModel adapter
namespace {

struct TupleState final : SeqState {
  LmState<float> st;
  std::vector<float> h;  // (B, D): post-norm hidden after the last fed step
  TupleCache<float> cache;
  int64_t n = 0;
  int D = 0;
  int batch() const override { return st.batch(); }
  void reset_row(int b) override {
    st.reset_row(b);
    std::fill(h.begin() + size_t(b) * D, h.begin() + size_t(b + 1) * D, 0.0f);
  }
  void copy_row(int dst, const SeqState& src, int src_row) override {
    const auto* s = dynamic_cast<const TupleState*>(&src);
    if (!s) throw Error("copy_row: the source state belongs to another model family");
    st.copy_row(dst, s->st, src_row);
    std::copy(s->h.begin() + size_t(src_row) * D, s->h.begin() + size_t(src_row + 1) * D, h.begin() + size_t(dst) * D);
    n = s->n;  // rows advance together
  }
  size_t bytes() const override { return (st.size() + h.size()) * sizeof(float); }
  int64_t steps() const override { return n; }
};

class TupleModel final : public SeqModel {
 public:
  explicit TupleModel(const TupleConfig& cfg) : lm_(cfg) {}
  TupleLM<float>& lm() { return lm_; }

  std::string family() const override { return "tuple"; }
  int vocab_size() const override { return lm_.config().vocab_size; }
  int fields() const override { return lm_.fields(); }
  int context_length() const override { return lm_.config().context_length; }
  json config_json() const override { return tuple_config_to_json(lm_.config()); }
  const ParamTable& table() const override { return lm_.table(); }
  std::vector<float>& params() override { return lm_.params(); }
  const std::vector<float>& params() const override { return lm_.params(); }
  std::vector<float>& grads() override { return lm_.grads(); }
  void init(uint64_t seed) override { lm_.init(seed); }

  double forward(const int32_t* ids, const int32_t* targets, int B, int L) override {
    const int F = fields();
    if (L <= 0 || L % F)
      throw Error("tuple model forward: a row of " + std::to_string(L) + " ids is not a whole number of " +
                  std::to_string(F) + "-field steps");
    return lm_.forward(cache_, ids, targets, B, L / F);
  }
  void backward(double d_loss) override { lm_.backward(cache_, d_loss); }
  void target_nll(float* out) const override {
    const int F = fields();
    const size_t N = size_t(cache_.B) * cache_.S;
    if (cache_.targets.size() != N * F) throw Error("target_nll: the last forward had no targets");
    for (size_t n = 0; n < N; ++n)
      for (int f = 0; f < F; ++f) {
        const int32_t t = cache_.local_tgt[size_t(f)][n];
        const int cnt = lm_.config().fields[size_t(f)].count;
        out[n * F + f] = t == kIgnoreIndex ? 0.0f : -cache_.logp[size_t(f)][n * cnt + t];
      }
  }
  void set_label_smoothing(double eps) override { lm_.options().label_smoothing = eps; }

  std::unique_ptr<SeqState> new_state(int B) const override {
    auto s = std::make_unique<TupleState>();
    s->st = lm_.new_state(B);
    s->D = lm_.config().backbone.embedding_dim;
    s->h.assign(size_t(B) * s->D, 0.0f);
    return s;
  }
  void feed(SeqState& state, const int32_t* ids, int S) const override {
    auto& s = dynamic_cast<TupleState&>(state);
    if (S <= 0) return;
    lm_.feed(s.cache, s.st, s.h.data(), ids, S);
    s.n += S;
  }
  void next(SeqState& state, const PickFn& pick) const override {
    auto& s = dynamic_cast<TupleState&>(state);
    if (s.n == 0) throw Error("next: feed at least one step (a BOS or control step) first");
    const int B = s.batch(), F = fields(), V = vocab_size();
    std::vector<int32_t> chosen(size_t(B) * F, kIgnoreIndex);
    std::vector<int32_t> pick_out(static_cast<size_t>(B));
    std::vector<float> full(size_t(B) * V), local;
    for (int f = 0; f < F; ++f) {
      const TupleField& fd = lm_.config().fields[size_t(f)];
      local.assign(size_t(B) * fd.count, 0.0f);
      lm_.head(local.data(), s.h.data(), chosen.data(), f, B, s.cache.ws);
      std::fill(full.begin(), full.end(), -std::numeric_limits<float>::infinity());
      for (int b = 0; b < B; ++b)
        std::copy(local.begin() + size_t(b) * fd.count, local.begin() + size_t(b + 1) * fd.count,
                  full.begin() + size_t(b) * V + fd.start);
      std::fill(pick_out.begin(), pick_out.end(), kIgnoreIndex);
      pick(f, full.data(), pick_out.data());
      for (int b = 0; b < B; ++b) {
        const int32_t t = pick_out[size_t(b)];
        if (t < fd.start || t >= fd.start + fd.count)
          throw Error("next: the id picked for field " + fd.name + " of row " + std::to_string(b) + " (" +
                      std::to_string(t) + ") is outside the field's ids [" + std::to_string(fd.start) + ", " +
                      std::to_string(fd.start + fd.count) + ")");
        chosen[size_t(b) * F + f] = t;
      }
    }
  }

 private:
  TupleLM<float> lm_;
  TupleCache<float> cache_;
};

}  // namespace

std::unique_ptr<SeqModel> make_tuple_model(const json& cfg, const std::string& what) {
  return std::make_unique<TupleModel>(tuple_config_from_json(cfg, what));
}

TupleLM<float>* as_tuple(SeqModel& m) {
  auto* t = dynamic_cast<TupleModel*>(&m);
  return t ? &t->lm() : nullptr;
}

}  // namespace xm::model

// lstm_model.cpp: see lstm_model.h. The LSTM LM's config, parameter table, forward (one input GEMM per layer,
// one recurrent GEMM per step), BPTT backward, generation, and its SeqModel adapter. Not the other families.
#include "model/lstm_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "model/flat_seq_model.h"
#include "model/seq_model.h"
#include "model/xlstm_lm.h"
#include "nn/gemm.h"
#include "nn/ops.h"
#include "nn/rng.h"

namespace xm::model {

// ---------------------------------------------------------------------------------------------- config
namespace {
const char* const kLstmFields[] = {"family",     "vocab_size", "context_length", "embedding_dim",
                                   "hidden_dim", "num_layers", "tie_weights"};

int positive_int(const json& j, const char* key, const std::string& what, int fallback = -1) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (fallback >= 0) return fallback;
    throw Error(what + ": missing field \"" + key + "\" (a positive integer)");
  }
  if (!it->is_number_integer())
    throw Error(what + ": field \"" + key + "\" must be a positive integer, not " + it->dump());
  const int64_t v = it->get<int64_t>();
  if (v <= 0 || v > (int64_t(1) << 24))
    throw Error(what + ": field \"" + key + "\" = " + std::to_string(v) + " is out of range (1 .. 16777216)");
  return int(v);
}
}  // namespace

LstmConfig lstm_config_from_json(const json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": an LSTM config must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const char* f : kLstmFields) known = known || k == f;
    if (!known)
      throw Error(what + ": unknown field \"" + k +
                  "\" in an lstm config (known: vocab_size, context_length, embedding_dim, hidden_dim, num_layers, "
                  "tie_weights)");
  }
  if (auto it = j.find("family"); it != j.end() && (!it->is_string() || it->get<std::string>() != "lstm"))
    throw Error(what + ": field \"family\" must be \"lstm\" here, not " + it->dump());
  LstmConfig c;
  c.vocab_size = positive_int(j, "vocab_size", what);
  c.context_length = positive_int(j, "context_length", what);
  c.embedding_dim = positive_int(j, "embedding_dim", what);
  c.hidden_dim = positive_int(j, "hidden_dim", what, c.embedding_dim);
  c.num_layers = positive_int(j, "num_layers", what);
  if (auto it = j.find("tie_weights"); it != j.end() && !it->is_null()) {
    if (!it->is_boolean()) throw Error(what + ": field \"tie_weights\" must be true or false, not " + it->dump());
    c.tie_weights = it->get<bool>();
  }
  return c;
}

json lstm_config_to_json(const LstmConfig& c) {
  return json{{"family", "lstm"},          {"vocab_size", c.vocab_size}, {"context_length", c.context_length},
              {"embedding_dim", c.embedding_dim}, {"hidden_dim", c.hidden_dim}, {"num_layers", c.num_layers},
              {"tie_weights", c.tie_weights}};
}

ParamTable lstm_param_table(const LstmConfig& c) {
  const int64_t V = c.vocab_size, D = c.embedding_dim, H = c.hidden_dim;
  std::vector<ParamEntry> e;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool decay) {
    ParamEntry p;
    p.name = "xm.lstm." + name;
    p.shape = std::move(shape);
    p.decay = decay;
    e.push_back(std::move(p));
  };
  add("embedding.weight", {V, D}, false);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add(p + "weight_ih", {4 * H, l == 0 ? D : H}, true);
    add(p + "weight_hh", {4 * H, H}, true);
    add(p + "bias_ih", {4 * H}, false);
    add(p + "bias_hh", {4 * H}, false);
  }
  if (c.has_proj()) add("proj.weight", {D, H}, true);
  if (!c.tie_weights) add("head.weight", {V, H}, true);
  return ParamTable(std::move(e));
}

// ---------------------------------------------------------------------------------------------- the model
namespace {
template <class T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}
constexpr int64_t kParMin = 1 << 14;
// The per-step cell loops (B * H cells) run inside the time loop: a fork/join per step costs more than it saves
// below this many cells (the recurrent GEMM beside them is split by nn::gemm on its own).
constexpr int64_t kStepParMin = 1 << 15;

LstmConfig validated(const LstmConfig& c) {
  if (c.vocab_size <= 0 || c.embedding_dim <= 0 || c.hidden_dim <= 0 || c.num_layers <= 0)
    throw Error("LSTM config: vocab_size, embedding_dim, hidden_dim and num_layers must be positive (got " +
                lstm_config_to_json(c).dump() + ")");
  return c;
}

template <class O>
O offsets_of(const ParamTable& t, const LstmConfig& c) {
  O o;
  o.emb = t.at("xm.lstm.embedding.weight").offset;
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "xm.lstm.layers." + std::to_string(l) + ".";
    o.w_ih.push_back(t.at(p + "weight_ih").offset);
    o.w_hh.push_back(t.at(p + "weight_hh").offset);
    o.b_ih.push_back(t.at(p + "bias_ih").offset);
    o.b_hh.push_back(t.at(p + "bias_hh").offset);
  }
  if (c.has_proj()) o.proj = t.at("xm.lstm.proj.weight").offset;
  o.head = c.tie_weights ? o.emb : t.at("xm.lstm.head.weight").offset;
  return o;
}
}  // namespace

template <class T>
LstmLM<T>::LstmLM(const LstmConfig& cfg)
    : cfg_(validated(cfg)), table_(lstm_param_table(cfg_)), o_(offsets_of<Offsets>(table_, cfg_)) {
  params_.assign(size_t(table_.total()), T(0));
  grads_.assign(size_t(table_.total()), T(0));
}

template <class T>
void LstmLM<T>::init(uint64_t seed) {
  nn::Rng rng(seed);
  const double k = 1.0 / std::sqrt(double(cfg_.hidden_dim));
  for (const ParamEntry& e : table_.entries()) {
    T* p = params_.data() + e.offset;
    const bool emb = e.name == "xm.lstm.embedding.weight";
    for (int64_t i = 0; i < e.numel; ++i) p[i] = T(emb ? rng.normal() : rng.uniform(-k, k));
  }
}

template <class T>
void LstmLM<T>::layer_forward(LayerCache& lc, const T* x, int l, int B, int S, int I, const T* h0,
                              const T* c0) const {
  const int H = cfg_.hidden_dim, G = 4 * H;
  const int64_t N = int64_t(B) * S;
  const Offsets& o = o_;
  const T *W_ih = params_.data() + o.w_ih[size_t(l)], *W_hh = params_.data() + o.w_hh[size_t(l)];
  const T *b_ih = params_.data() + o.b_ih[size_t(l)], *b_hh = params_.data() + o.b_hh[size_t(l)];
  lc.gates.resize(size_t(N) * G);
  lc.c.resize(size_t(N) * H);
  lc.h.resize(size_t(N) * H);
  // input projections of every step at once, plus both biases
  nn::gemm<T>(false, true, int(N), G, I, T(1), x, I, W_ih, I, T(0), lc.gates.data(), G);
#pragma omp parallel for if (N * G > kParMin)
  for (int64_t n = 0; n < N; ++n)
    for (int j = 0; j < G; ++j) lc.gates[size_t(n) * G + j] += b_ih[j] + b_hh[j];
  const int64_t rs = int64_t(S) * G, hs = int64_t(S) * H;  // row strides of gates and h/c
  for (int t = 0; t < S; ++t) {
    T* g = lc.gates.data() + int64_t(t) * G;
    const T* h_prev = t > 0 ? lc.h.data() + int64_t(t - 1) * H : h0;
    const int64_t h_ld = t > 0 ? hs : H;
    if (h_prev) nn::gemm<T>(false, true, B, G, H, T(1), h_prev, int(h_ld), W_hh, H, T(1), g, int(rs));
#pragma omp parallel for if (int64_t(B) * H > kStepParMin)
    for (int b = 0; b < B; ++b) {
      T* gb = g + b * rs;
      const T* cp = t > 0 ? lc.c.data() + b * hs + int64_t(t - 1) * H : (c0 ? c0 + int64_t(b) * H : nullptr);
      T* cb = lc.c.data() + b * hs + int64_t(t) * H;
      T* hb = lc.h.data() + b * hs + int64_t(t) * H;
      for (int j = 0; j < H; ++j) {
        const T i = sigmoid(gb[j]), f = sigmoid(gb[H + j]), gg = std::tanh(gb[2 * H + j]), oo = sigmoid(gb[3 * H + j]);
        gb[j] = i, gb[H + j] = f, gb[2 * H + j] = gg, gb[3 * H + j] = oo;
        const T c = (cp ? f * cp[j] : T(0)) + i * gg;
        cb[j] = c;
        hb[j] = oo * std::tanh(c);
      }
    }
  }
}

template <class T>
void LstmLM<T>::head_forward(T* logits, T* proj, const T* top, int N) const {
  const int D = cfg_.embedding_dim, H = cfg_.hidden_dim, V = cfg_.vocab_size;
  const Offsets& o = o_;
  const T* x = top;
  int in = H;
  if (cfg_.has_proj()) {
    nn::linear_forward<T>(proj, top, params_.data() + o.proj, nullptr, N, H, D);
    x = proj, in = D;
  }
  nn::linear_forward<T>(logits, x, params_.data() + o.head, nullptr, N, in, V);
}

template <class T>
double LstmLM<T>::forward(const int32_t* ids, const int32_t* targets, int B, int S) {
  if (B <= 0 || S <= 0)
    throw Error("LSTM forward: batch " + std::to_string(B) + " x sequence " + std::to_string(S) + " is empty");
  const int D = cfg_.embedding_dim, H = cfg_.hidden_dim, V = cfg_.vocab_size, L = cfg_.num_layers, N = B * S;
  B_ = B, S_ = S;
  ids_.assign(ids, ids + N);
  if (targets)
    targets_.assign(targets, targets + N);
  else
    targets_.clear();
  emb_.resize(size_t(N) * D);
  nn::embedding_forward(emb_.data(), ids, params_.data() + o_.emb, N, V, D);
  layers_.resize(size_t(L));
  for (int l = 0; l < L; ++l)
    layer_forward(layers_[size_t(l)], l == 0 ? emb_.data() : layers_[size_t(l - 1)].h.data(), l, B, S,
                  l == 0 ? D : H, nullptr, nullptr);
  logits_.resize(size_t(N) * V);
  proj_.resize(cfg_.has_proj() ? size_t(N) * D : 0);
  head_forward(logits_.data(), proj_.data(), layers_[size_t(L - 1)].h.data(), N);
  if (!targets) return 0.0;
  logp_.resize(size_t(N) * V);
  return nn::cross_entropy_forward(logp_.data(), nullptr, logits_.data(), targets, N, V, kIgnoreIndex,
                                   label_smoothing_);
}

template <class T>
void LstmLM<T>::backward(double d_loss) {
  if (targets_.empty()) throw Error("LSTM backward: the last forward had no targets; call forward with targets");
  const int B = B_, S = S_, N = B * S, D = cfg_.embedding_dim, H = cfg_.hidden_dim, V = cfg_.vocab_size,
            L = cfg_.num_layers, G = 4 * H;
  const Offsets& o = o_;
  T* gp = grads_.data();
  const T* pp = params_.data();
  std::vector<T> d_logits(size_t(N) * V, T(0));
  nn::cross_entropy_backward(d_logits.data(), d_loss, logp_.data(), targets_.data(), N, V, kIgnoreIndex,
                             label_smoothing_);
  std::vector<T> dH(size_t(N) * H, T(0));  // gradient of the top layer's h
  const T* top = layers_[size_t(L - 1)].h.data();
  if (cfg_.has_proj()) {
    std::vector<T> d_proj(size_t(N) * D, T(0));
    nn::linear_backward<T>(d_proj.data(), gp + o.head, nullptr, d_logits.data(), proj_.data(), pp + o.head, N, D, V);
    nn::linear_backward<T>(dH.data(), gp + o.proj, nullptr, d_proj.data(), top, pp + o.proj, N, H, D);
  } else {
    nn::linear_backward<T>(dH.data(), gp + o.head, nullptr, d_logits.data(), top, pp + o.head, N, H, V);
  }
  std::vector<T> dG(size_t(N) * G), hprev(size_t(N) * H), dh_next(size_t(B) * H), dc_next(size_t(B) * H);
  const int64_t rs = int64_t(S) * G, hs = int64_t(S) * H;
  for (int l = L - 1; l >= 0; --l) {
    const LayerCache& lc = layers_[size_t(l)];
    const int I = l == 0 ? D : H;
    const T* x = l == 0 ? emb_.data() : layers_[size_t(l - 1)].h.data();
    const T *W_ih = pp + o.w_ih[size_t(l)], *W_hh = pp + o.w_hh[size_t(l)];
    std::fill(dh_next.begin(), dh_next.end(), T(0));
    std::fill(dc_next.begin(), dc_next.end(), T(0));
    for (int t = S - 1; t >= 0; --t) {
#pragma omp parallel for if (int64_t(B) * H > kStepParMin)
      for (int b = 0; b < B; ++b) {
        const T* g = lc.gates.data() + b * rs + int64_t(t) * G;
        const T* c = lc.c.data() + b * hs + int64_t(t) * H;
        const T* dh_out = dH.data() + b * hs + int64_t(t) * H;
        T* dg = dG.data() + b * rs + int64_t(t) * G;
        T *dhn = dh_next.data() + int64_t(b) * H, *dcn = dc_next.data() + int64_t(b) * H;
        for (int j = 0; j < H; ++j) {
          const T i = g[j], f = g[H + j], gg = g[2 * H + j], oo = g[3 * H + j];
          const T dh = dh_out[j] + dhn[j], tc = std::tanh(c[j]);
          const T dc = dcn[j] + dh * oo * (T(1) - tc * tc);
          const T cprev = t > 0 ? c[j - H] : T(0);
          dg[j] = dc * gg * i * (T(1) - i);
          dg[H + j] = dc * cprev * f * (T(1) - f);
          dg[2 * H + j] = dc * i * (T(1) - gg * gg);
          dg[3 * H + j] = dh * tc * oo * (T(1) - oo);
          dcn[j] = dc * f;
        }
      }
      if (t > 0)
        nn::gemm<T>(false, false, B, H, G, T(1), dG.data() + int64_t(t) * G, int(rs), W_hh, H, T(0), dh_next.data(),
                    H);
    }
    // h of the previous step per position (0 at t = 0) for the recurrent weight gradient
#pragma omp parallel for if (int64_t(N) * H > kParMin)
    for (int b = 0; b < B; ++b) {
      T* dst = hprev.data() + b * hs;
      std::fill(dst, dst + H, T(0));
      if (S > 1) std::memcpy(dst + H, lc.h.data() + b * hs, sizeof(T) * size_t(S - 1) * H);
    }
    nn::gemm<T>(true, false, G, H, N, T(1), dG.data(), G, hprev.data(), H, T(1), gp + o.w_hh[size_t(l)], H);
    nn::gemm<T>(true, false, G, I, N, T(1), dG.data(), G, x, I, T(1), gp + o.w_ih[size_t(l)], I);
    T *db_ih = gp + o.b_ih[size_t(l)], *db_hh = gp + o.b_hh[size_t(l)];
    // column sums in blocks of 64 columns, reading dG row by row
#pragma omp parallel for if (int64_t(N) * G > kParMin)
    for (int j0 = 0; j0 < G; j0 += 64) {
      const int j1 = std::min(G, j0 + 64);
      T acc[64] = {};
      for (int n = 0; n < N; ++n) {
        const T* row = dG.data() + size_t(n) * G;
        for (int j = j0; j < j1; ++j) acc[j - j0] += row[j];
      }
      for (int j = j0; j < j1; ++j) db_ih[j] += acc[j - j0], db_hh[j] += acc[j - j0];
    }
    // gradient of this layer's input: the layer below's dH, or the embeddings'
    if (l > 0) {
      nn::gemm<T>(false, false, N, H, G, T(1), dG.data(), G, W_ih, I, T(0), dH.data(), H);
    } else {
      std::vector<T> d_emb(size_t(N) * D);
      nn::gemm<T>(false, false, N, D, G, T(1), dG.data(), G, W_ih, I, T(0), d_emb.data(), D);
      nn::embedding_backward(gp + o.emb, d_emb.data(), ids_.data(), N, V, D);
    }
  }
}

template <class T>
void LstmLM<T>::target_nll(float* out) const {
  const int V = cfg_.vocab_size;
  const size_t N = size_t(B_) * S_;
  if (targets_.size() != N || logp_.size() != N * size_t(V))
    throw Error("target_nll: the last forward had no targets");
  for (size_t i = 0; i < N; ++i) {
    const int32_t t = targets_[i];
    out[i] = t == kIgnoreIndex ? 0.0f : float(-logp_[i * V + t]);
  }
}

template <class T>
void LstmLM<T>::feed(LstmState<T>& st, const int32_t* ids, int S, T* logits) const {
  const int B = st.B, D = cfg_.embedding_dim, H = cfg_.hidden_dim, V = cfg_.vocab_size, L = cfg_.num_layers;
  if (S <= 0) return;
  if (st.L != L || st.H != H) throw Error("LSTM feed: the state belongs to a model of another shape");
  std::vector<T> emb(size_t(B) * S * D);
  nn::embedding_forward(emb.data(), ids, params_.data() + o_.emb, B * S, V, D);
  LayerCache lc[2];
  for (int l = 0; l < L; ++l) {
    LayerCache& cur = lc[l & 1];
    layer_forward(cur, l == 0 ? emb.data() : lc[(l - 1) & 1].h.data(), l, B, S, l == 0 ? D : H, st.h_of(l),
                  st.c_of(l));
    for (int b = 0; b < B; ++b) {
      const size_t last = (size_t(b) * S + S - 1) * H;
      std::memcpy(st.h_of(l) + size_t(b) * H, cur.h.data() + last, sizeof(T) * H);
      std::memcpy(st.c_of(l) + size_t(b) * H, cur.c.data() + last, sizeof(T) * H);
    }
  }
  // logits of the last step only: from the final state's top h
  std::vector<T> proj(cfg_.has_proj() ? size_t(B) * D : 0);
  head_forward(logits, proj.data(), st.h_of(L - 1), B);
}

template <class T>
void LstmState<T>::reset_row(int b) {
  if (b < 0 || b >= B) throw Error("reset_row: row " + std::to_string(b) + " is outside [0, " + std::to_string(B) + ")");
  for (int l = 0; l < L; ++l) {
    std::fill_n(h_of(l) + size_t(b) * H, H, T(0));
    std::fill_n(c_of(l) + size_t(b) * H, H, T(0));
  }
}

template <class T>
void LstmState<T>::copy_row(int dst, const LstmState& src, int src_row) {
  if (src.L != L || src.H != H) throw Error("copy_row: the source state belongs to an LSTM of another shape");
  if (dst < 0 || dst >= B) throw Error("copy_row: destination row " + std::to_string(dst) + " is outside [0, " + std::to_string(B) + ")");
  if (src_row < 0 || src_row >= src.B)
    throw Error("copy_row: source row " + std::to_string(src_row) + " is outside [0, " + std::to_string(src.B) + ")");
  if (&src == this && dst == src_row) return;
  for (int l = 0; l < L; ++l) {
    std::copy_n(src.h_of(l) + size_t(src_row) * H, H, h_of(l) + size_t(dst) * H);
    std::copy_n(src.c_of(l) + size_t(src_row) * H, H, c_of(l) + size_t(dst) * H);
  }
}

template struct LstmState<float>;
template struct LstmState<double>;
template class LstmLM<float>;
template class LstmLM<double>;

// ---------------------------------------------------------------------------------------------- SeqModel
namespace {
struct LstmTraits {
  using LM = LstmLM<float>;
  using Cache = LstmState<float>;
  static constexpr const char* kFamily = "lstm";
  static json config_json(const LM& lm) { return lstm_config_to_json(lm.config()); }
  static Cache new_cache(const LM& lm, int B) { return lm.new_state(B); }
};
}  // namespace

std::unique_ptr<SeqModel> make_lstm_model(const json& cfg, const std::string& what) {
  return std::make_unique<FlatSeqModel<LstmTraits>>(lstm_config_from_json(cfg, what));
}

}  // namespace xm::model

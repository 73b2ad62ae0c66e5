// transformer_model.cpp: see transformer_model.h. Config and parameter table, LayerNorm with bias, rotary
// positions, causal attention forward/backward (per batch row and head, GEMMs through BLAS), the GPT block stack,
// the key-value cache and the SeqModel adapter. Not the other families.
#include "model/transformer_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

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
const char* const kFields[] = {"family",    "vocab_size", "context_length", "embedding_dim",
                               "num_layers", "num_heads", "ffn_dim",        "positions"};

int positive_int(const json& j, const char* key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) throw Error(what + ": missing field \"" + key + "\" (a positive integer)");
  if (!it->is_number_integer())
    throw Error(what + ": field \"" + key + "\" must be a positive integer, not " + it->dump());
  const int64_t v = it->get<int64_t>();
  if (v <= 0 || v > (int64_t(1) << 24))
    throw Error(what + ": field \"" + key + "\" = " + std::to_string(v) + " is out of range (1 .. 16777216)");
  return int(v);
}

TransformerConfig validated(const TransformerConfig& c, const std::string& what) {
  if (c.vocab_size <= 0 || c.context_length <= 0 || c.embedding_dim <= 0 || c.num_layers <= 0 ||
      c.num_heads <= 0 || c.ffn_dim <= 0)
    throw Error(what + ": vocab_size, context_length, embedding_dim, num_layers, num_heads and ffn_dim must all "
                       "be positive (got " + transformer_config_to_json(c).dump() + ")");
  if (c.embedding_dim % c.num_heads != 0)
    throw Error(what + ": field \"num_heads\" = " + std::to_string(c.num_heads) + " does not divide embedding_dim " +
                std::to_string(c.embedding_dim));
  if (c.positions == Positions::rotary && c.head_dim() % 2 != 0)
    throw Error(what + ": field \"positions\" = \"rotary\" needs an even head width (embedding_dim / num_heads = " +
                std::to_string(c.head_dim()) + ")");
  return c;
}
}  // namespace

TransformerConfig transformer_config_from_json(const json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": a transformer config must be a JSON object");
  for (const auto& [k, v] : j.items()) {
    bool known = false;
    for (const char* f : kFields) known = known || k == f;
    if (!known)
      throw Error(what + ": unknown field \"" + k +
                  "\" in a transformer config (known: vocab_size, context_length, embedding_dim, num_layers, "
                  "num_heads, ffn_dim, positions)");
  }
  if (auto it = j.find("family"); it != j.end() && (!it->is_string() || it->get<std::string>() != "transformer"))
    throw Error(what + ": field \"family\" must be \"transformer\" here, not " + it->dump());
  TransformerConfig c;
  c.vocab_size = positive_int(j, "vocab_size", what);
  c.context_length = positive_int(j, "context_length", what);
  c.embedding_dim = positive_int(j, "embedding_dim", what);
  c.num_layers = positive_int(j, "num_layers", what);
  c.num_heads = positive_int(j, "num_heads", what);
  c.ffn_dim = positive_int(j, "ffn_dim", what);
  if (auto it = j.find("positions"); it != j.end() && !it->is_null()) {
    const std::string p = it->is_string() ? it->get<std::string>() : it->dump();
    if (p == "learned")
      c.positions = Positions::learned;
    else if (p == "rotary")
      c.positions = Positions::rotary;
    else
      throw Error(what + ": field \"positions\" = " + it->dump() + " is unknown; use \"learned\" or \"rotary\"");
  }
  return validated(c, what);
}

json transformer_config_to_json(const TransformerConfig& c) {
  return json{{"family", "transformer"},
              {"vocab_size", c.vocab_size},
              {"context_length", c.context_length},
              {"embedding_dim", c.embedding_dim},
              {"num_layers", c.num_layers},
              {"num_heads", c.num_heads},
              {"ffn_dim", c.ffn_dim},
              {"positions", c.positions == Positions::rotary ? "rotary" : "learned"}};
}

ParamTable transformer_param_table(const TransformerConfig& c) {
  const int64_t V = c.vocab_size, D = c.embedding_dim, F = c.ffn_dim;
  std::vector<ParamEntry> e;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, bool decay) {
    ParamEntry p;
    p.name = "xm.transformer." + name;
    p.shape = std::move(shape);
    p.decay = decay;
    e.push_back(std::move(p));
  };
  add("embedding.weight", {V, D}, false);
  if (c.positions == Positions::learned) add("position.weight", {c.context_length, D}, false);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add(p + "ln1.weight", {D}, false);
    add(p + "ln1.bias", {D}, false);
    add(p + "attn.qkv.weight", {3 * D, D}, true);
    add(p + "attn.qkv.bias", {3 * D}, false);
    add(p + "attn.proj.weight", {D, D}, true);
    add(p + "attn.proj.bias", {D}, false);
    add(p + "ln2.weight", {D}, false);
    add(p + "ln2.bias", {D}, false);
    add(p + "mlp.fc.weight", {F, D}, true);
    add(p + "mlp.fc.bias", {F}, false);
    add(p + "mlp.proj.weight", {D, F}, true);
    add(p + "mlp.proj.bias", {D}, false);
  }
  add("ln_f.weight", {D}, false);
  add("ln_f.bias", {D}, false);
  add("head.weight", {V, D}, true);
  return ParamTable(std::move(e));
}

// ---------------------------------------------------------------------------------------------- kernels
namespace {
constexpr int64_t kParMin = 1 << 14;
constexpr double kRotaryBase = 10000.0;

// torch.nn.LayerNorm (weight and bias, eps 1e-5) over rows of D.
template <class T>
void ln_forward(T* out /* (N, D) */, T* mean /* (N) */, T* rstd /* (N) */, const T* in /* (N, D) */,
                const T* w /* (D) */, const T* b /* (D) */, int N, int D) {
#pragma omp parallel for if (int64_t(N) * D > kParMin)
  for (int n = 0; n < N; ++n) {
    const T* x = in + int64_t(n) * D;
    T s = 0;
    for (int d = 0; d < D; ++d) s += x[d];
    const T m = s / T(D);
    T v = 0;
    for (int d = 0; d < D; ++d) v += (x[d] - m) * (x[d] - m);
    const T r = T(1) / std::sqrt(v / T(D) + T(nn::kNormEps));
    mean[n] = m, rstd[n] = r;
    T* y = out + int64_t(n) * D;
    for (int d = 0; d < D; ++d) y[d] = (x[d] - m) * r * w[d] + b[d];
  }
}

// d_in, d_w, d_b ACCUMULATE.
template <class T>
void ln_backward(T* d_in /* (N, D) */, T* d_w /* (D) */, T* d_b /* (D) */, const T* d_out /* (N, D) */,
                 const T* in /* (N, D) */, const T* mean, const T* rstd, const T* w /* (D) */, int N, int D) {
#pragma omp parallel if (int64_t(N) * D > kParMin)
  {
    std::vector<T> sw(size_t(D), T(0)), sb(size_t(D), T(0));
#pragma omp for
    for (int n = 0; n < N; ++n) {
      const T *x = in + int64_t(n) * D, *dy = d_out + int64_t(n) * D;
      const T m = mean[n], r = rstd[n];
      T a = 0, c = 0;
      for (int d = 0; d < D; ++d) {
        const T xh = (x[d] - m) * r, dxh = dy[d] * w[d];
        a += dxh, c += dxh * xh;
        sw[size_t(d)] += dy[d] * xh;
        sb[size_t(d)] += dy[d];
      }
      a /= T(D), c /= T(D);
      T* dx = d_in + int64_t(n) * D;
      for (int d = 0; d < D; ++d) dx[d] += r * (dy[d] * w[d] - a - (x[d] - m) * r * c);
    }
#pragma omp critical
    for (int d = 0; d < D; ++d) d_w[d] += sw[size_t(d)], d_b[d] += sb[size_t(d)];
  }
}

// Rotary positions (half-split pairs (i, i + DH/2), as GPT-NeoX / Llama): rotates each head of each row by the
// row's angles; inverse = the transpose (the backward).
template <class T>
void rope_apply(T* x, int64_t rs, const T* cos, const T* sin, int N, int NH, int DH, bool inverse) {
  const int half = DH / 2;
#pragma omp parallel for if (int64_t(N) * NH * DH > kParMin)
  for (int n = 0; n < N; ++n) {
    const T *cs = cos + int64_t(n) * half, *sn = sin + int64_t(n) * half;
    for (int h = 0; h < NH; ++h) {
      T* v = x + n * rs + int64_t(h) * DH;
      for (int i = 0; i < half; ++i) {
        const T a = v[i], b = v[i + half], c = cs[i], s = inverse ? -sn[i] : sn[i];
        v[i] = a * c - b * s;
        v[i + half] = b * c + a * s;
      }
    }
  }
}

// Causal attention of S new queries per row against nk = off[b] + S keys: query s of row b sees keys
// [0, off[b] + s]. q row (b, s) at q + (b*S + s) * qrs; key j of row b at k + b*kbs + j*krs (v likewise); head h at
// + h*DH. y (B, S, NH*DH) heads concatenated; att (B, NH, S, Tk) the probabilities (0 where masked).
template <class T>
void attention_forward(T* y, T* att, const T* q, int64_t qrs, const T* k, const T* v, int64_t kbs, int64_t krs,
                       const int* off, int B, int S, int Tk, int NH, int DH) {
  const int D = NH * DH;
  const T scale = T(1) / std::sqrt(T(DH));
#pragma omp parallel for collapse(2) if (double(B) * NH * S * Tk * DH > double(kParMin))
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      const int o = off ? off[b] : 0, nk = o + S;
      T* P = att + (int64_t(b) * NH + h) * S * Tk;
      nn::gemm_serial<T>(false, true, S, nk, DH, scale, q + int64_t(b) * S * qrs + int64_t(h) * DH, int(qrs),
                         k + b * kbs + int64_t(h) * DH, int(krs), T(0), P, Tk);
      for (int s = 0; s < S; ++s) {
        T* row = P + int64_t(s) * Tk;
        const int n = o + s + 1;
        T mx = row[0];
        for (int j = 1; j < n; ++j) mx = std::max(mx, row[j]);
        T sum = 0;
        for (int j = 0; j < n; ++j) sum += (row[j] = std::exp(row[j] - mx));
        const T inv = T(1) / sum;
        for (int j = 0; j < n; ++j) row[j] *= inv;
        std::fill(row + n, row + Tk, T(0));
      }
      nn::gemm_serial<T>(false, false, S, DH, nk, T(1), P, Tk, v + b * kbs + int64_t(h) * DH, int(krs), T(0),
                         y + int64_t(b) * S * D + int64_t(h) * DH, D);
    }
}

// Backward of attention_forward for the training form (off = 0, Tk = S, q/k/v in one qkv buffer (B, S, 3D)):
// d_qkv ACCUMULATES; scratch (B, NH, S, S).
template <class T>
void attention_backward(T* d_qkv, T* scratch, const T* d_y /* (B, S, D) */, const T* att, const T* qkv, int B,
                        int S, int NH, int DH) {
  const int D = NH * DH, R = 3 * D;
  const T scale = T(1) / std::sqrt(T(DH));
#pragma omp parallel for collapse(2) if (double(B) * NH * S * S * DH > double(kParMin))
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < NH; ++h) {
      const int64_t base = int64_t(b) * S * R + int64_t(h) * DH;
      const T *qb = qkv + base, *kb = qb + D, *vb = qb + 2 * D;
      T *dq = d_qkv + base, *dk = dq + D, *dv = dq + 2 * D;
      const T* dy = d_y + int64_t(b) * S * D + int64_t(h) * DH;
      const T* P = att + (int64_t(b) * NH + h) * S * S;
      T* dP = scratch + (int64_t(b) * NH + h) * S * S;
      nn::gemm_serial<T>(false, true, S, S, DH, T(1), dy, D, vb, R, T(0), dP, S);
      nn::gemm_serial<T>(true, false, S, DH, S, T(1), P, S, dy, D, T(1), dv, R);
      for (int s = 0; s < S; ++s) {
        const T* p = P + int64_t(s) * S;
        T* g = dP + int64_t(s) * S;
        T r = 0;
        for (int j = 0; j <= s; ++j) r += p[j] * g[j];
        for (int j = 0; j <= s; ++j) g[j] = p[j] * (g[j] - r) * scale;
        std::fill(g + s + 1, g + S, T(0));
      }
      nn::gemm_serial<T>(false, false, S, DH, S, T(1), dP, S, kb, R, T(1), dq, R);
      nn::gemm_serial<T>(true, false, S, DH, S, T(1), dP, S, qb, R, T(1), dk, R);
    }
}
}  // namespace

// ---------------------------------------------------------------------------------------------- KV cache
template <class T>
void KvCache<T>::reserve(int steps) {
  if (steps <= cap) return;
  const int ncap = std::max({steps, cap * 2, 16});
  for (int l = 0; l < L; ++l)
    for (auto* buf : {&k[size_t(l)], &v[size_t(l)]}) {
      std::vector<T> n(size_t(B) * ncap * D, T(0));
      for (int b = 0; b < B; ++b)
        std::copy_n(buf->begin() + int64_t(b) * cap * D, int64_t(len[size_t(b)]) * D, n.begin() + int64_t(b) * ncap * D);
      buf->swap(n);
    }
  cap = ncap;
}

template <class T>
void KvCache<T>::reset_row(int b) {
  if (b < 0 || b >= B) throw Error("reset_row: row " + std::to_string(b) + " is outside [0, " + std::to_string(B) + ")");
  for (int l = 0; l < L; ++l) {
    std::fill_n(k[size_t(l)].begin() + int64_t(b) * cap * D, int64_t(len[size_t(b)]) * D, T(0));
    std::fill_n(v[size_t(l)].begin() + int64_t(b) * cap * D, int64_t(len[size_t(b)]) * D, T(0));
  }
  len[size_t(b)] = 0;
}

template <class T>
void KvCache<T>::copy_row(int dst, const KvCache& src, int src_row) {
  if (src.L != L || src.D != D) throw Error("copy_row: the source cache belongs to a transformer of another shape");
  if (dst < 0 || dst >= B) throw Error("copy_row: destination row " + std::to_string(dst) + " is outside [0, " + std::to_string(B) + ")");
  if (src_row < 0 || src_row >= src.B)
    throw Error("copy_row: source row " + std::to_string(src_row) + " is outside [0, " + std::to_string(src.B) + ")");
  if (&src == this && dst == src_row) return;
  const int n = src.len[size_t(src_row)];
  reserve(n);
  for (int l = 0; l < L; ++l) {
    std::copy_n(src.k[size_t(l)].begin() + int64_t(src_row) * src.cap * D, int64_t(n) * D,
                k[size_t(l)].begin() + int64_t(dst) * cap * D);
    std::copy_n(src.v[size_t(l)].begin() + int64_t(src_row) * src.cap * D, int64_t(n) * D,
                v[size_t(l)].begin() + int64_t(dst) * cap * D);
  }
  len[size_t(dst)] = n;
}

template <class T>
size_t KvCache<T>::bytes() const {
  size_t n = 0;
  for (int l = 0; l < L; ++l) n += k[size_t(l)].size() + v[size_t(l)].size();
  return n * sizeof(T);
}

// ---------------------------------------------------------------------------------------------- the model
template <class T>
TransformerLM<T>::TransformerLM(const TransformerConfig& cfg)
    : cfg_(validated(cfg, "transformer config")), table_(transformer_param_table(cfg_)) {
  auto at = [&](const std::string& n) { return table_.at("xm.transformer." + n).offset; };
  emb_ = at("embedding.weight");
  if (cfg_.positions == Positions::learned) pos_ = at("position.weight");
  for (int l = 0; l < cfg_.num_layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    lo_.push_back({at(p + "ln1.weight"), at(p + "ln1.bias"), at(p + "attn.qkv.weight"), at(p + "attn.qkv.bias"),
                   at(p + "attn.proj.weight"), at(p + "attn.proj.bias"), at(p + "ln2.weight"), at(p + "ln2.bias"),
                   at(p + "mlp.fc.weight"), at(p + "mlp.fc.bias"), at(p + "mlp.proj.weight"),
                   at(p + "mlp.proj.bias")});
  }
  lnf_w_ = at("ln_f.weight"), lnf_b_ = at("ln_f.bias"), head_ = at("head.weight");
  params_.assign(size_t(table_.total()), T(0));
  grads_.assign(size_t(table_.total()), T(0));
}

template <class T>
void TransformerLM<T>::init(uint64_t seed) {
  nn::Rng rng(seed);
  const double resid_std = 0.02 / std::sqrt(2.0 * cfg_.num_layers);
  auto ends = [](const std::string& s, const char* suf) {
    const size_t n = std::strlen(suf);
    return s.size() >= n && s.compare(s.size() - n, n, suf) == 0;
  };
  for (const ParamEntry& e : table_.entries()) {
    T* p = params_.data() + e.offset;
    const bool norm = e.name.find(".ln") != std::string::npos;
    for (int64_t i = 0; i < e.numel; ++i) {
      if (norm)
        p[i] = ends(e.name, ".weight") ? T(1) : T(0);
      else if (ends(e.name, ".bias"))
        p[i] = T(0);
      else if (ends(e.name, "attn.proj.weight") || ends(e.name, "mlp.proj.weight"))
        p[i] = T(rng.normal(0.0, resid_std));
      else
        p[i] = T(rng.normal(0.0, 0.02));
    }
  }
}

template <class T>
double TransformerLM<T>::run(TransformerCache<T>& c, const int32_t* ids, const int32_t* targets, int B, int S,
                             KvCache<T>* kv, T* last_logits) const {
  if (B <= 0 || S <= 0)
    throw Error("transformer forward: batch " + std::to_string(B) + " x sequence " + std::to_string(S) + " is empty");
  const int D = cfg_.embedding_dim, V = cfg_.vocab_size, F = cfg_.ffn_dim, NH = cfg_.num_heads, DH = D / NH,
            half = DH / 2, N = B * S;
  const T* P = params_.data();
  c.B = B, c.S = S;
  c.ids.assign(ids, ids + N);
  if (targets)
    c.targets.assign(targets, targets + N);
  else
    c.targets.clear();
  int max_len = 0;
  if (kv) {
    if (kv->B != B || kv->L != cfg_.num_layers || kv->D != D)
      throw Error("transformer feed: the cache belongs to a model of another shape");
    for (int b = 0; b < B; ++b) max_len = std::max(max_len, kv->len[size_t(b)]);
  }
  c.pos.resize(size_t(N));
  for (int b = 0; b < B; ++b)
    for (int s = 0; s < S; ++s) c.pos[size_t(b) * S + s] = (kv ? kv->len[size_t(b)] : 0) + s;
  if (cfg_.positions == Positions::learned) {
    for (int b = 0; b < B; ++b) {
      const int last = c.pos[size_t(b) * S + S - 1];
      if (last >= cfg_.context_length)
        throw Error("transformer: row " + std::to_string(b) + " reaches step " + std::to_string(last + 1) +
                    ", past context_length " + std::to_string(cfg_.context_length) +
                    " of its learned position table; use shorter sequences (or a model with \"positions\": "
                    "\"rotary\", which extrapolates)");
    }
  } else {
    c.cos.resize(size_t(N) * half), c.sin.resize(size_t(N) * half);
    for (int n = 0; n < N; ++n)
      for (int i = 0; i < half; ++i) {
        const double a = c.pos[size_t(n)] * std::pow(kRotaryBase, -2.0 * i / DH);
        c.cos[size_t(n) * half + i] = T(std::cos(a)), c.sin[size_t(n) * half + i] = T(std::sin(a));
      }
  }
  const int Tk = kv ? max_len + S : S;
  if (kv) kv->reserve(max_len + S);
  c.Tk = Tk;

  c.layers.resize(size_t(cfg_.num_layers));
  std::vector<T>* x = &c.layers[0].x;
  x->resize(size_t(N) * D);
  nn::embedding_forward(x->data(), ids, P + emb_, N, V, D);
  if (pos_ >= 0)
    for (int n = 0; n < N; ++n) {
      const T* pe = P + pos_ + int64_t(c.pos[size_t(n)]) * D;
      for (int d = 0; d < D; ++d) (*x)[size_t(n) * D + d] += pe[d];
    }
  for (int l = 0; l < cfg_.num_layers; ++l) {
    auto& y = c.layers[size_t(l)];
    const LayerOffsets& o = lo_[size_t(l)];
    y.a.resize(size_t(N) * D), y.mean1.resize(size_t(N)), y.rstd1.resize(size_t(N));
    ln_forward(y.a.data(), y.mean1.data(), y.rstd1.data(), y.x.data(), P + o.ln1_w, P + o.ln1_b, N, D);
    y.qkv.resize(size_t(N) * 3 * D);
    nn::linear_forward<T>(y.qkv.data(), y.a.data(), P + o.qkv_w, P + o.qkv_b, N, D, 3 * D);
    if (cfg_.positions == Positions::rotary) {
      rope_apply(y.qkv.data(), 3 * D, c.cos.data(), c.sin.data(), N, NH, DH, false);
      rope_apply(y.qkv.data() + D, 3 * D, c.cos.data(), c.sin.data(), N, NH, DH, false);
    }
    y.att.resize(size_t(B) * NH * S * Tk);
    y.y.resize(size_t(N) * D);
    if (kv) {
      T *K = kv->k[size_t(l)].data(), *Vc = kv->v[size_t(l)].data();
      for (int b = 0; b < B; ++b)
        for (int s = 0; s < S; ++s) {
          const T* src = y.qkv.data() + (size_t(b) * S + s) * 3 * D;
          const int64_t at = (int64_t(b) * kv->cap + kv->len[size_t(b)] + s) * D;
          std::copy_n(src + D, D, K + at);
          std::copy_n(src + 2 * D, D, Vc + at);
        }
      attention_forward(y.y.data(), y.att.data(), y.qkv.data(), 3 * D, K, Vc, int64_t(kv->cap) * D, D,
                        kv->len.data(), B, S, Tk, NH, DH);
    } else {
      attention_forward(y.y.data(), y.att.data(), y.qkv.data(), 3 * D, y.qkv.data() + D, y.qkv.data() + 2 * D,
                        int64_t(S) * 3 * D, 3 * D, nullptr, B, S, Tk, NH, DH);
    }
    y.x_mid.resize(size_t(N) * D);
    nn::linear_forward<T>(y.x_mid.data(), y.y.data(), P + o.proj_w, P + o.proj_b, N, D, D);
    nn::residual_forward<T>(y.x_mid.data(), y.x_mid.data(), y.x.data(), int64_t(N) * D);
    y.m.resize(size_t(N) * D), y.mean2.resize(size_t(N)), y.rstd2.resize(size_t(N));
    ln_forward(y.m.data(), y.mean2.data(), y.rstd2.data(), y.x_mid.data(), P + o.ln2_w, P + o.ln2_b, N, D);
    y.h.resize(size_t(N) * F), y.g.resize(size_t(N) * F);
    nn::linear_forward<T>(y.h.data(), y.m.data(), P + o.fc_w, P + o.fc_b, N, D, F);
    nn::gelu_forward<T>(y.g.data(), y.h.data(), int64_t(N) * F);
    x = l + 1 < cfg_.num_layers ? &c.layers[size_t(l) + 1].x : &c.x_out;
    x->resize(size_t(N) * D);
    nn::linear_forward<T>(x->data(), y.g.data(), P + o.out_w, P + o.out_b, N, F, D);
    nn::residual_forward<T>(x->data(), x->data(), y.x_mid.data(), int64_t(N) * D);
  }
  if (kv) {
    for (int b = 0; b < B; ++b) kv->len[size_t(b)] += S;
    // logits of each row's last new step only
    std::vector<T> last(size_t(B) * D), f(size_t(B) * D), stat(size_t(2) * B);
    for (int b = 0; b < B; ++b) std::copy_n(c.x_out.begin() + (int64_t(b) * S + S - 1) * D, D, last.begin() + int64_t(b) * D);
    ln_forward(f.data(), stat.data(), stat.data() + B, last.data(), P + lnf_w_, P + lnf_b_, B, D);
    nn::linear_forward<T>(last_logits, f.data(), P + head_, nullptr, B, D, V);
    return 0.0;
  }
  c.f.resize(size_t(N) * D), c.mean_f.resize(size_t(N)), c.rstd_f.resize(size_t(N));
  ln_forward(c.f.data(), c.mean_f.data(), c.rstd_f.data(), c.x_out.data(), P + lnf_w_, P + lnf_b_, N, D);
  c.logits.resize(size_t(N) * V);
  nn::linear_forward<T>(c.logits.data(), c.f.data(), P + head_, nullptr, N, D, V);
  if (!targets) return 0.0;
  c.logp.resize(size_t(N) * V);
  return nn::cross_entropy_forward(c.logp.data(), nullptr, c.logits.data(), targets, N, V, kIgnoreIndex,
                                   label_smoothing_);
}

template <class T>
double TransformerLM<T>::forward(const int32_t* ids, const int32_t* targets, int B, int S) {
  return run(cache_, ids, targets, B, S, nullptr, nullptr);
}

template <class T>
void TransformerLM<T>::feed(KvCache<T>& kv, const int32_t* ids, int S, T* logits) const {
  if (S <= 0) return;
  run(kv.scratch, ids, nullptr, kv.B, S, &kv, logits);
}

template <class T>
void TransformerLM<T>::backward(double d_loss) {
  auto& c = cache_;
  if (c.targets.empty())
    throw Error("transformer backward: the last forward had no targets; call forward with targets");
  const int B = c.B, S = c.S, N = B * S, D = cfg_.embedding_dim, V = cfg_.vocab_size, F = cfg_.ffn_dim,
            NH = cfg_.num_heads, DH = D / NH;
  const T* P = params_.data();
  T* G = grads_.data();
  std::vector<T> d_logits(size_t(N) * V, T(0));
  nn::cross_entropy_backward(d_logits.data(), d_loss, c.logp.data(), c.targets.data(), N, V, kIgnoreIndex,
                             label_smoothing_);
  std::vector<T> df(size_t(N) * D, T(0)), dx(size_t(N) * D, T(0));
  nn::linear_backward<T>(df.data(), G + head_, nullptr, d_logits.data(), c.f.data(), P + head_, N, D, V);
  ln_backward(dx.data(), G + lnf_w_, G + lnf_b_, df.data(), c.x_out.data(), c.mean_f.data(), c.rstd_f.data(),
              P + lnf_w_, N, D);
  std::vector<T> dg(size_t(N) * F), dh(size_t(N) * F), dm(size_t(N) * D), dxm(size_t(N) * D), dy(size_t(N) * D),
      dqkv(size_t(N) * 3 * D), da(size_t(N) * D), scratch(size_t(B) * NH * S * S);
  for (int l = cfg_.num_layers - 1; l >= 0; --l) {
    const auto& y = c.layers[size_t(l)];
    const LayerOffsets& o = lo_[size_t(l)];
    // MLP: out = x_mid + proj(gelu(fc(ln2(x_mid))))
    std::fill(dg.begin(), dg.end(), T(0));
    nn::linear_backward<T>(dg.data(), G + o.out_w, G + o.out_b, dx.data(), y.g.data(), P + o.out_w, N, F, D);
    std::fill(dh.begin(), dh.end(), T(0));
    nn::gelu_backward<T>(dh.data(), dg.data(), y.h.data(), int64_t(N) * F);
    std::fill(dm.begin(), dm.end(), T(0));
    nn::linear_backward<T>(dm.data(), G + o.fc_w, G + o.fc_b, dh.data(), y.m.data(), P + o.fc_w, N, D, F);
    dxm = dx;
    ln_backward(dxm.data(), G + o.ln2_w, G + o.ln2_b, dm.data(), y.x_mid.data(), y.mean2.data(), y.rstd2.data(),
                P + o.ln2_w, N, D);
    // attention: x_mid = x + proj(attn(qkv(ln1(x))))
    std::fill(dy.begin(), dy.end(), T(0));
    nn::linear_backward<T>(dy.data(), G + o.proj_w, G + o.proj_b, dxm.data(), y.y.data(), P + o.proj_w, N, D, D);
    std::fill(dqkv.begin(), dqkv.end(), T(0));
    attention_backward(dqkv.data(), scratch.data(), dy.data(), y.att.data(), y.qkv.data(), B, S, NH, DH);
    if (cfg_.positions == Positions::rotary) {
      rope_apply(dqkv.data(), 3 * D, c.cos.data(), c.sin.data(), N, NH, DH, true);
      rope_apply(dqkv.data() + D, 3 * D, c.cos.data(), c.sin.data(), N, NH, DH, true);
    }
    std::fill(da.begin(), da.end(), T(0));
    nn::linear_backward<T>(da.data(), G + o.qkv_w, G + o.qkv_b, dqkv.data(), y.a.data(), P + o.qkv_w, N, D, 3 * D);
    dx = dxm;
    ln_backward(dx.data(), G + o.ln1_w, G + o.ln1_b, da.data(), y.x.data(), y.mean1.data(), y.rstd1.data(),
                P + o.ln1_w, N, D);
  }
  nn::embedding_backward(G + emb_, dx.data(), c.ids.data(), N, V, D);
  if (pos_ >= 0)
    for (int n = 0; n < N; ++n) {
      T* gp = G + pos_ + int64_t(c.pos[size_t(n)]) * D;
      for (int d = 0; d < D; ++d) gp[d] += dx[size_t(n) * D + d];
    }
}

template <class T>
void TransformerLM<T>::target_nll(float* out) const {
  const int V = cfg_.vocab_size;
  const size_t N = size_t(cache_.B) * cache_.S;
  if (cache_.targets.size() != N || cache_.logp.size() != N * size_t(V))
    throw Error("target_nll: the last forward had no targets");
  for (size_t i = 0; i < N; ++i) {
    const int32_t t = cache_.targets[i];
    out[i] = t == kIgnoreIndex ? 0.0f : float(-cache_.logp[i * V + t]);
  }
}

template struct KvCache<float>;
template struct KvCache<double>;
template class TransformerLM<float>;
template class TransformerLM<double>;

// ---------------------------------------------------------------------------------------------- SeqModel
namespace {
struct TransformerTraits {
  using LM = TransformerLM<float>;
  using Cache = KvCache<float>;
  static constexpr const char* kFamily = "transformer";
  static json config_json(const LM& lm) { return transformer_config_to_json(lm.config()); }
  static Cache new_cache(const LM& lm, int B) { return lm.new_cache(B); }
};
}  // namespace

std::unique_ptr<SeqModel> make_transformer_model(const json& cfg, const std::string& what) {
  return std::make_unique<FlatSeqModel<TransformerTraits>>(transformer_config_from_json(cfg, what));
}

}  // namespace xm::model

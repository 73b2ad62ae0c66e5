// Tests of the LSTM and Transformer baselines (model/lstm_model.h, model/transformer_model.h): configs, parameter
// tables, finite-difference gradients in double for every tensor, step-by-step and prefill logits equal to the full
// forward, copy_row/reset_row, overfitting one batch, model files. Not the xLSTM (test_model_*.cpp).
#include <cmath>
#include <fstream>

#include "core/safetensors.h"
#include "model/lstm_model.h"
#include "model/optim.h"
#include "model/seq_model.h"
#include "model/transformer_model.h"
#include "nn/rng.h"
#include "support/test_support.h"

using namespace xm::model;
using xm::json;

namespace {
std::vector<int32_t> random_tokens(size_t n, int V, uint64_t seed) {
  xm::nn::Rng r(seed);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = int32_t(r.below(uint64_t(V)));
  return t;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const xm::Error& e) {
    return e.what();
  }
  return "(no error)";
}

LstmConfig tiny_lstm(bool tie, int H) {
  LstmConfig c;
  c.vocab_size = 7, c.context_length = 8, c.embedding_dim = 5, c.hidden_dim = H, c.num_layers = 2;
  c.tie_weights = tie;
  return c;
}
TransformerConfig tiny_transformer(Positions p) {
  TransformerConfig c;
  c.vocab_size = 9, c.context_length = 8, c.embedding_dim = 8, c.num_layers = 2, c.num_heads = 2, c.ffn_dim = 12;
  c.positions = p;
  return c;
}
json lstm_json() {
  return {{"family", "lstm"}, {"vocab_size", 11}, {"context_length", 16}, {"embedding_dim", 8},
          {"hidden_dim", 12}, {"num_layers", 2},  {"tie_weights", false}};
}
json transformer_json(const char* positions) {
  return {{"family", "transformer"}, {"vocab_size", 11}, {"context_length", 16}, {"embedding_dim", 8},
          {"num_layers", 2},         {"num_heads", 2},   {"ffn_dim", 16},       {"positions", positions}};
}

// d loss / d p for `coords` random coordinates of every tensor (central differences in double); failures as text.
template <class M>
std::string fd_check(M& m, int V, int B, int S, int coords, uint64_t seed, double smoothing = 0.0) {
  xm::nn::Rng rng(seed);
  m.init(seed);
  for (auto& p : m.params()) p += 0.3 * rng.normal();  // away from the init, so no tensor is trivially special
  m.set_label_smoothing(smoothing);
  auto ids = random_tokens(size_t(B) * S, V, seed + 1), tg = random_tokens(size_t(B) * S, V, seed + 2);
  tg[1] = kIgnoreIndex;
  std::fill(m.grads().begin(), m.grads().end(), 0.0);
  m.forward(ids.data(), tg.data(), B, S);
  m.backward(1.0);
  std::string fails;
  const double h = 1e-5;
  for (const auto& e : m.table().entries()) {
    for (int k = 0; k < coords; ++k) {
      const size_t i = size_t(e.offset) + size_t(rng.below(uint64_t(e.numel)));
      double& p = m.params()[i];
      const double p0 = p;
      p = p0 + h;
      const double lp = m.forward(ids.data(), tg.data(), B, S);
      p = p0 - h;
      const double lm = m.forward(ids.data(), tg.data(), B, S);
      p = p0;
      const double num = (lp - lm) / (2 * h), ana = m.grads()[i];
      if (std::fabs(num - ana) > 1e-8 + 1e-5 * std::max(std::fabs(num), std::fabs(ana)))
        fails += "\n  " + e.name + " [" + std::to_string(i - size_t(e.offset)) + "]: analytic " +
                 std::to_string(ana) + ", numeric " + std::to_string(num);
    }
  }
  return fails;
}

// Largest |a - b| between the full forward's logits at step s and the logits after feeding steps one at a time
// (or first `prefill` steps at once, then chunks of `chunk`), over every row and step, in double.
template <class M, class State>
double step_vs_full(M& m, State st, int V, int B, int S, int prefill, int chunk) {
  auto ids = random_tokens(size_t(B) * S, V, 77);
  m.forward(ids.data(), nullptr, B, S);
  const std::vector<double> full = m.logits();
  std::vector<double> logits(size_t(B) * V);
  double worst = 0;
  int s = 0;
  while (s < S) {
    const int n = std::min(S - s, s == 0 ? prefill : chunk);
    std::vector<int32_t> part(size_t(B) * n);
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < n; ++j) part[size_t(b) * n + j] = ids[size_t(b) * S + s + j];
    m.feed(st, part.data(), n, logits.data());
    s += n;
    for (int b = 0; b < B; ++b)
      for (int v = 0; v < V; ++v)
        worst = std::max(worst, std::fabs(logits[size_t(b) * V + v] - full[(size_t(b) * S + s - 1) * V + v]));
  }
  return worst;
}

// The logits (B, V) a SeqModel state holds now, read through next().
std::vector<float> next_logits(const SeqModel& m, SeqState& st) {
  std::vector<float> out(size_t(st.batch()) * m.vocab_size());
  m.next(st, [&](int, const float* l, int32_t* chosen) {
    std::copy(l, l + out.size(), out.begin());
    for (int b = 0; b < st.batch(); ++b) chosen[b] = 0;
  });
  return out;
}
double row_diff(const std::vector<float>& a, int ra, const std::vector<float>& b, int rb, int V) {
  double worst = 0;
  for (int v = 0; v < V; ++v) worst = std::max(worst, double(std::fabs(a[size_t(ra) * V + v] - b[size_t(rb) * V + v])));
  return worst;
}

// Through the float SeqModel: the NLL of every target after a 3-step prefill and single steps equals the full
// forward's target_nll; returns the largest difference.
double seq_step_vs_full(const json& cfg) {
  auto m = make_seq_model(cfg);
  m->init(2);
  const int V = m->vocab_size(), B = 2, S = 10;
  auto ids = random_tokens(size_t(B) * S, V, 6), tg = random_tokens(size_t(B) * S, V, 7);
  m->forward(ids.data(), tg.data(), B, S);
  std::vector<float> nll(size_t(B) * S);
  m->target_nll(nll.data());
  auto st = m->new_state(B);
  double worst = 0;
  for (int s = 0; s < S;) {
    const int n = s == 0 ? 3 : 1;
    std::vector<int32_t> part;
    for (int b = 0; b < B; ++b)
      for (int j = 0; j < n; ++j) part.push_back(ids[size_t(b) * S + s + j]);
    m->feed(*st, part.data(), n);
    s += n;
    auto l = next_logits(*m, *st);
    for (int b = 0; b < B; ++b) {
      double mx = -1e30, sum = 0;
      for (int v = 0; v < V; ++v) mx = std::max(mx, double(l[size_t(b) * V + v]));
      for (int v = 0; v < V; ++v) sum += std::exp(double(l[size_t(b) * V + v]) - mx);
      const double mine = mx + std::log(sum) - l[size_t(b) * V + tg[size_t(b) * S + s - 1]];
      worst = std::max(worst, std::fabs(mine - nll[size_t(b) * S + s - 1]));
    }
  }
  return worst;
}

// copy_row / reset_row through the SeqModel interface: a copied row continues like its source, a reset row like a
// fresh state, a row copied from another state like that state. Returns failures as text.
std::string check_rows(const json& cfg, bool kv_grows) {
  auto m = make_seq_model(cfg);
  m->init(3);
  const int V = m->vocab_size(), B = 3;
  std::string fails;
  auto st = m->new_state(B);
  const size_t bytes0 = st->bytes();
  auto ids = random_tokens(size_t(B) * 4, V, 5);
  m->feed(*st, ids.data(), 4);
  if (st->steps() != 4) fails += "\n  steps() " + std::to_string(st->steps()) + " after 4";
  if (kv_grows ? st->bytes() <= bytes0 : st->bytes() != bytes0)
    fails += "\n  bytes() " + std::to_string(bytes0) + " -> " + std::to_string(st->bytes()) + " after 4 steps";
  // row 2 <- row 0; row 1 reset; then everyone gets the same 3 tokens
  st->copy_row(2, *st, 0);
  st->reset_row(1);
  auto fresh = m->new_state(1);
  auto other = m->new_state(1);  // fed 2 other tokens, then copied into row 0 of a second big state
  auto other_ids = random_tokens(2, V, 9);
  m->feed(*other, other_ids.data(), 2);
  auto st2 = m->new_state(B);
  m->feed(*st2, ids.data(), 4);
  st2->copy_row(0, *other, 0);
  for (int k = 0; k < 3; ++k) {
    const int32_t tok = int32_t((k * 5 + 1) % V);
    std::vector<int32_t> row(B, tok);
    m->feed(*st, row.data(), 1);
    m->feed(*fresh, &tok, 1);
    m->feed(*st2, row.data(), 1);
    m->feed(*other, &tok, 1);
    auto a = next_logits(*m, *st), f = next_logits(*m, *fresh), a2 = next_logits(*m, *st2), o = next_logits(*m, *other);
    if (row_diff(a, 2, a, 0, V) > 1e-5) fails += "\n  copied row differs from its source at step " + std::to_string(k);
    if (row_diff(a, 1, f, 0, V) > 1e-5) fails += "\n  reset row differs from a fresh state at step " + std::to_string(k);
    if (row_diff(a2, 0, o, 0, V) > 1e-5)
      fails += "\n  row copied from another state differs from it at step " + std::to_string(k);
    if (row_diff(a, 0, a, 1, V) < 1e-6) fails += "\n  reset row equals an unreset one (the test sees nothing)";
  }
  return fails;
}

// A tiny model learns one fixed batch with AdamW: the loss falls from about ln V to under 0.05.
double overfit(const json& cfg, int steps, double lr) {
  auto m = make_seq_model(cfg);
  m->init(1);
  const int V = m->vocab_size(), B = 2, S = 12;
  auto ids = random_tokens(size_t(B) * S, V, 21), tg = random_tokens(size_t(B) * S, V, 22);
  AdamW<float> opt(m->table(), AdamWConfig{0.9, 0.999, 1e-8, 0.0});
  for (int i = 0; i < steps; ++i) {
    m->zero_grad();
    m->forward(ids.data(), tg.data(), B, S);
    m->backward(1.0);
    opt.step(m->params().data(), m->grads().data(), lr);
  }
  return m->forward(ids.data(), tg.data(), B, S);
}

// Save, load: same family, config, parameters (bit for bit) and logits; then damaged files are rejected naming
// the tensor.
void check_file_round_trip(const json& cfg, const std::string& tensor, const std::vector<int64_t>& shape) {
  auto m = make_seq_model(cfg);
  m->init(11);
  const auto dir = xmtest::temp_dir("baselines");
  const auto path = dir / "m.safetensors";
  ModelMeta meta;
  meta.training = {{"steps", 3}};
  save_seq_model(path, *m, meta);
  LoadedSeqModel l = load_seq_model(path);
  ASSERT_EQ(l.model->family(), m->family());
  EXPECT_EQ(l.model->config_json(), m->config_json());
  EXPECT_EQ(l.model->params(), m->params());
  EXPECT_EQ(l.meta.training["steps"], 3);
  auto ids = random_tokens(12, m->vocab_size(), 4);
  m->forward(ids.data(), nullptr, 2, 6);
  auto s1 = m->new_state(1), s2 = l.model->new_state(1);
  m->feed(*s1, ids.data(), 6);
  l.model->feed(*s2, ids.data(), 6);
  EXPECT_EQ(next_logits(*m, *s1), next_logits(*l.model, *s2));

  // the same file with one tensor of the wrong shape, and with one tensor missing
  xm::SafeTensors st = xm::SafeTensors::read(path);
  for (int variant = 0; variant < 2; ++variant) {
    xm::SafeTensorsWriter w;
    for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
    for (const auto& t : st.tensors()) {
      if (t.name == tensor) {
        if (variant == 1) continue;
        std::vector<float> data(size_t(shape[0]) * (shape.size() > 1 ? shape[1] : 1), 0.5f);
        w.add_f32(t.name, shape, data.data());
      } else {
        w.add(t.name, t.dtype, t.shape, st.data(t));
      }
    }
    const auto bad = dir / ("bad" + std::to_string(variant) + ".safetensors");
    w.write(bad);
    const std::string err = error_of([&] { load_seq_model(bad); });
    EXPECT_NE(err.find("\"" + tensor + "\""), std::string::npos) << err;
    EXPECT_NE(err.find(variant == 0 ? "shape" : "missing"), std::string::npos) << err;
  }
}
}  // namespace

// ================================================================================================ LSTM
TEST(model, lstm_config_fields_are_validated) {
  EXPECT_EQ(lstm_config_to_json(lstm_config_from_json(lstm_json(), "cfg")), lstm_json());
  auto err = [](json j) { return error_of([&] { make_seq_model(j, "cfg"); }); };
  json j = lstm_json();
  j.erase("num_layers");
  EXPECT_NE(err(j).find("\"num_layers\""), std::string::npos) << err(j);
  j = lstm_json(), j["hidden_dim"] = 0;
  EXPECT_NE(err(j).find("\"hidden_dim\""), std::string::npos) << err(j);
  j = lstm_json(), j["embedding_dim"] = "8";
  EXPECT_NE(err(j).find("\"embedding_dim\""), std::string::npos) << err(j);
  j = lstm_json(), j["tie_weights"] = 1;
  EXPECT_NE(err(j).find("\"tie_weights\""), std::string::npos) << err(j);
  j = lstm_json(), j["hiden_dim"] = 8;
  EXPECT_NE(err(j).find("unknown field \"hiden_dim\""), std::string::npos) << err(j);
}

TEST(model, lstm_parameter_table_matches_torch_lstm) {
  // Embedding(512, 256) -> nn.LSTM -> Linear(H, 512, bias=False): the counts of ../shared/reference/pytorch-baseline.md
  json j = {{"family", "lstm"}, {"vocab_size", 512}, {"context_length", 256}, {"embedding_dim", 256},
            {"hidden_dim", 256}, {"num_layers", 3}};
  EXPECT_EQ(make_seq_model(j)->num_params(), 1841152);
  j["hidden_dim"] = 320, j["num_layers"] = 2;
  auto m = make_seq_model(j);
  EXPECT_EQ(m->num_params(), 1856512);
  const ParamTable& t = m->table();
  EXPECT_EQ(t.at("xm.lstm.layers.0.weight_ih").shape, (std::vector<int64_t>{1280, 256}));
  EXPECT_EQ(t.at("xm.lstm.layers.1.weight_ih").shape, (std::vector<int64_t>{1280, 320}));
  EXPECT_EQ(t.at("xm.lstm.layers.1.weight_hh").shape, (std::vector<int64_t>{1280, 320}));
  EXPECT_EQ(t.at("xm.lstm.head.weight").shape, (std::vector<int64_t>{512, 320}));
  EXPECT_TRUE(t.at("xm.lstm.layers.0.weight_hh").decay);
  EXPECT_FALSE(t.at("xm.lstm.layers.0.bias_ih").decay);
  EXPECT_FALSE(t.at("xm.lstm.embedding.weight").decay);
  // tied with H != D: a projection, no head
  j["tie_weights"] = true;
  const ParamTable t2 = make_seq_model(j)->table();
  EXPECT_EQ(t2.at("xm.lstm.proj.weight").shape, (std::vector<int64_t>{256, 320}));
  EXPECT_EQ(t2.find("xm.lstm.head.weight"), nullptr);
}

TEST(model, lstm_one_step_follows_torch_formula) {
  // one layer, one step, H = 1: h = o tanh(i g) with i, f, g, o from weight_ih x + bias_ih + bias_hh
  LstmConfig c;
  c.vocab_size = 2, c.embedding_dim = 1, c.hidden_dim = 1, c.num_layers = 1;
  LstmLM<double> m(c);
  // embedding (2, 1), weight_ih (4, 1), weight_hh (4, 1), bias_ih (4), bias_hh (4), head (2, 1)
  const std::vector<double> p = {0.5,  -1.0, 0.1,  0.2,  0.3,  0.4,  9,    9,    9,   9,
                                 0.01, 0.02, 0.03, 0.04, -0.5, -0.5, -0.5, 0.25, 1.0, -2.0};
  ASSERT_EQ(m.params().size(), p.size());
  m.params() = p;
  auto st = m.new_state(1);
  std::vector<double> logits(2);
  int32_t id = 1;  // x = -1
  m.feed(st, &id, 1, logits.data());
  auto sg = [](double x) { return 1 / (1 + std::exp(-x)); };
  const double i = sg(-0.1 + 0.01 - 0.5), g = std::tanh(-0.3 + 0.03 - 0.5), o = sg(-0.4 + 0.04 + 0.25);
  const double cc = i * g, h = o * std::tanh(cc);
  EXPECT_NEAR(st.c[0], cc, 1e-15);
  EXPECT_NEAR(st.h[0], h, 1e-15);
  EXPECT_NEAR(logits[0], h, 1e-15);
  EXPECT_NEAR(logits[1], -2 * h, 1e-15);
  // a second step uses weight_hh and the forget gate
  id = 0;  // x = 0.5
  m.feed(st, &id, 1, logits.data());
  const double i2 = sg(0.05 + 9 * h - 0.49), f2 = sg(0.1 + 9 * h - 0.48), g2 = std::tanh(0.15 + 9 * h - 0.47),
               o2 = sg(0.2 + 9 * h + 0.29);
  const double c2 = f2 * cc + i2 * g2;
  EXPECT_NEAR(st.h[0], o2 * std::tanh(c2), 1e-15);
}

TEST(model, lstm_gradcheck_every_tensor) {
  LstmLM<double> untied(tiny_lstm(false, 6));
  EXPECT_EQ(fd_check(untied, 7, 2, 5, 4, 3), "");
  LstmLM<double> tied_proj(tiny_lstm(true, 6));  // H != D: projection + tied head
  EXPECT_EQ(fd_check(tied_proj, 7, 2, 5, 4, 4, 0.1), "");
  LstmLM<double> tied(tiny_lstm(true, 5));
  EXPECT_EQ(fd_check(tied, 7, 3, 4, 4, 5), "");
}

TEST(model, lstm_steps_and_prefill_equal_full_forward) {
  LstmLM<double> m(tiny_lstm(false, 6));
  m.init(8);
  EXPECT_LT(step_vs_full(m, m.new_state(3), 7, 3, 9, 1, 1), 1e-12);
  EXPECT_LT(step_vs_full(m, m.new_state(3), 7, 3, 9, 5, 1), 1e-12);
  EXPECT_LT(step_vs_full(m, m.new_state(3), 7, 3, 9, 4, 3), 1e-12);
  EXPECT_LT(seq_step_vs_full(lstm_json()), 2e-5);
}

TEST(model, lstm_copy_and_reset_rows) { EXPECT_EQ(check_rows(lstm_json(), false), ""); }

TEST(model, lstm_overfits_one_batch) { EXPECT_LT(overfit(lstm_json(), 150, 0.03), 0.05); }

TEST(model, lstm_file_round_trip_and_damage) {
  check_file_round_trip(lstm_json(), "xm.lstm.layers.1.weight_hh", {48, 13});
}

// ================================================================================================ Transformer
TEST(model, transformer_config_fields_are_validated) {
  for (const char* p : {"learned", "rotary"})
    EXPECT_EQ(transformer_config_to_json(transformer_config_from_json(transformer_json(p), "cfg")),
              transformer_json(p));
  auto err = [](json j) { return error_of([&] { make_seq_model(j, "cfg"); }); };
  json j = transformer_json("rotary");
  j.erase("ffn_dim");
  EXPECT_NE(err(j).find("\"ffn_dim\""), std::string::npos) << err(j);
  j = transformer_json("rotary"), j["num_heads"] = 3;  // does not divide 8
  EXPECT_NE(err(j).find("\"num_heads\""), std::string::npos) << err(j);
  j = transformer_json("rotary"), j["num_heads"] = 8;  // head width 1: odd, no rotary pairs
  EXPECT_NE(err(j).find("\"positions\""), std::string::npos) << err(j);
  j = transformer_json("absolute");
  EXPECT_NE(err(j).find("\"positions\""), std::string::npos) << err(j);
  j = transformer_json("learned"), j["context_length"] = -4;
  EXPECT_NE(err(j).find("\"context_length\""), std::string::npos) << err(j);
  j = transformer_json("learned"), j["dropout"] = 0.1;
  EXPECT_NE(err(j).find("unknown field \"dropout\""), std::string::npos) << err(j);
}

TEST(model, transformer_parameter_table_and_init) {
  json j = transformer_json("learned");
  auto m = make_seq_model(j);
  // V*D + S*D + L * (2D + 3D*D + 3D + D*D + D + 2D + F*D + F + D*F + D) + 2D + V*D with V 11, S 16, D 8, F 16
  const int64_t V = 11, S = 16, D = 8, F = 16, L = 2;
  EXPECT_EQ(m->num_params(), V * D + S * D + L * (4 * D * D + 2 * D * F + 9 * D + F) + 2 * D + V * D);
  const ParamTable& t = m->table();
  EXPECT_EQ(t.at("xm.transformer.layers.1.attn.qkv.weight").shape, (std::vector<int64_t>{24, 8}));
  EXPECT_EQ(t.at("xm.transformer.layers.0.mlp.proj.weight").shape, (std::vector<int64_t>{8, 16}));
  EXPECT_TRUE(t.at("xm.transformer.layers.0.mlp.fc.weight").decay);
  EXPECT_FALSE(t.at("xm.transformer.layers.0.ln1.weight").decay);
  EXPECT_FALSE(t.at("xm.transformer.layers.0.attn.qkv.bias").decay);
  EXPECT_FALSE(t.at("xm.transformer.position.weight").decay);
  EXPECT_EQ(make_seq_model(transformer_json("rotary"))->table().find("xm.transformer.position.weight"), nullptr);
  m->init(1);
  auto view = [&](const std::string& n) {
    const ParamEntry& e = t.at(n);
    return std::vector<float>(m->params().begin() + e.offset, m->params().begin() + e.offset + e.numel);
  };
  for (float x : view("xm.transformer.layers.0.ln2.weight")) EXPECT_EQ(x, 1.0f);
  for (float x : view("xm.transformer.layers.0.attn.proj.bias")) EXPECT_EQ(x, 0.0f);
  auto stdev = [](const std::vector<float>& v) {
    double s = 0;
    for (float x : v) s += double(x) * x;
    return std::sqrt(s / double(v.size()));
  };
  EXPECT_NEAR(stdev(view("xm.transformer.embedding.weight")), 0.02, 0.005);
  EXPECT_NEAR(stdev(view("xm.transformer.layers.1.mlp.proj.weight")), 0.01, 0.0025);  // 0.02 / sqrt(2 L)
}

TEST(model, transformer_gradcheck_every_tensor) {
  TransformerLM<double> learned(tiny_transformer(Positions::learned));
  EXPECT_EQ(fd_check(learned, 9, 2, 6, 4, 3), "");
  TransformerLM<double> rotary(tiny_transformer(Positions::rotary));
  EXPECT_EQ(fd_check(rotary, 9, 2, 7, 4, 4, 0.1), "");
}

TEST(model, transformer_steps_and_prefill_equal_full_forward) {
  for (Positions p : {Positions::learned, Positions::rotary}) {
    TransformerLM<double> m(tiny_transformer(p));
    m.init(8);
    for (auto& x : m.params()) x *= 10;  // larger weights: attention far from uniform, so order matters
    EXPECT_LT(step_vs_full(m, m.new_cache(3), 9, 3, 8, 1, 1), 1e-10);
    EXPECT_LT(step_vs_full(m, m.new_cache(3), 9, 3, 8, 5, 1), 1e-10);
    EXPECT_LT(step_vs_full(m, m.new_cache(3), 9, 3, 8, 3, 2), 1e-10);
  }
  EXPECT_LT(seq_step_vs_full(transformer_json("learned")), 2e-5);
  EXPECT_LT(seq_step_vs_full(transformer_json("rotary")), 2e-5);
}

TEST(model, transformer_attention_is_causal) {
  // changing the last token leaves the logits of every earlier step unchanged
  TransformerLM<double> m(tiny_transformer(Positions::rotary));
  m.init(2);
  auto ids = random_tokens(6, 9, 1);
  m.forward(ids.data(), nullptr, 1, 6);
  const auto a = m.logits();
  ids[5] = (ids[5] + 1) % 9;
  m.forward(ids.data(), nullptr, 1, 6);
  const auto& b = m.logits();
  for (size_t i = 0; i < 5 * 9; ++i) EXPECT_EQ(a[i], b[i]) << i;
  double last = 0;
  for (size_t i = 5 * 9; i < 6 * 9; ++i) last = std::max(last, std::fabs(a[i] - b[i]));
  EXPECT_GT(last, 1e-6);
}

TEST(model, transformer_copy_and_reset_rows) {
  EXPECT_EQ(check_rows(transformer_json("learned"), true), "");
  EXPECT_EQ(check_rows(transformer_json("rotary"), true), "");
}

TEST(model, transformer_overfits_one_batch) {
  EXPECT_LT(overfit(transformer_json("learned"), 150, 0.01), 0.05);
  EXPECT_LT(overfit(transformer_json("rotary"), 150, 0.01), 0.05);
}

TEST(model, transformer_file_round_trip_and_damage) {
  check_file_round_trip(transformer_json("learned"), "xm.transformer.position.weight", {15, 8});
  check_file_round_trip(transformer_json("rotary"), "xm.transformer.layers.1.attn.qkv.bias", {23});
}

TEST(model, transformer_learned_positions_stop_at_context_length) {
  json j = transformer_json("learned");
  j["context_length"] = 4;
  auto m = make_seq_model(j);
  m->init(1);
  auto ids = random_tokens(10, 11, 2);
  const std::string err = error_of([&] { m->forward(ids.data(), nullptr, 2, 5); });
  EXPECT_NE(err.find("context_length 4"), std::string::npos) << err;
  EXPECT_NO_THROW(m->forward(ids.data(), nullptr, 2, 4));
  auto st = m->new_state(1);
  m->feed(*st, ids.data(), 4);
  const std::string err2 = error_of([&] { m->feed(*st, ids.data(), 1); });
  EXPECT_NE(err2.find("context_length 4"), std::string::npos) << err2;
  // rotary positions extrapolate: 3x the context length, step by step
  j["positions"] = "rotary";
  auto r = make_seq_model(j);
  r->init(1);
  auto rs = r->new_state(1);
  for (int s = 0; s < 12; ++s) EXPECT_NO_THROW(r->feed(*rs, &ids[size_t(s % 10)], 1));
  for (float x : next_logits(*r, *rs)) EXPECT_TRUE(std::isfinite(x));
}

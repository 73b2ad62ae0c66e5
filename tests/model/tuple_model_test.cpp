// Tests of the note-tuple model (model/tuple_model.h): finite-difference gradients in double for every parameter
// tensor, the step-by-step and prefill generation paths against the full forward, overfitting one fixed batch,
// model files through save_seq_model / load_seq_model (and damaged ones refused naming the tensor), config errors.
// Not the training loop (tests/train).
#include <cmath>
#include <limits>

#include "core/io.h"
#include "core/safetensors.h"
#include "model/optim.h"
#include "model/seq_model.h"
#include "model/tuple_model.h"
#include "nn/rng.h"
#include "support/test_support.h"

using namespace xm;
using namespace xm::model;

namespace {

// Three fields over 17 ids: event [0, 5), pitch [5, 12), duration [12, 17).
json small_tuple_json(bool post_norm = true, bool slstm_conv = true) {
  XlstmConfig b;
  b.vocab_size = 1;
  b.num_blocks = 2;
  b.embedding_dim = 16;
  b.slstm_at = {1};
  b.mlstm = MlstmLayerConfig{};
  b.mlstm->num_heads = 2;
  b.slstm = SlstmLayerConfig{};
  b.slstm->num_heads = 2;
  if (!slstm_conv) b.slstm->conv1d_kernel_size = 0;
  b.feedforward = FeedForwardConfig{};
  b.add_post_blocks_norm = post_norm;
  b.validate();
  return {{"family", "tuple"},
          {"vocab_size", 17},
          {"context_length", 8},
          {"fields",
           {{{"name", "event"}, {"start", 0}, {"count", 5}},
            {{"name", "pitch"}, {"start", 5}, {"count", 7}},
            {{"name", "duration"}, {"start", 12}, {"count", 5}}}},
          {"field_embedding_dim", 4},
          {"backbone", json::parse(config_to_json(b).dump())}};
}

// Random whole steps: (B, S+1) steps of ids, each field inside its range.
std::vector<int32_t> random_steps(const TupleConfig& c, int B, int steps, nn::Rng& rng) {
  const int F = c.num_fields();
  std::vector<int32_t> v(size_t(B) * steps * F);
  for (size_t i = 0; i < v.size(); ++i) {
    const TupleField& f = c.fields[i % size_t(F)];
    v[i] = f.start + int32_t(rng.below(uint64_t(f.count)));
  }
  return v;
}

// Inputs (B, S*F) and targets (B, S*F) = the next step's fields from B rows of S+1 steps.
void split_io(const std::vector<int32_t>& all, int B, int S, int F, std::vector<int32_t>* ids,
              std::vector<int32_t>* tg) {
  ids->resize(size_t(B) * S * F), tg->resize(size_t(B) * S * F);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < S * F; ++i) {
      (*ids)[size_t(b) * S * F + i] = all[size_t(b) * (S + 1) * F + i];
      (*tg)[size_t(b) * S * F + i] = all[size_t(b) * (S + 1) * F + i + F];
    }
}

std::string fd_check(TupleLM<double>& m, int B, int S, int coords, uint64_t seed) {
  nn::Rng rng(seed);
  const TupleConfig& c = m.config();
  const int F = c.num_fields();
  m.init(seed);
  for (auto& p : m.params()) p += 0.2 * rng.normal();  // no tensor trivially zero
  std::vector<int32_t> ids, tg;
  split_io(random_steps(c, B, S + 1, rng), B, S, F, &ids, &tg);
  for (int f = 0; f < F; ++f) tg[size_t(f)] = kIgnoreIndex;  // a whole ignored step (a control step's target)
  tg[size_t(2 * F + 0)] = kIgnoreIndex;                      // one ignored field: its C_0 row adds nothing
  TupleCache<double> cache;
  m.zero_grad();
  m.forward(cache, ids.data(), tg.data(), B, S);
  m.backward(cache);
  std::string fails;
  const double h = 1e-5;
  for (const auto& e : m.table().entries()) {
    for (int k = 0; k < coords; ++k) {
      const size_t i = size_t(e.offset) + size_t(rng.below(uint64_t(e.numel)));
      double& p = m.params()[i];
      const double p0 = p;
      p = p0 + h;
      const double lp = m.forward(cache, ids.data(), tg.data(), B, S);
      p = p0 - h;
      const double lm = m.forward(cache, ids.data(), tg.data(), B, S);
      p = p0;
      const double num = (lp - lm) / (2 * h), ana = m.grads()[i];
      if (std::fabs(num - ana) > 1e-8 + 1e-5 * std::max(std::fabs(num), std::fabs(ana)))
        fails += "\n  " + e.name + " [" + std::to_string(i - size_t(e.offset)) + "]: analytic " +
                 std::to_string(ana) + ", numeric " + std::to_string(num);
    }
  }
  return fails;
}

}  // namespace

TEST(model, tuple_gradcheck_every_parameter_tensor) {
  TupleLM<double> m(tuple_config_from_json(small_tuple_json()));
  // every group is present: backbone blocks and post norm, field embeddings, in_proj, cond embeddings, heads
  int groups = 0;
  for (const char* part : {".xlstm_block_stack.blocks.0.", ".xlstm_block_stack.blocks.1.", "post_blocks_norm",
                           ".field_embedding.", ".in_proj.", ".cond_embedding.", ".head."})
    for (const auto& e : m.table().entries())
      if (e.name.find(part) != std::string::npos) {
        ++groups;
        break;
      }
  EXPECT_EQ(groups, 7);
  EXPECT_EQ(fd_check(m, 2, 5, 3, 11), "");
}

TEST(model, tuple_gradcheck_variant_paths) {
  // no post norm, an sLSTM block without conv, label smoothing
  TupleLM<double> m(tuple_config_from_json(small_tuple_json(false, false)));
  m.options().label_smoothing = 0.1;
  EXPECT_EQ(fd_check(m, 2, 4, 3, 12), "");
}

TEST(model, tuple_feed_and_next_give_the_full_forwards_logits) {
  const json cj = small_tuple_json();
  std::unique_ptr<SeqModel> m = make_seq_model(cj);
  ASSERT_EQ(m->family(), "tuple");
  ASSERT_EQ(m->fields(), 3);
  ASSERT_EQ(m->vocab_size(), 17);
  TupleLM<float>* lm = as_tuple(*m);
  ASSERT_NE(lm, nullptr);
  m->init(3);
  nn::Rng rng(5);
  for (auto& p : m->params()) p += 0.1f * float(rng.normal());
  const TupleConfig& c = lm->config();
  const int B = 2, S = 6, F = 3, V = 17;
  std::vector<int32_t> ids, tg;
  split_io(random_steps(c, B, S + 1, rng), B, S, F, &ids, &tg);
  TupleCache<float> full;
  lm->forward(full, ids.data(), tg.data(), B, S);

  // For every step: feed it, then next() with a pick that takes the true next step's fields.
  auto compare = [&](SeqState& st, int s, const std::string& how) {
    int calls = 0;
    m->next(st, [&](int f, const float* logits, int32_t* chosen) {
      EXPECT_EQ(f, calls++);
      const TupleField& fd = c.fields[size_t(f)];
      for (int b = 0; b < B; ++b) {
        for (int v = 0; v < V; ++v) {
          const float x = logits[size_t(b) * V + v];
          if (v < fd.start || v >= fd.start + fd.count) {
            EXPECT_EQ(x, -std::numeric_limits<float>::infinity()) << how << " field " << f << " id " << v;
          } else {
            const float want = full.logits[size_t(f)][(size_t(b) * S + s) * fd.count + (v - fd.start)];
            EXPECT_NEAR(x, want, 2e-5 + 2e-5 * std::fabs(want)) << how << " step " << s << " field " << f;
          }
        }
        chosen[b] = tg[(size_t(b) * S + s) * F + f];
      }
    });
    EXPECT_EQ(calls, F);
  };
  auto st = m->new_state(B);
  std::vector<int32_t> one(size_t(B) * F);
  for (int s = 0; s < S; ++s) {
    for (int b = 0; b < B; ++b)
      for (int f = 0; f < F; ++f) one[size_t(b) * F + f] = ids[(size_t(b) * S + s) * F + f];
    m->feed(*st, one.data(), 1);
    EXPECT_EQ(st->steps(), s + 1);
    compare(*st, s, "step");
  }
  // The prefill form: the first 4 steps at once, then one more step.
  auto st2 = m->new_state(B);
  std::vector<int32_t> pre(size_t(B) * 4 * F);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < 4 * F; ++i) pre[size_t(b) * 4 * F + i] = ids[size_t(b) * S * F + i];
  m->feed(*st2, pre.data(), 4);
  compare(*st2, 3, "prefill");
  for (int b = 0; b < B; ++b)
    for (int f = 0; f < F; ++f) one[size_t(b) * F + f] = ids[(size_t(b) * S + 4) * F + f];
  m->feed(*st2, one.data(), 1);
  compare(*st2, 4, "prefill+step");
  // copy_row: both rows of another state (fed one step) become row 0 of st2 and then predict the same
  auto st3 = m->new_state(B);
  m->feed(*st3, one.data(), 1);
  st3->copy_row(1, *st2, 0);
  st3->copy_row(0, *st2, 0);
  std::vector<float> a, bl;
  m->next(*st3, [&](int f, const float* logits, int32_t* chosen) {
    if (f == 0) a.assign(logits, logits + 2 * V);
    chosen[0] = chosen[1] = c.fields[size_t(f)].start;
  });
  ASSERT_EQ(a.size(), size_t(2 * V));
  for (int v = 0; v < V; ++v) EXPECT_EQ(a[size_t(v)], a[size_t(V + v)]);
  // and not what a fresh row predicts
  st3->reset_row(1);
  m->next(*st3, [&](int f, const float* logits, int32_t* chosen) {
    if (f == 0) bl.assign(logits, logits + 2 * V);
    chosen[0] = chosen[1] = c.fields[size_t(f)].start;
  });
  EXPECT_EQ(bl[0], a[0]);
  EXPECT_NE(bl[size_t(V)], a[size_t(V)]);

  // A pick outside the field's ids is refused naming the field; next without a fed step is refused.
  try {
    m->next(*st2, [&](int, const float*, int32_t* chosen) { chosen[0] = chosen[1] = 16; });
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("field event"), std::string::npos) << e.what();
  }
  auto fresh = m->new_state(1);
  EXPECT_THROW(m->next(*fresh, [](int, const float*, int32_t*) {}), Error);

  // target_nll agrees with the mean loss over the counted targets
  const double loss = m->forward(ids.data(), tg.data(), B, S * F);
  std::vector<float> nll(ids.size());
  m->target_nll(nll.data());
  double sum = 0;
  for (float x : nll) sum += x;
  EXPECT_NEAR(sum / double(nll.size()), loss, 1e-5 * loss);
  EXPECT_THROW(m->forward(ids.data(), tg.data(), B, S * F - 1), Error);  // not whole steps
}

TEST(model, tuple_ids_outside_their_field_are_refused_naming_the_field) {
  std::unique_ptr<SeqModel> m = make_seq_model(small_tuple_json());
  m->init(1);
  std::vector<int32_t> ids = {0, 5, 12, 1, 6, 13}, tg = {1, 6, 13, 2, 7, 14};
  EXPECT_NO_THROW(m->forward(ids.data(), tg.data(), 1, 6));
  ids[4] = 2;  // step 1, pitch field holds an event id
  try {
    m->forward(ids.data(), tg.data(), 1, 6);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("step 1, field pitch"), std::string::npos) << e.what();
  }
  ids[4] = 6;
  tg[2] = 3;  // target of the duration field
  try {
    m->forward(ids.data(), tg.data(), 1, 6);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("field duration"), std::string::npos) << e.what();
  }
}

TEST(model, tuple_overfits_one_fixed_batch) {
  std::unique_ptr<SeqModel> m = make_seq_model(small_tuple_json());
  m->init(7);
  TupleLM<float>* lm = as_tuple(*m);
  nn::Rng rng(9);
  const int B = 2, S = 8, F = 3;
  std::vector<int32_t> ids, tg;
  split_io(random_steps(lm->config(), B, S + 1, rng), B, S, F, &ids, &tg);
  AdamWConfig ac;
  ac.weight_decay = 0.0;
  AdamW<float> opt(m->table(), ac);
  double first = 0, last = 0;
  for (int it = 0; it < 150; ++it) {
    m->zero_grad();
    const double loss = m->forward(ids.data(), tg.data(), B, S * F);
    m->backward(1.0);
    if (it == 0) first = loss;
    last = loss;
    opt.step(m->params().data(), m->grads().data(), 1e-2);
  }
  // random targets over 5 to 7 ids: about ln 6 = 1.8 nats at the start; memorised: near 0
  EXPECT_GT(first, 1.3);
  EXPECT_LT(last, 0.05) << "loss " << first << " -> " << last;
}

TEST(model, tuple_model_file_round_trip_and_damaged_files) {
  const auto dir = xmtest::temp_dir("tuple-file");
  std::unique_ptr<SeqModel> m = make_seq_model(small_tuple_json());
  m->init(4);
  ModelMeta meta;
  meta.tokenizer = {{"tokenizer", "tuples"}, {"vocab_size", 17}};
  meta.training = {{"steps", 3}};
  SaveOptions so;
  ExtraTensor x;
  x.name = "xm.optim.adam_m";
  x.shape = {m->num_params()};
  x.bytes.assign(size_t(m->num_params()) * 4, 0);
  so.extras.push_back(x);
  const auto path = dir / "t.safetensors";
  save_seq_model(path, *m, meta, so);
  LoadedSeqModel l = load_seq_model(path);
  ASSERT_EQ(l.model->family(), "tuple");
  EXPECT_EQ(l.model->config_json(), m->config_json());
  EXPECT_EQ(l.model->params(), m->params());
  EXPECT_EQ(l.meta.tokenizer, meta.tokenizer);
  EXPECT_EQ(l.meta.training, meta.training);
  ASSERT_EQ(l.extras.size(), 1u);
  EXPECT_EQ(l.extras[0].name, "xm.optim.adam_m");
  for (const auto& e : m->table().entries()) EXPECT_EQ(e.name.rfind("xm.tuple.", 0), 0u) << e.name;

  // Rewrite the file with one tensor left out, or with one of the wrong shape: refused naming the tensor.
  const SafeTensors st = SafeTensors::read(path);
  auto rewrite = [&](const std::string& drop, const std::string& reshape, const std::filesystem::path& out) {
    SafeTensorsWriter w;
    for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
    for (const TensorInfo& t : st.tensors()) {
      if (t.name == drop) continue;
      std::vector<int64_t> shape = t.shape;
      if (t.name == reshape) shape = {t.numel()};
      w.add(t.name, t.dtype, shape, st.data(t));
    }
    w.write(out);
  };
  const std::string victim = "xm.tuple.head.pitch.weight";
  rewrite(victim, "", dir / "missing.safetensors");
  try {
    load_seq_model(dir / "missing.safetensors");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor \"" + victim + "\""), std::string::npos) << e.what();
  }
  rewrite("", "xm.tuple.in_proj.weight", dir / "shape.safetensors");
  try {
    load_seq_model(dir / "shape.safetensors");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("\"xm.tuple.in_proj.weight\" has shape"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

TEST(model, tuple_config_errors_name_the_field) {
  auto expect_error = [](json j, const std::string& needle) {
    try {
      make_seq_model(j, "cfg.json");
      ADD_FAILURE() << "expected an error for " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  json j = small_tuple_json();
  j["fields"][1]["start"] = 3;
  expect_error(j, "overlap");
  j = small_tuple_json();
  j["fields"][2]["count"] = 6;
  expect_error(j, "fields[2] (duration)");
  j = small_tuple_json();
  j["fields"][0]["name"] = "Event!";
  expect_error(j, "fields[0]");
  j = small_tuple_json();
  j.erase("fields");
  expect_error(j, "\"fields\"");
  j = small_tuple_json();
  j["field_embedding_dim"] = 0;
  expect_error(j, "field_embedding_dim");
  j = small_tuple_json();
  j["backbone"]["embedding_dim"] = 15;
  expect_error(j, "backbone");
  // the fields of a real tuples vocabulary fit the model
  EXPECT_THROW(tuple_fields_from_vocab(json{{"tokenizer", "remi"}}, "vocab.json"), Error);
}

// Tests of model files and state_dict interop (model/model_file.h): bit-exact round trips in every stored
// dtype with metadata and extra tensors, tied weights under both names, the cuda -> vanilla sLSTM layout
// against the official ParameterProxy tensors (slstm_cell.json), and damaged files (every truncation, header
// byte flips) throwing xm::Error. Not the CLI (tests/cli/test_model_io.cpp).
#include <cstring>
#include <random>

#include "model/model_file.h"
#include "nn/vectors.h"

using namespace xm;
using namespace xm::model;

namespace {

XlstmConfig small_config(bool tied = false) {
  XlstmConfig c;
  c.vocab_size = 20;
  c.context_length = 16;
  c.num_blocks = 2;
  c.embedding_dim = 16;
  c.slstm_at = {1};
  c.tie_weights = tied;
  c.mlstm = MlstmLayerConfig{};
  c.mlstm->num_heads = 2;
  c.slstm = SlstmLayerConfig{};
  c.slstm->num_heads = 2;
  c.feedforward = FeedForwardConfig{};
  c.validate();
  return c;
}

// Every parameter random (so zero-initialised tensors such as R are not trivially equal).
template <class T>
void randomize(XlstmLM<T>& m, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> n(0.0, 0.3);
  for (T& p : m.params()) p = T(n(rng));
}

ModelMeta some_meta() {
  ModelMeta meta;
  meta.tokenizer = {{"tokenizer", "jsb"}, {"vocab_size", 20}, {"tokens", {"PAD", "BOS"}}};
  meta.conditioning = {{"genres", {"pop", "rock"}}, {"moods", {"happy", "sad"}}};
  meta.training = {{"steps", 1200}, {"val_loss", 1.25}, {"command_line", "xlstm-music train ..."}};
  meta.other["note"] = "kept verbatim";
  return meta;
}

// The message of the xm::Error thrown by f, or "" (and a test failure) when none or another type is thrown.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an xm::Error: " << e.what();
    return "";
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(model, model_file_round_trip_keeps_every_bit) {
  XlstmLM<float> m(small_config());
  randomize(m, 1);
  ModelMeta meta = some_meta();
  SaveOptions opt;
  ExtraTensor x;
  x.name = "xm.tuples.pitch_head.weight";
  x.dtype = DType::F32;
  x.shape = {3, 2};
  std::vector<float> xv = {1, 2, 3, 4, 5, 6.5f};
  x.bytes.resize(24);
  std::memcpy(x.bytes.data(), xv.data(), 24);
  opt.extras.push_back(x);
  std::vector<uint8_t> bytes = serialize_model(m, meta, opt);

  // the file is a plain safetensors: official names in state_dict order, then the extras
  SafeTensors st = SafeTensors::parse(bytes, "mem");
  ASSERT_EQ(st.tensors().size(), m.table().entries().size() + 1);
  for (size_t i = 0; i < m.table().entries().size(); ++i) {
    EXPECT_EQ(st.tensors()[i].name, m.table().entries()[i].name);
    EXPECT_EQ(st.tensors()[i].dtype, DType::F32);
  }
  EXPECT_EQ(st.metadata().at("format"), kModelFormat);
  EXPECT_EQ(parse_json(st.metadata().at("model_config"), "cfg"), config_to_json(m.config()));

  LoadedModel<float> f = load_model_bytes<float>(bytes, "mem");
  EXPECT_EQ(f.model->params(), m.params());
  EXPECT_EQ(config_to_json(f.model->config()), config_to_json(m.config()));
  EXPECT_EQ(f.meta.tokenizer, meta.tokenizer);
  EXPECT_EQ(f.meta.conditioning, meta.conditioning);
  EXPECT_EQ(f.meta.training, meta.training);
  EXPECT_EQ(f.meta.other, meta.other);
  EXPECT_EQ(f.dtype, DType::F32);
  ASSERT_EQ(f.extras.size(), 1u);
  EXPECT_EQ(f.extras[0].name, x.name);
  EXPECT_EQ(f.extras[0].shape, x.shape);
  EXPECT_EQ(f.extras[0].bytes, x.bytes);

  LoadedModel<double> d = load_model_bytes<double>(bytes, "mem");
  for (size_t i = 0; i < m.params().size(); ++i) ASSERT_EQ(d.model->params()[i], double(m.params()[i]));

  // F64 keeps doubles; BF16 and F16 store rounded values, read back as they were rounded
  XlstmLM<double> md(small_config());
  randomize(md, 2);
  SaveOptions o64;
  o64.dtype = DType::F64;
  EXPECT_EQ(load_model_bytes<double>(serialize_model(md, {}, o64), "f64").model->params(), md.params());
  for (DType t : {DType::BF16, DType::F16}) {
    SaveOptions o;
    o.dtype = t;
    LoadedModel<float> r = load_model_bytes<float>(serialize_model(m, {}, o), dtype_name(t));
    EXPECT_EQ(r.dtype, t);
    for (size_t i = 0; i < m.params().size(); ++i) {
      float want = t == DType::BF16 ? bf16_to_float(float_to_bf16(m.params()[i]))
                                    : half_to_float(float_to_half(m.params()[i]));
      ASSERT_EQ(r.model->params()[i], want) << dtype_name(t) << " element " << i;
    }
  }

  // through the file system (atomic write) as well
  const auto dir = xmtest::temp_dir("model-file");
  save_model(dir / "m.safetensors", m, meta, opt);
  EXPECT_EQ(load_model<float>(dir / "m.safetensors").model->params(), m.params());
  std::filesystem::remove_all(dir);
}

TEST(model, model_file_tied_weights_under_both_names) {
  XlstmLM<float> m(small_config(true));
  randomize(m, 3);
  std::vector<uint8_t> bytes = serialize_model(m);
  SafeTensors st = SafeTensors::parse(bytes, "tied");
  // the official state_dict of a tied model names the tensor twice, lm_head.weight last
  ASSERT_EQ(st.tensors().back().name, "lm_head.weight");
  const TensorInfo &emb = st.at("token_embedding.weight"), &head = st.at("lm_head.weight");
  ASSERT_EQ(emb.shape, head.shape);
  EXPECT_EQ(std::memcmp(st.data(emb), st.data(head), size_t(emb.end - emb.begin)), 0);
  EXPECT_EQ(load_model_bytes<float>(bytes, "tied").model->params(), m.params());

  // safetensors.torch.save_model keeps only one of the two names: either is accepted
  for (std::string drop : {"token_embedding.weight", "lm_head.weight"}) {
    SafeTensorsWriter w;
    for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
    for (const TensorInfo& t : st.tensors())
      if (t.name != drop) w.add(t.name, t.dtype, t.shape, st.data(t));
    EXPECT_EQ(load_model_bytes<float>(w.serialize(), "without " + drop).model->params(), m.params()) << drop;
  }
  // two different tensors cannot be tied
  SafeTensorsWriter w;
  for (const auto& [k, v] : st.metadata()) w.set_metadata(k, v);
  for (const TensorInfo& t : st.tensors()) {
    if (t.name != "lm_head.weight") {
      w.add(t.name, t.dtype, t.shape, st.data(t));
      continue;
    }
    std::vector<float> v = st.to_float(t.name);
    v[7] += 1.0f;
    w.add(t.name, DType::F32, t.shape, v.data());
  }
  std::string e = error_of([&] { load_model_bytes<float>(w.serialize(), "differ"); });
  EXPECT_TRUE(has(e, "lm_head.weight") && has(e, "tie_weights") && has(e, "element 7")) << e;

  // an untied config missing lm_head.weight gets the tie_weights hint
  XlstmLM<float> untied(small_config(false));
  SafeTensorsWriter u;
  params_to_state_dict(u, m, DType::F32);  // the tied model's tensors, with both names
  SafeTensors ust = SafeTensors::parse(u.serialize(), "u");
  SafeTensorsWriter u2;
  for (const TensorInfo& t : ust.tensors())
    if (t.name != "lm_head.weight") u2.add(t.name, t.dtype, t.shape, ust.data(t));
  e = error_of([&] {
    params_from_state_dict(untied, SafeTensors::parse(u2.serialize(), "u2"), SlstmLayout::vanilla, "u2");
  });
  EXPECT_TRUE(has(e, "u2: missing tensor \"lm_head.weight\"") && has(e, "tie_weights=true")) << e;
}

TEST(model, state_dict_cuda_layout_matches_official_parameter_proxy) {
  XM_REQUIRE_VECTORS(j, "slstm_cell.json");
  // the vectors' cell: NH = 2, DH = 4; ext (NH, DH_in, 4, DH_out) flattened IS the cuda state_dict layout
  // (cell.py sLSTMCell_cuda._recurrent_kernel_ext2int is a reshape), bias_ext (NH, 4, DH) the cuda bias
  XlstmConfig c;
  c.vocab_size = 5;
  c.num_blocks = 1;
  c.embedding_dim = 8;
  c.slstm = SlstmLayerConfig{};
  c.slstm->num_heads = 2;
  c.validate();
  XlstmLM<double> m(c);
  randomize(m, 4);
  const std::string rk = "xlstm_block_stack.blocks.0.xlstm.slstm_cell._recurrent_kernel_";
  const std::string bs = "xlstm_block_stack.blocks.0.xlstm.slstm_cell._bias_";
  xmtest::VecTensor r_ext = xmtest::vec_at(j, {"params", "recurrent_kernel_ext"});
  xmtest::VecTensor b_ext = xmtest::vec_at(j, {"params", "bias_ext"});
  xmtest::VecTensor r_int = xmtest::vec_at(j, {"params", "recurrent_kernel_int"});
  xmtest::VecTensor b_int = xmtest::vec_at(j, {"params", "bias_int"});
  for (bool cuda : {true, false}) {
    SafeTensorsWriter w;
    for (const ParamEntry& e : m.table().entries()) {
      if (e.name == rk) {
        const auto& t = cuda ? r_ext : r_int;
        w.add(e.name, DType::F64, cuda ? std::vector<int64_t>{2, 4, 16} : e.shape, t.data.data());
      } else if (e.name == bs) {
        w.add(e.name, DType::F64, e.shape, (cuda ? b_ext : b_int).data.data());
      } else {
        w.add(e.name, DType::F64, e.shape, m.params().data() + e.offset);
      }
    }
    XlstmLM<double> got(c);
    params_from_state_dict(got, SafeTensors::parse(w.serialize(), "sd"),
                           cuda ? SlstmLayout::cuda : SlstmLayout::vanilla, "sd");
    const ParamEntry &er = got.table().at(rk), &eb = got.table().at(bs);
    EXPECT_TRUE(xmtest::all_close(cuda ? "R from cuda" : "R vanilla", got.params().data() + er.offset,
                                  r_int.data, 0, 0));
    EXPECT_TRUE(xmtest::all_close(cuda ? "bias from cuda" : "bias vanilla", got.params().data() + eb.offset,
                                  b_int.data, 0, 0));
    // a cuda-shaped kernel under the vanilla layout is named with the hint
    if (cuda) {
      std::string e = error_of([&] {
        params_from_state_dict(got, SafeTensors::parse(w.serialize(), "sd"), SlstmLayout::vanilla, "sd");
      });
      EXPECT_TRUE(has(e, rk) && has(e, "has shape (2,4,16), expected (2,16,4)") && has(e, "cuda layout"))
          << e;
    }
  }
}

TEST(model, model_file_errors_name_the_field) {
  XlstmLM<float> m(small_config());
  randomize(m, 5);
  // writing: reserved metadata keys and extras without the prefix or with the wrong byte count
  ModelMeta bad_meta;
  bad_meta.other["model_config"] = "{}";
  EXPECT_TRUE(has(error_of([&] { serialize_model(m, bad_meta); }), "reserved"));
  SaveOptions o;
  o.extras.push_back({"tuples.head", DType::F32, {2}, std::vector<uint8_t>(8)});
  EXPECT_TRUE(has(error_of([&] { serialize_model(m, {}, o); }), "prefix"));
  o.extras[0].name = "xm.tuples.head";
  o.extras[0].bytes.resize(7);
  EXPECT_TRUE(has(error_of([&] { serialize_model(m, {}, o); }), "7 bytes"));
  o.extras.clear();
  o.dtype = DType::I32;
  EXPECT_TRUE(has(error_of([&] { serialize_model(m, {}, o); }), "I32"));

  // reading: metadata problems name the field
  SafeTensors st = SafeTensors::parse(serialize_model(m, some_meta()), "good");
  auto with_meta = [&](const std::string& key, const std::string& value) {
    SafeTensorsWriter w;
    for (const auto& [k, v] : st.metadata())
      if (k != key) w.set_metadata(k, v);
    if (!value.empty()) w.set_metadata(key, value);
    for (const TensorInfo& t : st.tensors()) w.add(t.name, t.dtype, t.shape, st.data(t));
    return error_of([&] { load_model_bytes<float>(w.serialize(), "f.safetensors"); });
  };
  EXPECT_TRUE(has(with_meta("format", "xlstm-music/2"), "newer")) << with_meta("format", "xlstm-music/2");
  EXPECT_TRUE(has(with_meta("format", ""), "not an xlstm-music model file"));
  std::string e = with_meta("conditioning", "{\"genres\": [");
  EXPECT_TRUE(has(e, "f.safetensors: __metadata__ field \"conditioning\": invalid JSON")) << e;
  e = with_meta("tokenizer", "{\"vocab_size\": 99}");
  EXPECT_TRUE(has(e, "vocab_size 99") && has(e, "does not belong")) << e;
  e = with_meta("tokenizer", "[1]");
  EXPECT_TRUE(has(e, "\"tokenizer\" is not a JSON object")) << e;
  json cfg = config_to_json(m.config());
  cfg["slstm_block"]["slstm"]["num_heads"] = 3;
  e = with_meta("model_config", cfg.dump());
  EXPECT_TRUE(has(e, "f.safetensors: __metadata__ field \"model_config\"") && has(e, "num_heads")) << e;
  cfg = config_to_json(m.config());
  cfg["slstm_at"] = json::array({0});
  e = with_meta("model_config", cfg.dump());
  EXPECT_TRUE(has(e, "block 0 holds an mLSTM block") && has(e, "more problems")) << e;
  cfg = config_to_json(m.config());
  cfg["num_blocks"] = 1;
  cfg["slstm_at"] = json::array();
  e = with_meta("model_config", cfg.dump());
  EXPECT_TRUE(has(e, "unknown tensor") && has(e, "but num_blocks is 1")) << e;
}

TEST(model, damaged_model_files_throw_and_never_crash) {
  XlstmLM<float> m(small_config());
  randomize(m, 6);
  const std::vector<uint8_t> good = serialize_model(m, some_meta());
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = (header << 8) | good[size_t(i)];
  const size_t data_start = size_t(8 + header);
  // every truncation inside the header, then every 61st byte of the data
  size_t n = 0;
  for (size_t len = 0; len < good.size(); len += (len < data_start + 8 ? 1 : 61)) {
    std::vector<uint8_t> b(good.begin(), good.begin() + ptrdiff_t(len));
    std::string e = error_of([&] { load_model_bytes<float>(b, "cut"); });
    ASSERT_TRUE(has(e, "cut")) << "length " << len << ": " << e;
    ++n;
  }
  EXPECT_GT(n, data_start);
  // every header byte changed (two ways): loads (a harmless change such as a space) or throws xm::Error
  size_t loaded = 0, refused = 0;
  for (size_t i = 0; i < data_start; ++i) {
    for (int way = 0; way < 2; ++way) {
      std::vector<uint8_t> b = good;
      b[i] = way == 0 ? uint8_t(b[i] ^ 1) : uint8_t('9');
      if (b[i] == good[i]) continue;
      try {
        load_model_bytes<float>(b, "flip");
        ++loaded;
      } catch (const Error&) {
        ++refused;
      } catch (const std::exception& e) {
        FAIL() << "byte " << i << " way " << way << ": not an xm::Error: " << e.what();
      }
    }
  }
  EXPECT_GT(refused, data_start);  // most changes break something that is checked
  EXPECT_GT(loaded, 0u);           // e.g. digits of a float in the training record
}

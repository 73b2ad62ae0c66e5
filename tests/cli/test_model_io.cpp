// test_model_io.cpp: the real xlstm-music binary's `import`, `logits` and `export` on the official vector
// model (a state_dict as PyTorch would save it, F64/F32/BF16, vanilla and cuda sLSTM layouts): logits against
// the official ones, bit-exact export, config round trip, and exit 1 with a message naming the tensor, field,
// row or column for damaged inputs. Not the library's own tests (tests/model/test_model_file.cpp).
#include <algorithm>
#include <cmath>

#include "cli/model_fixture.h"
#include "core/io.h"
#include "model/model_file.h"
#include "model/vector_model.h"
#include "support/test_support.h"
#include "tokens/tokenizer.h"

namespace fs = std::filesystem;
using namespace xm;
using xmtest::run_cli;
using xmtest::RunResult;

namespace {

std::string q(const fs::path& p) {  // (built with += : GCC 12 warns falsely on "'" + string)
  std::string s = "'";
  s += p.string();
  s += '\'';
  return s;
}

struct Inputs {
  fs::path dir, weights, config, model, tokens;
};

// Writes the vector model's state_dict (dtype, layout) and official config into a fresh folder, plus the
// vectors' token ids as TOKENS.json.
Inputs write_inputs(const json& j, DType dtype, bool cuda, const std::string& tag) {
  Inputs in;
  in.dir = xmtest::temp_dir(tag);
  in.weights = in.dir / "weights.safetensors";
  in.config = in.dir / "config.json";
  in.model = in.dir / "model.safetensors";
  in.tokens = in.dir / "tokens.json";
  xmtest::vector_state_dict(j, dtype, cuda).write(in.weights);
  write_file_atomic(in.config,
                    xmtest::official_config_json(j.at("config"), cuda ? "cuda" : "vanilla").dump(2));
  xmtest::VecTensor ids = xmtest::vec_tensor(j.at("token_ids"));
  json rows = json::array();
  for (int64_t b = 0; b < ids.dim(0); ++b) {
    json row = json::array();
    for (int64_t s = 0; s < ids.dim(1); ++s) row.push_back(int64_t(ids.data[size_t(b * ids.dim(1) + s)]));
    rows.push_back(row);
  }
  write_file_atomic(in.tokens, json{{"tokens", rows}}.dump());
  return in;
}

RunResult import(const Inputs& in, const std::string& extra = "") {
  return run_cli("import --weights " + q(in.weights) + " --config " + q(in.config) + " --out " + q(in.model) +
                 " " + extra);
}

// The logits printed by `logits`, as a tensor; fails the test when the output is not the expected JSON.
xmtest::VecTensor logits_of(const RunResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = parse_json(r.out, "logits output");
  return xmtest::vec_tensor(j.at("logits"), "logits");
}

// Every tensor of a and b: same names, order, dtypes, shapes and bytes.
::testing::AssertionResult same_tensors(const SafeTensors& a, const SafeTensors& b) {
  if (a.tensors().size() != b.tensors().size())
    return ::testing::AssertionFailure() << a.tensors().size() << " vs " << b.tensors().size() << " tensors";
  for (size_t i = 0; i < a.tensors().size(); ++i) {
    const TensorInfo &x = a.tensors()[i], &y = b.tensors()[i];
    if (x.name != y.name)
      return ::testing::AssertionFailure() << "tensor " << i << ": " << x.name << " vs " << y.name;
    if (x.dtype != y.dtype || x.shape != y.shape)
      return ::testing::AssertionFailure() << x.name << ": dtype or shape differ";
    if (std::memcmp(a.data(x), b.data(y), size_t(x.end - x.begin)) != 0)
      return ::testing::AssertionFailure() << x.name << ": bytes differ";
  }
  return ::testing::AssertionSuccess();
}

ordered_json normalized_config(const json& j) {
  return model::config_to_json(model::config_from_json(j));
}

}  // namespace

TEST(cli, import_f32_logits_match_official_and_export_is_bit_exact) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Inputs in = write_inputs(j, DType::F32, false, "mio-f32");
  RunResult r = import(in);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("imported"), std::string::npos);

  xmtest::VecTensor lg = logits_of(run_cli("logits --model " + q(in.model) + " --tokens " + q(in.tokens)));
  EXPECT_EQ(lg.shape, (std::vector<int64_t>{2, 12, 24}));
  EXPECT_TRUE(xmtest::all_close("logits", lg.data, xmtest::vec_tensor(j.at("logits")).data, 1e-4, 1e-5));
  xmtest::VecTensor ls =
      logits_of(run_cli("logits --step --model " + q(in.model) + " --tokens " + q(in.tokens)));
  EXPECT_EQ(ls.shape, lg.shape);
  EXPECT_TRUE(xmtest::all_close("logits --step", ls.data, xmtest::vec_tensor(j.at("logits_step_loop")).data,
                                1e-4, 1e-5));

  const fs::path w2 = in.dir / "exported.safetensors", c2 = in.dir / "exported.json";
  r = run_cli("export --model " + q(in.model) + " --out " + q(w2) + " --config-out " + q(c2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(same_tensors(SafeTensors::read(in.weights), SafeTensors::read(w2)));
  const json cfg_in = parse_json(read_file_text(in.config), "in"),
             cfg_out = parse_json(read_file_text(c2), "out");
  EXPECT_EQ(normalized_config(cfg_out), normalized_config(cfg_in));
  EXPECT_EQ(cfg_out["slstm_block"]["slstm"]["backend"], "vanilla");
  EXPECT_EQ(cfg_out["slstm_at"], json::array({1}));
  fs::remove_all(in.dir);
}

TEST(cli, import_f64_keeps_double_precision) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Inputs in = write_inputs(j, DType::F64, false, "mio-f64");
  RunResult r = import(in, "--dtype F64");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string base = "logits --precision f64 --model " + q(in.model) + " --tokens " + q(in.tokens);
  EXPECT_TRUE(xmtest::all_close("logits f64", logits_of(run_cli(base)).data,
                                xmtest::vec_tensor(j.at("logits")).data, 1e-9, 1e-11));
  EXPECT_TRUE(xmtest::all_close("logits f64 --step", logits_of(run_cli(base + " --step")).data,
                                xmtest::vec_tensor(j.at("logits_step_loop")).data, 1e-9, 1e-11));
  const fs::path w2 = in.dir / "exported.safetensors";
  r = run_cli("export --model " + q(in.model) + " --out " + q(w2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(same_tensors(SafeTensors::read(in.weights), SafeTensors::read(w2)));

  // the default F32 model file holds float(x) of every F64 value; export --dtype F64 widens them back
  fs::remove(in.model);
  ASSERT_EQ(import(in).exit_code, 0);
  r = run_cli("export --dtype F64 --model " + q(in.model) + " --out " + q(w2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  SafeTensors got = SafeTensors::read(w2);
  for (const auto& name : j.at("param_order").get<std::vector<std::string>>()) {
    EXPECT_EQ(got.at(name).dtype, DType::F64);
    std::vector<double> want = xmtest::vec_tensor(j.at("params").at(name)).data, have = got.to_double(name);
    ASSERT_EQ(have.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i)
      ASSERT_EQ(have[i], double(float(want[i]))) << name << " [" << i << "]";
  }
  fs::remove_all(in.dir);
}

TEST(cli, import_bf16_and_f16_state_dicts) {
  XM_REQUIRE_VECTORS(j, "model.json");
  std::vector<int32_t> ids;
  for (int v : xmtest::vec_tensor(j.at("token_ids")).as_int()) ids.push_back(v);
  for (DType dt : {DType::BF16, DType::F16}) {
    const std::string name = dtype_name(dt);
    Inputs in = write_inputs(j, dt, false, "mio-" + name);
    ASSERT_EQ(import(in).exit_code, 0) << name;
    // 16-bit values are exact in the F32 model file: exporting in the input dtype gives it back bit for bit
    const fs::path w2 = in.dir / "exported.safetensors";
    RunResult r = run_cli("export --dtype " + name + " --model " + q(in.model) + " --out " + q(w2));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(same_tensors(SafeTensors::read(in.weights), SafeTensors::read(w2))) << name;
    // and the logits are those of the rounded parameters, computed here in double
    model::XlstmLM<double> m(xmtest::vector_model_config(j.at("config")));
    ASSERT_EQ(xmtest::load_vector_params(m, j.at("params")), "");
    for (double& p : m.params())
      p = dt == DType::BF16 ? double(bf16_to_float(float_to_bf16(float(p))))
                            : double(half_to_float(float_to_half(float(p))));
    model::LmCache<double> cache;
    m.forward(cache, ids.data(), nullptr, 2, 12);
    xmtest::VecTensor lg =
        logits_of(run_cli("logits --precision f64 --model " + q(in.model) + " --tokens " + q(in.tokens)));
    EXPECT_TRUE(xmtest::all_close(name + " logits", lg.data, std::vector<double>(cache.logits), 1e-9, 1e-11));
    // 16-bit weights move the logits away from the official float64 ones, but not far
    EXPECT_TRUE(
        xmtest::all_close(name + " vs official", lg.data, xmtest::vec_tensor(j.at("logits")).data, 0.1, 0.1));
    fs::remove_all(in.dir);
  }
}

TEST(cli, import_cuda_layout_state_dict) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Inputs in = write_inputs(j, DType::F64, true, "mio-cuda");
  RunResult r = import(in, "--dtype F64 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(parse_json(r.out, "import --json").at("slstm_layout"), "cuda");
  EXPECT_TRUE(xmtest::all_close(
      "logits from cuda layout",
      logits_of(run_cli("logits --precision f64 --model " + q(in.model) + " --tokens " + q(in.tokens))).data,
      xmtest::vec_tensor(j.at("logits")).data, 1e-9, 1e-11));
  // export writes the vanilla layout
  const fs::path w2 = in.dir / "exported.safetensors", c2 = in.dir / "exported.json";
  r = run_cli("export --model " + q(in.model) + " --out " + q(w2) + " --config-out " + q(c2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(
      same_tensors(SafeTensors::parse(xmtest::vector_state_dict(j, DType::F64, false).serialize(), "want"),
                   SafeTensors::read(w2)));
  EXPECT_EQ(parse_json(read_file_text(c2), "c2")["slstm_block"]["slstm"]["backend"], "vanilla");
  // and --backend cuda gives the cuda-layout input back, bit for bit, with a config that says so
  r = run_cli("export --backend cuda --model " + q(in.model) + " --out " + q(w2) + " --config-out " + q(c2));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(same_tensors(SafeTensors::read(in.weights), SafeTensors::read(w2)));
  const json c2j = parse_json(read_file_text(c2), "c2");
  EXPECT_EQ(c2j["slstm_block"]["slstm"]["backend"], "cuda");
  EXPECT_EQ(normalized_config(c2j), normalized_config(parse_json(read_file_text(in.config), "in")));
  EXPECT_EQ(run_cli("export --backend tpu --model " + q(in.model) + " --out " + q(w2)).exit_code, 2);
  fs::remove_all(in.dir);
}

TEST(cli, import_rejects_bad_state_dicts_naming_the_tensor) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Inputs in = write_inputs(j, DType::F32, false, "mio-badsd");
  const auto order = j.at("param_order").get<std::vector<std::string>>();
  const std::string rk = "xlstm_block_stack.blocks.1.xlstm.slstm_cell._recurrent_kernel_";
  const std::string pd = "xlstm_block_stack.blocks.0.xlstm.proj_down.weight";
  // writes the state_dict with `edit` applied to each (name, tensor); returns the import result
  auto with = [&](auto edit) {
    SafeTensorsWriter w;
    for (const auto& name : order) edit(w, name, xmtest::vec_tensor(j.at("params").at(name)));
    w.write(in.weights);
    fs::remove(in.model);
    RunResult r = import(in);
    EXPECT_FALSE(fs::exists(in.model)) << "a failed import must not leave a model file";
    return r;
  };
  auto add = [](SafeTensorsWriter& w, const std::string& name, const xmtest::VecTensor& t) {
    auto b = xmtest::encode(t.data, DType::F32);
    w.add(name, DType::F32, t.shape, b.data());
  };
  struct Case {
    std::string what;
    RunResult r;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases;
  cases.push_back({"missing",
                   with([&](SafeTensorsWriter& w, const std::string& n, const xmtest::VecTensor& t) {
                     if (n != pd) add(w, n, t);
                   }),
                   {"missing tensor", pd}});
  cases.push_back({"unknown",
                   with([&](SafeTensorsWriter& w, const std::string& n, const xmtest::VecTensor& t) {
                     add(w, n, t);
                     if (n == pd) add(w, "xlstm_block_stack.blocks.0.xlstm.extra.weight", t);
                   }),
                   {"unknown tensor", "xlstm_block_stack.blocks.0.xlstm.extra.weight"}});
  cases.push_back({"shape",
                   with([&](SafeTensorsWriter& w, const std::string& n, xmtest::VecTensor t) {
                     if (n == pd) std::swap(t.shape[0], t.shape[1]);
                     add(w, n, t);
                   }),
                   {pd, "shape (64,32), expected (32,64)"}});
  cases.push_back({"cuda",
                   with([&](SafeTensorsWriter& w, const std::string& n, xmtest::VecTensor t) {
                     if (n == rk) t = xmtest::to_cuda_recurrent_kernel(t);
                     add(w, n, t);
                   }),
                   {rk, "shape (4,8,32), expected (4,32,8)", "cuda layout"}});
  cases.push_back({"dtype",
                   with([&](SafeTensorsWriter& w, const std::string& n, const xmtest::VecTensor& t) {
                     if (n != pd) return add(w, n, t);
                     std::vector<int64_t> v(t.data.size(), 1);
                     w.add(n, DType::I64, t.shape, v.data());
                   }),
                   {pd, "dtype I64"}});
  cases.push_back({"nan",
                   with([&](SafeTensorsWriter& w, const std::string& n, xmtest::VecTensor t) {
                     if (n == pd) t.data[5] = NAN;
                     add(w, n, t);
                   }),
                   {pd, "non-finite", "element 5"}});
  for (const Case& c : cases) {
    EXPECT_EQ(c.r.exit_code, 1) << c.what << ": " << c.r.err;
    for (const auto& s : c.expect) EXPECT_NE(c.r.err.find(s), std::string::npos) << c.what << ": " << c.r.err;
    EXPECT_EQ(std::count(c.r.err.begin(), c.r.err.end(), '\n'), 1) << c.what << ": one line: " << c.r.err;
  }

  // a config whose slstm_at does not match the weights
  xmtest::vector_state_dict(j, DType::F32).write(in.weights);
  json cfg = xmtest::official_config_json(j.at("config"));
  cfg["slstm_at"] = {2};
  write_file_atomic(in.config, cfg.dump());
  RunResult r = import(in);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("block 1 holds an sLSTM block"), std::string::npos) << r.err;
  // a config that is not valid
  cfg = xmtest::official_config_json(j.at("config"));
  cfg["slstm_block"]["slstm"]["num_heads"] = 5;
  write_file_atomic(in.config, cfg.dump());
  r = import(in);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("num_heads"), std::string::npos) << r.err;
  write_file_atomic(in.config, "{\"vocab_size\": 24,");
  r = import(in);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;
  // a truncated state_dict
  write_file_atomic(in.config, xmtest::official_config_json(j.at("config")).dump());
  std::vector<uint8_t> bytes = read_file_bytes(in.weights);
  write_file_atomic(in.weights, bytes.data(), bytes.size() - 100);
  r = import(in);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  // usage errors exit 2
  EXPECT_EQ(run_cli("import --weights " + q(in.weights)).exit_code, 2);
  EXPECT_EQ(import(in, "--dtype I8").exit_code, 1);
  fs::remove_all(in.dir);
}

TEST(cli, bad_model_files_give_exit_1_naming_the_problem) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Inputs in = write_inputs(j, DType::F32, false, "mio-badmodel");
  ASSERT_EQ(import(in).exit_code, 0);
  const SafeTensors good = SafeTensors::read(in.model);
  const fs::path bad = in.dir / "bad.safetensors";
  const std::string pd = "xlstm_block_stack.blocks.2.xlstm.proj_down.weight";
  // rewrites the good model file with a changed tensor list or metadata, then runs `logits` on it
  auto rewrite = [&](auto edit_tensor, std::map<std::string, std::string> md) {
    SafeTensorsWriter w;
    for (auto& [k, v] : md) w.set_metadata(k, v);
    for (const TensorInfo& t : good.tensors()) edit_tensor(w, t);
    w.write(bad);
    return run_cli("logits --model " + q(bad) + " --tokens " + q(in.tokens));
  };
  auto keep = [&](SafeTensorsWriter& w, const TensorInfo& t) {
    w.add(t.name, t.dtype, t.shape, good.data(t));
  };
  const auto md = good.metadata();
  auto md_with = [&](const std::string& k, const std::string& v) {
    auto m = md;
    if (v.empty())
      m.erase(k);
    else
      m[k] = v;
    return m;
  };
  struct Case {
    std::string what;
    RunResult r;
    std::vector<std::string> expect;
  };
  std::vector<Case> cases;
  cases.push_back({"control", rewrite(keep, md), {}});
  cases.push_back({"missing",
                   rewrite(
                       [&](SafeTensorsWriter& w, const TensorInfo& t) {
                         if (t.name != pd) keep(w, t);
                       },
                       md),
                   {"missing tensor", pd}});
  cases.push_back({"unknown",
                   rewrite(
                       [&](SafeTensorsWriter& w, const TensorInfo& t) {
                         keep(w, t);
                         if (t.name == pd) w.add("foo.weight", t.dtype, t.shape, good.data(t));
                       },
                       md),
                   {"unknown tensor", "foo.weight"}});
  cases.push_back({"shape",
                   rewrite(
                       [&](SafeTensorsWriter& w, const TensorInfo& t) {
                         std::vector<int64_t> s = t.shape;
                         if (t.name == pd) s = {s[1], s[0]};
                         w.add(t.name, t.dtype, s, good.data(t));
                       },
                       md),
                   {pd, "has shape (64,32)"}});
  cases.push_back({"dtype",
                   rewrite(
                       [&](SafeTensorsWriter& w, const TensorInfo& t) {
                         if (t.name != pd) return keep(w, t);
                         std::vector<int32_t> v(size_t(t.numel()), 0);  // same byte count as F32
                         w.add(t.name, DType::I32, t.shape, v.data());
                       },
                       md),
                   {pd, "dtype I32"}});
  cases.push_back({"config json",
                   rewrite(keep, md_with("model_config", "{\"vocab_size\": 24,")),
                   {"__metadata__ field \"model_config\"", "invalid JSON"}});
  cases.push_back({"config field",
                   rewrite(keep, md_with("model_config", "{\"vocab_size\": 24, \"num_blocks\": 0}")),
                   {"model_config", "num_blocks"}});
  cases.push_back({"tokenizer json",
                   rewrite(keep, md_with("tokenizer", "[1, 2")),
                   {"__metadata__ field \"tokenizer\"", "invalid JSON"}});
  cases.push_back({"training json", rewrite(keep, md_with("training", "{oops}")), {"\"training\""}});
  cases.push_back(
      {"no format", rewrite(keep, md_with("format", "")), {"not an xlstm-music model file", "import"}});
  cases.push_back({"other format", rewrite(keep, md_with("format", "pt")), {"\"pt\"", "not an xlstm-music"}});
  cases.push_back({"no config", rewrite(keep, md_with("model_config", "")), {"no \"model_config\""}});
  for (const Case& c : cases) {
    if (c.expect.empty()) {
      EXPECT_EQ(c.r.exit_code, 0) << c.what << ": " << c.r.err;
      continue;
    }
    EXPECT_EQ(c.r.exit_code, 1) << c.what << ": " << c.r.err;
    EXPECT_NE(c.r.err.find(bad.string()), std::string::npos) << c.what << ": names the file: " << c.r.err;
    for (const auto& s : c.expect) EXPECT_NE(c.r.err.find(s), std::string::npos) << c.what << ": " << c.r.err;
  }
  // truncated anywhere: header, tensor table or data
  std::vector<uint8_t> bytes = read_file_bytes(in.model);
  for (size_t keep_bytes : {size_t(0), size_t(5), size_t(100), bytes.size() / 2, bytes.size() - 1}) {
    write_file_atomic(bad, bytes.data(), keep_bytes);
    RunResult r = run_cli("logits --model " + q(bad) + " --tokens " + q(in.tokens));
    EXPECT_EQ(r.exit_code, 1) << keep_bytes << ": " << r.err;
    EXPECT_NE(r.err.find(bad.string()), std::string::npos) << r.err;
    if (keep_bytes > 200) {
      EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
    }
  }
  RunResult r = run_cli("export --model " + q(bad) + " --out " + q(in.dir / "x.safetensors"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_FALSE(fs::exists(in.dir / "x.safetensors"));
  r = run_cli("logits --model " + q(in.dir / "absent.safetensors") + " --tokens " + q(in.tokens));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("absent.safetensors"), std::string::npos) << r.err;
  fs::remove_all(in.dir);
}

TEST(cli, logits_rejects_bad_tokens_json_naming_row_and_column) {
  XM_REQUIRE_VECTORS(j, "model.json");
  Inputs in = write_inputs(j, DType::F32, false, "mio-tokens");
  ASSERT_EQ(import(in).exit_code, 0);
  const fs::path t = in.dir / "t.json";
  auto run_tokens = [&](const std::string& text) {
    write_file_atomic(t, text);
    return run_cli("logits --model " + q(in.model) + " --tokens " + q(t));
  };
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"{\"tokens\": [[1, 2, 3]", {"invalid JSON"}},
      {"[[1, 2, 3]]", {"{\"tokens\""}},
      {"{\"tokens\": []}", {"non-empty"}},
      {"{\"tokens\": [[1, 2, 3], [4, 5]]}", {"row 1", "2 ids", "row 0 has 3"}},
      {"{\"tokens\": [[1, 2, 3], 4]}", {"row 1", "not an array"}},
      {"{\"tokens\": [[]]}", {"row 0", "empty"}},
      {"{\"tokens\": [[1, 2, 3], [4, 5, 24]]}", {"tokens[1][2] = 24", "[0, 24)"}},
      {"{\"tokens\": [[1, -1, 3]]}", {"tokens[0][1] = -1"}},
      {"{\"tokens\": [[1, 2.5, 3]]}", {"tokens[0][1]", "not an integer"}},
      {"{\"tokens\": [[1, \"a\", 3]]}", {"tokens[0][1]", "not an integer"}},
  };
  for (const auto& [text, expect] : cases) {
    RunResult r = run_tokens(text);
    EXPECT_EQ(r.exit_code, 1) << text << ": " << r.err;
    EXPECT_NE(r.err.find(t.string()), std::string::npos) << text << ": " << r.err;
    for (const auto& s : expect) EXPECT_NE(r.err.find(s), std::string::npos) << text << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << text;
  }
  // a good single row, read from stdin
  write_file_atomic(t, "{\"tokens\": [[0, 23, 5]]}");
  RunResult r = run_cli("logits --model " + q(in.model) + " --tokens - < " + q(t));
  EXPECT_EQ(logits_of(r).shape, (std::vector<int64_t>{1, 3, 24}));
  // usage errors exit 2
  EXPECT_EQ(run_cli("logits --model " + q(in.model)).exit_code, 2);
  EXPECT_EQ(run_cli("logits --model " + q(in.model) + " --tokens " + q(t) + " --precision f16").exit_code, 2);
  fs::remove_all(in.dir);
}

TEST(cli, import_stores_the_tokenizer_vocabulary) {
  auto tok = tokens::make_tokenizer("jsb");
  model::XlstmConfig cfg;
  cfg.vocab_size = tok->vocab_size();
  cfg.context_length = 16;
  cfg.num_blocks = 2;
  cfg.embedding_dim = 16;
  cfg.slstm_at = {1};
  cfg.mlstm = model::MlstmLayerConfig{};
  cfg.mlstm->num_heads = 2;
  cfg.slstm = model::SlstmLayerConfig{};
  cfg.slstm->num_heads = 2;
  cfg.feedforward = model::FeedForwardConfig{};
  model::XlstmLM<float> m(cfg);
  m.init(7);
  const fs::path dir = xmtest::temp_dir("mio-tok");
  SafeTensorsWriter w;
  model::params_to_state_dict(w, m, DType::F32);
  w.write(dir / "w.safetensors");
  write_file_atomic(dir / "c.json", model::config_to_json(m.config()).dump());
  write_file_atomic(dir / "vocab.json", tok->vocab_json().dump());
  const std::string base = "import --weights " + q(dir / "w.safetensors") + " --config " + q(dir / "c.json") +
                           " --out " + q(dir / "m.safetensors") + " --tokenizer ";
  RunResult r = run_cli(base + q(dir / "vocab.json"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto loaded = model::load_model<float>(dir / "m.safetensors");
  EXPECT_EQ(loaded.meta.tokenizer, tok->vocab_json());
  EXPECT_EQ(tokens::tokenizer_from_json(loaded.meta.tokenizer)->vocab_size(), tok->vocab_size());
  EXPECT_EQ(loaded.meta.training.at("imported_from").at("slstm_layout"), "vanilla");
  EXPECT_NE(loaded.meta.training.at("command_line").get<std::string>().find("--tokenizer"),
            std::string::npos);
  EXPECT_EQ(loaded.model->params(), m.params());
  // a tokenizer larger than the model's vocabulary does not belong to it
  auto big = tokens::make_tokenizer("performance");
  ASSERT_GT(big->vocab_size(), tok->vocab_size());
  write_file_atomic(dir / "big.json", big->vocab_json().dump());
  fs::remove(dir / "m.safetensors");
  r = run_cli(base + q(dir / "big.json"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("big.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not belong"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "m.safetensors"));
  fs::remove_all(dir);
}

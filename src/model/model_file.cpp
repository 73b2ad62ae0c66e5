// model_file.cpp: see model_file.h. Model files (state_dict tensors + JSON metadata) and the state_dict
// interop with the official PyTorch xLSTM (name/shape/dtype checks, the cuda -> vanilla sLSTM layout).
// Not the safetensors container itself (core/safetensors.cpp).
#include "model/model_file.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>
#include <type_traits>

#include "core/error.h"
#include "core/io.h"

namespace xm::model {

namespace {

const char* const kReservedMeta[] = {"format", "model_config", "tokenizer", "conditioning", "training", "family"};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) {
    if (i) out += ',';
    out += std::to_string(s[i]);
  }
  return out + ")";
}

std::string q(const std::string& name) {
  return "\"" + name + "\"";
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_float_dtype(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16;
}

// Block index of "xlstm_block_stack.blocks.<n>.", or -1.
int block_index(const std::string& name) {
  const std::string p = "xlstm_block_stack.blocks.";
  if (name.compare(0, p.size(), p) != 0) return -1;
  size_t i = p.size(), j = i;
  while (j < name.size() && std::isdigit(static_cast<unsigned char>(name[j]))) ++j;
  if (j == i || j - i > 6 || j >= name.size() || name[j] != '.') return -1;
  return std::stoi(name.substr(i, j - i));
}

std::string list_str(const std::vector<int>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(v[i]);
  }
  return s + "]";
}

template <class T>
std::vector<T> read_values(const SafeTensors& st, const std::string& name) {
  if constexpr (std::is_same_v<T, double>)
    return st.to_double(name);
  else
    return st.to_float(name);
}

// Appends n values of src as dtype (little-endian bytes) to out.
template <class T>
void encode_values(std::vector<uint8_t>& out, const T* src, size_t n, DType dtype) {
  const size_t sz = dtype_size(dtype), at = out.size();
  out.resize(at + n * sz);
  uint8_t* p = out.data() + at;
  for (size_t i = 0; i < n; ++i, p += sz) {
    switch (dtype) {
      case DType::F64: {
        double d = double(src[i]);
        std::memcpy(p, &d, 8);
        break;
      }
      case DType::F32: {
        float f = float(src[i]);
        std::memcpy(p, &f, 4);
        break;
      }
      case DType::BF16: {
        uint16_t h = float_to_bf16(float(src[i]));
        std::memcpy(p, &h, 2);
        break;
      }
      case DType::F16: {
        uint16_t h = float_to_half(float(src[i]));
        std::memcpy(p, &h, 2);
        break;
      }
      default:
        throw Error(std::string("model file: cannot write parameters as ") + dtype_name(dtype) +
                    "; use F32, F64, BF16 or F16");
    }
  }
}

// config_from_json, with `what` in front of validation errors that do not name the source yet.
XlstmConfig read_config(const json& j, const std::string& what) {
  try {
    return config_from_json(j, what);
  } catch (const Error& e) {
    const std::string m = e.what();
    if (m.compare(0, what.size(), what) == 0) throw;
    throw Error(what + ": " + m);
  }
}

struct SlstmDims {
  int64_t NH = 0, DH = 0;
};

}  // namespace

DType parse_float_dtype(const std::string& s, const std::string& flag) {
  std::string u;
  for (char c : s) u += char(std::toupper(static_cast<unsigned char>(c)));
  if (u == "F32" || u == "FLOAT32") return DType::F32;
  if (u == "F64" || u == "FLOAT64") return DType::F64;
  if (u == "BF16" || u == "BFLOAT16") return DType::BF16;
  if (u == "F16" || u == "FLOAT16") return DType::F16;
  throw Error(flag + ": unknown dtype '" + s + "'; use F32, F64, BF16 or F16");
}

template <class T>
void params_from_state_dict(XlstmLM<T>& model, const SafeTensors& st, SlstmLayout layout,
                            const std::string& what, std::vector<ExtraTensor>* extras) {
  const XlstmConfig& cfg = model.config();
  const ParamTable& table = model.table();
  const auto types = cfg.block_types();
  const int NB = cfg.num_blocks;
  std::vector<std::string> problems;

  // 1. Blocks whose type differs between the weights and the config (the usual slstm_at mistake).
  for (int b = 0; b < NB; ++b) {
    const std::string p = "xlstm_block_stack.blocks." + std::to_string(b) + ".";
    const bool file_m = st.find(p + "xlstm.learnable_skip") != nullptr;
    const bool file_s = st.find(p + "xlstm.slstm_cell._bias_") != nullptr;
    const bool cfg_s = types[size_t(b)] == BlockType::slstm;
    if (file_m && cfg_s)
      problems.push_back("block " + std::to_string(b) +
                         " holds an mLSTM block in the weights but the config makes "
                         "it sLSTM (slstm_at " +
                         list_str(cfg.slstm_at) + "); set slstm_at to match the model");
    if (file_s && !cfg_s)
      problems.push_back("block " + std::to_string(b) +
                         " holds an sLSTM block in the weights but the config makes "
                         "it mLSTM (slstm_at " +
                         list_str(cfg.slstm_at) + "); set slstm_at to match the model");
  }

  // 2. Every parameter of the table: present, a float dtype, the right shape; then converted.
  SlstmDims sd;
  if (cfg.slstm) sd.NH = cfg.slstm->num_heads, sd.DH = cfg.embedding_dim / cfg.slstm->num_heads;
  std::vector<T>& params = model.params();
  for (const ParamEntry& e : table.entries()) {
    const bool is_R = ends_with(e.name, "xlstm.slstm_cell._recurrent_kernel_");
    const bool is_bias = ends_with(e.name, "xlstm.slstm_cell._bias_");
    std::vector<int64_t> want = e.shape;
    if (is_R && layout == SlstmLayout::cuda) want = {sd.NH, sd.DH, 4 * sd.DH};
    std::vector<std::string> names = {e.name};
    if (cfg.tie_weights && e.name == "token_embedding.weight") names.push_back("lm_head.weight");
    std::vector<std::vector<T>> got;  // converted values of each present name
    for (const std::string& name : names) {
      const TensorInfo* t = st.find(name);
      if (!t) continue;
      const size_t before = problems.size();
      if (!is_float_dtype(t->dtype))
        problems.push_back("tensor " + q(name) + " has dtype " + dtype_name(t->dtype) +
                           ", expected a float dtype (F32, F64, F16 or BF16)");
      if (t->shape != want) {
        std::string msg =
            "tensor " + q(name) + " has shape " + shape_str(t->shape) + ", expected " + shape_str(want);
        const std::vector<int64_t> cuda_shape = {sd.NH, sd.DH, 4 * sd.DH},
                                   vanilla_shape = {sd.NH, 4 * sd.DH, sd.DH};
        if (is_R && layout == SlstmLayout::vanilla && t->shape == cuda_shape)
          msg +=
              ": is this the cuda layout? set slstm_block.slstm.backend to \"cuda\" in the config (import "
              "then "
              "converts it), or save the state_dict from a model built with backend \"vanilla\"";
        else if (is_R && layout == SlstmLayout::cuda && t->shape == vanilla_shape)
          msg += ": this is the vanilla layout; set slstm_block.slstm.backend to \"vanilla\" in the config";
        else if (e.name == "token_embedding.weight" || name == "lm_head.weight")
          msg += ": do vocab_size and embedding_dim in the config match the weights?";
        else
          msg += ": does the config (embedding_dim, num_heads, proj_factor, kernel sizes) match the weights?";
        problems.push_back(msg);
      }
      if (problems.size() != before) continue;
      std::vector<T> v = read_values<T>(st, name);
      for (size_t i = 0; i < v.size(); ++i)
        if (!std::isfinite(double(v[i]))) {
          problems.push_back("tensor " + q(name) + " holds a non-finite value (" +
                             std::to_string(double(v[i])) + ") at element " + std::to_string(i));
          break;
        }
      got.push_back(std::move(v));
    }
    if (got.empty()) {
      bool present = false;
      for (const std::string& name : names) present = present || st.find(name);
      if (present) continue;  // a dtype/shape problem was recorded
      std::string msg = "missing tensor " + q(e.name);
      if (e.name == "lm_head.weight" && !cfg.tie_weights)
        msg += ": was the model built with tie_weights=true? then set tie_weights in the config";
      else if (e.name == "xlstm_block_stack.post_blocks_norm.weight")
        msg += ": was the model built with add_post_blocks_norm=false? then say so in the config";
      else if (e.name.find(".ffn") != std::string::npos)
        msg += ": was the model built without a feedforward? then set slstm_block.feedforward to null";
      else
        msg += ": does the config (num_blocks, slstm_at, block settings) match the weights?";
      problems.push_back(msg);
      continue;
    }
    if (got.size() == 2 && got[0] != got[1]) {
      size_t i = 0;
      while (i < got[0].size() && got[0][i] == got[1][i]) ++i;
      problems.push_back(
          "tie_weights is true but tensor \"lm_head.weight\" differs from \"token_embedding.weight\" "
          "(first at element " +
          std::to_string(i) + "); set tie_weights false in the config");
      continue;
    }
    const std::vector<T>& v = got[0];
    T* dst = params.data() + e.offset;
    if (layout == SlstmLayout::cuda && is_R) {
      // cuda (NH, DH_in, 4*DH_out) -> vanilla (NH, 4*DH_out, DH_in)
      const int64_t NH = sd.NH, DH = sd.DH, G = 4 * DH;
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t i = 0; i < DH; ++i)
          for (int64_t r = 0; r < G; ++r) dst[(h * G + r) * DH + i] = v[size_t((h * DH + i) * G + r)];
    } else if (layout == SlstmLayout::cuda && is_bias) {
      // cuda head-major (NH, 4, DH) -> vanilla gate-major (4, NH, DH)
      const int64_t NH = sd.NH, DH = sd.DH;
      for (int64_t h = 0; h < NH; ++h)
        for (int64_t g = 0; g < 4; ++g)
          for (int64_t d = 0; d < DH; ++d) dst[(g * NH + h) * DH + d] = v[size_t((h * 4 + g) * DH + d)];
    } else {
      std::copy(v.begin(), v.end(), dst);
    }
  }

  // 3. Names the table does not know (and extra tensors).
  for (const TensorInfo& t : st.tensors()) {
    if (t.name.compare(0, std::strlen(kExtraPrefix), kExtraPrefix) == 0) {
      if (extras) {
        ExtraTensor x;
        x.name = t.name;
        x.dtype = t.dtype;
        x.shape = t.shape;
        x.bytes.assign(st.data(t), st.data(t) + (t.end - t.begin));
        extras->push_back(std::move(x));
        continue;
      }
      problems.push_back("unknown tensor " + q(t.name) + ": \"" + kExtraPrefix +
                         "\" tensors belong to xlstm-music model files, not to an official state_dict");
      continue;
    }
    if (table.find(t.name)) continue;
    std::string msg = "unknown tensor " + q(t.name) + ": no such parameter in an xLSTMLMModel of this config";
    const int b = block_index(t.name);
    if (b >= NB)
      msg += " (block " + std::to_string(b) + ", but num_blocks is " + std::to_string(NB) + ")";
    else if (t.name == "xlstm_block_stack.post_blocks_norm.weight")
      msg += " (add_post_blocks_norm is false in the config)";
    else if (t.name.find(".ffn") != std::string::npos && !cfg.feedforward)
      msg += " (slstm_block.feedforward is null in the config)";
    else if (t.name.find("conv1d") != std::string::npos)
      msg += " (is conv1d_kernel_size 0 in the config?)";
    problems.push_back(msg);
  }

  if (!problems.empty()) {
    std::string msg = what + ": " + problems[0];
    if (problems.size() > 1) msg += " (+" + std::to_string(problems.size() - 1) + " more problems)";
    throw Error(msg);
  }
}

template <class T>
void params_to_state_dict(SafeTensorsWriter& w, const XlstmLM<T>& model, DType dtype, SlstmLayout layout) {
  const ParamTable& table = model.table();
  const XlstmConfig& cfg = model.config();
  std::vector<uint8_t> buf;
  std::vector<T> tmp;
  const ParamEntry* emb = nullptr;
  for (const ParamEntry& e : table.entries()) {
    buf.clear();
    const T* src = model.params().data() + e.offset;
    std::vector<int64_t> shape = e.shape;
    if (layout == SlstmLayout::cuda && cfg.slstm) {
      const int64_t NH = cfg.slstm->num_heads, DH = cfg.embedding_dim / NH, G = 4 * DH;
      if (ends_with(e.name, "xlstm.slstm_cell._recurrent_kernel_")) {
        // vanilla (NH, 4*DH_out, DH_in) -> cuda (NH, DH_in, 4*DH_out)
        tmp.assign(size_t(e.numel), T(0));
        for (int64_t h = 0; h < NH; ++h)
          for (int64_t r = 0; r < G; ++r)
            for (int64_t i = 0; i < DH; ++i) tmp[size_t((h * DH + i) * G + r)] = src[(h * G + r) * DH + i];
        src = tmp.data();
        shape = {NH, DH, G};
      } else if (ends_with(e.name, "xlstm.slstm_cell._bias_")) {
        // vanilla gate-major (4, NH, DH) -> cuda head-major (NH, 4, DH)
        tmp.assign(size_t(e.numel), T(0));
        for (int64_t g = 0; g < 4; ++g)
          for (int64_t h = 0; h < NH; ++h)
            for (int64_t d = 0; d < DH; ++d) tmp[size_t((h * 4 + g) * DH + d)] = src[(g * NH + h) * DH + d];
        src = tmp.data();
      }
    }
    encode_values(buf, src, size_t(e.numel), dtype);
    w.add(e.name, dtype, shape, buf.data());
    if (e.name == "token_embedding.weight") emb = &e;
  }
  if (model.config().tie_weights && emb) {  // the official state_dict names the tied tensor twice, head last
    buf.clear();
    encode_values(buf, model.params().data() + emb->offset, size_t(emb->numel), dtype);
    w.add("lm_head.weight", dtype, emb->shape, buf.data());
  }
}

template <class T>
std::vector<uint8_t> serialize_model(const XlstmLM<T>& model, const ModelMeta& meta, const SaveOptions& opt) {
  if (!is_float_dtype(opt.dtype))
    throw Error(std::string("model file: cannot store parameters as ") + dtype_name(opt.dtype) +
                "; use F32, F64, BF16 or F16");
  SafeTensorsWriter w;
  w.set_metadata("format", kModelFormat);
  XlstmConfig cfg = model.config();
  if (cfg.slstm) cfg.slstm->backend = "vanilla";  // our buffers always hold the vanilla layout
  w.set_metadata("model_config", config_to_json(cfg).dump());
  if (!meta.tokenizer.is_null()) w.set_metadata("tokenizer", meta.tokenizer.dump());
  if (!meta.conditioning.is_null()) w.set_metadata("conditioning", meta.conditioning.dump());
  if (!meta.training.is_null()) w.set_metadata("training", meta.training.dump());
  for (const auto& [k, v] : meta.other) {
    for (const char* r : kReservedMeta)
      if (k == r)
        throw Error("model file: metadata key \"" + k + "\" is reserved; set the ModelMeta field instead");
    w.set_metadata(k, v);
  }
  params_to_state_dict(w, model, opt.dtype);
  for (const ExtraTensor& x : opt.extras) {
    if (x.name.compare(0, std::strlen(kExtraPrefix), kExtraPrefix) != 0)
      throw Error("model file: extra tensor \"" + x.name + "\" must be named with the prefix \"" +
                  kExtraPrefix + "\"");
    int64_t n = 1;
    for (int64_t d : x.shape) n *= d;
    if (x.bytes.size() != size_t(n) * dtype_size(x.dtype))
      throw Error("model file: extra tensor \"" + x.name + "\" has " + std::to_string(x.bytes.size()) +
                  " bytes, its shape and dtype need " + std::to_string(size_t(n) * dtype_size(x.dtype)));
    w.add(x.name, x.dtype, x.shape, x.bytes.data());
  }
  return w.serialize();
}

template <class T>
void save_model(const std::filesystem::path& path, const XlstmLM<T>& model, const ModelMeta& meta,
                const SaveOptions& opt) {
  std::vector<uint8_t> bytes = serialize_model(model, meta, opt);
  write_file_atomic(path, bytes.data(), bytes.size());
}

template <class T>
LoadedModel<T> load_model_bytes(std::vector<uint8_t> bytes, const std::string& what) {
  SafeTensors st = SafeTensors::parse(std::move(bytes), what);
  const auto& md = st.metadata();
  auto fmt = md.find("format");
  if (fmt == md.end())
    throw Error(
        what +
        ": no \"format\" in the safetensors __metadata__: not an xlstm-music model file (a plain "
        "state_dict? bring it in with `xlstm-music import --weights FILE --config CONFIG.json --out MODEL`)");
  if (fmt->second != kModelFormat) {
    if (fmt->second.compare(0, 12, "xlstm-music/") == 0)
      throw Error(what + ": __metadata__ \"format\" is \"" + fmt->second + "\", this version reads \"" +
                  kModelFormat + "\" (written by a newer xlstm-music?)");
    throw Error(what + ": __metadata__ \"format\" is \"" + fmt->second + "\", not \"" + kModelFormat +
                "\": not an xlstm-music model file");
  }
  auto fam = md.find("family");
  if (fam != md.end() && fam->second != "xlstm")
    throw Error(what + ": a model of family \"" + fam->second +
                "\", not an xLSTM language model (read it with model::load_seq_model)");
  auto mc = md.find("model_config");
  if (mc == md.end())
    throw Error(what +
                ": no \"model_config\" in the __metadata__ (the official xLSTMLMModelConfig as JSON); "
                "the file is damaged or was not written by xlstm-music");
  const json cfg_json = parse_json(mc->second, what + ": __metadata__ field \"model_config\"");
  XlstmConfig cfg = read_config(cfg_json, what + ": __metadata__ field \"model_config\"");
  SlstmLayout layout = SlstmLayout::vanilla;
  if (cfg.slstm) {
    if (cfg.slstm->backend == "cuda") layout = SlstmLayout::cuda;
    cfg.slstm->backend = "vanilla";
  }
  LoadedModel<T> out;
  auto field = [&](const char* key, json& dst) {
    auto it = md.find(key);
    if (it != md.end()) dst = parse_json(it->second, what + ": __metadata__ field \"" + key + "\"");
  };
  field("tokenizer", out.meta.tokenizer);
  field("conditioning", out.meta.conditioning);
  field("training", out.meta.training);
  const json& tk = out.meta.tokenizer;
  if (!tk.is_null()) {
    if (!tk.is_object())
      throw Error(what + ": __metadata__ field \"tokenizer\" is not a JSON object (a tokenizer vocabulary)");
    auto vs = tk.find("vocab_size");
    const int64_t tv = vs != tk.end() && vs->is_number_integer() ? vs->get<int64_t>() : 0;
    if (tv > cfg.vocab_size)
      throw Error(what + ": __metadata__ field \"tokenizer\" has vocab_size " + std::to_string(tv) +
                  " but the model's vocab_size is " + std::to_string(cfg.vocab_size) +
                  "; the tokenizer does not belong to this model");
  }
  for (const auto& [k, v] : md) {
    bool reserved = false;
    for (const char* r : kReservedMeta) reserved = reserved || k == r;
    if (!reserved) out.meta.other[k] = v;
  }
  out.model = std::make_unique<XlstmLM<T>>(cfg);
  params_from_state_dict(*out.model, st, layout, what, &out.extras);
  const TensorInfo* emb = st.find("token_embedding.weight");
  if (!emb) emb = st.find("lm_head.weight");
  out.dtype = emb ? emb->dtype : DType::F32;
  return out;
}

template <class T>
LoadedModel<T> load_model(const std::filesystem::path& path) {
  return load_model_bytes<T>(read_file_bytes(path, uint64_t(16) << 30), path.string());
}

template <class T>
std::unique_ptr<XlstmLM<T>> import_state_dict(const std::filesystem::path& weights, const json& config,
                                              const std::string& config_what) {
  XlstmConfig cfg = read_config(config, config_what);
  SlstmLayout layout = SlstmLayout::vanilla;
  if (cfg.slstm) {
    if (cfg.slstm->backend == "cuda") layout = SlstmLayout::cuda;
    cfg.slstm->backend = "vanilla";
  }
  SafeTensors st = SafeTensors::read(weights, uint64_t(16) << 30);
  auto model = std::make_unique<XlstmLM<T>>(cfg);
  params_from_state_dict(*model, st, layout, weights.string(), nullptr);
  return model;
}

#define XM_MODEL_FILE_INSTANTIATE(T)                                                                         \
  template void params_from_state_dict<T>(XlstmLM<T>&, const SafeTensors&, SlstmLayout, const std::string&,  \
                                          std::vector<ExtraTensor>*);                                        \
  template void params_to_state_dict<T>(SafeTensorsWriter&, const XlstmLM<T>&, DType, SlstmLayout);          \
  template std::vector<uint8_t> serialize_model<T>(const XlstmLM<T>&, const ModelMeta&, const SaveOptions&); \
  template void save_model<T>(const std::filesystem::path&, const XlstmLM<T>&, const ModelMeta&,             \
                              const SaveOptions&);                                                           \
  template LoadedModel<T> load_model_bytes<T>(std::vector<uint8_t>, const std::string&);                     \
  template LoadedModel<T> load_model<T>(const std::filesystem::path&);                                       \
  template std::unique_ptr<XlstmLM<T>> import_state_dict<T>(const std::filesystem::path&, const json&,       \
                                                            const std::string&);
XM_MODEL_FILE_INSTANTIATE(float)
XM_MODEL_FILE_INSTANTIATE(double)
#undef XM_MODEL_FILE_INSTANTIATE

}  // namespace xm::model

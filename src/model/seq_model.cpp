// seq_model.cpp: see seq_model.h. The xLSTM adapter, the family factory, and model files of any family.
#include "model/seq_model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/io.h"
#include "core/safetensors.h"
#include "model/config.h"
#include "model/lstm_model.h"
#include "model/state.h"
#include "model/transformer_model.h"
#include "model/tuple_model.h"
#include "model/xlstm_lm.h"

namespace xm::model {
namespace {

// ---------------------------------------------------------------- the xLSTM adapter
struct XlstmState final : SeqState {
  LmState<float> st;
  std::vector<float> logits;  // (B, V) of the next step after the last fed one
  Workspace<float> ws;
  LmCache<float> cache;       // prefill scratch
  int64_t n = 0;
  int V = 0;
  int batch() const override { return st.batch(); }
  void reset_row(int b) override {
    st.reset_row(b);
    std::fill(logits.begin() + size_t(b) * V, logits.begin() + size_t(b + 1) * V, 0.0f);
  }
  void copy_row(int dst, const SeqState& src, int src_row) override {
    const auto* s = dynamic_cast<const XlstmState*>(&src);
    if (!s) throw Error("copy_row: the source state belongs to another model family");
    st.copy_row(dst, s->st, src_row);
    n = s->n;  // rows advance together: the copied row's history is the whole state's
    std::copy(s->logits.begin() + size_t(src_row) * V, s->logits.begin() + size_t(src_row + 1) * V,
              logits.begin() + size_t(dst) * V);
  }
  size_t bytes() const override { return (st.size() + logits.size()) * sizeof(float); }
  int64_t steps() const override { return n; }
};

class XlstmModel final : public SeqModel {
 public:
  explicit XlstmModel(std::unique_ptr<XlstmLM<float>> lm) : lm_(std::move(lm)) {}
  XlstmLM<float>& lm() { return *lm_; }
  const XlstmLM<float>& lm() const { return *lm_; }

  std::string family() const override { return "xlstm"; }
  int vocab_size() const override { return lm_->config().vocab_size; }
  int context_length() const override { return lm_->config().context_length; }
  json config_json() const override {
    XlstmConfig c = lm_->config();
    if (c.slstm) c.slstm->backend = "vanilla";
    json j = json::parse(config_to_json(c).dump());
    j["family"] = "xlstm";
    return j;
  }
  const ParamTable& table() const override { return lm_->table(); }
  std::vector<float>& params() override { return lm_->params(); }
  const std::vector<float>& params() const override { return lm_->params(); }
  std::vector<float>& grads() override { return lm_->grads(); }
  void init(uint64_t seed) override { lm_->init(seed); }

  double forward(const int32_t* ids, const int32_t* targets, int B, int L) override {
    return lm_->forward(cache_, ids, targets, B, L);
  }
  void backward(double d_loss) override { lm_->backward(cache_, d_loss); }
  void target_nll(float* out) const override {
    const int V = vocab_size();
    const size_t N = size_t(cache_.B) * cache_.S;
    if (cache_.targets.size() != N || cache_.logp.size() != N * size_t(V))
      throw Error("target_nll: the last forward had no targets");
    for (size_t i = 0; i < N; ++i) {
      const int32_t t = cache_.targets[i];
      out[i] = t == kIgnoreIndex ? 0.0f : -cache_.logp[i * V + t];
    }
  }
  void set_label_smoothing(double eps) override { lm_->options().label_smoothing = eps; }

  std::unique_ptr<SeqState> new_state(int B) const override {
    auto s = std::make_unique<XlstmState>();
    s->st = lm_->new_state(B);
    s->V = vocab_size();
    s->logits.assign(size_t(B) * s->V, 0.0f);
    return s;
  }
  void feed(SeqState& state, const int32_t* ids, int S) const override {
    auto& s = dynamic_cast<XlstmState&>(state);
    if (S <= 0) return;
    const int B = s.batch(), V = s.V;
    if (S == 1) {
      lm_->step(s.logits.data(), s.st, ids, s.ws);
    } else {
      lm_->prefill(s.cache, s.st, ids, S);
      for (int b = 0; b < B; ++b)
        std::memcpy(&s.logits[size_t(b) * V], &s.cache.logits[(size_t(b) * S + S - 1) * V], sizeof(float) * V);
    }
    s.n += S;
  }
  void next(SeqState& state, const PickFn& pick) const override {
    auto& s = dynamic_cast<XlstmState&>(state);
    if (s.n == 0) throw Error("next: feed at least one step (a BOS or control token) first");
    std::vector<int32_t> chosen(s.batch());
    pick(0, s.logits.data(), chosen.data());
  }

 private:
  std::unique_ptr<XlstmLM<float>> lm_;
  LmCache<float> cache_;
};

const char* const kReserved[] = {"format", "model_config", "tokenizer", "conditioning", "training", "family"};

ModelMeta read_meta(const SafeTensors& st, const std::string& what) {
  ModelMeta meta;
  const auto& md = st.metadata();
  auto field = [&](const char* key, json& dst) {
    auto it = md.find(key);
    if (it != md.end()) dst = parse_json(it->second, what + ": __metadata__ field \"" + key + "\"");
  };
  field("tokenizer", meta.tokenizer);
  field("conditioning", meta.conditioning);
  field("training", meta.training);
  for (const auto& [k, v] : md) {
    bool reserved = false;
    for (const char* r : kReserved) reserved = reserved || k == r;
    if (!reserved) meta.other[k] = v;
  }
  return meta;
}

std::string shape_text(const std::vector<int64_t>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

}  // namespace

std::unique_ptr<SeqModel> wrap_xlstm(std::unique_ptr<XlstmLM<float>> lm) {
  return std::make_unique<XlstmModel>(std::move(lm));
}

XlstmLM<float>* as_xlstm(SeqModel& m) {
  auto* x = dynamic_cast<XlstmModel*>(&m);
  return x ? &x->lm() : nullptr;
}

std::unique_ptr<SeqModel> make_seq_model(const json& cfg, const std::string& what) {
  if (!cfg.is_object()) throw Error(what + ": not a JSON object");
  std::string family = "xlstm";
  if (auto it = cfg.find("family"); it != cfg.end()) {
    if (!it->is_string()) throw Error(what + ": field \"family\" is not a string");
    family = it->get<std::string>();
  }
  // [families] one line per family: if (family == "NAME") return make_NAME_model(cfg, what);
  if (family == "lstm") return make_lstm_model(cfg, what);
  if (family == "transformer") return make_transformer_model(cfg, what);
  if (family == "tuple") return make_tuple_model(cfg, what);
  if (family == "xlstm") {
    json c = cfg;
    c.erase("family");
    return wrap_xlstm(std::make_unique<XlstmLM<float>>(config_from_json(c, what)));
  }
  throw Error(what + ": unknown model family \"" + family + "\" (known: xlstm, tuple, lstm, transformer)");
}

void save_seq_model(const std::filesystem::path& path, const SeqModel& m, const ModelMeta& meta,
                    const SaveOptions& opt) {
  if (auto* x = dynamic_cast<const XlstmModel*>(&m)) {
    save_model(path, x->lm(), meta, opt);
    return;
  }
  if (opt.dtype != DType::F32 && opt.dtype != DType::F16 && opt.dtype != DType::BF16 && opt.dtype != DType::F64)
    throw Error(std::string("model file: cannot store parameters as ") + dtype_name(opt.dtype));
  SafeTensorsWriter w;
  w.set_metadata("format", kModelFormat);
  w.set_metadata("family", m.family());
  w.set_metadata("model_config", m.config_json().dump());
  if (!meta.tokenizer.is_null()) w.set_metadata("tokenizer", meta.tokenizer.dump());
  if (!meta.conditioning.is_null()) w.set_metadata("conditioning", meta.conditioning.dump());
  if (!meta.training.is_null()) w.set_metadata("training", meta.training.dump());
  for (const auto& [k, v] : meta.other) {
    for (const char* r : kReserved)
      if (k == r) throw Error("model file: metadata key \"" + k + "\" is reserved; set the ModelMeta field instead");
    w.set_metadata(k, v);
  }
  const auto& p = m.params();
  std::vector<uint8_t> buf;
  for (const ParamEntry& e : m.table().entries()) {
    if (e.name.compare(0, std::strlen(kExtraPrefix), kExtraPrefix) != 0)
      throw Error("model file: tensor \"" + e.name + "\" of family " + m.family() + " must start with \"" +
                  kExtraPrefix + "\"");
    const float* src = p.data() + e.offset;
    buf.resize(size_t(e.numel) * dtype_size(opt.dtype));
    for (int64_t i = 0; i < e.numel; ++i) {
      switch (opt.dtype) {
        case DType::F32: std::memcpy(&buf[i * 4], &src[i], 4); break;
        case DType::F64: { double d = src[i]; std::memcpy(&buf[i * 8], &d, 8); break; }
        case DType::F16: { uint16_t h = float_to_half(src[i]); std::memcpy(&buf[i * 2], &h, 2); break; }
        default: { uint16_t h = float_to_bf16(src[i]); std::memcpy(&buf[i * 2], &h, 2); break; }
      }
    }
    w.add(e.name, opt.dtype, e.shape, buf.data());
  }
  for (const ExtraTensor& x : opt.extras) w.add(x.name, x.dtype, x.shape, x.bytes.data());
  std::vector<uint8_t> bytes = w.serialize();
  write_file_atomic(path, bytes.data(), bytes.size());
}

LoadedSeqModel load_seq_model(const std::filesystem::path& path) {
  const std::string what = path.string();
  std::vector<uint8_t> bytes = read_file_bytes(path, uint64_t(16) << 30);
  LoadedSeqModel out;
  std::string family = "xlstm";
  {
    // Peek at the metadata only (the xLSTM loader parses the file again itself).
    SafeTensors st = SafeTensors::parse(bytes, what);
    auto it = st.metadata().find("family");
    if (it != st.metadata().end()) family = it->second;
    if (family != "xlstm") {
      auto fmt = st.metadata().find("format");
      if (fmt == st.metadata().end() || fmt->second != kModelFormat)
        throw Error(what + ": __metadata__ \"format\" is missing or not \"" + kModelFormat +
                    "\": not an xlstm-music model file");
      auto mc = st.metadata().find("model_config");
      if (mc == st.metadata().end())
        throw Error(what + ": no \"model_config\" in the __metadata__; the file is damaged");
      json cfg = parse_json(mc->second, what + ": __metadata__ field \"model_config\"");
      if (!cfg.is_object()) throw Error(what + ": __metadata__ field \"model_config\" is not a JSON object");
      if (cfg.value("family", family) != family)
        throw Error(what + ": __metadata__ \"family\" (" + family + ") and model_config.family disagree");
      cfg["family"] = family;
      out.model = make_seq_model(cfg, what + ": __metadata__ field \"model_config\"");
      out.meta = read_meta(st, what);
      auto& params = out.model->params();
      const ParamTable& table = out.model->table();
      std::vector<std::string> problems;
      for (const ParamEntry& e : table.entries()) {
        const TensorInfo* t = st.find(e.name);
        if (!t) {
          problems.push_back("missing tensor \"" + e.name + "\" " + shape_text(e.shape));
          continue;
        }
        if (t->shape != e.shape) {
          problems.push_back("tensor \"" + e.name + "\" has shape " + shape_text(t->shape) + ", expected " +
                             shape_text(e.shape));
          continue;
        }
        if (t->dtype != DType::F32 && t->dtype != DType::F64 && t->dtype != DType::F16 && t->dtype != DType::BF16) {
          problems.push_back("tensor \"" + e.name + "\" has dtype " + dtype_name(t->dtype) +
                             ", expected a float dtype");
          continue;
        }
        std::vector<float> v = st.to_float(e.name);
        for (float x : v)
          if (!std::isfinite(x)) {
            problems.push_back("tensor \"" + e.name + "\" holds a non-finite value");
            break;
          }
        std::copy(v.begin(), v.end(), params.begin() + e.offset);
        out.dtype = t->dtype;
      }
      for (const TensorInfo& t : st.tensors()) {
        bool known = false;
        for (const ParamEntry& e : table.entries()) known = known || e.name == t.name;
        if (known) continue;
        if (t.name.compare(0, std::strlen(kExtraPrefix), kExtraPrefix) == 0 && t.name.find(".optim.") != std::string::npos) {
          ExtraTensor x;
          x.name = t.name;
          x.dtype = t.dtype;
          x.shape = t.shape;
          x.bytes.assign(st.data(t), st.data(t) + (t.end - t.begin));
          out.extras.push_back(std::move(x));
        } else {
          problems.push_back("unknown tensor \"" + t.name + "\" (not part of a " + family + " model of this config)");
        }
      }
      if (!problems.empty())
        throw Error(what + ": " + problems[0] +
                    (problems.size() > 1 ? " (+" + std::to_string(problems.size() - 1) + " more problems)" : "") +
                    "; the file is damaged or belongs to another model config");
      return out;
    }
  }
  LoadedModel<float> lm = load_model_bytes<float>(std::move(bytes), what);
  out.model = wrap_xlstm(std::move(lm.model));
  out.meta = std::move(lm.meta);
  out.extras = std::move(lm.extras);
  out.dtype = lm.dtype;
  return out;
}

}  // namespace xm::model

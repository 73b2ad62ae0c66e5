// model_fixture.h: test helper that turns the official vector model
// (../shared/reference/xlstm-vectors/model.json) into what a PyTorch user would hand to `xlstm-music import`:
// a state_dict .safetensors (F64, F32, BF16 or F16; sLSTM in the vanilla or the cuda layout) and the config
// JSON in the official nested schema. Not a loader.
#pragma once
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.h"
#include "core/safetensors.h"
#include "nn/vectors.h"

namespace xmtest {

// The official nested xLSTMLMModelConfig as dataclasses.asdict writes it (with the fields we ignore, such as
// the CUDA kernel settings), from the vectors' flat "config" object.
inline xm::json official_config_json(const xm::json& c, const std::string& backend = "vanilla") {
  const int D = c.at("embedding_dim"), NB = c.at("num_blocks");
  xm::json mlstm = {{"proj_factor", c.at("mlstm_proj_factor")},
                    {"round_proj_up_dim_up", true},
                    {"round_proj_up_to_multiple_of", 64},
                    {"_proj_up_dim", nullptr},
                    {"conv1d_kernel_size", c.at("mlstm_conv1d_kernel_size")},
                    {"qkv_proj_blocksize", c.at("mlstm_qkv_proj_blocksize")},
                    {"num_heads", c.at("mlstm_num_heads")},
                    {"embedding_dim", D},
                    {"bias", false},
                    {"dropout", 0.0},
                    {"context_length", c.at("context_length")},
                    {"_num_blocks", NB},
                    {"_inner_embedding_dim", nullptr}};
  xm::json slstm = {{"hidden_size", D},
                    {"num_heads", c.at("slstm_num_heads")},
                    {"num_states", 4},
                    {"backend", backend},
                    {"function", "slstm"},
                    {"bias_init", c.at("slstm_bias_init")},
                    {"recurrent_weight_init", "zeros"},
                    {"_block_idx", 0},
                    {"_num_blocks", NB},
                    {"num_gates", 4},
                    {"gradient_recurrent_cut", false},
                    {"gradient_recurrent_clipval", nullptr},
                    {"forward_clipval", nullptr},
                    {"batch_size", 8},
                    {"input_shape", "BSGNH"},
                    {"internal_input_shape", "SBNGH"},
                    {"output_shape", "BNSH"},
                    {"constants", xm::json::object()},
                    {"dtype", "bfloat16"},
                    {"dtype_b", "float32"},
                    {"dtype_r", "bfloat16"},
                    {"dtype_w", "bfloat16"},
                    {"dtype_g", "bfloat16"},
                    {"dtype_s", "bfloat16"},
                    {"dtype_a", "float32"},
                    {"enable_automatic_mixed_precision", true},
                    {"initial_val", 0.0},
                    {"embedding_dim", D},
                    {"conv1d_kernel_size", c.at("slstm_conv1d_kernel_size")},
                    {"group_norm_weight", true},
                    {"dropout", 0.0}};
  xm::json ff = {{"proj_factor", c.at("ff_proj_factor")},
                 {"round_proj_up_dim_up", true},
                 {"round_proj_up_to_multiple_of", 64},
                 {"_proj_up_dim", nullptr},
                 {"act_fn", c.at("ff_act_fn")},
                 {"embedding_dim", D},
                 {"dropout", 0.0},
                 {"bias", false},
                 {"ff_type", "ffn_gated"},
                 {"_num_blocks", NB}};
  return {
      {"mlstm_block", {{"mlstm", mlstm}, {"_num_blocks", NB}, {"_block_idx", nullptr}}},
      {"slstm_block", {{"slstm", slstm}, {"feedforward", ff}, {"_num_blocks", NB}, {"_block_idx", nullptr}}},
      {"context_length", c.at("context_length")},
      {"num_blocks", NB},
      {"embedding_dim", D},
      {"add_post_blocks_norm", c.at("add_post_blocks_norm")},
      {"bias", false},
      {"dropout", 0.0},
      {"slstm_at", c.at("slstm_at")},
      {"_block_map", nullptr},
      {"vocab_size", c.at("vocab_size")},
      {"tie_weights", c.at("tie_weights")},
      {"weight_decay_on_embedding", false},
      {"add_embedding_dropout", false}};
}

// vanilla -> cuda layout of an sLSTM state_dict (official cell.py ParameterProxy): _recurrent_kernel_
// (NH, 4DH, DH) -> (NH, DH, 4DH); _bias_ gate-major (4, NH, DH) -> head-major (NH, 4, DH).
inline VecTensor to_cuda_recurrent_kernel(const VecTensor& v) {
  const int64_t NH = v.dim(0), G = v.dim(1), DH = v.dim(2);
  VecTensor c;
  c.shape = {NH, DH, G};
  c.data.resize(v.data.size());
  for (int64_t h = 0; h < NH; ++h)
    for (int64_t r = 0; r < G; ++r)
      for (int64_t i = 0; i < DH; ++i)
        c.data[size_t((h * DH + i) * G + r)] = v.data[size_t((h * G + r) * DH + i)];
  return c;
}
inline VecTensor to_cuda_bias(const VecTensor& v, int64_t NH) {
  const int64_t DH = v.dim(0) / 4 / NH;
  VecTensor c = v;
  for (int64_t g = 0; g < 4; ++g)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t d = 0; d < DH; ++d)
        c.data[size_t((h * 4 + g) * DH + d)] = v.data[size_t((g * NH + h) * DH + d)];
  return c;
}

// Raw little-endian bytes of values in dtype (F64, F32, BF16, F16).
inline std::vector<uint8_t> encode(const std::vector<double>& v, xm::DType dtype) {
  std::vector<uint8_t> out(v.size() * xm::dtype_size(dtype));
  for (size_t i = 0; i < v.size(); ++i) {
    uint8_t* p = out.data() + i * xm::dtype_size(dtype);
    if (dtype == xm::DType::F64) {
      std::memcpy(p, &v[i], 8);
    } else if (dtype == xm::DType::F32) {
      float f = float(v[i]);
      std::memcpy(p, &f, 4);
    } else if (dtype == xm::DType::BF16) {
      uint16_t h = xm::float_to_bf16(float(v[i]));
      std::memcpy(p, &h, 2);
    } else if (dtype == xm::DType::F16) {
      uint16_t h = xm::float_to_half(float(v[i]));
      std::memcpy(p, &h, 2);
    } else {
      throw xm::Error("encode: not a float dtype");
    }
  }
  return out;
}

// Every params.<name> tensor of model.json (in param_order) as a state_dict writer; cuda=true writes the
// sLSTM tensors in the cuda layout.
inline xm::SafeTensorsWriter vector_state_dict(const xm::json& j, xm::DType dtype, bool cuda = false) {
  xm::SafeTensorsWriter w;
  const int64_t NH = j.at("config").at("slstm_num_heads");
  for (const auto& name : j.at("param_order").get<std::vector<std::string>>()) {
    VecTensor t = vec_tensor(j.at("params").at(name), name);
    auto ends = [&](const std::string& s) {
      return name.size() >= s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    if (cuda && ends("_recurrent_kernel_")) t = to_cuda_recurrent_kernel(t);
    if (cuda && ends("_bias_")) t = to_cuda_bias(t, NH);
    std::vector<uint8_t> b = encode(t.data, dtype);
    w.add(name, dtype, t.shape, b.data());
  }
  return w;
}

}  // namespace xmtest

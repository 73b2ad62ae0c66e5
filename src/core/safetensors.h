// safetensors.h: reading and writing the Hugging Face safetensors format (8-byte little-endian header
// length, JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, raw little-endian
// tensor bytes). Every length, offset, dtype and shape is checked, and errors name the file and the tensor.
// Not a model loader: model/ maps names and shapes onto parameters.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace xm {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };

const char* dtype_name(DType t);              // "F32", ...
bool parse_dtype(const std::string& s, DType* out);
size_t dtype_size(DType t);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets in the data region
  int64_t numel() const;
};

class SafeTensors {
 public:
  // Parses a whole file image; `what` (usually the path) prefixes every error.
  static SafeTensors parse(std::vector<uint8_t> bytes, const std::string& what);
  static SafeTensors read(const std::filesystem::path& path, uint64_t max_bytes = uint64_t(8) << 30);

  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in data order
  const TensorInfo* find(const std::string& name) const;               // nullptr when absent
  const TensorInfo& at(const std::string& name) const;                 // throws naming the tensor
  const uint8_t* data(const TensorInfo& t) const { return bytes_.data() + data_start_ + t.begin; }
  // Converts any float dtype (F64, F32, F16, BF16) to float or double; throws for integer dtypes.
  std::vector<float> to_float(const std::string& name) const;
  std::vector<double> to_double(const std::string& name) const;
  const std::string& what() const { return what_; }

 private:
  std::string what_;
  std::vector<uint8_t> bytes_;
  size_t data_start_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
};

class SafeTensorsWriter {
 public:
  // Copies the bytes (numel * dtype_size). Names must be unique and not "__metadata__".
  void add(const std::string& name, DType dtype, const std::vector<int64_t>& shape, const void* data);
  void add_f32(const std::string& name, const std::vector<int64_t>& shape, const float* data) {
    add(name, DType::F32, shape, data);
  }
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  std::vector<uint8_t> serialize() const;
  void write(const std::filesystem::path& path) const;  // atomic (temp, fsync, rename)

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);
uint16_t float_to_half(float f);  // round to nearest even
uint16_t float_to_bf16(float f);  // round to nearest even

}  // namespace xm

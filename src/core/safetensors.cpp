// safetensors.cpp: see safetensors.h.
#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"

namespace xm {

static_assert(sizeof(float) == 4 && sizeof(double) == 8);

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F64: return "F64";
    case DType::F32: return "F32";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::I64: return "I64";
    case DType::I32: return "I32";
    case DType::I16: return "I16";
    case DType::I8: return "I8";
    case DType::U8: return "U8";
    case DType::BOOL: return "BOOL";
  }
  return "?";
}

bool parse_dtype(const std::string& s, DType* out) {
  static const std::pair<const char*, DType> table[] = {
      {"F64", DType::F64}, {"F32", DType::F32}, {"F16", DType::F16}, {"BF16", DType::BF16},
      {"I64", DType::I64}, {"I32", DType::I32}, {"I16", DType::I16}, {"I8", DType::I8},
      {"U8", DType::U8},   {"BOOL", DType::BOOL}};
  for (auto& [n, t] : table)
    if (s == n) {
      *out = t;
      return true;
    }
  return false;
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64: case DType::I64: return 8;
    case DType::F32: case DType::I32: return 4;
    case DType::F16: case DType::BF16: case DType::I16: return 2;
    case DType::I8: case DType::U8: case DType::BOOL: return 1;
  }
  return 1;
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | (uint32_t(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

float bf16_to_float(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffff) > 0x7f800000) return uint16_t((bits >> 16) | 0x40);  // NaN stays NaN
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return uint16_t((bits + rounding) >> 16);
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx > 0x7f800000) return uint16_t(sign | 0x7e00);          // NaN
  if (absx >= 0x477ff000) return uint16_t(sign | 0x7c00);         // overflow (>= 65520) -> inf
  if (absx < 0x38800000) {                                        // below the smallest normal half
    if (absx < 0x33000000) return uint16_t(sign);                 // < 2^-25 rounds to zero
    uint32_t e = absx >> 23;
    uint32_t m = (absx & 0x7fffff) | 0x800000;
    uint32_t shift = 126 - e;  // 14 - (e - 127) + 13 - ... : value = m * 2^(e-150); half sub = k * 2^-24
    uint32_t k = m >> (shift - 0);
    // round to nearest even on the bits shifted out
    uint32_t rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (k & 1))) ++k;
    return uint16_t(sign | k);
  }
  uint32_t r = absx + 0xfff + ((absx >> 13) & 1);  // round to nearest even at bit 13
  r -= (127 - 15) << 23;
  return uint16_t(sign | (r >> 13));
}

SafeTensors SafeTensors::read(const std::filesystem::path& path, uint64_t max_bytes) {
  return parse(read_file_bytes(path, max_bytes), path.string());
}

SafeTensors SafeTensors::parse(std::vector<uint8_t> bytes, const std::string& what) {
  SafeTensors st;
  st.what_ = what;
  if (bytes.size() < 8)
    throw Error(what + ": not a safetensors file: " + std::to_string(bytes.size()) +
                " bytes, shorter than the 8-byte header length (truncated?)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
  if (n > bytes.size() - 8)
    throw Error(what + ": header length " + std::to_string(n) + " exceeds the file size " +
                std::to_string(bytes.size()) + " (truncated or not a safetensors file)");
  std::string header(reinterpret_cast<const char*>(bytes.data() + 8), size_t(n));
  json j;
  try {
    j = json::parse(header);
  } catch (const json::parse_error& e) {
    throw Error(what + ": header is not valid JSON (byte " + std::to_string(e.byte) + " of the header)");
  }
  if (!j.is_object()) throw Error(what + ": header is not a JSON object");
  st.data_start_ = size_t(8 + n);
  const uint64_t data_size = bytes.size() - st.data_start_;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw Error(what + ": __metadata__ is not an object of strings");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw Error(what + ": __metadata__ field \"" + m.key() + "\" is not a string");
        st.metadata_[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string ctx = what + ": tensor \"" + name + "\"";
    if (!v.is_object()) throw Error(ctx + ": entry is not an object");
    TensorInfo t;
    t.name = name;
    auto dt = v.find("dtype");
    if (dt == v.end() || !dt->is_string()) throw Error(ctx + ": missing dtype");
    if (!parse_dtype(dt->get<std::string>(), &t.dtype))
      throw Error(ctx + ": unknown dtype \"" + dt->get<std::string>() + "\"");
    auto sh = v.find("shape");
    if (sh == v.end() || !sh->is_array()) throw Error(ctx + ": missing shape");
    uint64_t numel = 1;
    for (const json& d : *sh) {
      if (!d.is_number_integer() || d.get<int64_t>() < 0) throw Error(ctx + ": shape has a bad dimension");
      uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 16 / dim)
        throw Error(ctx + ": shape is absurdly large");
      numel *= dim;
      t.shape.push_back(int64_t(dim));
    }
    auto off = v.find("data_offsets");
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      throw Error(ctx + ": missing or bad data_offsets");
    t.begin = (*off)[0].get<uint64_t>();
    t.end = (*off)[1].get<uint64_t>();
    if (t.end < t.begin || t.end > data_size)
      throw Error(ctx + ": data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                  "] lie outside the data (" + std::to_string(data_size) + " bytes; truncated file?)");
    if (t.end - t.begin != numel * dtype_size(t.dtype))
      throw Error(ctx + ": " + std::to_string(t.end - t.begin) + " bytes do not match shape x " +
                  dtype_name(t.dtype) + " (" + std::to_string(numel * dtype_size(t.dtype)) + " bytes)");
    st.tensors_.push_back(std::move(t));
  }
  std::sort(st.tensors_.begin(), st.tensors_.end(),
            [](const TensorInfo& a, const TensorInfo& b) { return a.begin < b.begin; });
  for (size_t i = 1; i < st.tensors_.size(); ++i)
    if (st.tensors_[i].begin < st.tensors_[i - 1].end)
      throw Error(what + ": tensors \"" + st.tensors_[i - 1].name + "\" and \"" + st.tensors_[i].name +
                  "\" overlap");
  for (size_t i = 0; i < st.tensors_.size(); ++i) st.index_[st.tensors_[i].name] = i;
  st.bytes_ = std::move(bytes);
  return st;
}

const TensorInfo* SafeTensors::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafeTensors::at(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t) throw Error(what_ + ": missing tensor \"" + name + "\"");
  return *t;
}

template <class T>
static std::vector<T> convert(const SafeTensors& st, const std::string& name) {
  const TensorInfo& t = st.at(name);
  const uint8_t* p = st.data(t);
  size_t n = size_t(t.numel());
  std::vector<T> out(n);
  for (size_t i = 0; i < n; ++i) {
    switch (t.dtype) {
      case DType::F64: {
        double d;
        std::memcpy(&d, p + 8 * i, 8);
        out[i] = T(d);
        break;
      }
      case DType::F32: {
        float f;
        std::memcpy(&f, p + 4 * i, 4);
        out[i] = T(f);
        break;
      }
      case DType::F16: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = T(half_to_float(h));
        break;
      }
      case DType::BF16: {
        uint16_t h;
        std::memcpy(&h, p + 2 * i, 2);
        out[i] = T(bf16_to_float(h));
        break;
      }
      default:
        throw Error(st.what() + ": tensor \"" + name + "\" has dtype " + dtype_name(t.dtype) +
                    ", expected a float dtype (F64, F32, F16 or BF16)");
    }
  }
  return out;
}

std::vector<float> SafeTensors::to_float(const std::string& name) const { return convert<float>(*this, name); }
std::vector<double> SafeTensors::to_double(const std::string& name) const { return convert<double>(*this, name); }

void SafeTensorsWriter::add(const std::string& name, DType dtype, const std::vector<int64_t>& shape,
                            const void* data) {
  if (name.empty() || name == "__metadata__") throw Error("safetensors: bad tensor name \"" + name + "\"");
  for (const Entry& e : entries_)
    if (e.name == name) throw Error("safetensors: tensor \"" + name + "\" added twice");
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error("safetensors: tensor \"" + name + "\" has a negative dimension");
    n *= d;
  }
  Entry e{name, dtype, shape, {}};
  const uint8_t* p = static_cast<const uint8_t*>(data);
  e.bytes.assign(p, p + size_t(n) * dtype_size(dtype));
  entries_.push_back(std::move(e));
}

std::vector<uint8_t> SafeTensorsWriter::serialize() const {
  ordered_json h = ordered_json::object();
  if (!metadata_.empty()) {
    ordered_json m = ordered_json::object();
    for (auto& [k, v] : metadata_) m[k] = v;
    h["__metadata__"] = m;
  }
  uint64_t off = 0;
  for (const Entry& e : entries_) {
    ordered_json t = ordered_json::object();
    t["dtype"] = dtype_name(e.dtype);
    t["shape"] = e.shape;
    t["data_offsets"] = {off, off + e.bytes.size()};
    off += e.bytes.size();
    h[e.name] = t;
  }
  std::string header = h.dump();
  while ((8 + header.size()) % 8 != 0) header.push_back(' ');  // align the data to 8 bytes
  std::vector<uint8_t> out;
  out.reserve(8 + header.size() + off);
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out.push_back(uint8_t(n >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  for (const Entry& e : entries_) out.insert(out.end(), e.bytes.begin(), e.bytes.end());
  return out;
}

void SafeTensorsWriter::write(const std::filesystem::path& path) const {
  std::vector<uint8_t> b = serialize();
  write_file_atomic(path, b.data(), b.size());
}

}  // namespace xm

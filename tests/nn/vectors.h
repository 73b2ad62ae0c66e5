// vectors.h: test helper that loads the official float64 reference vectors (../shared/reference/xlstm-vectors,
// FORMAT.md there) into plain std::vector<double> + shape, and compares our outputs with them.
// Not a tensor library and not a JSON schema: tests pick the keys they need.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/io.h"
#include "core/json.h"
#include "support/test_support.h"

namespace xmtest {

// One tensor of a vector file: {"shape": [...], "data": [...]} (row-major), data widened to double.
struct VecTensor {
  std::vector<int64_t> shape;
  std::vector<double> data;
  size_t numel() const { return data.size(); }
  // Size of dimension i (negative counts from the end).
  int64_t dim(int i) const { return shape.at(i < 0 ? shape.size() + i : size_t(i)); }
  std::vector<float> as_float() const { return std::vector<float>(data.begin(), data.end()); }
  std::vector<int> as_int() const {
    std::vector<int> r(data.size());
    for (size_t i = 0; i < data.size(); ++i) r[i] = int(std::llround(data[i]));
    return r;
  }
};

// ../shared/reference/xlstm-vectors, or empty when ../shared is absent.
inline std::filesystem::path vectors_dir() {
  std::filesystem::path s = shared_dir();
  if (s.empty()) return {};
  std::filesystem::path p = s / "reference" / "xlstm-vectors";
  std::error_code ec;
  return std::filesystem::is_directory(p, ec) ? p : std::filesystem::path{};
}

// Parses one vector file (e.g. "model.json"); throws xm::Error when missing or malformed.
inline xm::json load_vector_file(const std::string& file) {
  std::filesystem::path p = vectors_dir() / file;
  return xm::parse_json(xm::read_file_text(p), p.string());
}

// Converts a {"shape","data"} object (or a plain number, shape {}) to a VecTensor; checks numel == prod(shape).
inline VecTensor vec_tensor(const xm::json& j, const std::string& what = "tensor") {
  VecTensor t;
  if (j.is_number()) {
    t.data.push_back(j.get<double>());
    return t;
  }
  if (!j.is_object() || !j.contains("shape") || !j.contains("data"))
    throw xm::Error(what + ": not a {\"shape\",\"data\"} tensor object");
  t.shape = j.at("shape").get<std::vector<int64_t>>();
  const xm::json& d = j.at("data");
  t.data.reserve(d.size());
  for (const auto& v : d) t.data.push_back(v.get<double>());
  int64_t n = 1;
  for (int64_t s : t.shape) n *= s;
  if (size_t(n) != t.data.size())
    throw xm::Error(what + ": shape says " + std::to_string(n) + " elements, data has " +
                    std::to_string(t.data.size()));
  return t;
}

// Looks up nested keys literally (keys may contain dots: "params", "xlstm_block_stack.blocks.0...").
inline VecTensor vec_at(const xm::json& root, std::initializer_list<std::string> keys) {
  const xm::json* j = &root;
  std::string path;
  for (const auto& k : keys) {
    path += (path.empty() ? "" : "/") + k;
    if (!j->is_object() || !j->contains(k)) throw xm::Error("vectors: missing key " + path);
    j = &j->at(k);
  }
  return vec_tensor(*j, path);
}

// Compares got (n values, any float type) with want elementwise: |g - w| <= atol + rtol * |w|.
// The failure message names the tensor, the worst index, both values and the count of bad elements.
template <class T>
::testing::AssertionResult all_close(const std::string& name, const T* got, const std::vector<double>& want,
                                     double rtol, double atol) {
  size_t bad = 0, worst = 0;
  double worst_excess = -1, max_abs = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    double g = double(got[i]), w = want[i];
    double err = std::fabs(g - w);
    if (!(err == err)) err = INFINITY;  // NaN counts as infinitely wrong
    max_abs = std::max(max_abs, err);
    double excess = err - (atol + rtol * std::fabs(w));
    if (excess > 0) ++bad;
    if (excess > worst_excess) worst_excess = excess, worst = i;
  }
  if (bad == 0) return ::testing::AssertionSuccess();
  std::ostringstream os;
  os.precision(17);
  os << name << ": " << bad << " of " << want.size() << " elements differ (rtol " << rtol << ", atol " << atol
     << "); worst at flat index " << worst << ": got " << double(got[worst]) << ", want " << want[worst]
     << "; max |diff| " << max_abs;
  return ::testing::AssertionFailure() << os.str();
}
template <class T>
::testing::AssertionResult all_close(const std::string& name, const std::vector<T>& got,
                                     const std::vector<double>& want, double rtol, double atol) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure()
           << name << ": size " << got.size() << " but the reference has " << want.size();
  return all_close(name, got.data(), want, rtol, atol);
}

// Largest |a - b| over n elements.
template <class T>
double max_abs_diff(const T* a, const double* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

}  // namespace xmtest

// Skips the test when the reference vectors are absent (a fresh clone without ../shared); otherwise loads
// the named file into `var` (an xm::json).
#define XM_REQUIRE_VECTORS(var, file)                                                            \
  if (xmtest::vectors_dir().empty() || !std::filesystem::exists(xmtest::vectors_dir() / (file))) \
    GTEST_SKIP() << "../shared/reference/xlstm-vectors/" << (file) << " not found; skipping";    \
  const xm::json var = xmtest::load_vector_file(file)

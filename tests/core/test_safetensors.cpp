// Tests of core/safetensors: round trip of every dtype, half/bfloat16 conversion, and that damaged files
// (truncated, bad header, wrong sizes, overlaps) are refused with errors that name the file and tensor.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/safetensors.h"
#include "support/test_support.h"

using xm::DType;

static std::vector<uint8_t> make_file(const std::string& header, size_t data_bytes) {
  std::vector<uint8_t> b;
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(n >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.resize(b.size() + data_bytes, 0);
  return b;
}

static std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    xm::SafeTensors::parse(bytes, "m.safetensors");
  } catch (const xm::Error& e) {
    return e.what();
  }
  return "";
}

TEST(core, safetensors_round_trip_all_dtypes) {
  xm::SafeTensorsWriter w;
  std::vector<float> f = {1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, 65504.0f};
  std::vector<double> d = {1.0 / 3.0, -7.0};
  std::vector<uint16_t> h = {xm::float_to_half(0.5f), xm::float_to_half(-1.0f)};
  std::vector<uint16_t> bf = {xm::float_to_bf16(3.0f), xm::float_to_bf16(-0.15625f)};
  std::vector<int64_t> i64 = {42, -1};
  w.add_f32("a.weight", {2, 3}, f.data());
  w.add("b", DType::F64, {2}, d.data());
  w.add("c", DType::F16, {2}, h.data());
  w.add("d", DType::BF16, {1, 2}, bf.data());
  w.add("e", DType::I64, {2}, i64.data());
  w.add("empty", DType::F32, {0, 4}, nullptr);
  w.set_metadata("config", "{\"x\": 1}");
  auto bytes = w.serialize();
  auto st = xm::SafeTensors::parse(bytes, "mem");
  EXPECT_EQ(st.metadata().at("config"), "{\"x\": 1}");
  ASSERT_EQ(st.tensors().size(), 6u);
  EXPECT_EQ(st.at("a.weight").shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(st.to_float("a.weight"), f);
  EXPECT_EQ(st.to_double("b"), d);
  EXPECT_EQ(st.to_float("c"), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(st.to_float("d"), (std::vector<float>{3.0f, -0.15625f}));
  EXPECT_EQ(st.to_float("empty").size(), 0u);
  EXPECT_THROW(st.to_float("e"), xm::Error);  // integer tensor is not silently converted
  int64_t back[2];
  std::memcpy(back, st.data(st.at("e")), 16);
  EXPECT_EQ(back[0], 42);
  EXPECT_EQ(back[1], -1);
  // The data region starts 8-byte aligned.
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
  EXPECT_EQ((8 + n) % 8, 0u);
}

TEST(core, safetensors_half_and_bf16_conversions_round_to_nearest_even) {
  // Every finite half converts to float and back exactly.
  for (uint32_t hbits = 0; hbits < 0x10000; ++hbits) {
    if ((hbits & 0x7c00) == 0x7c00) continue;  // inf/nan
    float f = xm::half_to_float(uint16_t(hbits));
    ASSERT_EQ(xm::float_to_half(f), uint16_t(hbits)) << std::hex << hbits;
  }
  EXPECT_EQ(xm::half_to_float(xm::float_to_half(1.0f + 1.0f / 4096)), 1.0f);  // tie -> even
  EXPECT_EQ(xm::half_to_float(xm::float_to_half(5.960464477539063e-8f)), 5.960464477539063e-8f);  // 2^-24
  EXPECT_TRUE(std::isinf(xm::half_to_float(xm::float_to_half(70000.0f))));
  EXPECT_EQ(xm::bf16_to_float(xm::float_to_bf16(1.0f + 1.0f / 256)), 1.0f);  // tie -> even
  EXPECT_EQ(xm::bf16_to_float(xm::float_to_bf16(1.0f + 3.0f / 256)), 1.0f + 4.0f / 256);
}

TEST(core, safetensors_rejects_damaged_files_with_named_reasons) {
  EXPECT_NE(error_of({1, 2, 3}).find("shorter than the 8-byte header"), std::string::npos);
  auto good = make_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8);
  EXPECT_EQ(error_of(good), "");
  auto trunc = good;
  trunc.resize(trunc.size() - 3);
  EXPECT_NE(error_of(trunc).find("tensor \"w\""), std::string::npos) << error_of(trunc);
  EXPECT_NE(error_of(make_file("{not json", 0)).find("not valid JSON"), std::string::npos);
  auto big_header = make_file("{}", 0);
  big_header[0] = 0xff;
  EXPECT_NE(error_of(big_header).find("exceeds the file size"), std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", 8)).find("unknown dtype"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)).find("do not match"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                               8))
                .find("overlap"),
            std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"__metadata__":{"k":3}})", 0)).find("__metadata__"), std::string::npos);
  EXPECT_NE(error_of(make_file(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8)).find("bad dimension"),
            std::string::npos);
}

TEST(core, safetensors_writer_refuses_duplicates_and_writes_atomically) {
  xm::SafeTensorsWriter w;
  float x = 1;
  w.add_f32("x", {1}, &x);
  EXPECT_THROW(w.add_f32("x", {1}, &x), xm::Error);
  auto d = xmtest::temp_dir("st");
  w.write(d / "m.safetensors");
  auto st = xm::SafeTensors::read(d / "m.safetensors");
  EXPECT_EQ(st.to_float("x")[0], 1.0f);
  EXPECT_THROW(st.at("y"), xm::Error);
  std::filesystem::remove_all(d);
}

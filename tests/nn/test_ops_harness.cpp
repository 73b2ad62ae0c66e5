// Tests of the test helpers themselves (gradcheck.h, vectors.h): the harness passes a correct backward and
// catches a wrong or overwriting one; the vector loader reads shapes and data. Not tests of any op.
#include <cmath>

#include "nn/gradcheck.h"
#include "nn/vectors.h"

TEST(nn, gradcheck_harness_accepts_correct_and_catches_wrong) {
  std::vector<double> x = xmtest::random_vector(7, 1), dx;
  auto fwd = [&] {
    std::vector<double> y(x.size());
    for (size_t i = 0; i < x.size(); ++i) y[i] = std::sin(x[i]) * x[(i + 1) % x.size()];
    return y;
  };
  auto good = [&](const std::vector<double>& dy) {
    for (size_t i = 0; i < x.size(); ++i) {
      size_t j = (i + 1) % x.size();
      dx[i] += dy[i] * std::cos(x[i]) * x[j];
      dx[j] += dy[i] * std::sin(x[i]);
    }
  };
  EXPECT_TRUE(xmtest::gradcheck("good", {{"x", &x, &dx}}, fwd, good));
  auto wrong = [&](const std::vector<double>& dy) {
    for (size_t i = 0; i < x.size(); ++i) dx[i] += dy[i] * std::cos(x[i]) * x[(i + 1) % x.size()];
  };
  EXPECT_FALSE(xmtest::gradcheck("wrong", {{"x", &x, &dx}}, fwd, wrong));
  auto overwrite = [&](const std::vector<double>& dy) {
    std::fill(dx.begin(), dx.end(), 0.0);
    good(dy);
  };
  EXPECT_FALSE(xmtest::gradcheck("overwrite", {{"x", &x, &dx}}, fwd, overwrite));
}

TEST(nn, vectors_loader_reads_shape_and_data) {
  XM_REQUIRE_VECTORS(j, "slstm_cell.json");
  xmtest::VecTensor r = xmtest::vec_at(j, {"params", "recurrent_kernel_int"});
  ASSERT_EQ(r.shape, (std::vector<int64_t>{2, 16, 4}));
  EXPECT_EQ(r.numel(), 128u);
  xmtest::VecTensor ext = xmtest::vec_at(j, {"params", "recurrent_kernel_ext"});
  // ext[h,i,g,o] = R_int[h, g*DH+o, i] (FORMAT.md section 1): a check that row-major indexing is as documented.
  for (int h = 0; h < 2; ++h)
    for (int i = 0; i < 4; ++i)
      for (int g = 0; g < 4; ++g)
        for (int o = 0; o < 4; ++o)
          EXPECT_EQ(ext.data[((h * 4 + i) * 4 + g) * 4 + o], r.data[(h * 16 + g * 4 + o) * 4 + i]);
}

// Smoke test of `xlstm-music bench`: a --quick run of the real binary gives well-formed JSON with positive
// speeds for every phase (xLSTM and the baseline families), a loss near ln(512) for random tokens, and usage
// errors exit 2. No timing is asserted.
#include <cmath>

#include "core/json.h"
#include "support/test_support.h"

TEST(cli, bench_quick_json_reports_every_phase) {
  auto r = xmtest::run_cli("bench --quick --json --model mlstm --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  xm::json j = xm::json::parse(r.out);
  ASSERT_EQ(j["models"].size(), 1u);
  const xm::json& m = j["models"][0];
  EXPECT_EQ(m["model"], "mlstm");
  EXPECT_EQ(m["params"], 1924384);  // the official count for the all-mLSTM music config
  for (const char* phase : {"train", "forward", "prefill"})
    EXPECT_GT(m[phase]["tokens_per_s"].get<double>(), 0) << phase;
  EXPECT_GT(m["generate"]["batch_1"]["tokens_per_s"].get<double>(), 0);
  EXPECT_GT(m["generate"]["batch_16"]["tokens_per_s"].get<double>(), 0);
  // Random tokens over 512 ids: the loss of a freshly initialised model sits near ln(512) = 6.24.
  double loss = m["last_train_loss"].get<double>();
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_GT(loss, 3.0);
  EXPECT_LT(loss, 8.0);
  EXPECT_GT(j["gemm_1024_gflops"].get<double>(), 0);
  EXPECT_EQ(j["runtime"]["blas_threads"], 1);
}

TEST(cli, bench_times_the_baseline_families) {
  auto r = xmtest::run_cli("bench --quick --json --model lstm,transformer --threads 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  xm::json j = xm::json::parse(r.out);
  ASSERT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["models"][0]["family"], "lstm");
  EXPECT_EQ(j["models"][1]["family"], "transformer");
  EXPECT_EQ(j["models"][0]["params"], 1841152);  // torch.nn.LSTM 3 x 256 of the reference document
  EXPECT_EQ(j["models"][1]["config"]["positions"], "rotary");
  for (const xm::json& m : j["models"]) {
    for (const char* phase : {"train", "forward", "prefill"})
      EXPECT_GT(m[phase]["tokens_per_s"].get<double>(), 0) << m["model"] << " " << phase;
    EXPECT_GT(m["generate"]["batch_16"]["tokens_per_s"].get<double>(), 0) << m["model"];
    EXPECT_GT(m["forward_flops_per_token"].get<double>(), 0) << m["model"];
    const double loss = m["last_train_loss"].get<double>();  // random tokens: near ln(512) = 6.24
    EXPECT_GT(loss, 3.0) << m["model"];
    EXPECT_LT(loss, 8.0) << m["model"];
  }
  EXPECT_TRUE(j["models"][0].contains("vs_pytorch"));  // torch.nn.LSTM figures exist; none for a Transformer
  EXPECT_FALSE(j["models"][1].contains("vs_pytorch"));
}

TEST(cli, bench_bad_flags_exit_2_naming_the_flag) {
  auto r = xmtest::run_cli("bench --model gru");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--model"), std::string::npos) << r.err;
  r = xmtest::run_cli("bench --threads -3");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--threads"), std::string::npos) << r.err;
}

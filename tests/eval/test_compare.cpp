// Tests of the set comparison (eval/compare.h, eval/report.h): KDE overlap and KL against the closed forms of
// Gaussians, identical sets (OA 1, KL 0), the intra-/inter-set distances, reading folders of MIDI files with bad
// files in them, and the Markdown report with its plots. Not the per-piece metrics (test_metrics.cpp).
#include <cmath>
#include <filesystem>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.h"
#include "core/io.h"
#include "data/data_test_util.h"
#include "eval/compare.h"
#include "eval/report.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using xm::eval::Samples;

namespace {

// n draws of N(mu, sigma^2), Box-Muller over a fixed-seed mt19937_64 (the same numbers on every platform).
Samples gaussian(int n, double mu, double sigma, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto uniform = [&] { return (double(rng() >> 11) + 0.5) / 9007199254740992.0; };
  Samples s;
  while (int(s.value.size()) < n) {
    const double u1 = uniform(), u2 = uniform();
    const double r = std::sqrt(-2.0 * std::log(u1));
    s.value.push_back(mu + sigma * r * std::cos(2 * M_PI * u2));
    if (int(s.value.size()) < n) s.value.push_back(mu + sigma * r * std::sin(2 * M_PI * u2));
  }
  return s;
}

double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) : path(xmtest::temp_dir(tag)) {}
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST(eval, overlap_and_kl_of_two_gaussians_match_the_closed_forms) {
  // N(0,1) against N(1,1): the densities cross at 0.5, OA = 2 Phi(-1/2) = 0.6171; KL = (mu1 - mu2)^2 / 2 = 0.5.
  // A KDE widens each by its bandwidth h (Scott: 4000^-0.2 = 0.19), so the estimate sits slightly above/below.
  const Samples a = gaussian(4000, 0, 1, 1), b = gaussian(4000, 1, 1, 2);
  const auto d = xm::eval::kde_pair(a, b);
  EXPECT_NEAR(xm::eval::overlap_area(d), 2 * Phi(-0.5), 0.03);
  EXPECT_NEAR(xm::eval::kl_divergence(d), 0.5, 0.06);
  // Each density integrates to 1 on the grid.
  double pa = 0, pb = 0;
  for (size_t i = 0; i < d.p.size(); ++i) pa += d.p[i] * d.step, pb += d.q[i] * d.step;
  EXPECT_NEAR(pa, 1.0, 1e-9);
  EXPECT_NEAR(pb, 1.0, 1e-9);

  // N(0,1) against N(0,2^2): equal densities at x* = sqrt(8 ln 2 / 3) = 1.3596; below |x*| the wide one is the
  // smaller: OA = (2 Phi(x*/2) - 1) + 2 (1 - Phi(x*)) = 0.6774; KL = ln 2 + 1/8 - 1/2 = 0.3181.
  const Samples c = gaussian(4000, 0, 2, 3);
  const auto e = xm::eval::kde_pair(a, c);
  const double xs = std::sqrt(8 * std::log(2.0) / 3);
  EXPECT_NEAR(xm::eval::overlap_area(e), (2 * Phi(xs / 2) - 1) + 2 * (1 - Phi(xs)), 0.03);
  EXPECT_NEAR(xm::eval::kl_divergence(e), std::log(2.0) + 0.125 - 0.5, 0.06);

  // Far apart: no overlap, a large KL.
  const Samples far = gaussian(500, 100, 1, 4);
  const auto g = xm::eval::kde_pair(a, far);
  EXPECT_LT(xm::eval::overlap_area(g), 1e-6);
  EXPECT_GT(xm::eval::kl_divergence(g), 10.0);
  // The same samples: exactly OA 1 and KL 0.
  const auto same = xm::eval::kde_pair(a, a);
  EXPECT_NEAR(xm::eval::overlap_area(same), 1.0, 1e-12);
  EXPECT_EQ(xm::eval::kl_divergence(same), 0.0);
}

TEST(eval, scott_bandwidth_and_weighted_samples) {
  // {0 (w 1), 3 (w 2), 0 (w 1)}: total 4, mean 6/4 = 1.5; unbiased variance = (2*1.5^2 + 2*1.5^2) / 3 = 3.
  Samples s;
  s.value = {0, 3, 0};
  s.weight = {1, 2, 1};
  EXPECT_EQ(s.total_weight(), 4.0);
  EXPECT_NEAR(s.mean(), 1.5, 1e-12);
  EXPECT_NEAR(s.stddev(), std::sqrt(3.0), 1e-12);
  EXPECT_NEAR(xm::eval::scott_bandwidth(s), std::sqrt(3.0) * std::pow(4.0, -0.2), 1e-12);
  // No spread: the floor, not zero.
  Samples flat;
  flat.value = {2, 2, 2};
  EXPECT_NEAR(xm::eval::scott_bandwidth(flat), 2e-6, 1e-15);
}

TEST(eval, intra_and_inter_set_distances) {
  // Set {0, 3}: ordered pairs (0,0) (0,3) (3,0) (3,3) -> distances 0, 3, 3, 0: stored as 0 (w1), 3 (w2), 0 (w1).
  const xm::eval::FeatureSet s = {{0.0}, {3.0}};
  const Samples intra = xm::eval::intra_set_distances(s);
  EXPECT_EQ(intra.value, (std::vector<double>{0, 3, 0}));
  EXPECT_EQ(intra.weight, (std::vector<double>{1, 2, 1}));
  // Against {1}: |0-1| = 1, |3-1| = 2.
  const Samples inter = xm::eval::inter_set_distances(s, {{1.0}});
  EXPECT_EQ(inter.value, (std::vector<double>{1, 2}));
  // Vectors: Euclidean, (0,0)-(3,4) = 5.
  const Samples v = xm::eval::inter_set_distances({{0.0, 0.0}}, {{3.0, 4.0}});
  EXPECT_EQ(v.value, (std::vector<double>{5.0}));
  // Two identical sets: the intra-set distribution is the inter-set one, so OA 1 and KL 0.
  const xm::eval::FeatureSet t = {{0.1}, {0.5}, {0.9}, {2.0}};
  const auto d = xm::eval::kde_pair(xm::eval::intra_set_distances(t), xm::eval::inter_set_distances(t, t));
  EXPECT_NEAR(xm::eval::overlap_area(d), 1.0, 1e-9);
  EXPECT_NEAR(xm::eval::kl_divergence(d), 0.0, 1e-9);
}

TEST(eval, identical_sets_give_overlap_one_and_kl_zero_for_every_feature) {
  xm::eval::MidiSet set;
  set.dir = "same";
  for (uint32_t seed = 1; seed <= 6; ++seed) {
    xm::midi::Score s = xmtest::make_piece(seed, 40 + int(seed) * 7, 55 + int(seed));
    set.files.push_back({"p" + std::to_string(seed) + ".mid", xm::eval::compute_features(s)});
  }
  const auto cmp = xm::eval::compare_features(set, set);
  ASSERT_EQ(cmp.size(), xm::eval::feature_table().size());
  int defined = 0;
  for (const auto& f : cmp) {
    if (!f.defined) continue;
    ++defined;
    EXPECT_NEAR(f.oa_generated, 1.0, 1e-9) << f.info.name;
    EXPECT_NEAR(f.kl_generated, 0.0, 1e-9) << f.info.name;
    EXPECT_NEAR(f.oa_reference, 1.0, 1e-9) << f.info.name;
    EXPECT_NEAR(f.kl_reference, 0.0, 1e-9) << f.info.name;
    EXPECT_EQ(f.generated.mean, f.reference.mean) << f.info.name;
  }
  EXPECT_GE(defined, 12);  // every feature but possibly one of the bar metrics is defined on these pieces
}

TEST(eval, different_sets_are_told_apart) {
  // Low, sparse pieces against high, dense ones: pitch range is the same kind (12 pitches) but notes per second
  // differ by construction (eighths vs. sixteenths), so that feature's OA is well below 1.
  xm::eval::MidiSet slow, fast;
  for (uint32_t seed = 1; seed <= 8; ++seed) {
    xm::midi::Score s = xmtest::make_piece(seed, 64, 48);
    slow.files.push_back({"s", xm::eval::compute_features(s)});
    xm::midi::Score t = s;
    for (auto& n : t.notes) n.onset_tick /= 4, n.offset_tick = n.onset_tick + 60;
    t.refresh_seconds();
    fast.files.push_back({"f", xm::eval::compute_features(t)});
  }
  const auto cmp = xm::eval::compare_features(fast, slow);
  for (const auto& f : cmp)
    if (f.info.name == "notes_per_second") {
      ASSERT_TRUE(f.defined);
      EXPECT_LT(f.oa_generated, 0.2);
      EXPECT_GT(f.kl_generated, 1.0);
      EXPECT_GT(f.generated.mean, 3 * f.reference.mean);
    }
}

TEST(eval, reading_midi_sets_lists_bad_files_and_rejects_empty_or_missing_folders) {
  TempDir t("eval-sets");
  const fs::path gen = t.path / "gen";
  xmtest::write_piece(gen / "a.mid", xmtest::make_piece(1, 30));
  xmtest::write_piece(gen / "sub" / "b.MID", xmtest::make_piece(2, 30));
  xm::write_file_atomic(gen / "broken.mid", std::string("not a midi file at all"));
  xm::write_file_atomic(gen / "notes.txt", std::string("ignored"));
  const auto set = xm::eval::read_midi_set(gen, "--generated");
  ASSERT_EQ(set.files.size(), 2u);
  EXPECT_EQ(set.files[0].path, "a.mid");
  EXPECT_EQ(set.files[1].path, (fs::path("sub") / "b.MID").string());
  ASSERT_EQ(set.skipped.size(), 1u);
  EXPECT_EQ(set.skipped[0].path, "broken.mid");
  EXPECT_NE(set.skipped[0].reason.find("MThd"), std::string::npos) << set.skipped[0].reason;

  try {
    xm::eval::read_midi_set(t.path / "nope", "--reference");
    FAIL() << "no error for a missing folder";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--reference"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos) << e.what();
  }
  fs::create_directories(t.path / "empty");
  xm::write_file_atomic(t.path / "empty" / "bad.mid", std::string("xx"));
  try {
    xm::eval::read_midi_set(t.path / "empty", "--generated");
    FAIL() << "no error for a set without usable files";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no usable MIDI file"), std::string::npos) << e.what();
  }
}

TEST(eval, the_report_has_a_table_and_a_plot_per_feature) {
  TempDir t("eval-report");
  for (uint32_t i = 0; i < 4; ++i) {
    xmtest::write_piece(t.path / "gen" / ("g" + std::to_string(i) + ".mid"), xmtest::make_piece(10 + i, 50, 60));
    xmtest::write_piece(t.path / "ref" / ("r" + std::to_string(i) + ".mid"), xmtest::make_piece(20 + i, 80, 50));
  }
  const auto cmp = xm::eval::compare_sets(t.path / "gen", t.path / "ref");
  const auto files = xm::eval::write_report(cmp, t.path / "out" / "report.md");
  ASSERT_GE(files.size(), 3u);
  const std::string md = xm::read_file_text(files[0]);
  EXPECT_NE(md.find("| pitch-class entropy | bits |"), std::string::npos) << md;
  EXPECT_NE(md.find("(report.pitch_range.svg)"), std::string::npos) << md;
  EXPECT_NE(md.find("(report.pitch_classes.svg)"), std::string::npos) << md;
  for (size_t i = 1; i < files.size(); ++i) {
    EXPECT_EQ(files[i].parent_path(), t.path / "out");
    const std::string svg = xm::read_file_text(files[i]);
    EXPECT_EQ(svg.rfind("<svg ", 0), 0u) << files[i];
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << files[i];
  }
  const xm::json j = xm::eval::to_json(cmp);
  EXPECT_EQ(j["generated"]["files"], 4);
  EXPECT_TRUE(j["features"]["scale_consistency"]["oa_generated"].is_number());
}

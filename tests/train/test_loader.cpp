// Tests of the training windows (train/loader.h): every window starts with its piece's control prefix, holds
// the piece's tokens from its start, masks what must not count, is a pure function of (seed, step, micro);
// the validation windows predict every music token exactly once. Also the presets and the SVG plot.
// Not the loop (test_train_cli.cpp).
#include <set>
#include <sstream>

#include "model/params.h"
#include "model/xlstm_lm.h"
#include "train/loader.h"
#include "train/log_plot.h"
#include "train/presets.h"
#include "train/train_test_util.h"

namespace fs = std::filesystem;
using xm::train::WindowLoader;
using xm::train::WindowRef;

TEST(train, windows_start_with_the_pieces_control_tokens) {
  const xmtest::ScopedDir scoped("train-win");
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(scoped.path, &corpus));
  xm::data::Corpus c = xm::data::Corpus::open(corpus);
  auto tok = c.make_tokenizer();
  const int S = 48, B = 16;
  WindowLoader L(c, xm::data::Split::Train, *tok, S);
  ASSERT_FALSE(L.empty());
  std::vector<int32_t> ids(size_t(B) * S), tg(size_t(B) * S);
  int mid_piece = 0;
  for (int64_t step = 1; step <= 4; ++step) {
    const std::vector<WindowRef> w = L.sample(7, step, 0, B);
    L.sample_batch(7, step, 0, B, ids.data(), tg.data());
    for (int b = 0; b < B; ++b) {
      const auto& seq = L.sequences()[w[size_t(b)].sequence];
      // The prefix is the one `data prepare` encoded this piece with (an independent rebuild from its tags).
      const std::vector<int32_t> pre = tok->control_prefix(xmtest::conditioning_of(*seq.piece, 0));
      ASSERT_EQ(seq.prefix, pre) << seq.piece->source;
      ASSERT_GT(pre.size(), 1u);  // BOS and at least the genre
      const int32_t* row = &ids[size_t(b) * S];
      const int32_t* trow = &tg[size_t(b) * S];
      const size_t P = pre.size();
      for (size_t i = 0; i < P; ++i) EXPECT_EQ(row[i], pre[i]);
      // then the piece's tokens from the window's start, targets shifted by one
      const uint64_t start = P + w[size_t(b)].body_start;
      for (size_t i = P; i < size_t(S); ++i) {
        if (start + (i - P) >= seq.tokens.size()) break;
        EXPECT_EQ(row[i], seq.tokens[start + (i - P)]);
      }
      for (size_t i = 0; i + 1 < P; ++i) EXPECT_EQ(trow[i], xm::model::kIgnoreIndex) << "control tokens are given";
      if (w[size_t(b)].body_start > 0) {
        ++mid_piece;
        EXPECT_EQ(trow[P - 1], xm::model::kIgnoreIndex) << "a mid-piece start does not follow from the prefix";
      } else {
        EXPECT_EQ(trow[P - 1], seq.tokens[P]);
      }
      for (size_t i = P; i + 1 < size_t(S); ++i) {
        if (trow[i] != xm::model::kIgnoreIndex) {
          EXPECT_EQ(trow[i], row[i + 1]);
        }
      }
    }
  }
  EXPECT_GT(mid_piece, 0);
  // A pure function of (seed, step, micro).
  std::vector<int32_t> again(ids.size()), tg2(ids.size()), other(ids.size());
  L.sample_batch(7, 4, 0, B, again.data(), tg2.data());
  EXPECT_EQ(again, ids);
  EXPECT_EQ(tg2, tg);
  L.sample_batch(7, 4, 1, B, other.data(), tg2.data());
  EXPECT_NE(other, ids);
  L.sample_batch(8, 4, 0, B, other.data(), tg2.data());
  EXPECT_NE(other, ids);
}

TEST(train, validation_windows_predict_each_music_token_once) {
  const xmtest::ScopedDir scoped("train-valid");
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(scoped.path, &corpus));
  xm::data::Corpus c = xm::data::Corpus::open(corpus);
  auto tok = c.make_tokenizer();
  for (int S : {16, 37, 64}) {
    WindowLoader L(c, xm::data::Split::Valid, *tok, S, true);
    const auto all = L.fixed_windows(0);
    std::vector<int32_t> ids(static_cast<size_t>(S)), tg(static_cast<size_t>(S));
    uint64_t counted = 0;
    std::set<std::pair<uint32_t, uint64_t>> predicted;  // (sequence, token index)
    for (const WindowRef& w : all) {
      L.fill(w, ids.data(), tg.data());
      for (int t = 0; t < S; ++t) {
        if (tg[size_t(t)] == xm::model::kIgnoreIndex) continue;
        ++counted;
        const uint64_t at = w.body_start + uint64_t(t) + 1;  // index in the sequence
        EXPECT_TRUE(predicted.insert({w.sequence, at}).second) << "token predicted twice";
        EXPECT_EQ(tg[size_t(t)], L.sequences()[w.sequence].tokens[at]);
      }
    }
    EXPECT_EQ(counted, L.body_tokens()) << "S " << S;
    EXPECT_EQ(L.fixed_windows(3).size(), std::min<size_t>(3, all.size()));
  }
}

TEST(train, too_short_windows_are_refused_naming_seq) {
  const xmtest::ScopedDir scoped("train-short");
  fs::path corpus;
  ASSERT_NO_FATAL_FAILURE(xmtest::make_train_corpus(scoped.path, &corpus));
  xm::data::Corpus c = xm::data::Corpus::open(corpus);
  auto tok = c.make_tokenizer();
  try {
    WindowLoader L(c, xm::data::Split::Train, *tok, 3);
    FAIL() << "expected an error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("--seq 3"), std::string::npos) << e.what();
  }
}

TEST(train, presets_are_valid_and_grow) {
  int64_t last = 0;
  for (const auto& name : xm::train::preset_names()) {
    xm::train::Preset p = xm::train::preset(name);
    p.config.vocab_size = 677;
    p.config.context_length = p.seq;
    p.config.validate();
    const int64_t n = xm::model::ParamTable(p.config).total();
    EXPECT_GT(n, last) << name;
    last = n;
    EXPECT_GT(p.steps, 0);
    EXPECT_GT(p.lr, 0);
  }
  EXPECT_THROW(xm::train::preset("huge"), xm::UsageError);
}

TEST(train, loss_plot_is_well_formed_svg) {
  xm::train::LossCurves c;
  for (int s = 1; s <= 100; ++s) c.train.push_back({s, 6.0 - 0.03 * s});
  c.valid = {{0, 6.1}, {50, 4.7}, {100, 3.2}};
  const std::string svg = xm::train::loss_svg(c, "a <b> & \"c\"");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("a &lt;b&gt; &amp; &quot;c&quot;"), std::string::npos);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = svg.find(what); at != std::string::npos; at = svg.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<polyline"), 3u);  // raw, smoothed, validation
  EXPECT_EQ(count("<circle"), 3u);
  // every point lies inside the plot area (x 70..780, y 40..370)
  for (size_t at = svg.find("points=\""); at != std::string::npos; at = svg.find("points=\"", at + 1)) {
    std::stringstream ss(svg.substr(at + 8, svg.find('"', at + 8) - at - 8));
    std::string xy;
    while (ss >> xy) {
      const double x = std::stod(xy.substr(0, xy.find(','))), y = std::stod(xy.substr(xy.find(',') + 1));
      EXPECT_GE(x, 70 - 1e-9);
      EXPECT_LE(x, 780 + 1e-9);
      EXPECT_GE(y, 40 - 1e-9);
      EXPECT_LE(y, 370 + 1e-9);
    }
  }
  EXPECT_NE(xm::train::loss_svg({}, "empty").find("</svg>"), std::string::npos);
}

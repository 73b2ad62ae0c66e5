// train_test_util.h: helpers for the training tests: a small two-genre corpus prepared with the real
// `xlstm-music data prepare` (10 Nottingham tunes when ../shared has them, else generated pieces, plus
// generated "rock" pieces), and reading a training log. Not a test of data prepare itself.
#pragma once
#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.h"
#include "data/data_test_util.h"
#include "support/test_support.h"
#include "train/log_plot.h"

namespace xmtest {

// Prepares DIR/corpus (valid split about a quarter, no test split) and returns its path; fails the calling
// test (ASSERT in a void helper) when prepare fails or leaves no validation piece. tokenizer: "" = the default
// (remi), or a name for --tokenizer.
inline void make_train_corpus(const std::filesystem::path& dir, std::filesystem::path* out,
                              const std::string& tokenizer = "") {
  namespace fs = std::filesystem;
  const fs::path folk = dir / "folk", rock = dir / "rock";
  fs::create_directories(folk);
  const fs::path nott = dataset_dir("nottingham");
  int copied = 0;
  if (!nott.empty() && fs::is_directory(nott / "MIDI")) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(nott / "MIDI"))
      if (e.path().extension() == ".mid") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    for (size_t i = 0; i < files.size() && copied < 10; ++i, ++copied)
      fs::copy_file(files[i], folk / files[i].filename());
  }
  for (int i = copied; i < 10; ++i)
    write_piece(folk / ("tune" + std::to_string(i) + ".mid"), make_piece(uint32_t(100 + i), 160, 62));
  for (int i = 0; i < 6; ++i)
    write_piece(rock / ("song" + std::to_string(i) + ".mid"), make_piece(uint32_t(7 + i), 200, 48));
  const fs::path corpus = dir / "corpus";
  RunResult r = run_cli("data prepare --input '" + folk.string() + ":folk' --input '" + rock.string() +
                        ":rock' --out '" + corpus.string() + "' --split valid=0.3,test=0 --quiet --jobs 1" +
                        (tokenizer.empty() ? std::string() : " --tokenizer " + tokenizer));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  xm::data::Corpus c = xm::data::Corpus::open(corpus);
  ASSERT_GT(c.pieces(xm::data::Split::Valid).size(), 0u) << "the test corpus has no validation piece";
  ASSERT_GT(c.pieces(xm::data::Split::Train).size(), 0u);
  *out = corpus;
}

// A temp folder removed with everything in it when the test ends.
struct ScopedDir {
  std::filesystem::path path;
  explicit ScopedDir(const std::string& tag) : path(temp_dir(tag)) {}
  ~ScopedDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Every line of a training log (all steps).
inline std::vector<xm::json> log_lines(const std::filesystem::path& log) { return xm::train::read_log(log, 1LL << 60); }

}  // namespace xmtest

// Corpus preparation over the real datasets in ../shared/datasets (skipped when absent): small subsets
// (linked into a temp folder, never copied into the repository) so the tests stay fast. Checks what each
// dataset brings: labels, official splits, grouped versions, note-less and broken files counted.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "core/error.h"
#include "data/corpus.h"
#include "data/csv.h"
#include "data/data_test_util.h"
#include "data/prepare.h"
#include "support/test_support.h"
#include "tokens/jsb_dataset.h"

namespace fs = std::filesystem;
using namespace xm::data;

namespace {

// Links src (a file) at dst, creating folders.
void link(const fs::path& src, const fs::path& dst) {
  fs::create_directories(dst.parent_path());
  fs::create_symlink(src, dst);
}

PrepareOptions options(const fs::path& in, const fs::path& out, const std::string& tokenizer = "remi") {
  PrepareOptions o;
  o.inputs.push_back({in, ""});
  o.out = out;
  o.tokenizer = tokenizer;
  o.jobs = 2;
  return o;
}

std::vector<std::string> read_lines(const fs::path& p) {
  std::vector<std::string> out;
  std::string text = xm::read_file_text(p), line;
  for (char c : text) {
    if (c == '\n') {
      if (!line.empty()) out.push_back(line);
      line.clear();
    } else if (c != '\r') {
      line += c;
    }
  }
  if (!line.empty()) out.push_back(line);
  return out;
}

}  // namespace

TEST(data, pop909_first_50_songs) {
  XM_REQUIRE_DATASET(ds, "pop909");
  fs::path in = xmtest::temp_dir("pop50"), out = xmtest::temp_dir("pop50-out") / "corpus";
  link(ds / "POP909" / "index.csv", in / "POP909" / "index.csv");
  for (int i = 1; i <= 50; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "%03d", i);
    link(ds / "POP909" / id / (std::string(id) + ".mid"), in / "POP909" / id / (std::string(id) + ".mid"));
  }
  PrepareOptions o = options(in, out);
  o.transpose = parse_transpose_range("-1..1");
  PrepareResult r = prepare_corpus(o);
  EXPECT_EQ(r.report["skipped"]["total"].get<int>(), 0) << r.summary;
  Corpus c = Corpus::open(out);
  ASSERT_EQ(c.pieces().size(), 50u);
  auto tok = c.make_tokenizer();
  int checked = 0;
  for (const auto& p : c.pieces()) {
    EXPECT_EQ(p.dataset, "pop909");
    EXPECT_EQ(p.genre, "pop");
    EXPECT_FALSE(p.labels.at("title").empty());
    EXPECT_GE(p.key_tonic, 0);
    EXPECT_GT(p.tempo_bpm, 0);
    EXPECT_GT(p.notes, 100);
    EXPECT_EQ(p.sequences.size(), p.split == Split::Train ? 3u : 1u) << p.source;
    if (checked < 3) {  // the stored tokens are the tokenizer's encoding of the file
      const xm::midi::Score s = xm::midi::read_midi_file(in / p.source);
      for (const auto& seq : p.sequences)
        EXPECT_EQ(c.tokens(seq).to_vector(), tok->encode(xmtest::shifted(s, seq.transpose), xmtest::conditioning_of(p, seq.transpose)))
            << p.source << " " << seq.transpose;
      ++checked;
    }
  }
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, groove_uses_the_official_split_and_never_transposes_drums) {
  XM_REQUIRE_DATASET(ds, "groove-midi");
  fs::path out = xmtest::temp_dir("groove-out") / "corpus";
  PrepareOptions o = options(ds, out, "performance");
  o.transpose = parse_transpose_range("-2..2");
  PrepareResult r = prepare_corpus(o);
  CsvTable info = read_csv_file(ds / "info.csv");
  std::map<std::string, std::string> split_of;
  for (const auto& row : info.rows) split_of[row[size_t(info.column("midi_filename"))]] = row[size_t(info.column("split"))];
  Corpus c = Corpus::open(out);
  EXPECT_EQ(r.report["files"]["found"].get<size_t>(), split_of.size());
  EXPECT_EQ(c.pieces().size() + r.report["skipped"]["total"].get<size_t>(), split_of.size());
  EXPECT_GT(c.pieces().size(), 900u);
  for (const auto& p : c.pieces()) {
    ASSERT_TRUE(split_of.count(p.source)) << p.source;
    Split want;
    ASSERT_TRUE(parse_split_name(split_of[p.source], &want));
    EXPECT_EQ(p.split, want) << p.source;
    EXPECT_EQ(p.split_from, "official");
    EXPECT_EQ(p.sequences.size(), 1u) << p.source << ": drums must not be transposed";
    EXPECT_EQ(p.genre, p.labels.at("style").substr(0, p.labels.at("style").find('/')));
  }
  EXPECT_TRUE(c.pieces(Split::Test).empty());  // the test split is held out of this copy
  EXPECT_FALSE(c.pieces(Split::Valid).empty());
  fs::remove_all(out.parent_path());
}

TEST(data, jsb_chorales_official_split_with_jsb_and_remi) {
  XM_REQUIRE_DATASET(ds, "jsb-chorales");
  fs::path base = xmtest::temp_dir("jsb-out");
  const xm::tokens::JsbDataset d = xm::tokens::load_jsb(ds);
  PrepareOptions o = options(ds, base / "jsb", "jsb");
  o.transpose = parse_transpose_range("-1..1");
  prepare_corpus(o);
  Corpus c = Corpus::open(base / "jsb");
  EXPECT_EQ(c.pieces(Split::Train).size(), 229u);
  EXPECT_EQ(c.pieces(Split::Valid).size(), 76u);
  EXPECT_EQ(c.pieces(Split::Test).size(), 77u);
  for (const auto* p : c.pieces(Split::Valid)) {
    const size_t k = size_t(std::stoi(p->source.substr(p->source.find('/') + 1)));
    ASSERT_LT(k, d.valid.size());
    EXPECT_EQ(c.tokens(*p).to_vector(), xm::tokens::jsb_encode_chorale(d.valid[k])) << p->source;
    EXPECT_EQ(p->split_from, "official");
  }
  for (const auto* p : c.pieces(Split::Train)) EXPECT_EQ(p->sequences.size(), 3u);
  // With another tokenizer the chorales become Scores; the split stays official.
  prepare_corpus(options(ds, base / "remi", "remi"));
  Corpus r = Corpus::open(base / "remi");
  EXPECT_EQ(r.pieces(Split::Test).size(), 77u);
  EXPECT_EQ(r.pieces().size(), 382u);
  fs::remove_all(base);
}

TEST(data, symbtr_note_less_files_are_skipped_with_reasons) {
  XM_REQUIRE_DATASET(ds, "symbtr-makam");
  fs::path in = xmtest::temp_dir("symbtr"), out = xmtest::temp_dir("symbtr-out") / "corpus";
  link(ds / "metadata.csv", in / "metadata.csv");
  const auto empty = read_lines(ds / "empty_midi_files.txt");
  const auto broken = read_lines(ds / "malformed_trailing_bytes.txt");
  ASSERT_GE(empty.size(), 10u);
  ASSERT_GE(broken.size(), 10u);
  std::set<std::string> linked;
  auto add = [&](std::string f) {
    if (f.rfind("midi/", 0) != 0) f = "midi/" + f;
    if (linked.insert(f).second) link(ds / f, in / f);
  };
  for (size_t i = 0; i < 10; ++i) add(empty[i]);
  for (size_t i = 0; i < 10; ++i) add(broken[i]);
  int clean = 0;
  for (const auto& e : fs::directory_iterator(ds / "midi")) {
    const std::string f = "midi/" + e.path().filename().string();
    if (clean < 10 && !linked.count(f) && std::find(empty.begin(), empty.end(), e.path().filename().string()) == empty.end() &&
        std::find(broken.begin(), broken.end(), e.path().filename().string()) == broken.end()) {
      add(f);
      ++clean;
    }
  }
  PrepareResult r = prepare_corpus(options(in, out));
  EXPECT_EQ(r.report["files"]["found"].get<int>(), 30);
  EXPECT_GE(r.report["skipped"]["by_reason"].value("no notes", 0), 10) << r.summary;
  Corpus c = Corpus::open(out);
  EXPECT_EQ(c.pieces().size() + r.report["skipped"]["total"].get<size_t>(), 30u);
  EXPECT_GE(c.pieces().size(), 10u);
  for (const auto& p : c.pieces()) {
    EXPECT_EQ(p.dataset, "symbtr-makam");
    EXPECT_FALSE(p.labels.at("makam").empty()) << p.source;
  }
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, vgmidi_moods_and_phrases_share_the_split_of_their_piece) {
  XM_REQUIRE_DATASET(ds, "vgmidi");
  fs::path out = xmtest::temp_dir("vgmidi-out") / "corpus";
  PrepareOptions o = options(ds, out, "performance");
  o.split = SplitSpec{0.3, 0.3};
  prepare_corpus(o);
  Corpus c = Corpus::open(out);
  std::map<std::string, std::set<Split>> by_group;
  int phrases = 0;
  for (const auto& p : c.pieces()) {
    by_group[p.group].insert(p.split);
    if (p.source.find("phrases/") != std::string::npos) {
      ++phrases;
      EXPECT_FALSE(p.mood.empty()) << p.source;
      EXPECT_EQ(p.mood, xm::tokens::mood_from_valence_arousal(std::stoi(p.labels.at("valence")),
                                                               std::stoi(p.labels.at("arousal"))));
    }
    EXPECT_EQ(p.genre, "game");
  }
  EXPECT_GT(phrases, 150);
  EXPECT_LT(by_group.size(), c.pieces().size());  // phrases grouped with their full pieces
  for (const auto& [g, s] : by_group) EXPECT_EQ(s.size(), 1u) << g << " is in more than one split";
  fs::remove_all(out.parent_path());
}

TEST(data, nottingham_versions_of_a_tune_share_its_split) {
  XM_REQUIRE_DATASET(ds, "nottingham");
  fs::path in = xmtest::temp_dir("nott"), out = xmtest::temp_dir("nott-out") / "corpus";
  link(ds / "metadata.csv", in / "metadata.csv");
  CsvTable meta = read_csv_file(ds / "metadata.csv");
  size_t files = 0;
  for (size_t i = 0; i < meta.rows.size() && i < 300; i += 5)  // 60 tunes across the collections
    for (const char* col : {"file", "melody_file", "chords_file"}) {
      const std::string f = meta.rows[i][size_t(meta.column(col))];
      if (!f.empty()) {
        link(ds / f, in / f);
        ++files;
      }
    }
  PrepareOptions o = options(in, out);
  o.split = SplitSpec{0.3, 0.3};
  PrepareResult r = prepare_corpus(o);
  EXPECT_EQ(r.report["files"]["found"].get<size_t>(), files);
  Corpus c = Corpus::open(out);
  std::map<std::string, std::set<Split>> by_group;
  for (const auto& p : c.pieces()) {
    by_group[p.group].insert(p.split);
    EXPECT_EQ(p.genre, "folk");
    EXPECT_FALSE(p.labels.at("style").empty());
  }
  EXPECT_LE(by_group.size(), 60u);
  for (const auto& [g, s] : by_group) EXPECT_EQ(s.size(), 1u) << g;
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, midi_edge_cases_never_stop_the_run) {
  XM_REQUIRE_DATASET(ds, "midi-edge-cases");
  fs::path out = xmtest::temp_dir("edge-out") / "corpus";
  PrepareResult r = prepare_corpus(options(ds, out));
  CsvTable m = read_csv_file(ds / "MANIFEST.csv");
  EXPECT_EQ(r.report["files"]["found"].get<size_t>(), m.rows.size());
  int unreadable = 0;
  for (const auto& [k, v] : r.report["skipped"]["by_reason"].items())
    if (k.rfind("unreadable MIDI", 0) == 0) unreadable += v.get<int>();
  int reject = 0;
  for (const auto& row : m.rows) reject += row[size_t(m.column("expect"))] == "reject";
  EXPECT_EQ(unreadable, reject) << r.summary;  // only what is not MIDI at all is unreadable
  Corpus c = Corpus::open(out);
  EXPECT_GT(c.pieces().size(), 40u);
  fs::remove_all(out.parent_path());
}

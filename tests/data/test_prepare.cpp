// Tests of corpus preparation on small generated corpora: bad files are skipped and counted, the split is
// deterministic and stable when files are added, only the training split is transposed (drums never),
// the corpus reader returns exactly the tokens of each piece, output is the same for any --jobs, and an
// existing corpus is replaced cleanly. The command line's errors are checked through the real binary.
#include <algorithm>
#include <fstream>
#include <map>

#include "core/error.h"
#include "data/corpus.h"
#include "data/prepare.h"
#include "data/sources.h"
#include "data/data_test_util.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace xm::data;

namespace {

// 12 good pieces, one drum-only piece, and three unusable files (garbage, no notes, too few notes).
fs::path make_corpus(const std::string& tag, int n_good = 12, int first = 0) {
  fs::path d = xmtest::temp_dir(tag);
  for (int i = first; i < first + n_good; ++i)
    xmtest::write_piece(d / ("song" + std::to_string(100 + i) + ".mid"), xmtest::make_piece(uint32_t(i), 40, 48 + i % 20));
  xmtest::write_piece(d / "beats" / "drums.MID", xmtest::make_piece(7, 64, 0, true));
  fs::create_directories(d / "junk");
  xm::write_file_atomic(d / "junk" / "garbage.mid", std::string("this is not a MIDI file at all"));
  xmtest::write_piece(d / "junk" / "empty.mid", xmtest::make_piece(1, 0));
  xmtest::write_piece(d / "junk" / "short.midi", xmtest::make_piece(2, 3));
  xm::write_file_atomic(d / "readme.txt", std::string("not scanned"));
  return d;
}

PrepareOptions options(const fs::path& in, const fs::path& out) {
  PrepareOptions o;
  o.inputs.push_back({in, ""});
  o.out = out;
  o.tokenizer = "performance";
  o.split = SplitSpec{0.25, 0.25};
  o.transpose = parse_transpose_range("-2..3");
  o.jobs = 2;
  return o;
}

std::map<std::string, Split> splits_by_source(const Corpus& c) {
  std::map<std::string, Split> m;
  for (const auto& p : c.pieces()) m[p.source] = p.split;
  return m;
}

}  // namespace

TEST(data, prepare_skips_and_counts_bad_files) {
  fs::path in = make_corpus("prep-skip"), out = xmtest::temp_dir("prep-out") / "corpus";
  PrepareResult r = prepare_corpus(options(in, out));
  const xm::json& rep = r.report;
  EXPECT_EQ(rep["files"]["found"].get<int>(), 16);
  EXPECT_EQ(rep["pieces"].get<int>(), 13);
  EXPECT_EQ(rep["skipped"]["total"].get<int>(), 3);
  const xm::json& why = rep["skipped"]["by_reason"];
  EXPECT_EQ(why.value("no notes", 0), 1) << why.dump();
  EXPECT_EQ(why.value("too few notes (< 8)", 0), 1) << why.dump();
  int unreadable = 0;
  for (const auto& [k, v] : why.items())
    if (k.rfind("unreadable MIDI: ", 0) == 0) unreadable += v.get<int>();
  EXPECT_EQ(unreadable, 1) << why.dump();
  ASSERT_EQ(rep["skipped"]["files"].size(), 3u);
  bool named = false;
  for (const auto& f : rep["skipped"]["files"])
    named = named || f["path"].get<std::string>().find("garbage.mid") != std::string::npos;
  EXPECT_TRUE(named) << rep["skipped"]["files"].dump();
  // report.json on disk is the returned report; the summary names the reasons.
  EXPECT_EQ(xm::parse_json(xmtest::slurp(out / "report.json"), "report")["pieces"].get<int>(), 13);
  EXPECT_NE(r.summary.find("no notes"), std::string::npos) << r.summary;
  EXPECT_NE(r.summary.find("skipped 3 files"), std::string::npos) << r.summary;
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, prepare_reader_returns_exactly_the_encoded_tokens) {
  fs::path in = make_corpus("prep-exact"), out = xmtest::temp_dir("prep-out") / "corpus";
  prepare_corpus(options(in, out));
  Corpus c = Corpus::open(out);
  auto tok = c.make_tokenizer();  // from vocab.json
  ASSERT_EQ(tok->name(), "performance");
  EXPECT_EQ(c.vocab_size(), tok->vocab_size());
  ASSERT_EQ(c.pieces().size(), 13u);
  int train = 0, checked = 0;
  for (const auto& p : c.pieces()) {
    EXPECT_EQ(p.dataset, in.filename().string());
    EXPECT_EQ(p.split_from, "hash");
    EXPECT_EQ(p.split, assign_split(p.source, SplitSpec{0.25, 0.25})) << p.source;
    const xm::midi::Score score = xm::midi::read_midi_file(in / p.source);
    EXPECT_EQ(p.notes, int64_t(score.notes.size()));
    ASSERT_FALSE(p.sequences.empty());
    EXPECT_EQ(p.sequences[0].transpose, 0);
    const bool drums = p.source == "beats/drums.MID";
    if (p.split == Split::Train) {
      ++train;
      // -2..3 without the original: 5 shifts, all inside the MIDI range; drums are never transposed.
      EXPECT_EQ(p.sequences.size(), drums ? 1u : 6u) << p.source;
    } else {
      EXPECT_EQ(p.sequences.size(), 1u) << p.source << " is " << split_name(p.split) << " and must not be transposed";
    }
    if (drums) {
      EXPECT_EQ(p.key_tonic, -1);
    }
    for (const auto& s : p.sequences) {
      const std::vector<int32_t> want = tok->encode(xmtest::shifted(score, s.transpose), xmtest::conditioning_of(p, s.transpose));
      const std::vector<int32_t> got = c.tokens(s).to_vector();
      EXPECT_EQ(got, want) << p.source << " transposed by " << s.transpose;
      if (s.transpose != 0) {
        EXPECT_NE(got, c.tokens(p, 0).to_vector()) << p.source;
      }
      ++checked;
    }
  }
  EXPECT_GT(train, 0);
  EXPECT_LT(train, 13);  // with 25% + 25% held out, some pieces are outside train
  EXPECT_GT(checked, 13);
  // Per split totals add up, and the split's shard holds only that split.
  for (Split s : {Split::Train, Split::Valid, Split::Test}) {
    uint64_t n = 0;
    for (const auto& r : c.sequences(s)) {
      EXPECT_EQ(r.piece->split, s);
      EXPECT_EQ(r.sequence->shard.rfind(split_name(s) + "-", 0), 0u) << r.sequence->shard;
      n += r.sequence->length;
    }
    EXPECT_EQ(n, c.num_tokens(s));
  }
  EXPECT_EQ(c.sequences(Split::Train, true).size(), c.pieces(Split::Train).size());
  for (const auto& p : c.pieces())
    if (p.split != Split::Train) {
      EXPECT_THROW(c.tokens(p, 3), xm::Error) << "held-out pieces have no transposed copy";
    }
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, prepare_output_is_the_same_for_any_jobs_and_shard_size) {
  fs::path in = make_corpus("prep-jobs"), base = xmtest::temp_dir("prep-out");
  PrepareOptions a = options(in, base / "a"), b = options(in, base / "b");
  a.jobs = 1;
  b.jobs = 3;
  prepare_corpus(a);
  prepare_corpus(b);
  EXPECT_EQ(xmtest::slurp(base / "a" / "index.json"), xmtest::slurp(base / "b" / "index.json"));
  for (const char* f : {"train-000.bin", "valid-000.bin", "test-000.bin", "vocab.json"})
    if (fs::exists(base / "a" / f)) {
      EXPECT_EQ(xmtest::slurp(base / "a" / f), xmtest::slurp(base / "b" / f)) << f;
    }

  // Small shards: more files, same sequences.
  PrepareOptions s = options(in, base / "small");
  s.shard_tokens = 500;
  prepare_corpus(s);
  Corpus ca = Corpus::open(base / "a"), cs = Corpus::open(base / "small");
  EXPECT_GT(cs.shards().size(), ca.shards().size());
  ASSERT_EQ(ca.pieces().size(), cs.pieces().size());
  for (size_t i = 0; i < ca.pieces().size(); ++i)
    for (size_t k = 0; k < ca.pieces()[i].sequences.size(); ++k)
      EXPECT_EQ(ca.tokens(ca.pieces()[i].sequences[k]).to_vector(), cs.tokens(cs.pieces()[i].sequences[k]).to_vector());
  fs::remove_all(in);
  fs::remove_all(base);
}

TEST(data, prepare_split_is_stable_when_files_are_added_and_rerun_replaces) {
  fs::path in = make_corpus("prep-stable", 12), out = xmtest::temp_dir("prep-out") / "corpus";
  prepare_corpus(options(in, out));
  const auto before = splits_by_source(Corpus::open(out));
  for (int i = 12; i < 40; ++i)
    xmtest::write_piece(in / "more" / ("new" + std::to_string(i) + ".mid"), xmtest::make_piece(uint32_t(i), 20));
  xm::write_file_atomic(out / "stale.bin", std::string("left from an old run"));
  prepare_corpus(options(in, out));
  Corpus c = Corpus::open(out);
  const auto after = splits_by_source(c);
  EXPECT_EQ(after.size(), before.size() + 28);
  for (const auto& [src, split] : before) {
    ASSERT_TRUE(after.count(src)) << src;
    EXPECT_EQ(after.at(src), split) << src << " changed split when files were added";
  }
  std::map<Split, int> n;
  for (const auto& [src, split] : after) ++n[split];
  EXPECT_GT(n[Split::Valid], 0);
  EXPECT_GT(n[Split::Test], 0);
  // The old folder was replaced whole, and nothing temporary is left beside it.
  EXPECT_FALSE(fs::exists(out / "stale.bin"));
  int entries = 0;
  for (const auto& e : fs::directory_iterator(out.parent_path())) (void)e, ++entries;
  EXPECT_EQ(entries, 1);
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, prepare_uses_official_splits_and_genre_labels) {
  fs::path in = make_corpus("prep-labels", 6), out = xmtest::temp_dir("prep-out") / "corpus";
  fs::path csv = in / "labels.csv";
  xm::write_file_atomic(csv,
                        "file,genre,split,valence,arousal\n"
                        "song100.mid,Jazz,test,,\n"
                        "song101.mid,,validation,1,-1\n"
                        "song102.mid,rock,,,\n");
  PrepareOptions o = options(in, out);
  o.label_csvs.push_back(csv);
  o.split = SplitSpec{0.0, 0.0};  // everything not labelled goes to train
  prepare_corpus(o);
  Corpus c = Corpus::open(out);
  std::map<std::string, const PieceInfo*> by;
  for (const auto& p : c.pieces()) by[p.source] = &p;
  ASSERT_TRUE(by.count("song100.mid") && by.count("song101.mid") && by.count("song102.mid"));
  EXPECT_EQ(by["song100.mid"]->split, Split::Test);
  EXPECT_EQ(by["song100.mid"]->split_from, "official");
  EXPECT_EQ(by["song100.mid"]->genre, "jazz");
  EXPECT_EQ(by["song101.mid"]->split, Split::Valid);
  EXPECT_EQ(by["song101.mid"]->mood, "calm");
  EXPECT_EQ(by["song101.mid"]->labels.at("valence"), "1");
  EXPECT_EQ(by["song102.mid"]->split, Split::Train);
  EXPECT_EQ(by["song102.mid"]->genre, "rock");
  EXPECT_EQ(by["song103.mid"]->genre, "");
  // A genre given with the input wins over the labels.
  o.inputs[0].genre = "Folk";
  prepare_corpus(o);
  Corpus c2 = Corpus::open(out);
  for (const auto& p : c2.pieces()) EXPECT_EQ(p.genre, "folk") << p.source;
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, prepare_refuses_to_replace_a_folder_that_is_not_a_corpus) {
  fs::path in = make_corpus("prep-refuse", 3), out = xmtest::temp_dir("prep-out");
  xm::write_file_atomic(out / "precious.txt", std::string("keep me"));
  EXPECT_THROW(prepare_corpus(options(in, out)), xm::Error);
  EXPECT_TRUE(fs::exists(out / "precious.txt"));
  // A failing run (unknown tokenizer) leaves an existing corpus as it was.
  fs::path corpus = out / "corpus";
  prepare_corpus(options(in, corpus));
  const std::string index = xmtest::slurp(corpus / "index.json");
  PrepareOptions bad = options(in, corpus);
  bad.tokenizer = "no-such-tokenizer";
  EXPECT_THROW(prepare_corpus(bad), xm::Error);
  EXPECT_EQ(xmtest::slurp(corpus / "index.json"), index);
  fs::remove_all(in);
  fs::remove_all(out);
}

TEST(data, corpus_open_reports_damage) {
  fs::path in = make_corpus("prep-damage", 4), out = xmtest::temp_dir("prep-out") / "corpus";
  PrepareOptions o = options(in, out);
  o.split = SplitSpec{0.0, 0.0};
  prepare_corpus(o);
  ASSERT_NO_THROW(Corpus::open(out));
  // A sequence that runs past its shard.
  xm::json index = xm::parse_json(xmtest::slurp(out / "index.json"), "index");
  const std::string good = index.dump();
  index["pieces"][0]["sequences"][0]["length"] = 1u << 30;
  xm::write_file_atomic(out / "index.json", index.dump());
  try {
    Corpus::open(out);
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("lie outside"), std::string::npos) << e.what();
  }
  xm::write_file_atomic(out / "index.json", good);
  fs::remove(out / "train-000.bin");
  try {
    Corpus::open(out);
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("train-000.bin"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Corpus::open(in), xm::Error);  // not a corpus
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, prepare_works_with_every_tokenizer) {
  fs::path in = make_corpus("prep-tok", 4), base = xmtest::temp_dir("prep-out");
  for (const std::string& name : xm::tokens::tokenizer_names()) {
    PrepareOptions o = options(in, base / name);
    o.tokenizer = name;
    PrepareResult r = prepare_corpus(o);
    EXPECT_EQ(r.report["pieces"].get<int>(), 5) << name << ": " << r.summary;
    Corpus c = Corpus::open(base / name);
    EXPECT_EQ(c.tokenizer_name(), name);
    for (const auto& p : c.pieces())
      for (const auto& s : p.sequences) {
        EXPECT_GT(s.length, 0u) << name;
        EXPECT_EQ(s.length % uint64_t(c.fields_per_step()), 0u) << name << ": a sequence cut inside a step";
      }
  }
  fs::remove_all(in);
  fs::remove_all(base);
}

TEST(data, input_spec_takes_an_optional_genre) {
  fs::path d = xmtest::temp_dir("spec");
  InputSpec s = parse_input_spec(d.string() + ":jazz");
  EXPECT_EQ(s.path, d);
  EXPECT_EQ(s.genre, "jazz");
  s = parse_input_spec(d.string());
  EXPECT_EQ(s.path, d);
  EXPECT_EQ(s.genre, "");
  fs::remove_all(d);
}

// ---- the command line ------------------------------------------------------------------------------

TEST(data, cli_prepare_and_info) {
  fs::path in = make_corpus("cli-prep", 5), out = xmtest::temp_dir("cli-out") / "corpus";
  auto r = xmtest::run_cli("data prepare --input '" + in.string() + ":pop' --out '" + out.string() +
                           "' --tokenizer performance --split valid=0.2,test=0.2 --transpose -1..1 --jobs 2");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("prepared 6 pieces from 9 files"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("skipped 3 files"), std::string::npos) << r.out;
  auto info = xmtest::run_cli("data info '" + out.string() + "' --json");
  ASSERT_EQ(info.exit_code, 0) << info.err;
  xm::json j = xm::parse_json(info.out, "data info");
  EXPECT_EQ(j["pieces"].get<int>(), 6);
  EXPECT_EQ(j["tokenizer"].get<std::string>(), "performance");
  Corpus c = Corpus::open(out);
  for (const auto& p : c.pieces()) EXPECT_EQ(p.genre, "pop");
  EXPECT_NE(c.index()["command"].get<std::string>().find("--transpose -1..1"), std::string::npos);
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

TEST(data, cli_prepare_errors_name_the_flag) {
  fs::path in = make_corpus("cli-err", 2), out = xmtest::temp_dir("cli-out") / "corpus";
  const std::string base = "data prepare --input '" + in.string() + "' --out '" + out.string() + "'";
  struct Case {
    std::string args;
    int code;
    std::string flag;
  };
  for (const Case& k : {Case{"data prepare --input /no/such/dir --out '" + out.string() + "'", 1, "--input"},
                        Case{base + " --tokenizer nope", 2, "--tokenizer"},
                        Case{base + " --split valid=2", 2, "--split"},
                        Case{base + " --split bogus", 2, "--split"},
                        Case{base + " --transpose 3..1", 2, "--transpose"},
                        Case{base + " --transpose x", 2, "--transpose"},
                        Case{base + " --jobs -1", 2, "--jobs"},
                        Case{"data prepare --out '" + out.string() + "'", 2, "--input"},
                        Case{"data prepare --input '" + in.string() + "'", 2, "--out"}}) {
    auto r = xmtest::run_cli(k.args);
    EXPECT_EQ(r.exit_code, k.code) << k.args << "\n" << r.err;
    EXPECT_NE(r.err.find(k.flag), std::string::npos) << k.args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  EXPECT_FALSE(fs::exists(out));
  fs::remove_all(in);
  fs::remove_all(out.parent_path());
}

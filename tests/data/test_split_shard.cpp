// Tests of the data layer's building blocks: split and transpose specs, the split hash, the CSV reader,
// label files, and the token shard format (writer, reader, damaged files).
#include <cstdio>
#include <fstream>

#include "core/error.h"
#include "core/io.h"
#include "data/csv.h"
#include "data/shard.h"
#include "data/sources.h"
#include "data/split.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace xm::data;

TEST(data, split_spec_parses_and_rejects) {
  SplitSpec s = parse_split_spec("valid=0.05,test=0.1");
  EXPECT_DOUBLE_EQ(s.valid, 0.05);
  EXPECT_DOUBLE_EQ(s.test, 0.1);
  s = parse_split_spec("test=0.2");
  EXPECT_DOUBLE_EQ(s.valid, 0.0);
  EXPECT_DOUBLE_EQ(s.test, 0.2);
  s = parse_split_spec("train=0.8, validation=0.1, test=0.1");
  EXPECT_DOUBLE_EQ(s.valid, 0.1);
  for (const char* bad : {"", "valid", "valid=x", "valid=-0.1", "valid=0.7,test=0.5", "foo=0.1", "train=0.5,test=0.1",
                          "valid=1.5"})
    EXPECT_THROW(parse_split_spec(bad), xm::Error) << bad;
}

TEST(data, transpose_range_parses_and_rejects) {
  TransposeRange r = parse_transpose_range("-5..6");
  EXPECT_EQ(r.lo, -5);
  EXPECT_EQ(r.hi, 6);
  std::vector<int> sh = r.shifts();
  ASSERT_EQ(sh.size(), 12u);
  EXPECT_EQ(sh[0], 0);  // the original first
  EXPECT_EQ(sh[1], -5);
  EXPECT_EQ(sh.back(), 6);
  EXPECT_TRUE(parse_transpose_range("0").none());
  EXPECT_TRUE(parse_transpose_range("none").none());
  r = parse_transpose_range("-2:3");
  EXPECT_EQ(r.lo, -2);
  EXPECT_EQ(r.hi, 3);
  for (const char* bad : {"5", "1..3", "-3..-1", "6..-5", "a..b", "-30..2", "-5..", ""})
    EXPECT_THROW(parse_transpose_range(bad), xm::Error) << bad;
}

TEST(data, split_hash_is_deterministic_and_proportional) {
  SplitSpec spec{0.1, 0.2};
  int count[kNumSplits] = {};
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "song" + std::to_string(i) + "/song.mid";
    Split s = assign_split(key, spec);
    EXPECT_EQ(s, assign_split(key, spec));
    ++count[int(s)];
  }
  EXPECT_NEAR(count[int(Split::Valid)] / 20000.0, 0.1, 0.01);
  EXPECT_NEAR(count[int(Split::Test)] / 20000.0, 0.2, 0.01);
  // Fixed values: the hash is part of the on-disk contract (a piece keeps its split across versions).
  EXPECT_EQ(stable_hash(""), stable_hash(std::string()));
  EXPECT_NE(stable_hash("a.mid"), stable_hash("b.mid"));
  EXPECT_EQ(assign_split("x", SplitSpec{0.0, 0.0}), Split::Train);
  EXPECT_EQ(assign_split("x", SplitSpec{0.0, 1.0}), Split::Test);
}

TEST(data, csv_reader_handles_quotes_crlf_and_bom) {
  CsvTable t = parse_csv("\xEF\xBB\xBF" "file,Name\r\n\"a,b.mid\",\"say \"\"hi\"\"\"\r\n\nc.mid,\"two\nlines\"\n", "t.csv");
  ASSERT_EQ(t.header.size(), 2u);
  EXPECT_EQ(t.column("name"), 1);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][0], "a,b.mid");
  EXPECT_EQ(t.rows[0][1], "say \"hi\"");
  EXPECT_EQ(t.rows[1][1], "two\nlines");
  try {
    parse_csv("file\n\"open", "bad.csv");
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.csv: line 2"), std::string::npos) << e.what();
  }
}

TEST(data, labels_csv_maps_style_split_mood_and_groups) {
  fs::path d = xmtest::temp_dir("labels");
  xm::write_file_atomic(d / "info.csv",
                        "midi_filename,style,split,valence,arousal,melody_file\n"
                        "a/1.mid,funk/groove1,validation,,,\n"
                        "b.mid,,test,-1,1,\n"
                        "c.mid,,,,,melody/c.mid\n");
  LabelTable t = read_labels_csv(d / "info.csv");
  const PieceLabels* a = t.find(normal_path(d / "a" / "1.mid"));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->genre, "funk");
  EXPECT_EQ(a->labels.at("style"), "funk/groove1");
  EXPECT_TRUE(a->has_split);
  EXPECT_EQ(a->split, Split::Valid);
  const PieceLabels* b = t.find(normal_path(d / "b.mid"));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->split, Split::Test);
  EXPECT_EQ(b->mood, "tense");
  const PieceLabels* c = t.find(normal_path(d / "c.mid"));
  const PieceLabels* cm = t.find(normal_path(d / "melody" / "c.mid"));
  ASSERT_NE(c, nullptr);
  ASSERT_NE(cm, nullptr);
  EXPECT_EQ(c->group, cm->group);
  EXPECT_EQ(cm->labels.at("version"), "melody");
  EXPECT_FALSE(c->has_split);

  xm::write_file_atomic(d / "bad.csv", "name,genre\nx,pop\n");
  EXPECT_THROW(read_labels_csv(d / "bad.csv"), xm::Error);
  xm::write_file_atomic(d / "bad2.csv", "file,split\nx.mid,holdout\n");
  try {
    read_labels_csv(d / "bad2.csv");
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("line 2"), std::string::npos) << e.what();
  }
  fs::remove_all(d);
}

TEST(data, scan_finds_midi_extensions_in_any_case_sorted) {
  fs::path d = xmtest::temp_dir("scan");
  fs::create_directories(d / "sub" / "deeper");
  fs::create_directories(d / ".hidden");
  for (const char* f : {"b.MID", "a.mid", "sub/c.Midi", "sub/deeper/d.kar", "notes.txt", "sub/e.mid.bak",
                        ".hidden/x.mid"})
    xm::write_file_atomic(d / f, "x");
  InputSource in = detect_input(d);
  std::vector<ScannedFile> files = scan_midi_files(in);
  std::vector<std::string> rel;
  for (const auto& f : files) rel.push_back(f.rel);
  EXPECT_EQ(rel, (std::vector<std::string>{"a.mid", "b.MID", "sub/c.Midi", "sub/deeper/d.kar"}));
  EXPECT_THROW(detect_input(d / "missing"), xm::Error);
  fs::remove_all(d);
}

TEST(data, shard_round_trip_uint16_and_int32) {
  fs::path d = xmtest::temp_dir("shard");
  for (int vocab : {450, 70000}) {
    ShardHeader h;
    h.token_bytes = token_bytes_for_vocab(vocab);
    h.vocab_size = uint32_t(vocab);
    h.split = 1;
    std::vector<int32_t> a = {0, 1, 2, vocab - 1, 7}, b = {3, 3, vocab - 2};
    fs::path p = d / ("s" + std::to_string(vocab) + ".bin");
    {
      ShardWriter w(p, h);
      EXPECT_EQ(w.append(a.data(), a.size()), 0u);
      EXPECT_EQ(w.append(b.data(), b.size()), a.size());
      EXPECT_THROW(w.append(std::vector<int32_t>{vocab}.data(), 1), xm::Error);
      EXPECT_THROW(w.append(std::vector<int32_t>{-1}.data(), 1), xm::Error);
      w.finish();
    }
    EXPECT_EQ(fs::file_size(p), kShardHeaderBytes + 8 * h.token_bytes);
    ShardReader r(p);
    EXPECT_EQ(r.header().token_bytes, vocab > 65536 ? 4u : 2u);
    EXPECT_EQ(r.header().num_tokens, 8u);
    EXPECT_EQ(r.header().num_sequences, 2u);
    EXPECT_EQ(r.header().vocab_size, uint32_t(vocab));
    EXPECT_EQ(r.header().split, 1u);
    EXPECT_EQ(r.tokens().subview(0, 5).to_vector(), a);
    EXPECT_EQ(r.tokens().subview(5, 3).to_vector(), b);
    EXPECT_EQ(r.tokens()[3], vocab - 1);
    EXPECT_EQ(r.tokens().subview(6, 100).size(), 2u);
  }
  fs::remove_all(d);
}

TEST(data, shard_reader_rejects_damaged_files) {
  fs::path d = xmtest::temp_dir("shard");
  ShardHeader h;
  h.vocab_size = 100;
  std::vector<int32_t> a = {1, 2, 3, 4};
  {
    ShardWriter w(d / "ok.bin", h);
    w.append(a.data(), a.size());
    w.finish();
  }
  {
    ShardWriter w(d / "unfinished.bin", h);  // destroyed without finish(): zero magic
    w.append(a.data(), a.size());
  }
  EXPECT_THROW(ShardReader(d / "unfinished.bin"), xm::Error);
  std::vector<uint8_t> bytes = xm::read_file_bytes(d / "ok.bin");
  xm::write_file_atomic(d / "short.bin", bytes.data(), bytes.size() - 1);
  try {
    ShardReader r(d / "short.bin");
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("short.bin"), std::string::npos) << e.what();
  }
  xm::write_file_atomic(d / "tiny.bin", bytes.data(), 10);
  EXPECT_THROW(ShardReader(d / "tiny.bin"), xm::Error);
  bytes[12] = 3;  // token width 3
  xm::write_file_atomic(d / "width.bin", bytes.data(), bytes.size());
  EXPECT_THROW(ShardReader(d / "width.bin"), xm::Error);
  EXPECT_THROW(ShardReader(d / "missing.bin"), xm::Error);
  fs::remove_all(d);
}

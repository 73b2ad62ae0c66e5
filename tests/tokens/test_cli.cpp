// test_cli.cpp: the real xlstm-music binary's `tokenize` and `detokenize`: names and JSON output,
// MIDI -> tokens -> MIDI for each tokenizer, and the one-line errors with exit code 1 (2 for usage).
// Not the tokenizers' own tests (test_tokenizers.cpp).
#include <algorithm>
#include <fstream>

#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "support/test_support.h"
#include "tokens/common.h"

namespace fs = std::filesystem;
using namespace xm;

namespace {

// A two-bar piece on the 16th grid: a melody (program 0), a bass (program 33) and a hi-hat (drums).
fs::path write_piece(const fs::path& dir) {
  midi::Score s;
  s.ticks_per_quarter = 480;
  midi::TempoChange t;
  t.us_per_quarter = 600000;  // 100 BPM
  s.tempos.push_back(t);
  s.tracks.resize(3);
  auto add = [&](int pitch, int64_t on, int64_t len, int program, int track, int channel, bool drum) {
    midi::Note n;
    n.pitch = pitch;
    n.onset_tick = on;
    n.offset_tick = on + len;
    n.velocity = 90;
    n.program = program;
    n.track = track;
    n.channel = channel;
    n.drum = drum;
    s.notes.push_back(n);
  };
  for (int i = 0; i < 8; ++i) add(60 + (i % 5) * 2, i * 480, 240, 0, 0, 0, false);
  for (int i = 0; i < 4; ++i) add(36 + i, i * 960, 960, 33, 1, 1, false);
  for (int i = 0; i < 16; ++i) add(42, i * 240, 120, 0, 2, 9, true);
  midi::ProgramChange pc;
  pc.track = 1;
  pc.channel = 1;
  pc.program = 33;
  s.programs.push_back(pc);
  tokens::finish_score(s);
  fs::path f = dir / "piece.mid";
  midi::write_midi_file(s, f);
  return f;
}

std::string q(const fs::path& p) {
  std::string s = "'";
  s += p.string();
  s += '\'';
  return s;
}

int lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST(tokens, cli_tokenize_prints_names_and_controls) {
  fs::path dir = xmtest::temp_dir("tok-cli");
  fs::path f = write_piece(dir);
  auto r = xmtest::run_cli("tokenize " + q(f) + " --tokenizer remi --genre Jazz --key Am --tempo auto");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("BOS\nGenre_jazz\nKey_Am\nTempoClass_medium\nBar\n", 0), 0u) << r.out.substr(0, 200);
  EXPECT_NE(r.out.find("\nProgram_33\n"), std::string::npos);
  EXPECT_NE(r.out.find("\nProgram_Drums\nPitch_42\n"), std::string::npos);
  EXPECT_EQ(r.out.substr(r.out.size() - 4), "EOS\n");
  // Note tuples: one step per line.
  auto t = xmtest::run_cli("tokenize " + q(f) + " --tokenizer tuples");
  ASSERT_EQ(t.exit_code, 0) << t.err;
  EXPECT_EQ(lines(t.out), 1 + 1 + 8 + 4 + 16 + 1);  // BOS, a tempo step, 28 notes, EOS
  fs::remove_all(dir);
}

TEST(tokens, cli_tokenize_detokenize_round_trip) {
  fs::path dir = xmtest::temp_dir("tok-cli");
  fs::path f = write_piece(dir);
  midi::Score orig = midi::read_midi_file(f);
  for (std::string name : {"remi", "performance", "tuples", "jsb"}) {
    SCOPED_TRACE(name);
    auto r = xmtest::run_cli("tokenize " + q(f) + " --tokenizer " + name + " --json --vocab-out " + q(dir / "vocab.json"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    json j = json::parse(r.out);
    EXPECT_EQ(j["tokenizer"], name);
    ASSERT_EQ(j["tokens"].size(), j["names"].size());
    json vocab = json::parse(read_file_text(dir / "vocab.json"));
    EXPECT_EQ(vocab["vocab_size"], j["vocab_size"]);
    write_file_atomic(dir / "tokens.json", r.out);
    auto d = xmtest::run_cli("detokenize " + q(dir / "tokens.json") + " --out " + q(dir / "out.mid") + " --json");
    ASSERT_EQ(d.exit_code, 0) << d.err;
    EXPECT_EQ(json::parse(d.out)["skipped"], 0);
    midi::Score back = midi::read_midi_file(dir / "out.mid");
    if (name == "jsb") {  // four voices by pitch order, no drums: only the melody and bass pitches come back
      ASSERT_FALSE(back.notes.empty());
      for (const auto& n : back.notes) EXPECT_TRUE(n.pitch < 42 || n.pitch >= 60) << n.pitch;
      continue;
    }
    ASSERT_EQ(back.notes.size(), orig.notes.size());
    for (size_t i = 0; i < orig.notes.size(); ++i) {
      const auto &a = orig.notes[i], &b = back.notes[i];
      EXPECT_EQ(a.pitch, b.pitch);
      // Grid tokenizers keep the tempo as one of 32 bins (100 BPM -> 103.0): 3 % drift at most.
      EXPECT_NEAR(a.onset_s, b.onset_s, name == "performance" ? 0.005 : 0.005 + 0.03 * a.onset_s);
      if (name != "performance") {
        EXPECT_EQ(a.drum, b.drum);
      }
    }
  }
  fs::remove_all(dir);
}

TEST(tokens, cli_errors_name_the_thing) {
  fs::path dir = xmtest::temp_dir("tok-cli");
  fs::path f = write_piece(dir);
  auto one_line = [](const xmtest::RunResult& r) { return lines(r.err) == 1; };
  auto r = xmtest::run_cli("tokenize " + q(f) + " --tokenizer midilike");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("midilike"), std::string::npos) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = xmtest::run_cli("tokenize " + q(f) + " --tokenizer remi --genre polka");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("polka"), std::string::npos) << r.err;
  r = xmtest::run_cli("tokenize " + q(f) + " --tokenizer remi --key Q");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--key"), std::string::npos) << r.err;
  r = xmtest::run_cli("tokenize " + q(f));
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--tokenizer"), std::string::npos) << r.err;
  r = xmtest::run_cli("tokenize " + q(dir / "missing.mid") + " --tokenizer remi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("missing.mid"), std::string::npos) << r.err;

  auto detok = [&](const std::string& text) {
    write_file_atomic(dir / "t.json", text);
    return xmtest::run_cli("detokenize " + q(dir / "t.json") + " --out " + q(dir / "o.mid"));
  };
  r = detok("{\"tokenizer\": \"remi\", \"tokens\": [1, 2");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("t.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("invalid JSON"), std::string::npos) << r.err;
  EXPECT_TRUE(one_line(r)) << r.err;
  r = detok("{\"tokenizer\": \"remi\", \"tokens\": [1, 99999]}");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tokens[1] = 99999"), std::string::npos) << r.err;
  r = detok("{\"tokenizer\": \"performance\", \"tokens\": [60, \"x\"]}");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tokens[1]"), std::string::npos) << r.err;
  r = detok("{\"tokenizer\": \"abc\", \"tokens\": []}");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("abc"), std::string::npos) << r.err;
  r = detok("{\"tokens\": [1]}");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "o.mid"));
  // Valid ids in an order the grammar refuses are skipped and counted, not fatal.
  r = detok("{\"tokenizer\": \"performance\", \"options\": {\"core_only\": true}, \"tokens\": [128, 60, 300, 188]}");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("1 notes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("1 invalid"), std::string::npos) << r.out;
  fs::remove_all(dir);
}

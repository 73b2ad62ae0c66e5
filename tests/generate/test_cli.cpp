// test_cli.cpp: `xlstm-music generate` end to end with a tiny model trained once per test binary on the repo's
// sample (12 transpositions, 40 steps): stopping rules in the written files, masks at a high temperature, the
// seed kept exactly, numbered outputs, determinism, MusicXML, and the error paths (exit 2 naming the flag,
// exit 1 naming the file).
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/io.h"
#include "core/json.h"
#include "generate/generate.h"
#include "midi/midi_io.h"
#include "model/seq_model.h"
#include "music/analysis.h"
#include "music/scales.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;

// The tiny model, trained on first use (a few seconds); empty when training failed (the test then fails).
const fs::path& tiny_model() {
  static const fs::path model = [] {
    const fs::path dir = xmtest::temp_dir("generate-fixture");
    const std::string src = (xmtest::source_dir() / "samples").string();
    auto prep = xmtest::run_cli("data prepare --input '" + src + "' --out '" + (dir / "corpus").string() +
                                "' --transpose -5..6 --split valid=0,test=0 --jobs 1");
    if (prep.exit_code != 0) {
      ADD_FAILURE() << "data prepare failed: " << prep.err;
      return fs::path();
    }
    const fs::path m = dir / "tiny.safetensors";
    auto tr = xmtest::run_cli("train --data '" + (dir / "corpus").string() + "' --preset tiny --steps 40 --threads 1 " +
                              "--eval-windows 4 --quiet --out '" + m.string() + "'");
    if (tr.exit_code != 0) {
      ADD_FAILURE() << "train failed: " << tr.err;
      return fs::path();
    }
    return m;
  }();
  return model;
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

xmtest::RunResult gen(const std::string& args) {
  return xmtest::run_cli("generate --model " + q(tiny_model()) + " --threads 1 " + args);
}

xm::json gen_json(const std::string& args) {
  auto r = gen(args + " --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return r.exit_code == 0 ? xm::json::parse(r.out) : xm::json::object();
}

std::string bytes_of(const fs::path& p) { return xm::read_file_text(p); }

TEST(generate, cli_bars_rule_in_the_written_file) {
  ASSERT_FALSE(tiny_model().empty());
  const fs::path out = xmtest::temp_dir("gen-bars") / "b.mid";
  auto j = gen_json("--bars 4 --num 2 --out " + q(out));
  ASSERT_EQ(j["pieces"].size(), 2u);
  for (int i = 1; i <= 2; ++i) {
    const auto& p = j["pieces"][size_t(i - 1)];
    EXPECT_EQ(p["invalid_tokens"], 0);
    const auto s = xm::midi::read_midi_file(out.parent_path() / ("b-" + std::to_string(i) + ".mid"));
    xm::music::MeterMap meter(s);
    int last_bar = -1;
    for (const auto& n : s.notes) last_bar = std::max(last_bar, meter.at(n.onset_tick).bar);
    EXPECT_LT(last_bar, 4);
    if (p["stop_reason"] == "bars") {
      EXPECT_GE(last_bar, 0);
    } else {
      EXPECT_EQ(p["stop_reason"], "eos");
    }
  }
}

TEST(generate, cli_seconds_tokens_and_stop_prob_rules) {
  ASSERT_FALSE(tiny_model().empty());
  const fs::path dir = xmtest::temp_dir("gen-rules");
  auto j = gen_json("--seconds 6 --tempo 100 --out " + q(dir / "s.mid"));
  const auto s = xm::midi::read_midi_file(dir / "s.mid");
  ASSERT_FALSE(s.tempos.empty());
  EXPECT_EQ(s.tempos[0].us_per_quarter, 600000u);
  for (const auto& n : s.notes) EXPECT_LT(n.onset_s, 6.0);
  EXPECT_TRUE(j["pieces"][0]["stop_reason"] == "seconds" || j["pieces"][0]["stop_reason"] == "eos");

  j = gen_json("--max-tokens 50 --out " + q(dir / "t.mid"));
  EXPECT_LE(j["pieces"][0]["generated_tokens"].get<int>(), 50);
  if (j["pieces"][0]["stop_reason"] == "max_tokens") {
    EXPECT_GE(j["pieces"][0]["generated_tokens"].get<int>(), 46);  // at most Position Program Pitch Velocity trimmed
  }

  j = gen_json("--max-tokens 500 --stop-prob 1e-9 --out " + q(dir / "p.mid"));
  EXPECT_EQ(j["pieces"][0]["stop_reason"], "stop_prob");
  EXPECT_EQ(j["pieces"][0]["generated_tokens"], 0);
}

TEST(generate, cli_masks_hold_at_high_temperature) {
  ASSERT_FALSE(tiny_model().empty());
  xm::gen::Generator g(tiny_model());
  xm::gen::GenerateOptions o;
  o.max_tokens = 300;
  o.num = 5;
  o.temperature = 2.0;
  auto r = g.generate(nullptr, o);
  ASSERT_EQ(r.pieces.size(), 5u);
  for (const auto& p : r.pieces) {
    EXPECT_EQ(p.invalid_tokens, 0);
    EXPECT_EQ(p.fallbacks, 0);
  }
  // Scale masks with the trained model: major, a raga and a makam.
  for (auto [scale, key] : {std::pair<const char*, const char*>{"major", "G"}, {"raga_bhairav", "C"}, {"makam_hicaz", "A"}}) {
    o = {};
    o.max_tokens = 200;
    o.scale = scale;
    o.key = key;
    r = g.generate(nullptr, o);
    const auto* sc = xm::music::find_scale(scale);
    xm::music::Key k;
    ASSERT_TRUE(xm::music::parse_key(key, &k));
    for (const auto& n : r.pieces[0].score.notes) {
      if (!n.drum) {
        EXPECT_TRUE(xm::music::in_scale(n.pitch, k.tonic, *sc)) << scale << " " << n.pitch;
      }
    }
  }
}

TEST(generate, cli_seed_range_num_determinism_and_musicxml) {
  ASSERT_FALSE(tiny_model().empty());
  const fs::path dir = xmtest::temp_dir("gen-seed");
  const fs::path seed = xmtest::source_dir() / "samples" / "sample.mid";
  auto j = gen_json("--seed-midi " + q(seed) + " --bars 2 --pitch-range 60..72 --num 3 --random-seed 5 --out " +
                    q(dir / "c.mid") + " --musicxml " + q(dir / "c.musicxml"));
  ASSERT_EQ(j["pieces"].size(), 3u);
  const auto s0 = xm::midi::read_midi_file(seed);
  std::vector<std::string> files;
  for (int i = 1; i <= 3; ++i) {
    const fs::path f = dir / ("c-" + std::to_string(i) + ".mid");
    files.push_back(bytes_of(f));
    const auto s = xm::midi::read_midi_file(f);
    ASSERT_GE(s.notes.size(), s0.notes.size());
    for (size_t k = 0; k < s0.notes.size(); ++k) {
      EXPECT_EQ(s.notes[k].pitch, s0.notes[k].pitch);
      EXPECT_EQ(s.notes[k].onset_tick, s0.notes[k].onset_tick);
      EXPECT_EQ(s.notes[k].offset_tick, s0.notes[k].offset_tick);
      EXPECT_EQ(s.notes[k].velocity, s0.notes[k].velocity);
    }
    for (size_t k = s0.notes.size(); k < s.notes.size(); ++k) {
      EXPECT_GE(s.notes[k].pitch, 60);
      EXPECT_LE(s.notes[k].pitch, 72);
    }
    const std::string xml = bytes_of(dir / ("c-" + std::to_string(i) + ".musicxml"));
    EXPECT_NE(xml.find("score-partwise"), std::string::npos);
  }
  EXPECT_NE(files[0], files[1]);
  EXPECT_NE(files[1], files[2]);
  // The same command gives the same files.
  gen("--seed-midi " + q(seed) + " --bars 2 --pitch-range 60..72 --num 3 --random-seed 5 --out " + q(dir / "d.mid"));
  for (int i = 1; i <= 3; ++i) EXPECT_EQ(bytes_of(dir / ("d-" + std::to_string(i) + ".mid")), files[size_t(i - 1)]);
}

TEST(generate, cli_errors_name_the_flag_or_file) {
  ASSERT_FALSE(tiny_model().empty());
  const fs::path dir = xmtest::temp_dir("gen-errors");
  const std::string out = " --out " + q(dir / "x.mid");
  struct Case {
    std::string args, needle;
  };
  for (const Case& c : {Case{"--bars 2 --top-p 0", "--top-p"}, Case{"--bars 2 --top-p 1.5", "--top-p"},
                        Case{"--bars 2 --temperature 0", "--temperature"}, Case{"--bars 2 --seconds 3", "--bars"},
                        Case{"--top-k 3", "--bars"}, Case{"--bars 2 --genre nosuch", "--genre"},
                        Case{"--bars 2 --mood furious", "--mood"}, Case{"--bars 2 --key H", "--key"},
                        Case{"--bars 2 --scale nosuch", "--scale"}, Case{"--bars 2 --pitch-range 80..60", "--pitch-range"},
                        Case{"--bars 2 --bogus", "--bogus"}}) {
    auto r = gen(c.args + out);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.err;
    EXPECT_NE(r.err.find(c.needle), std::string::npos) << c.args << ": " << r.err;
  }
  EXPECT_FALSE(fs::exists(dir / "x.mid"));
  // A broken seed: exit 1 naming the file.
  const fs::path broken = dir / "broken.mid";
  xm::write_file_atomic(broken, std::string("MThd\0\0\0\6garbage", 17));
  auto r = gen("--bars 2 --seed-midi " + q(broken) + out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("broken.mid"), std::string::npos) << r.err;
  // A model file that cannot be used: missing, or without a tokenizer.
  r = xmtest::run_shell("XLSTM_MUSIC_MODEL=" + q(dir / "none.safetensors") + " '" + std::string(XM_TEST_BINARY) +
                        "' generate --bars 2" + out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("none.safetensors"), std::string::npos) << r.err;
  auto loaded = xm::model::load_seq_model(tiny_model());
  loaded.meta.tokenizer = nullptr;
  xm::model::save_seq_model(dir / "bare.safetensors", *loaded.model, loaded.meta);
  r = xmtest::run_cli("generate --bars 2 --model " + q(dir / "bare.safetensors") + out);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("tokenizer"), std::string::npos) << r.err;
}

}  // namespace

// Without a seed, controls the user left open are drawn by the model in data prepare's order (key, then
// tempo class); given ones are kept; all rows share them.
TEST(generate, open_controls_are_chosen_by_the_model) {
  ASSERT_FALSE(tiny_model().empty());
  xm::gen::Generator g(tiny_model());
  const auto& tok = g.tokenizer();
  auto kind = [&](int32_t id) {
    const std::string n = tok.token_name(id);
    return n.substr(0, n.find('_'));
  };
  xm::gen::GenerateOptions o;
  o.max_tokens = 20;
  o.num = 2;
  auto r = g.generate(nullptr, o);
  ASSERT_EQ(r.pieces.size(), 2u);
  const auto& ids = r.pieces[0].tokens;
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], tok.bos_id());
  EXPECT_EQ(kind(ids[1]), "Key");
  EXPECT_EQ(kind(ids[2]), "TempoClass");
  EXPECT_EQ(r.pieces[0].seed_tokens, 3);
  EXPECT_EQ(std::vector<int32_t>(r.pieces[1].tokens.begin(), r.pieces[1].tokens.begin() + 3),
            std::vector<int32_t>(ids.begin(), ids.begin() + 3));
  // A given key stays as given, before the model's tempo class.
  o.key = "F#m";
  o.num = 1;
  r = g.generate(nullptr, o);
  const auto& k = r.pieces[0].tokens;
  ASSERT_GE(k.size(), 3u);
  EXPECT_EQ(tok.token_name(k[1]), "Key_F#m");
  EXPECT_EQ(kind(k[2]), "TempoClass");
}

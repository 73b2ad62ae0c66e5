// test_inspect.cpp: the real `xlstm-music inspect` binary on real files: the readable report, the JSON
// form and its fields, warnings on stderr, exit 1 with a one-line reason on a rejected file, exit 2 on
// usage errors. Not the reader itself (test_reader.cpp).
#include <algorithm>

#include "core/json.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace {

std::string sample() {
  std::string q(1, '\'');  // (not "'" + ...: GCC 12 warns falsely about that pattern)
  return q + (xmtest::source_dir() / "samples" / "sample.mid").string() + q;
}

size_t count_lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

}  // namespace

TEST(midi, inspect_prints_a_readable_report) {
  xmtest::RunResult r = xmtest::run_cli("inspect " + sample() + " --limit 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  for (const char* part : {"format 1, 3 tracks, 480 ticks per quarter", "138 notes, 29.400 s (23040 ticks)",
                           "Twinkle, Twinkle, Little ...", "Melody", "Flute", "100.00", "80.00", "26.400",
                           "4/4", "C major", "notes (5 of 138)", "C3", "C5"})
    EXPECT_NE(r.out.find(part), std::string::npos) << "missing '" << part << "' in\n" << r.out;
  xmtest::RunResult none = xmtest::run_cli("inspect " + sample() + " --limit 0");
  ASSERT_EQ(none.exit_code, 0);
  EXPECT_EQ(none.out.find("notes ("), std::string::npos);
  xmtest::RunResult all = xmtest::run_cli("inspect " + sample());
  EXPECT_EQ(count_lines(all.out), count_lines(none.out) + 3 + 138);  // blank line, title, header, notes
}

TEST(midi, inspect_json_has_the_documented_fields) {
  xmtest::RunResult r = xmtest::run_cli("inspect " + sample() + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  xm::json j = xm::parse_json(r.out, "inspect --json");
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(keys, (std::vector<std::string>{"division", "format", "key_signatures", "notes", "tempos",
                                            "time_signatures", "tracks"}));
  EXPECT_EQ(j["format"], 1);
  EXPECT_EQ(j["division"], 480);
  ASSERT_EQ(j["tracks"].size(), 3u);
  EXPECT_EQ(j["tracks"][1]["name"], "Melody");
  EXPECT_EQ(j["tracks"][1]["notes"], 42);
  ASSERT_EQ(j["notes"].size(), 138u);
  const xm::json& n = j["notes"][1];  // the melody's first C5
  EXPECT_EQ(n["pitch"], 72);
  EXPECT_EQ(n["velocity"], 100);
  EXPECT_DOUBLE_EQ(n["start"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(n["end"].get<double>(), 440 * 0.6 / 480);
  EXPECT_EQ(n["channel"], 0);
  EXPECT_EQ(n["program"], 73);
  EXPECT_EQ(n["track"], 1);
  ASSERT_EQ(j["tempos"].size(), 2u);
  EXPECT_DOUBLE_EQ(j["tempos"][1]["time"].get<double>(), 26.4);
  EXPECT_DOUBLE_EQ(j["tempos"][1]["bpm"].get<double>(), 80.0);
  EXPECT_EQ(j["time_signatures"][0]["numerator"], 4);
  EXPECT_EQ(j["time_signatures"][0]["denominator"], 4);
  EXPECT_EQ(j["key_signatures"][0]["key"], "C major");
  xmtest::RunResult lim = xmtest::run_cli("inspect " + sample() + " --json --limit 3");
  EXPECT_EQ(xm::parse_json(lim.out, "inspect --json --limit 3")["notes"].size(), 3u);
}

TEST(midi, inspect_handles_smpte_damaged_and_rejected_files) {
  XM_REQUIRE_DATASET(dir, "midi-edge-cases");
  xmtest::RunResult smpte = xmtest::run_cli(
      "inspect '" + (dir / "valid/smpte-division-30fps-120tpf__openjdk.mid").string() + "' --json");
  ASSERT_EQ(smpte.exit_code, 0) << smpte.err;
  xm::json j = xm::parse_json(smpte.out, "inspect --json (SMPTE)");
  EXPECT_EQ(j["division"]["smpte_fps"], 30);
  EXPECT_EQ(j["division"]["ticks_per_frame"], 120);
  EXPECT_EQ(j["notes"].size(), 12u);
  EXPECT_LE(j["notes"][11]["end"].get<double>(), 14.0);  // OpenJDK bug 4291250: the piece lasts <= 14 s
  // Lenient: parsed, warnings on stderr, stdout still clean JSON.
  fs::path lenient = dir / "invalid/test-illegal-message-f2-xx-xx.mid";
  xmtest::RunResult w = xmtest::run_cli("inspect '" + lenient.string() + "' --json");
  ASSERT_EQ(w.exit_code, 0) << w.err;
  EXPECT_NE(w.err.find("warning: " + lenient.string() + ": byte 221: 1 system common"), std::string::npos)
      << w.err;
  EXPECT_EQ(xm::parse_json(w.out, "inspect --json (lenient)")["notes"].size(), 8u);
  // Rejected: exit 1, one line naming the file, the byte offset and the reason.
  fs::path bad = dir / "invalid/test-not-a-midi-file.mid";
  xmtest::RunResult e = xmtest::run_cli("inspect '" + bad.string() + "'");
  EXPECT_EQ(e.exit_code, 1);
  EXPECT_EQ(e.out, "");
  EXPECT_EQ(count_lines(e.err), 1u) << e.err;
  EXPECT_NE(e.err.find(bad.string() + ": byte 0: not a Standard MIDI File"), std::string::npos) << e.err;
}

TEST(midi, inspect_usage_errors_exit_2) {
  EXPECT_EQ(xmtest::run_cli("inspect").exit_code, 2);
  EXPECT_EQ(xmtest::run_cli("inspect " + sample() + " --bogus").exit_code, 2);
  EXPECT_EQ(xmtest::run_cli("inspect " + sample() + " --limit -1").exit_code, 2);
  EXPECT_EQ(xmtest::run_cli("inspect " + sample() + " " + sample()).exit_code, 2);
  xmtest::RunResult help = xmtest::run_cli("inspect --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("usage: xlstm-music inspect"), std::string::npos);
  xmtest::RunResult missing = xmtest::run_cli("inspect /nonexistent/x.mid");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/x.mid"), std::string::npos);
}

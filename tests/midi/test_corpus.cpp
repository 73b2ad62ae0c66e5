// test_corpus.cpp: the MIDI reader and writer over every MIDI file in ../shared/datasets: read, write,
// read again gives the same score; the written files read the same in mido (an independent reader).
// Not the edge-case expectations (test_edge_cases.cpp). Skips cleanly without ../shared.
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "midi/midi_test_util.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace xm::midi;

namespace {

// Files the edge-case manifest says must be rejected (relative to ../shared/datasets).
std::set<std::string> manifest_rejects() {
  std::set<std::string> out;
  fs::path m = xmtest::dataset_dir("midi-edge-cases");
  if (m.empty()) return out;
  std::ifstream f(m / "MANIFEST.csv");
  std::string line;
  std::getline(f, line);
  while (std::getline(f, line)) {
    auto c1 = line.find(','), c2 = line.find(',', c1 + 1);
    if (line.substr(c1 + 1, c2 - c1 - 1) == "reject") out.insert((m / line.substr(0, c1)).string());
  }
  return out;
}

}  // namespace

TEST(midi, corpus_round_trip_every_file) {
  XM_REQUIRE_SHARED();
  fs::path datasets = xmtest::shared_dir() / "datasets";
  std::vector<fs::path> all = xmtest::midi_files_under(datasets);
  ASSERT_GT(all.size(), 1000u) << "expected the shared corpus under " << datasets;
  size_t sample = xmtest::corpus_sample_size();
  std::vector<fs::path> files = xmtest::spread(all, sample);
  std::set<std::string> rejects_expected = manifest_rejects();

  size_t rejected = 0, with_warnings = 0, format0_checked = 0, notes = 0;
  std::map<std::string, size_t> per_dataset;
  int failures = 0;
  for (const fs::path& f : files) {
    Score a;
    try {
      a = read_midi_file(f);
    } catch (const xm::Error& e) {
      ++rejected;
      EXPECT_TRUE(rejects_expected.count(f.string()))
          << "rejected a file the manifest does not: " << e.what();
      continue;
    }
    per_dataset[fs::relative(f, datasets).begin()->string()]++;
    notes += a.notes.size();
    if (!a.warnings.empty()) ++with_warnings;
    std::vector<uint8_t> bytes = write_midi_bytes(a);
    Score b = read_midi_bytes(bytes.data(), bytes.size(), f.string() + " (written)");
    std::string d = xmtest::score_diff(a, b);
    if (!d.empty() && failures++ < 10) ADD_FAILURE() << f << ": round trip differs: " << d;
    if (!b.warnings.empty() && failures++ < 10)
      ADD_FAILURE() << f << ": our own output has warnings: " << b.warnings.front();
    if (a.format == 0 && a.tracks.size() == 1) {
      std::vector<uint8_t> b0 = write_midi_bytes(a, WriteOptions{0});
      Score c = read_midi_bytes(b0.data(), b0.size(), f.string() + " (written, format 0)");
      std::string d0 = xmtest::score_diff(a, c);
      if (!d0.empty() && failures++ < 10) ADD_FAILURE() << f << ": format 0 round trip differs: " << d0;
      ++format0_checked;
    }
  }
  EXPECT_EQ(failures, 0);
  std::ostringstream summary;
  summary << files.size() << " of " << all.size() << " files, " << rejected << " rejected, " << with_warnings
          << " read with warnings, " << format0_checked << " also as format 0, " << notes << " notes;";
  for (auto& [k, v] : per_dataset) summary << " " << k << "=" << v;
  std::cout << "[ corpus   ] " << summary.str() << "\n";
  if (sample == 0) {
    EXPECT_EQ(rejected, rejects_expected.size()) << summary.str();
  }
}

// Our writer's output, read by mido (Debian's python3-mido, run as /usr/bin/python3 by mido_notes.py):
// the same notes, ticks exactly and seconds to 1e-9, for 50 corpus files spread over the datasets plus
// every edge-case file we accept.
TEST(midi, writer_output_reads_the_same_in_mido) {
  XM_REQUIRE_SHARED();
  if (xmtest::run_shell("/usr/bin/python3 -c 'import mido'").exit_code != 0)
    GTEST_SKIP()
        << "python3-mido is not installed for /usr/bin/python3; skipping the independent-reader check";
  fs::path datasets = xmtest::shared_dir() / "datasets";
  std::vector<fs::path> files;
  for (const char* name : {"groove-midi", "nottingham", "pop909", "symbtr-makam", "vgmidi"}) {
    fs::path d = xmtest::dataset_dir(name);
    if (d.empty()) continue;
    for (const fs::path& f : xmtest::spread(xmtest::midi_files_under(d), 10)) files.push_back(f);
  }
  if (fs::path e = xmtest::dataset_dir("midi-edge-cases"); !e.empty())
    for (const fs::path& f : xmtest::midi_files_under(e)) files.push_back(f);
  ASSERT_FALSE(files.empty());

  fs::path tmp = xmtest::temp_dir("mido");
  std::map<std::string, Score> ours;  // written path -> our score
  std::map<std::string, std::string> source;
  std::string args;
  for (const fs::path& f : files) {
    Score s;
    try {
      s = read_midi_file(f);
    } catch (const xm::Error&) {
      continue;  // the rejects; test_edge_cases checks them
    }
    fs::path out = tmp / (std::to_string(ours.size()) + ".mid");
    write_midi_file(s, out);
    args += " '" + out.string() + "'";
    source[out.string()] = f.string();
    ours[out.string()] = std::move(s);
  }
  ASSERT_GE(ours.size(), 100u);
  xmtest::RunResult r = xmtest::run_shell(
      "/usr/bin/python3 '" + (xmtest::source_dir() / "tests/midi/mido_notes.py").string() + "'" + args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  size_t compared = 0, notes = 0;
  while (std::getline(lines, line)) {
    xm::json j = xm::parse_json(line, "mido_notes.py output");
    std::string file = j.at("file").get<std::string>();
    ASSERT_TRUE(ours.count(file)) << file;
    const Score& s = ours[file];
    ASSERT_FALSE(j.contains("error")) << source[file] << ": mido cannot read our output: " << j["error"];
    // Ours, in mido_notes.py's order: (track, channel, pitch, velocity, onset, offset).
    std::vector<std::array<int64_t, 6>> mine;
    std::map<std::array<int64_t, 6>, std::pair<double, double>> secs;
    for (const Note& n : s.notes) {
      std::array<int64_t, 6> k{n.track, n.channel, n.pitch, n.velocity, n.onset_tick, n.offset_tick};
      mine.push_back(k);
      secs[k] = {n.onset_s, n.offset_s};
    }
    std::sort(mine.begin(), mine.end());
    const xm::json& theirs = j.at("notes");
    ASSERT_EQ(theirs.size(), mine.size()) << source[file];
    for (size_t i = 0; i < mine.size(); ++i) {
      const xm::json& t = theirs[i];
      std::array<int64_t, 6> k;
      for (size_t c = 0; c < 6; ++c) k[c] = t[c].get<int64_t>();
      ASSERT_EQ(k, mine[i]) << source[file] << ": note " << i;
      auto [on_s, off_s] = secs[k];
      ASSERT_NEAR(t[6].get<double>(), on_s, 1e-9 * std::max(1.0, on_s)) << source[file] << ": note " << i;
      ASSERT_NEAR(t[7].get<double>(), off_s, 1e-9 * std::max(1.0, off_s)) << source[file] << ": note " << i;
    }
    ++compared;
    notes += mine.size();
  }
  EXPECT_EQ(compared, ours.size());
  std::cout << "[ mido     ] " << compared << " files, " << notes << " notes agree\n";
  fs::remove_all(tmp);
}

// test_edge_cases.cpp: the reader against ../shared/datasets/midi-edge-cases/MANIFEST.csv file by file
// (valid: parses with the manifest's note count; lenient: recovers with warnings; reject: xm::Error naming
// file, byte offset and reason) and against SymbTr's known-malformed files. Not the corpus round trip.
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "midi/midi_io.h"
#include "midi/midi_test_util.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using namespace xm::midi;

namespace {

struct ManifestRow {
  std::string file, expect, source_repo;
  int notes_on = 0;
};

// One CSV line: commas separate cells, double quotes protect commas ("" is a quote).
std::vector<std::string> csv_cells(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        cells.back() += '"', ++i;
      else if (c == '"')
        quoted = false;
      else
        cells.back() += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      cells.emplace_back();
    } else if (c != '\r') {
      cells.back() += c;
    }
  }
  return cells;
}

std::vector<ManifestRow> read_manifest(const fs::path& dir) {
  std::ifstream f(dir / "MANIFEST.csv");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> header = csv_cells(line);
  auto col = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i)
      if (header[i] == name) return i;
    ADD_FAILURE() << "MANIFEST.csv has no column " << name;
    return size_t(0);
  };
  size_t c_file = col("file"), c_expect = col("expect"), c_repo = col("source_repo"),
         c_notes = col("notes_on");
  std::vector<ManifestRow> rows;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cells = csv_cells(line);
    ManifestRow r;
    r.file = cells.at(c_file);
    r.expect = cells.at(c_expect);
    r.source_repo = cells.at(c_repo);
    r.notes_on = std::stoi(cells.at(c_notes));
    rows.push_back(r);
  }
  return rows;
}

}  // namespace

TEST(midi, edge_cases_match_manifest) {
  XM_REQUIRE_DATASET(dir, "midi-edge-cases");
  std::vector<ManifestRow> rows = read_manifest(dir);
  ASSERT_EQ(rows.size(), 78u);
  int valid = 0, lenient = 0, reject = 0;
  for (const ManifestRow& r : rows) {
    SCOPED_TRACE(r.file);
    fs::path path = dir / r.file;
    if (r.expect == "reject") {
      ++reject;
      try {
        read_midi_file(path);
        ADD_FAILURE() << "parsed a file the manifest says to reject";
      } catch (const xm::Error& e) {
        std::string msg = e.what();
        EXPECT_NE(msg.find(path.string()), std::string::npos) << msg;
        EXPECT_NE(msg.find(": byte 0: not a Standard MIDI File"), std::string::npos) << msg;
      }
      continue;
    }
    Score s;
    ASSERT_NO_THROW(s = read_midi_file(path));
    if (r.expect == "valid") {
      ++valid;
      // notes_on counts note-on events with velocity > 0 (checked with mido): each is one note of ours.
      EXPECT_EQ(int(s.notes.size()), r.notes_on);
    } else {
      ASSERT_EQ(r.expect, "lenient");
      ++lenient;
      EXPECT_FALSE(s.warnings.empty()) << "recovered without saying so";
      if (r.source_repo == "jazz-soft/test-midi-files") {
        // "You must hear a C-major scale": C4 D4 E4 F4 G4 A4 B4 C5, one after another.
        std::vector<int> pitches;
        for (const Note& n : s.notes) pitches.push_back(n.pitch);
        EXPECT_EQ(pitches, (std::vector<int>{60, 62, 64, 65, 67, 69, 71, 72}));
        for (size_t i = 1; i < s.notes.size(); ++i)
          EXPECT_GE(s.notes[i].onset_tick, s.notes[i - 1].offset_tick);
      }
    }
  }
  EXPECT_EQ(valid, 58);
  EXPECT_EQ(lenient, 18);
  EXPECT_EQ(reject, 2);
}

namespace {

std::vector<fs::path> listed(const fs::path& dir, const char* list) {
  std::ifstream f(dir / list);
  std::vector<fs::path> out;
  std::string line;
  while (std::getline(f, line))
    if (!line.empty()) out.push_back(dir / line);
  return out;
}

}  // namespace

// SymbTr's 200 files with an early end of track and garbage after the last chunk: recovered with a
// warning at the garbage's byte offset, notes kept; its 177 note-less files: read with no notes.
TEST(midi, symbtr_malformed_files_recover) {
  XM_REQUIRE_DATASET(dir, "symbtr-makam");
  std::vector<fs::path> bad = listed(dir, "malformed_trailing_bytes.txt");
  ASSERT_EQ(bad.size(), 200u);
  size_t with_notes = 0;
  for (const fs::path& f : bad) {
    Score s;
    ASSERT_NO_THROW(s = read_midi_file(f)) << f;
    ASSERT_FALSE(s.warnings.empty()) << f;
    bool named = false;
    for (const std::string& w : s.warnings)
      named |= w.find("stray bytes after the last track") != std::string::npos;
    EXPECT_TRUE(named) << f << ": " << s.warnings.front();
    EXPECT_EQ(s.tracks.size(), 2u) << f;
    if (!s.notes.empty()) ++with_notes;
  }
  EXPECT_GT(with_notes, 150u) << "the notes before the early end of track should be recovered";
  std::vector<fs::path> empty = listed(dir, "empty_midi_files.txt");
  ASSERT_EQ(empty.size(), 177u);
  for (const fs::path& f : empty) {
    Score s;
    ASSERT_NO_THROW(s = read_midi_file(f)) << f;
    EXPECT_TRUE(s.notes.empty()) << f;
  }
}

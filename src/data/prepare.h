// prepare.h: corpus preparation, the library side of `xlstm-music data prepare`: scan the inputs, parse
// the MIDI files in parallel, skip and count bad or unusable files with their reasons, tag each piece
// (dataset, genre/mood labels, estimated key, tempo, meter), split by piece, transpose the training split,
// tokenize, and write token shards + index.json + vocab.json + report.json (format: docs/data.md).
// Not the reader (corpus.h) and not the command line (cli/cmd_data.cpp).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/json.h"
#include "data/split.h"

namespace xm::data {

struct InputSpec {
  std::filesystem::path path;  // a folder, a single MIDI file, or a JSB chorale JSON file
  std::string genre;           // "" = from the dataset's labels or its default
};

// "DIR" or "DIR:GENRE" (the suffix is a genre only when DIR:GENRE itself is not an existing path).
InputSpec parse_input_spec(const std::string& text);

struct PrepareOptions {
  std::vector<InputSpec> inputs;
  std::vector<std::filesystem::path> label_csvs;  // extra label files (read_labels_csv), applied to all inputs
  std::string tokenizer = "remi";
  json tokenizer_options = json::object();
  std::filesystem::path out;
  SplitSpec split;
  TransposeRange transpose;     // training split only
  int jobs = 0;                 // worker threads; 0 = the machine's cores
  int64_t min_notes = 8;        // fewer notes: skipped ("too few notes")
  double max_seconds = 3600.0;  // longer (last note offset): skipped ("too long")
  int64_t max_tokens = 0;       // longer original sequences: skipped; 0 = no limit
  bool conditioning = true;     // genre/mood/key/tempo control tokens at the start of each sequence
  uint64_t shard_tokens = uint64_t(1) << 27;  // a new shard begins before one would pass this many tokens
  size_t max_listed_skips = 5000;             // report.json lists at most this many skipped files by name
  std::string command_line;                   // recorded in index.json and report.json
  // Called on the calling thread after each batch: files (or chorales) done, total.
  std::function<void(size_t done, size_t total)> progress;
};

struct PrepareResult {
  json report;          // what report.json holds
  std::string summary;  // the printed summary (a few lines)
};

// Runs the whole preparation. The output is built in a sibling temporary folder and renamed over
// opt.out at the end, so an existing corpus there is replaced cleanly (and is kept if this run fails).
// opt.out must be absent, empty, or a prepared corpus (it has an index.json): anything else is refused.
// Throws xm::Error for unusable options or inputs (naming the input) and failed writes; one bad MIDI
// file never stops the run (it is counted in the report).
PrepareResult prepare_corpus(const PrepareOptions& opt);

// The summary text for a report (what prepare_corpus returns in summary).
std::string format_report_summary(const json& report);

}  // namespace xm::data

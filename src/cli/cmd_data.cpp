// cmd_data.cpp: `xlstm-music data prepare` (MIDI corpora -> token shards, index, vocabulary, report) and
// `xlstm-music data info` (what a prepared corpus holds). Thin: the work is in data/prepare.h and
// data/corpus.h; this file parses flags, shows progress and prints the summary.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "cli/cli.h"
#include "core/json.h"
#include "data/corpus.h"
#include "data/prepare.h"
#include "tokens/tokenizer.h"

namespace {

using xm::UsageError;
namespace fs = std::filesystem;

const char* kPrepareUsage =
    "usage: xlstm-music data prepare --input DIR[:GENRE] [--input DIR ...] --out DIR [flags]\n"
    "\n"
    "Scans each input folder recursively for *.mid, *.midi, *.kar (any case), parses them in parallel,\n"
    "skips and counts unusable files with their reasons, tags each piece (dataset, genre, mood, key,\n"
    "tempo, meter), splits by piece (deterministic hash of its path, or the dataset's official split),\n"
    "transposes the training split, tokenizes, and writes OUT/{train,valid,test}-NNN.bin token shards,\n"
    "OUT/index.json, OUT/vocab.json and OUT/report.json (see docs/data.md). An existing corpus in OUT is\n"
    "replaced when the run succeeds. Known datasets (POP909, Nottingham, Groove MIDI, SymbTr, VGMIDI, JSB\n"
    "chorales, MIDI edge cases) are recognised by their label files and labelled from them.\n"
    "\n"
    "flags:\n"
    "  --input DIR[:GENRE]    a folder (or one MIDI file, or a JSB chorale JSON); repeatable\n"
    "  --out DIR              the corpus folder to write\n"
    "  --tokenizer NAME       remi (default), performance, jsb, tuples\n"
    "  --tokenizer-options J  tokenizer options as a JSON object (default {})\n"
    "  --genre LABEL          genre of every input given without :GENRE (wins over dataset labels)\n"
    "  --labels CSV           extra per-file labels (columns file, genre/style, mood, split, ...); repeatable\n"
    "  --split SPEC           valid=0.05,test=0.05 (default); official splits win where a dataset has one\n"
    "  --transpose LO..HI     semitone shifts of the training split, e.g. -5..6 (default 0: none)\n"
    "  --jobs N               worker threads (default: the machine's cores)\n"
    "  --min-notes N          skip pieces with fewer notes (default 8)\n"
    "  --max-seconds S        skip pieces longer than S seconds (default 3600)\n"
    "  --max-tokens N         skip pieces whose token sequence is longer (default 0: no limit)\n"
    "  --shard-tokens N       start a new shard before one passes N tokens (default 134217728)\n"
    "  --no-conditioning      no genre/mood/key/tempo control tokens at the start of sequences\n"
    "  --json                 print report.json instead of the summary\n"
    "  --quiet                no progress bar\n"
    "\n"
    "exit: 0 done, 1 bad input or failed work, 2 usage error\n";

const char* kInfoUsage =
    "usage: xlstm-music data info DIR [--json]\n"
    "\n"
    "Opens a corpus written by `data prepare` (checking index, vocabulary and every shard) and prints its\n"
    "tokenizer, pieces, sequences and tokens per split, and its shards.\n";

int run_prepare(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv,
                  {"--input", "--out", "--tokenizer", "--tokenizer-options", "--genre", "--labels", "--split",
                   "--transpose", "--jobs", "--min-notes", "--max-seconds", "--max-tokens", "--shard-tokens"},
                  {"--json", "--quiet", "--no-conditioning"});
  if (a.help()) {
    std::fputs(kPrepareUsage, stdout);
    return 0;
  }
  if (!a.positional().empty())
    throw UsageError("unexpected argument '" + a.positional()[0] + "' (inputs are given with --input)");
  xm::data::PrepareOptions opt;
  const auto inputs = a.get_all("--input");
  if (inputs.empty()) throw UsageError("missing required flag --input (see --help)");
  opt.out = a.require("--out");
  opt.tokenizer = a.get_or("--tokenizer", "remi");
  const auto names = xm::tokens::tokenizer_names();
  bool known = false;
  std::string list;
  for (const auto& n : names) {
    known = known || n == opt.tokenizer;
    list += (list.empty() ? "" : ", ") + n;
  }
  if (!known) throw UsageError("flag --tokenizer: unknown tokenizer '" + opt.tokenizer + "' (choose " + list + ")");
  if (auto o = a.get("--tokenizer-options")) {
    try {
      opt.tokenizer_options = xm::parse_json(*o, "flag --tokenizer-options");
    } catch (const xm::Error& e) {
      throw UsageError(e.what());
    }
    if (!opt.tokenizer_options.is_object()) throw UsageError("flag --tokenizer-options: expected a JSON object");
  }
  const std::string genre = a.get_or("--genre", "");
  for (const auto& s : inputs) {
    xm::data::InputSpec in = xm::data::parse_input_spec(s);
    if (in.genre.empty()) in.genre = genre;
    std::error_code ec;
    if (!fs::exists(in.path, ec))
      throw xm::Error("flag --input: '" + in.path.string() + "' does not exist (hint: a folder of MIDI files, or DIR:GENRE)");
    opt.inputs.push_back(in);
  }
  for (const auto& l : a.get_all("--labels")) {
    std::error_code ec;
    if (!fs::is_regular_file(l, ec)) throw xm::Error("flag --labels: '" + l + "' is not a file");
    opt.label_csvs.push_back(l);
  }
  try {
    if (auto s = a.get("--split")) opt.split = xm::data::parse_split_spec(*s);
  } catch (const UsageError&) {
    throw;
  } catch (const xm::Error& e) {
    throw UsageError(std::string("flag --split: ") + e.what());
  }
  try {
    if (auto t = a.get("--transpose")) opt.transpose = xm::data::parse_transpose_range(*t);
  } catch (const UsageError&) {
    throw;
  } catch (const xm::Error& e) {
    throw UsageError(std::string("flag --transpose: ") + e.what());
  }
  opt.jobs = int(a.get_int("--jobs", 0, 0, 1024));
  opt.min_notes = a.get_int("--min-notes", 8, 1, 1'000'000'000);
  opt.max_seconds = a.get_double("--max-seconds", 3600.0, 1e-3, 1e9);
  opt.max_tokens = a.get_int("--max-tokens", 0, 0, 1'000'000'000'000LL);
  opt.shard_tokens = uint64_t(a.get_int("--shard-tokens", int64_t(1) << 27, 1, int64_t(1) << 40));
  opt.conditioning = !a.has("--no-conditioning");
  opt.command_line = "xlstm-music data prepare";
  for (const auto& s : argv) opt.command_line += " " + s;

  const bool bar = xm::cli::stderr_is_tty() && !a.has("--quiet");
  if (bar)
    opt.progress = [](size_t done, size_t total) {
      std::fprintf(stderr, "\r[data prepare] %zu/%zu files", done, total);
      if (done == total) std::fputc('\n', stderr);
      std::fflush(stderr);
    };
  xm::data::PrepareResult r = xm::data::prepare_corpus(opt);
  if (a.has("--json"))
    std::printf("%s\n", r.report.dump(1).c_str());
  else
    std::fputs(r.summary.c_str(), stdout);
  return 0;
}

int run_info(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {}, {"--json"});
  if (a.help()) {
    std::fputs(kInfoUsage, stdout);
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("give exactly one corpus folder (see --help)");
  xm::data::Corpus c = xm::data::Corpus::open(a.positional()[0]);
  xm::json j = {{"dir", c.dir().string()},
                {"tokenizer", c.tokenizer_name()},
                {"vocab_size", c.vocab_size()},
                {"fields_per_step", c.fields_per_step()},
                {"pieces", c.pieces().size()},
                {"shards", c.shards().size()}};
  for (auto s : {xm::data::Split::Train, xm::data::Split::Valid, xm::data::Split::Test})
    j["splits"][xm::data::split_name(s)] = {{"pieces", c.pieces(s).size()},
                                            {"sequences", c.sequences(s).size()},
                                            {"tokens", c.num_tokens(s)},
                                            {"original_tokens", c.num_tokens(s, true)}};
  if (a.has("--json")) {
    std::printf("%s\n", j.dump(1).c_str());
    return 0;
  }
  std::printf("%s: tokenizer %s, vocabulary %d, %zu pieces in %zu shards\n", c.dir().string().c_str(),
              c.tokenizer_name().c_str(), c.vocab_size(), c.pieces().size(), c.shards().size());
  std::printf("  %-6s %8s %10s %14s\n", "split", "pieces", "sequences", "tokens");
  for (const char* k : {"train", "valid", "test"}) {
    const auto& x = j["splits"][k];
    std::printf("  %-6s %8lld %10lld %14lld\n", k, (long long)x["pieces"].get<int64_t>(),
                (long long)x["sequences"].get<int64_t>(), (long long)x["tokens"].get<int64_t>());
  }
  return 0;
}

const xm::cli::Registrar prepare_cmd({"data prepare", "prepare a MIDI corpus: token shards, index, vocabulary",
                                      kPrepareUsage, run_prepare});
const xm::cli::Registrar info_cmd({"data info", "summarise a prepared corpus", kInfoUsage, run_info});

}  // namespace

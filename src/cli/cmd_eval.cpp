// cmd_eval.cpp: `xlstm-music eval`: the likelihood of a model on a corpus split (eval/likelihood.h), or the music
// metrics of a generated set against a reference set (eval/compare.h, eval/report.h). Thin: flags -> options,
// a progress line on a terminal, the table or JSON. Not the arithmetic.
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "data/corpus.h"
#include "eval/compare.h"
#include "eval/likelihood.h"
#include "eval/report.h"
#include "model/seq_model.h"
#include "nn/runtime.h"
#include "train/presets.h"

namespace {

using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music eval --model MODEL.safetensors --data CORPUS_DIR [--split valid|test] [flags]\n"
    "       xlstm-music eval --generated DIR --reference DIR [--json] [--report OUT.md]\n"
    "\n"
    "Likelihood: runs every piece of a split of a prepared corpus through the model (any family), from the start\n"
    "of its sequence with its control prefix (given, not predicted), and reports NLL per token (nats), perplexity,\n"
    "bits per note and bits per second of music, overall and per genre, and NLL by position in the sequence.\n"
    "xLSTM models carry their recurrent state from one window of --seq steps to the next (each token predicted\n"
    "from the whole piece before it); other families, or --no-carry, use windows of --seq steps from the zero\n"
    "state, each starting with the piece's control prefix (as training's validation does).\n"
    "\n"
    "Music metrics: reads every MIDI file under both folders (unreadable ones listed and skipped), computes\n"
    "pitch-class histogram and entropy, pitch range, notes per bar and per second, inter-onset interval,\n"
    "velocity, polyphony, scale and groove consistency, empty-beat rate, repetition and self-similarity, and\n"
    "compares the sets feature by feature (Yang & Lerch 2018: intra-/inter-set distance PDFs, overlapped area\n"
    "and KL divergence). Definitions: docs/evaluation.md.\n"
    "\n"
    "likelihood flags:\n"
    "  --model FILE       the model file (any family)\n"
    "  --data DIR         the prepared corpus (`xlstm-music data prepare`); its vocabulary must be the model's\n"
    "  --split NAME       valid (default), test or train (originals only, never transposed copies)\n"
    "  --seq N            steps per window (default: the model's context length, else 256)\n"
    "  --max-pieces N     only the first N pieces of the split\n"
    "  --positions MAX    cut every piece to MAX steps and report NLL by position up to MAX (length\n"
    "                     extrapolation); each piece runs as one sequence (carried in --seq chunks for\n"
    "                     xLSTM, one window of MAX steps for the other families or with --no-carry)\n"
    "  --bucket N         steps per position bucket (default 64)\n"
    "  --no-carry         windows from the zero state even for recurrent families\n"
    "  --batch N          rows per forward (default 8)\n"
    "  --threads N        engine threads (default: all cores)\n"
    "\n"
    "music-metric flags:\n"
    "  --generated DIR    the generated MIDI files\n"
    "  --reference DIR    the reference MIDI files (e.g. the test split's originals)\n"
    "  --report OUT.md    also write a Markdown report, with SVG plots beside it (OUT.<feature>.svg)\n"
    "\n"
    "both:\n"
    "  --json             print JSON instead of the table\n"
    "  --quiet            no progress line\n"
    "\n"
    "exit: 0 done, 1 bad input (a missing file or folder, an empty set or split, a model whose vocabulary does\n"
    "not match the corpus) or failed work, 2 usage error\n";

int run_likelihood(const xm::cli::Args& a) {
  if (a.has("--generated") || a.has("--reference") || a.has("--report"))
    throw UsageError("flags --generated/--reference/--report compare MIDI sets and exclude --model/--data");
  xm::eval::LikelihoodOptions o;
  const std::string model_path = a.require("--model");
  const std::string data_dir = a.require("--data");
  const std::string split = a.get_or("--split", "valid");
  if (!xm::data::parse_split_name(split, &o.split))
    throw UsageError("flag --split: unknown split '" + split + "' (expected valid, test or train)");
  o.seq = int(a.get_int("--seq", 0, 2, 1 << 24));
  o.max_pieces = a.get_int("--max-pieces", 0, 1, 1LL << 40);
  o.positions = a.get_int("--positions", 0, 2, 1 << 24);
  o.bucket = int(a.get_int("--bucket", 64, 1, 1 << 24));
  o.batch = int(a.get_int("--batch", 8, 1, 4096));
  o.carry_state = !a.has("--no-carry");
  const long long threads = a.get_int("--threads", 0, 1, 4096);
  const bool json_out = a.has("--json"), quiet = a.has("--quiet");
  xm::nn::apply_runtime_env();  // may re-execute this program (same arguments) with the OpenMP wait policy set
  xm::train::set_thread_policy(int(threads));

  xm::model::LoadedSeqModel loaded = xm::model::load_seq_model(model_path);
  const xm::data::Corpus corpus = xm::data::Corpus::open(data_dir);
  xm::eval::check_model_matches_corpus(*loaded.model, loaded.meta.tokenizer, corpus, model_path);
  const bool tty = xm::cli::stderr_is_tty() && !quiet;
  if (tty)
    o.progress = [](int64_t done, int64_t total) {
      std::fprintf(stderr, "\r\033[Keval %lld/%lld", (long long)done, (long long)total);
      if (done == total) std::fputs("\r\033[K", stderr);
    };
  const xm::eval::LikelihoodReport r = xm::eval::evaluate_likelihood(*loaded.model, corpus, o);
  if (json_out) {
    xm::json j = xm::eval::to_json(r);
    j["model"]["file"] = model_path;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", xm::eval::to_text(r).c_str());
  }
  return 0;
}

int run_sets(const xm::cli::Args& a) {
  for (const char* f : {"--model", "--data", "--split", "--seq", "--max-pieces", "--positions", "--bucket",
                        "--no-carry", "--batch", "--threads"})
    if (a.has(f)) throw UsageError(std::string("flag ") + f + " belongs to the likelihood mode (--model/--data)");
  const std::string gen = a.require("--generated"), ref = a.require("--reference");
  const xm::eval::SetComparison c = xm::eval::compare_sets(gen, ref);
  std::vector<std::filesystem::path> written;
  if (a.has("--report")) written = xm::eval::write_report(c, a.require("--report"));
  if (a.has("--json")) {
    xm::json j = xm::eval::to_json(c);
    if (!written.empty()) {
      j["report"] = xm::json::array();
      for (const auto& p : written) j["report"].push_back(p.string());
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("%s", xm::eval::to_text(c).c_str());
    if (!written.empty())
      std::printf("report: %s (+%zu plots)\n", written[0].string().c_str(), written.size() - 1);
  }
  return 0;
}

int run_eval(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv,
                  {"--model", "--data", "--split", "--seq", "--max-pieces", "--positions", "--bucket", "--batch",
                   "--threads", "--generated", "--reference", "--report"},
                  {"--json", "--quiet", "--no-carry"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  const bool likelihood = a.has("--model") || a.has("--data");
  const bool sets = a.has("--generated") || a.has("--reference");
  if (!likelihood && !sets)
    throw UsageError("give --model and --data (likelihood) or --generated and --reference (music metrics)");
  return likelihood ? run_likelihood(a) : run_sets(a);
}

const xm::cli::Registrar kRegistrar({"eval",
                                      "likelihood of a model on a corpus split; music metrics of generated vs "
                                      "reference MIDI",
                                      kUsage, run_eval});

}  // namespace

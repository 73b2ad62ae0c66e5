// cmd_tokenize.cpp: `xlstm-music tokenize FILE.mid --tokenizer NAME`: prints the tokens of a MIDI file
// (names one per line, or JSON that `detokenize` reads back). Thin: the tokenizers live in tokens/.
// Not a corpus tool: `data prepare` tokenizes whole folders.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "music/analysis.h"
#include "tokens/tokenizer.h"

namespace {

using xm::Error;
using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music tokenize FILE.mid --tokenizer NAME [flags]\n"
    "\n"
    "Reads a MIDI file and prints its tokens: one name per line, or with --json the object\n"
    "{\"tokenizer\", \"options\", \"vocab_size\", \"tokens\": [ids], \"names\": [...]} that\n"
    "`xlstm-music detokenize` turns back into MIDI. Control tokens (genre, mood, key, tempo class) come\n"
    "first when asked for. See docs/tokenizers.md.\n"
    "\n"
    "flags:\n"
    "  --tokenizer NAME       remi, performance, jsb or tuples (required)\n"
    "  --tokenizer-options J  tokenizer options as a JSON object, e.g. '{\"steps_per_quarter\": 12}'\n"
    "  --genre G              a genre control token (pop, rock, jazz, classical, chorale, folk, ...)\n"
    "  --mood M               happy, sad, calm or tense\n"
    "  --key K                a key control token: C, Am, F# minor, Bb major, ... or 'auto' (estimated)\n"
    "  --tempo BPM            a tempo-class control token from BPM, or 'auto' (the first tempo)\n"
    "  --vocab-out FILE       also write the tokenizer's vocabulary JSON to FILE\n"
    "  --json                 print JSON instead of names\n"
    "\n"
    "exit: 0 done, 1 bad input (unreadable MIDI, unknown tokenizer, genre or key), 2 usage error\n";

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

int run(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {"--tokenizer", "--tokenizer-options", "--genre", "--mood", "--key", "--tempo", "--vocab-out"},
                  {"--json"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("expected one MIDI file (see --help)");
  const std::string file = a.positional()[0];
  const std::string name = a.require("--tokenizer");
  xm::json options = xm::json::object();
  if (auto o = a.get("--tokenizer-options")) options = xm::parse_json(*o, "flag --tokenizer-options");
  auto tok = xm::tokens::make_tokenizer(name, options);

  xm::midi::Score score = xm::midi::read_midi_file(file);
  xm::tokens::Conditioning cond;
  if (auto g = a.get("--genre")) {
    cond.genre = xm::tokens::normalize_genre(*g);
    if (cond.genre.empty())
      throw Error("flag --genre: unknown genre '" + *g + "' (known: " + join(xm::tokens::genre_names()) + ")");
  }
  if (auto m = a.get("--mood")) {
    const auto& moods = xm::tokens::mood_names();
    if (std::find(moods.begin(), moods.end(), *m) == moods.end())
      throw Error("flag --mood: unknown mood '" + *m + "' (known: " + join(moods) + ")");
    cond.mood = *m;
  }
  if (auto k = a.get("--key")) {
    xm::music::Key key;
    if (*k == "auto") {
      key = xm::music::estimate_key(score);
    } else if (!xm::music::parse_key(*k, &key)) {
      throw Error("flag --key: cannot read '" + *k + "' as a key (e.g. C, Am, F# minor, Bb major)");
    }
    cond.key_tonic = key.tonic;
    cond.key_minor = key.minor;
  }
  if (auto t = a.get("--tempo")) {
    if (*t == "auto") {
      cond.tempo_bpm = score.tempos.empty() ? 120.0 : score.tempos.front().bpm();
    } else {
      cond.tempo_bpm = a.get_double("--tempo", 120.0, 1.0, 1000.0);
    }
  }

  std::vector<int32_t> ids = tok->encode(score, cond);
  xm::json vocab = tok->vocab_json();
  if (auto v = a.get("--vocab-out")) xm::write_file_atomic(*v, vocab.dump(1) + "\n");
  if (a.has("--json")) {
    xm::ordered_json j;
    j["tokenizer"] = tok->name();
    j["options"] = vocab["options"];
    j["vocab_size"] = tok->vocab_size();
    j["fields_per_step"] = tok->fields_per_step();
    j["tokens"] = ids;
    std::vector<std::string> names;
    names.reserve(ids.size());
    for (int32_t id : ids) names.push_back(tok->token_name(id));
    j["names"] = names;
    std::fputs((j.dump() + "\n").c_str(), stdout);
  } else {
    std::string out;
    const int f = tok->fields_per_step();
    for (size_t i = 0; i < ids.size(); ++i) {
      out += tok->token_name(ids[i]);
      out += (f > 1 && (i + 1) % size_t(f) != 0) ? " " : "\n";  // note tuples: one step per line
    }
    std::fputs(out.c_str(), stdout);
  }
  return 0;
}

xm::cli::Registrar reg({"tokenize", "print the tokens of a MIDI file (remi, performance, jsb, tuples)", kUsage, run});

}  // namespace

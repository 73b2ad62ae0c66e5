// cmd_detokenize.cpp: `xlstm-music detokenize TOKENS.json --out F.mid`: turns the JSON printed by
// `tokenize --json` (or any {"tokenizer", "options", "tokens"} object) back into a MIDI file.
// Thin: decoding lives in tokens/. Not a generator.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "tokens/tokenizer.h"

namespace {

using xm::Error;
using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music detokenize TOKENS.json --out FILE.mid [--json]\n"
    "\n"
    "Reads {\"tokenizer\": NAME, \"options\": {...}, \"tokens\": [ids]} (what `tokenize --json` prints;\n"
    "\"options\" may be left out for the defaults, or be a whole saved vocabulary), decodes the ids with\n"
    "that tokenizer and writes a MIDI file. Ids the grammar does not allow are skipped and counted.\n"
    "\n"
    "flags:\n"
    "  --out FILE.mid   the MIDI file to write (required)\n"
    "  --json           print {\"out\", \"notes\", \"seconds\", \"skipped\"} instead of a sentence\n"
    "\n"
    "exit: 0 done, 1 bad input (unreadable or malformed JSON, unknown tokenizer, ids out of range),\n"
    "2 usage error\n";

int run(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {"--out"}, {"--json"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (a.positional().size() != 1) throw UsageError("expected one TOKENS.json file (see --help)");
  const std::string file = a.positional()[0];
  const std::string out = a.require("--out");
  xm::json j = xm::parse_json(xm::read_file_text(file, 1u << 30), file);
  if (!j.is_object()) throw Error(file + ": expected a JSON object with \"tokenizer\" and \"tokens\"");
  const std::string name = xm::json_get<std::string>(j, "tokenizer", file);
  xm::json options = xm::json_get_or<xm::json>(j, "options", xm::json::object(), file);
  std::unique_ptr<xm::tokens::Tokenizer> tok;
  try {
    tok = xm::tokens::make_tokenizer(name, options);
  } catch (const Error& e) {
    throw Error(file + ": " + e.what());
  }
  if (j.contains("vocab_size") && xm::json_get<int>(j, "vocab_size", file) != tok->vocab_size())
    throw Error(file + ": vocab_size " + j["vocab_size"].dump() + " but tokenizer " + name + " with these options has " +
                std::to_string(tok->vocab_size()) + " tokens");
  auto it = j.find("tokens");
  if (it == j.end() || !it->is_array()) throw Error(file + ": missing array \"tokens\"");
  std::vector<int32_t> ids;
  ids.reserve(it->size());
  for (size_t i = 0; i < it->size(); ++i) {
    const xm::json& v = (*it)[i];
    if (!v.is_number_integer())
      throw Error(file + ": tokens[" + std::to_string(i) + "] = " + v.dump() + " is not an integer id");
    int64_t id = v.get<int64_t>();
    if (id < 0 || id >= tok->vocab_size())
      throw Error(file + ": tokens[" + std::to_string(i) + "] = " + std::to_string(id) + " is out of range [0, " +
                  std::to_string(tok->vocab_size()) + ") for tokenizer " + name);
    ids.push_back(int32_t(id));
  }
  int skipped = 0;
  xm::midi::Score score = tok->decode(ids, &skipped);
  xm::midi::write_midi_file(score, out);
  if (a.has("--json")) {
    xm::ordered_json r;
    r["out"] = out;
    r["notes"] = score.notes.size();
    r["seconds"] = score.duration_s();
    r["skipped"] = skipped;
    std::fputs((r.dump() + "\n").c_str(), stdout);
  } else {
    std::printf("wrote %s: %zu notes, %.2f s%s\n", out.c_str(), score.notes.size(), score.duration_s(),
                skipped ? (", " + std::to_string(skipped) + " invalid tokens skipped").c_str() : "");
  }
  return 0;
}

xm::cli::Registrar reg({"detokenize", "turn token JSON (from tokenize --json) back into a MIDI file", kUsage, run});

}  // namespace

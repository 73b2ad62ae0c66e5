// cmd_logits.cpp: `xlstm-music logits --model MODEL.safetensors --tokens TOKENS.json [--step]`: the model's
// next-token logits for given token rows as JSON, from the full-sequence forward or token by token
// (recurrent). For checking a model against the official PyTorch code. Not sampling or generation.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/io.h"
#include "core/json.h"
#include "model/model_file.h"

namespace {

using xm::Error;
using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music logits --model MODEL.safetensors --tokens TOKENS.json [--step] [--precision P]\n"
    "\n"
    "Reads B rows of S token ids, {\"tokens\": [[...], ...]} (equal lengths, ids in [0, vocab_size)), runs "
    "the\n"
    "model from the zero state and prints {\"logits\": {\"shape\": [B, S, V], \"data\": [...]}} "
    "(row-major),\n"
    "the logits after each token: what model(ids) of the official xLSTMLMModel returns.\n"
    "\n"
    "flags:\n"
    "  --model FILE     the xlstm-music model file (required)\n"
    "  --tokens FILE    the token rows as JSON (required; '-' reads stdin)\n"
    "  --step           token by token through the recurrent state (the official model.step loop) instead "
    "of\n"
    "                   the full-sequence forward\n"
    "  --precision P    f32 (default; printed with 9 significant digits) or f64 (17 digits)\n"
    "\n"
    "exit: 0 done, 1 bad input (the reason names the file, row and column), 2 usage error\n";

struct TokenRows {
  int B = 0, S = 0;
  std::vector<int32_t> ids;  // (B, S)
};

TokenRows read_tokens(const std::string& path, int vocab) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    text = xm::read_file_text(path, uint64_t(1) << 30);
  }
  const xm::json j = xm::parse_json(text, path);
  if (!j.is_object() || !j.contains("tokens"))
    throw Error(path + ": expected a JSON object {\"tokens\": [[id, ...], ...]}");
  const xm::json& rows = j["tokens"];
  if (!rows.is_array() || rows.empty())
    throw Error(path + ": \"tokens\" must be a non-empty array of rows (arrays of token ids)");
  TokenRows t;
  t.B = int(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const xm::json& row = rows[r];
    const std::string where = path + ": tokens row " + std::to_string(r);
    if (!row.is_array()) throw Error(where + " is not an array of token ids (" + row.type_name() + ")");
    if (row.empty()) throw Error(where + " is empty");
    if (r == 0) t.S = int(row.size());
    if (int(row.size()) != t.S)
      throw Error(where + " has " + std::to_string(row.size()) + " ids but row 0 has " + std::to_string(t.S) +
                  "; all rows must have the same length");
    for (size_t c = 0; c < row.size(); ++c) {
      const xm::json& v = row[c];
      const std::string at = path + ": tokens[" + std::to_string(r) + "][" + std::to_string(c) + "]";
      if (!v.is_number_integer()) throw Error(at + " is not an integer token id (" + v.dump() + ")");
      const int64_t id = v.get<int64_t>();
      if (id < 0 || id >= vocab)
        throw Error(at + " = " + std::to_string(id) + " is outside the model's vocabulary [0, " +
                    std::to_string(vocab) + ")");
      t.ids.push_back(int32_t(id));
    }
  }
  return t;
}

template <class T>
std::vector<T> compute(const xm::model::XlstmLM<T>& model, const TokenRows& t, bool step) {
  const int V = model.config().vocab_size;
  if (!step) {
    xm::model::LmCache<T> cache;
    model.forward(cache, t.ids.data(), nullptr, t.B, t.S);
    return cache.logits;
  }
  std::vector<T> out(size_t(t.B) * t.S * V), logits(size_t(t.B) * V);
  xm::model::LmState<T> state = model.new_state(t.B);
  xm::model::Workspace<T> ws;
  std::vector<int32_t> col(size_t(t.B));
  for (int s = 0; s < t.S; ++s) {
    for (int b = 0; b < t.B; ++b) col[size_t(b)] = t.ids[size_t(b) * t.S + s];
    model.step(logits.data(), state, col.data(), ws);
    for (int b = 0; b < t.B; ++b)
      std::copy(logits.begin() + ptrdiff_t(b) * V, logits.begin() + ptrdiff_t(b + 1) * V,
                out.begin() + (ptrdiff_t(b) * t.S + s) * V);
  }
  return out;
}

template <class T>
void print_logits(const std::vector<T>& logits, int B, int S, int V, const char* fmt) {
  std::string out = "{\"logits\": {\"shape\": [" + std::to_string(B) + ", " + std::to_string(S) + ", " +
                    std::to_string(V) + "], \"data\": [";
  out.reserve(out.size() + logits.size() * 16);
  char buf[40];
  size_t bad = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (i) out += ", ";
    if (!std::isfinite(double(logits[i]))) {  // JSON has no NaN/inf
      out += "null";
      ++bad;
      continue;
    }
    std::snprintf(buf, sizeof buf, fmt, double(logits[i]));
    out += buf;
  }
  out += "]}}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (bad) std::fprintf(stderr, "xlstm-music logits: warning: %zu non-finite logits printed as null\n", bad);
}

template <class T>
int run_typed(const std::string& model_path, const std::string& tokens_path, bool step, const char* fmt) {
  auto loaded = xm::model::load_model<T>(model_path);
  const int V = loaded.model->config().vocab_size;
  TokenRows t = read_tokens(tokens_path, V);
  std::vector<T> logits = compute(*loaded.model, t, step);
  print_logits(logits, t.B, t.S, V, fmt);
  return 0;
}

int run(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv, {"--model", "--tokens", "--precision"}, {"--step"});
  if (a.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!a.positional().empty())
    throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  const std::string model_path = a.require("--model"), tokens_path = a.require("--tokens");
  const std::string precision = a.get_or("--precision", "f32");
  const bool step = a.has("--step");
  if (precision == "f32") return run_typed<float>(model_path, tokens_path, step, "%.9g");
  if (precision == "f64") return run_typed<double>(model_path, tokens_path, step, "%.17g");
  throw UsageError("flag --precision: expected f32 or f64, got '" + precision + "'");
}

xm::cli::Registrar reg({"logits", "print a model's logits for token rows (full forward or step by step)",
                        kUsage, run});

}  // namespace

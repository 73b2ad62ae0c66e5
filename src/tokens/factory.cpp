// factory.cpp: make_tokenizer by name, and tokenizer_from_json, which rebuilds a tokenizer from a saved
// vocabulary and checks that the rebuilt vocabulary is exactly the saved one. Not a registry of plugins.
#include <algorithm>

#include "core/error.h"
#include "tokens/common.h"
#include "tokens/tokenizer.h"

namespace xm::tokens {

std::vector<std::string> tokenizer_names() { return {"remi", "performance", "jsb", "tuples"}; }

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const json& options) {
  json opts = options_object(options, name);
  if (name == "remi") return make_remi(opts);
  if (name == "performance") return make_performance(opts);
  if (name == "jsb") return make_jsb(opts);
  if (name == "tuples") return make_tuples(opts);
  throw Error("unknown tokenizer \"" + name + "\" (known: remi, performance, jsb, tuples)");
}

std::unique_ptr<Tokenizer> tokenizer_from_json(const json& vocab) {
  if (!vocab.is_object()) throw Error("tokenizer vocabulary: expected a JSON object");
  std::string name = json_get<std::string>(vocab, "tokenizer", "tokenizer vocabulary");
  auto tok = make_tokenizer(name, json_get_or<json>(vocab, "options", json::object(), "tokenizer vocabulary"));
  // The saved vocabulary must be exactly what these options build (a model's ids depend on it).
  if (vocab.contains("vocab_size")) {
    int saved = json_get<int>(vocab, "vocab_size", "tokenizer vocabulary");
    if (saved != tok->vocab_size())
      throw Error("tokenizer vocabulary (" + name + "): vocab_size " + std::to_string(saved) + " but these options build " +
                  std::to_string(tok->vocab_size()) + " tokens (hint: saved by a different version?)");
  }
  if (vocab.contains("tokens")) {
    auto names = json_get<std::vector<std::string>>(vocab, "tokens", "tokenizer vocabulary");
    if (int(names.size()) != tok->vocab_size())
      throw Error("tokenizer vocabulary (" + name + "): " + std::to_string(names.size()) + " token names for " +
                  std::to_string(tok->vocab_size()) + " ids");
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] != tok->token_name(int32_t(i)))
        throw Error("tokenizer vocabulary (" + name + "): id " + std::to_string(i) + " is \"" + names[i] +
                    "\" in the file but \"" + tok->token_name(int32_t(i)) + "\" here");
  }
  return tok;
}

}  // namespace xm::tokens

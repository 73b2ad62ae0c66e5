// json.h: the project's JSON type (nlohmann::json from Debian) and small helpers for reading typed fields
// with errors that name the field. Not a schema validator.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace xm {

using json = nlohmann::json;
using ordered_json = nlohmann::ordered_json;

// Parses text as JSON; throws xm::Error "<what>: invalid JSON at byte N: ..." on failure.
inline json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw Error(what + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
}

// Reads j[key] as T; throws xm::Error naming what.key when missing or of the wrong type.
template <class T>
T json_get(const json& j, const std::string& key, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end()) throw Error(what + ": missing field \"" + key + "\"");
  try {
    return it->get<T>();
  } catch (const json::exception& e) {
    throw Error(what + ": field \"" + key + "\" has the wrong type (" + it->type_name() + ")");
  }
}

template <class T>
T json_get_or(const json& j, const std::string& key, const T& fallback, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception& e) {
    throw Error(what + ": field \"" + key + "\" has the wrong type (" + it->type_name() + ")");
  }
}

}  // namespace xm

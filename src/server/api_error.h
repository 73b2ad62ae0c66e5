// api_error.h: the error every API handler throws for a bad request: an HTTP status (4xx, or 503 when the server
// is full), the request field at fault ("top_p", "seed", "body", ...) and a message with a hint. The server turns
// it into {"error": message, "field": field}. Not for internal failures (those are 500s).
#pragma once
#include <string>

#include "core/error.h"
#include "core/json.h"

namespace xm::server {

class ApiError : public Error {
 public:
  ApiError(int status, std::string field, const std::string& message)
      : Error(message), status_(status), field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& field() const { return field_; }  // "" when no single field is at fault
  json to_json() const {
    json j = {{"error", what()}};
    if (!field_.empty()) j["field"] = field_;
    return j;
  }

 private:
  int status_;
  std::string field_;
};

// JSON text of j; invalid UTF-8 in strings (file names, echoed input) becomes U+FFFD instead of throwing.
inline std::string dump_json(const json& j, int indent = -1) {
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace xm::server

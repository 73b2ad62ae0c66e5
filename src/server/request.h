// request.h: the body of POST /api/generate turned into generation options: JSON fields named like the CLI's flags
// with dashes as underscores (top_p for --top-p), types and the server's ranges checked, unknown fields refused,
// and an uploaded seed MIDI read by the project's own reader. Every refusal is an ApiError naming the field. Not
// the model-specific checks (gen::Generator::validate does those; generator_error_field maps its flag names).
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include "core/json.h"
#include "generate/generate.h"
#include "midi/score.h"

namespace xm::server {

// The server's bounds on one request (a local studio, but a job must never run for hours or fill the disk).
struct RequestLimits {
  int max_num = 8;                  // variations per request
  int max_bars = 256;
  double max_seconds = 600;         // of new music
  int max_tokens = 16384;           // new tokens
  size_t max_seed_bytes = 2u << 20; // the uploaded MIDI file
  size_t max_seed_notes = 20000;
  double default_seconds = 20;      // the stopping rule when the request names none of bars, seconds, max_tokens
};

struct GenerateRequest {
  std::string model;               // name of a loaded model; "" = the server's default
  std::string title;               // for the MusicXML title ("" = the piece id)
  gen::GenerateOptions opt;        // on_progress left empty
  json params = json::object();    // what was asked, normalised: every given field plus random_seed (drawn when
                                   // absent) and the default stopping rule; stored with each piece
  std::optional<midi::Score> seed;
  std::string seed_name;           // the uploaded file's name (may be empty)
};

// Fields: model, title, genre, mood, key, scale, pitch_range ("LO..HI" or [LO, HI]), tempo, bars, seconds,
// max_tokens, stop_prob, temperature, top_k, top_p, num, random_seed. null means absent. Throws ApiError(400, field)
// for a body that is not an object, an unknown field, a wrong type, or a value outside RequestLimits.
GenerateRequest parse_generate_request(const json& body, const RequestLimits& limits);

// Reads an uploaded seed (the "seed" part) into req: size limit (413), the MIDI reader's verdict, at least one note,
// at most max_seed_notes. Throws ApiError naming "seed".
void attach_seed(GenerateRequest& req, const std::string& bytes, const std::string& filename,
                 const RequestLimits& limits);

// The JSON field of a gen::Generator::validate() message ("flag --top-p: ..." -> "top_p"); "" when none is named.
std::string generator_error_field(const std::string& message);

}  // namespace xm::server

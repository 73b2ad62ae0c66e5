// test_request.cpp: POST /api/generate bodies turned into generation options without a server: every field reaches
// its option, the defaults (drawn random seed, default stopping rule), and every refusal names its field: wrong
// types, out-of-range values, unknown fields, a broken or empty or too-large seed upload.
#include "core/io.h"
#include "midi/midi_io.h"
#include "server/api_error.h"
#include "server/request.h"
#include "server/server_fixture.h"

namespace {

using xm::json;
using xm::server::ApiError;
using xm::server::RequestLimits;

// The field an ApiError names for body, or "(accepted)".
std::string refused_field(const json& body, int* status = nullptr) {
  try {
    xm::server::parse_generate_request(body, RequestLimits{});
  } catch (const ApiError& e) {
    if (status) *status = e.status();
    EXPECT_NE(std::string(e.what()).find(e.field()), std::string::npos) << e.what();
    return e.field();
  }
  return "(accepted)";
}

TEST(server, request_fields_reach_the_options) {
  const json body = {{"model", "tiny"}, {"genre", "jazz"},     {"mood", "calm"},   {"key", "F#m"},
                     {"scale", "dorian"}, {"pitch_range", "48..84"}, {"tempo", 96}, {"bars", 8},
                     {"seconds", 12.5},  {"max_tokens", 300},  {"stop_prob", 0.4}, {"temperature", 0.8},
                     {"top_k", 20},      {"top_p", 0.95},      {"num", 3},         {"random_seed", 42},
                     {"title", "Étude"}};
  auto r = xm::server::parse_generate_request(body, RequestLimits{});
  EXPECT_EQ(r.model, "tiny");
  EXPECT_EQ(r.title, "Étude");
  EXPECT_EQ(r.opt.genre, "jazz");
  EXPECT_EQ(r.opt.mood, "calm");
  EXPECT_EQ(r.opt.key, "F#m");
  EXPECT_EQ(r.opt.scale, "dorian");
  EXPECT_EQ(r.opt.pitch_min, 48);
  EXPECT_EQ(r.opt.pitch_max, 84);
  EXPECT_EQ(r.opt.tempo_bpm, 96);
  EXPECT_EQ(r.opt.bars, 8);
  EXPECT_EQ(r.opt.seconds, 12.5);
  EXPECT_EQ(r.opt.max_tokens, 300);
  EXPECT_EQ(r.opt.stop_prob, 0.4);
  EXPECT_EQ(r.opt.temperature, 0.8);
  EXPECT_EQ(r.opt.top_k, 20);
  EXPECT_EQ(r.opt.top_p, 0.95);
  EXPECT_EQ(r.opt.num, 3);
  EXPECT_EQ(r.opt.random_seed, 42u);
  EXPECT_EQ(r.params["pitch_range"], "48..84");
  EXPECT_EQ(r.params["random_seed"], 42);
  EXPECT_FALSE(r.seed.has_value());

  auto arr = xm::server::parse_generate_request({{"pitch_range", {40, 60}}, {"top_p", nullptr}}, RequestLimits{});
  EXPECT_EQ(arr.opt.pitch_min, 40);
  EXPECT_EQ(arr.opt.pitch_max, 60);
  EXPECT_EQ(arr.opt.top_p, 1.0);  // null = absent = the default
}

TEST(server, request_defaults_draw_a_seed_and_a_stopping_rule) {
  RequestLimits lim;
  auto a = xm::server::parse_generate_request(json::object(), lim);
  auto b = xm::server::parse_generate_request(json::object(), lim);
  EXPECT_EQ(a.opt.seconds, lim.default_seconds);
  EXPECT_EQ(a.params["seconds"], lim.default_seconds);
  EXPECT_EQ(a.params["random_seed"], a.opt.random_seed);
  // Two drawn 53-bit seeds coincide with probability 2^-53.
  EXPECT_NE(a.opt.random_seed, b.opt.random_seed);
  auto c = xm::server::parse_generate_request({{"bars", 2}}, lim);
  EXPECT_EQ(c.opt.seconds, 0);  // a given rule replaces the default
  EXPECT_FALSE(c.params.contains("seconds"));
}

TEST(server, request_refusals_name_the_field) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"temperature", 0}}, "temperature"},        {{{"temperature", "hot"}}, "temperature"},
      {{{"top_p", 1.5}}, "top_p"},                  {{{"top_p", 0}}, "top_p"},
      {{{"top_k", -1}}, "top_k"},                   {{{"num", 0}}, "num"},
      {{{"num", 9}}, "num"},                        {{{"num", 2.5}}, "num"},
      {{{"bars", 0}}, "bars"},                      {{{"bars", 100000}}, "bars"},
      {{{"seconds", -1}}, "seconds"},               {{{"seconds", 1e9}}, "seconds"},
      {{{"max_tokens", 1 << 30}}, "max_tokens"},    {{{"stop_prob", 2}}, "stop_prob"},
      {{{"tempo", 5}}, "tempo"},                    {{{"tempo", true}}, "tempo"},
      {{{"random_seed", -3}}, "random_seed"},       {{{"pitch_range", "84..48"}}, "pitch_range"},
      {{{"pitch_range", "a..b"}}, "pitch_range"},   {{{"pitch_range", {1, 2, 3}}}, "pitch_range"},
      {{{"genre", 7}}, "genre"},                    {{{"model", json::array()}}, "model"},
      {{{"temprature", 1}}, "temprature"},          {{{"seed_midi", "x.mid"}}, "seed_midi"},
      {json::array(), "body"},                      {json("bars"), "body"},
  };
  for (const auto& [body, field] : cases) {
    int status = 0;
    EXPECT_EQ(refused_field(body, &status), field) << body.dump();
    EXPECT_EQ(status, 400) << body.dump();
  }
}

TEST(server, request_seed_is_read_by_the_project_reader) {
  const std::string bytes = xm::read_file_text(xmtest::sample_mid());
  const auto expect = xm::midi::read_midi_file(xmtest::sample_mid());
  RequestLimits lim;
  auto r = xm::server::parse_generate_request({{"bars", 2}}, lim);
  xm::server::attach_seed(r, bytes, "sample.mid", lim);
  ASSERT_TRUE(r.seed.has_value());
  EXPECT_EQ(r.seed->notes.size(), expect.notes.size());
  EXPECT_EQ(r.seed_name, "sample.mid");

  auto refusal = [&](const std::string& data, size_t max_bytes, size_t max_notes) {
    RequestLimits l;
    l.max_seed_bytes = max_bytes;
    l.max_seed_notes = max_notes;
    auto q = xm::server::parse_generate_request(json::object(), l);
    try {
      xm::server::attach_seed(q, data, "x.mid", l);
    } catch (const ApiError& e) {
      EXPECT_EQ(e.field(), "seed");
      return e.status();
    }
    return 0;
  };
  EXPECT_EQ(refusal("this is not a MIDI file", 1 << 20, 1000), 400);
  EXPECT_EQ(refusal("", 1 << 20, 1000), 400);
  EXPECT_EQ(refusal(bytes.substr(0, 10), 1 << 20, 1000), 400);  // a header cut short
  EXPECT_EQ(refusal(bytes, bytes.size() - 1, 100000), 413);
  EXPECT_EQ(refusal(bytes, 1 << 20, expect.notes.size() - 1), 400);
  // A valid file with no notes: only a tempo.
  xm::midi::Score empty;
  empty.tracks.resize(1);
  empty.tempos.push_back({});
  const auto no_notes = xm::midi::write_midi_bytes(empty);
  EXPECT_EQ(refusal(std::string(no_notes.begin(), no_notes.end()), 1 << 20, 1000), 400);
}

TEST(server, generator_messages_map_to_fields) {
  EXPECT_EQ(xm::server::generator_error_field("flag --top-p: must be in (0, 1]"), "top_p");
  EXPECT_EQ(xm::server::generator_error_field("flag --genre: unknown genre \"x\""), "genre");
  EXPECT_EQ(xm::server::generator_error_field("flag --pitch-range: no pitch"), "pitch_range");
  EXPECT_EQ(xm::server::generator_error_field("flag --seed-midi: bad"), "seed");
  EXPECT_EQ(xm::server::generator_error_field("no flag here"), "");
}

}  // namespace

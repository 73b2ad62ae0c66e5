// test_api.cpp: the HTTP API end to end: a real server on 127.0.0.1 (free port) with a tiny trained model, driven by
// httplib::Client: health and models, generation from JSON and from a multipart upload with the repo's sample as
// seed, job polling and Server-Sent Events, cancelling, the piece files (MIDI read back by the project's reader,
// MusicXML parsed by Python's XML parser, WAV header), ratings, deletion, library order, persistence across a
// restart, and the error paths (bad JSON, bad fields, broken or too-large uploads, path traversal, unknown ids).
#include <cstring>
#include <set>

#include "midi/midi_io.h"
#include "server/server_fixture.h"
#include "server/web_assets.h"

namespace {

namespace fs = std::filesystem;
using xm::json;
using xmtest::body_json;
using xmtest::TestServer;

std::string submit(httplib::Client& c, const json& params) {
  auto r = c.Post("/api/generate", params.dump(), "application/json");
  EXPECT_TRUE(r);
  if (!r) return "";
  EXPECT_EQ(r->status, 202) << r->body;
  return body_json(r).value("job", "");
}

std::string get_body(httplib::Client& c, const std::string& path, int expect_status = 200) {
  auto r = c.Get(path.c_str());
  EXPECT_TRUE(r) << path;
  if (!r) return "";
  EXPECT_EQ(r->status, expect_status) << path << ": " << r->body;
  return r->body;
}

// Every bad request: the status, a JSON body with "error", and (when given) the field it names.
void expect_refused(const httplib::Result& r, int status, const std::string& field, const std::string& what) {
  ASSERT_TRUE(r) << what;
  EXPECT_EQ(r->status, status) << what << ": " << r->body;
  const json j = body_json(r);
  ASSERT_TRUE(j.is_object()) << what << ": not JSON: " << r->body;
  EXPECT_TRUE(j.contains("error")) << what;
  if (!field.empty()) {
    EXPECT_EQ(j.value("field", ""), field) << what << ": " << r->body;
  }
}

TEST(server, api_health_and_models) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;
  auto c = s.client();
  const json h = json::parse(get_body(*c, "/api/health"));
  EXPECT_EQ(h["ok"], true);
  EXPECT_TRUE(h["version"].is_string());
  EXPECT_EQ(h["audio"], s.server->audio_on());
  bool vendor = false;
  for (const auto& a : xm::server::web_assets()) vendor = vendor || a.path.rfind("/vendor/", 0) == 0;
  EXPECT_EQ(h["notation"], vendor);
  EXPECT_EQ(h["models"], 1);
  EXPECT_EQ(h["jobs"]["queued"], 0);
  EXPECT_EQ(h["jobs"]["running"], 0);
  EXPECT_EQ(h["pieces"], 0);

  const json m = json::parse(get_body(*c, "/api/models"));
  ASSERT_EQ(m["models"].size(), 1u);
  const json& d = m["models"][0];
  EXPECT_EQ(d["name"], "tiny");
  EXPECT_EQ(m["default"], "tiny");
  EXPECT_EQ(d["tokenizer"], "remi");
  EXPECT_GT(d["parameters"].get<int64_t>(), 0);
  EXPECT_TRUE(d["genres"].is_array());
  EXPECT_TRUE(d["moods"].is_array());
}

TEST(server, api_generate_json_job_and_piece_files) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;
  auto c = s.client();
  const std::string job = submit(*c, {{"bars", 2}, {"num", 2}, {"random_seed", 7}, {"temperature", 0.9}});
  ASSERT_EQ(job.size(), 16u);
  const json st = xmtest::wait_job(*c, job);
  ASSERT_EQ(st["state"], "done") << st.dump();
  EXPECT_EQ(st["progress"], 1.0);
  ASSERT_EQ(st["pieces"].size(), 2u);
  EXPECT_EQ(st["piece"], st["pieces"][0]);

  for (const auto& pid : st["pieces"]) {
    const std::string id = pid;
    const json p = json::parse(get_body(*c, "/api/pieces/" + id));
    EXPECT_EQ(p["id"], id);
    EXPECT_EQ(p["model"], "tiny");
    EXPECT_EQ(p["job"], job);
    EXPECT_EQ(p["parameters"]["bars"], 2);
    EXPECT_EQ(p["parameters"]["random_seed"], 7);
    EXPECT_EQ(p["parameters"]["temperature"], 0.9);
    EXPECT_TRUE(p["rating"].is_null());
    EXPECT_TRUE(p["timings"]["generate_s"].is_number());
    EXPECT_TRUE(p["seed"].is_null());

    // MIDI: the project's reader takes it, with the notes the record and the piano-roll JSON report.
    const std::string mid = get_body(*c, "/api/pieces/" + id + ".mid");
    const auto score = xm::midi::read_midi_bytes(reinterpret_cast<const uint8_t*>(mid.data()), mid.size(), id);
    EXPECT_EQ(json(score.notes.size()), p["notes"]);
    const json roll = json::parse(get_body(*c, "/api/pieces/" + id + ".json"));
    ASSERT_EQ(roll["notes"].size(), score.notes.size());
    for (size_t i = 0; i < score.notes.size(); ++i) {
      const json& n = roll["notes"][i];
      EXPECT_EQ(n["pitch"], score.notes[i].pitch);
      EXPECT_NEAR(n["start_s"].get<double>(), score.notes[i].onset_s, 1e-6);
      EXPECT_NEAR(n["end_s"].get<double>(), score.notes[i].offset_s, 1e-6);
      EXPECT_EQ(n["seed"], false);  // no seed: everything is continuation
      for (const char* k : {"velocity", "channel", "drum"}) EXPECT_TRUE(n.contains(k)) << k;
    }
    for (const char* k : {"tempo_bpm", "time_signature", "duration_s"}) EXPECT_TRUE(roll.contains(k)) << k;

    // MusicXML: well-formed for an independent XML parser.
    const std::string xml = get_body(*c, "/api/pieces/" + id + ".musicxml");
    const fs::path xf = xmtest::temp_dir("xml") / "p.musicxml";
    xm::write_file_atomic(xf, xml);
    auto py = xmtest::run_shell("python3 -c \"import sys, xml.dom.minidom as m; d = m.parse(sys.argv[1]); "
                                "print(d.documentElement.tagName)\" '" + xf.string() + "'");
    EXPECT_EQ(py.exit_code, 0) << py.err;
    EXPECT_EQ(py.out, "score-partwise\n");

    // WAV when audio is on: a RIFF/WAVE header whose data size matches the body; otherwise 404 with a reason.
    auto wav = c->Get(("/api/pieces/" + id + ".wav").c_str());
    ASSERT_TRUE(wav);
    if (s.server->audio_on()) {
      ASSERT_EQ(wav->status, 200);
      ASSERT_GE(wav->body.size(), 44u);
      EXPECT_EQ(wav->body.substr(0, 4), "RIFF");
      EXPECT_EQ(wav->body.substr(8, 8), "WAVEfmt ");
      uint32_t data_bytes = 0;
      std::memcpy(&data_bytes, wav->body.data() + 40, 4);
      EXPECT_EQ(size_t(data_bytes) + 44, wav->body.size());
      EXPECT_EQ(wav->get_header_value("Content-Type"), "audio/wav");
      EXPECT_TRUE(p["files"].contains("wav"));
    } else {
      expect_refused(wav, 404, "", "wav with audio off");
    }
  }
  // The same seed and parameters give the same music (and different variations differ in their seeds' rows).
  const std::string again = submit(*c, {{"bars", 2}, {"num", 2}, {"random_seed", 7}, {"temperature", 0.9}});
  const json st2 = xmtest::wait_job(*c, again);
  ASSERT_EQ(st2["state"], "done");
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(get_body(*c, "/api/pieces/" + st2["pieces"][i].get<std::string>() + ".json"),
              get_body(*c, "/api/pieces/" + st["pieces"][i].get<std::string>() + ".json"));
}

TEST(server, api_generate_multipart_seed_marks_seed_notes) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;
  auto c = s.client();
  // The first half of the sample (the tiny model learned where the whole sample ends, and would stop there).
  auto seed = xm::midi::read_midi_file(xmtest::sample_mid());
  const int64_t half = seed.end_tick / 2;
  std::erase_if(seed.notes, [&](const xm::midi::Note& n) { return n.onset_tick >= half; });
  for (auto& n : seed.notes) n.offset_tick = std::min(n.offset_tick, half);
  seed.end_tick = half;
  seed.refresh_seconds();
  ASSERT_GT(seed.notes.size(), 8u);
  const auto seed_bytes = xm::midi::write_midi_bytes(seed);
  const std::string bytes(seed_bytes.begin(), seed_bytes.end());
  httplib::MultipartFormDataItems items = {
      {"seed", bytes, "sample.mid", "audio/midi"},
      {"params", json({{"bars", 4}, {"random_seed", 3}}).dump(), "", "application/json"}};
  auto r = c->Post("/api/generate", items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  const json st = xmtest::wait_job(*c, body_json(r)["job"]);
  ASSERT_EQ(st["state"], "done") << st.dump();
  const std::string id = st["piece"];
  const json p = json::parse(get_body(*c, "/api/pieces/" + id));
  EXPECT_EQ(p["seed"]["name"], "sample.mid");
  EXPECT_EQ(p["seed"]["notes"], seed.notes.size());
  const json roll = json::parse(get_body(*c, "/api/pieces/" + id + ".json"));
  size_t seed_notes = 0, new_notes = 0;
  double last_seed_start = 0, first_new_start = 1e9;
  for (const json& n : roll["notes"]) {
    if (n["seed"] == true) {
      ++seed_notes;
      last_seed_start = std::max(last_seed_start, n["start_s"].get<double>());
    } else {
      ++new_notes;
      first_new_start = std::min(first_new_start, n["start_s"].get<double>());
    }
  }
  EXPECT_EQ(seed_notes, seed.notes.size());  // the seed is kept exactly, and marked
  EXPECT_GE(first_new_start, last_seed_start);
  EXPECT_GT(roll["continuation_s"].get<double>(), 0.0);
  EXPECT_EQ(new_notes + seed_notes, p["notes"].get<size_t>());
  if (p["stop_reason"] == "bars") {
    EXPECT_GT(new_notes, 0u) << "4 new bars without a note";
  } else {
    EXPECT_EQ(p["stop_reason"], "eos");
  }
  std::printf("seed %zu notes, continuation %zu notes, stopped by %s\n", seed_notes, new_notes,
              p["stop_reason"].get<std::string>().c_str());
}

TEST(server, api_events_stream_progress_until_done) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;
  auto c = s.client();
  const std::string job = submit(*c, {{"bars", 4}, {"random_seed", 11}});
  std::string stream;
  auto r = c->Get(("/api/jobs/" + job + "/events").c_str(), [&](const char* data, size_t n) {
    stream.append(data, n);
    return true;
  });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  std::vector<json> events;
  size_t pos = 0;
  while ((pos = stream.find("data: ", pos)) != std::string::npos) {
    const size_t end = stream.find("\n\n", pos);
    ASSERT_NE(end, std::string::npos);
    events.push_back(json::parse(stream.substr(pos + 6, end - pos - 6)));
    pos = end;
  }
  ASSERT_FALSE(events.empty());
  double last = -1;
  for (const json& e : events) {
    EXPECT_EQ(e["id"], job);
    EXPECT_GE(e["progress"].get<double>(), last);
    last = e["progress"];
  }
  EXPECT_EQ(events.back()["state"], "done");
  EXPECT_EQ(events.back()["piece"], events.back()["pieces"][0]);
  // The stream of a finished job: one event, then the end.
  stream.clear();
  ASSERT_TRUE(c->Get(("/api/jobs/" + job + "/events").c_str(), [&](const char* d, size_t n) {
    stream.append(d, n);
    return true;
  }));
  EXPECT_EQ(std::count(stream.begin(), stream.end(), '\n'), 2) << stream;
  expect_refused(c->Get("/api/jobs/0123456789abcdef/events"), 404, "", "events of an unknown job");
}

TEST(server, api_cancel_queued_and_running_jobs) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;  // one worker: the second job waits behind the first
  auto c = s.client();
  const json long_job = {{"max_tokens", 16384}, {"num", 8}, {"random_seed", 5}};
  const std::string a = submit(*c, long_job);
  const std::string b = submit(*c, long_job);
  // b waits while a runs.
  json sa;
  for (int i = 0; i < 2000; ++i) {
    sa = body_json(c->Get(("/api/jobs/" + a).c_str()));
    if (sa["state"] != "queued") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(sa["state"], "running") << sa.dump();
  auto rb = c->Delete(("/api/jobs/" + b).c_str());
  ASSERT_TRUE(rb);
  EXPECT_EQ(rb->status, 200);
  EXPECT_EQ(body_json(rb)["state"], "cancelled");  // a queued job is cancelled at once
  auto ra = c->Delete(("/api/jobs/" + a).c_str());
  ASSERT_TRUE(ra);
  EXPECT_EQ(body_json(ra)["cancel_requested"], true);
  const json fa = xmtest::wait_job(*c, a, 60);
  EXPECT_EQ(fa["state"], "cancelled") << fa.dump();
  EXPECT_TRUE(fa["pieces"].empty());
  const json lib = json::parse(get_body(*c, "/api/pieces"));
  EXPECT_EQ(lib["total"], 0);  // a cancelled job stores nothing
  expect_refused(c->Delete("/api/jobs/0123456789abcdef"), 404, "", "cancel an unknown job");
  // The server still works after cancelling.
  const json after = xmtest::wait_job(*c, submit(*c, {{"bars", 1}}));
  EXPECT_EQ(after["state"], "done");
}

TEST(server, api_library_rating_delete_and_restart) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  const fs::path dir = xmtest::temp_dir("server-restart");
  std::vector<std::string> ids;  // in creation order
  {
    TestServer s({}, dir);
    auto c = s.client();
    for (int i = 0; i < 3; ++i) {
      const json st = xmtest::wait_job(*c, submit(*c, {{"bars", 1}, {"random_seed", 100 + i}}));
      ASSERT_EQ(st["state"], "done");
      ids.push_back(st["piece"]);
    }
    const json lib = json::parse(get_body(*c, "/api/pieces"));
    ASSERT_EQ(lib["pieces"].size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(lib["pieces"][i]["id"], ids[2 - i]);  // newest first
    const json page = json::parse(get_body(*c, "/api/pieces?limit=1&offset=1"));
    ASSERT_EQ(page["pieces"].size(), 1u);
    EXPECT_EQ(page["pieces"][0]["id"], ids[1]);

    auto rate = c->Post(("/api/pieces/" + ids[0] + "/rating").c_str(), "{\"rating\": 4}", "application/json");
    ASSERT_TRUE(rate);
    EXPECT_EQ(rate->status, 200) << rate->body;
    EXPECT_EQ(body_json(rate)["rating"], 4);
    for (const char* bad : {"{\"rating\": 0}", "{\"rating\": 6}", "{\"rating\": 2.5}", "{\"rating\": \"5\"}", "{}"})
      expect_refused(c->Post(("/api/pieces/" + ids[0] + "/rating").c_str(), bad, "application/json"), 400, "rating",
                     bad);
    expect_refused(c->Post(("/api/pieces/" + ids[0] + "/rating").c_str(), "{\"stars\": 3}", "application/json"), 400,
                   "stars", "unknown rating field");
    expect_refused(c->Post("/api/pieces/0123456789abcdef/rating", "{\"rating\": 3}", "application/json"), 404, "",
                   "rate an unknown piece");

    auto del = c->Delete(("/api/pieces/" + ids[1]).c_str());
    ASSERT_TRUE(del);
    EXPECT_EQ(del->status, 200);
    expect_refused(c->Get(("/api/pieces/" + ids[1]).c_str()), 404, "", "deleted piece");
    expect_refused(c->Get(("/api/pieces/" + ids[1] + ".mid").c_str()), 404, "", "deleted piece's file");
    expect_refused(c->Delete(("/api/pieces/" + ids[1]).c_str()), 404, "", "deleted twice");
    EXPECT_FALSE(fs::exists(dir / "pieces" / (ids[1] + ".mid")));
  }
  // A new server on the same database: the library, the rating and the files are all there.
  TestServer s2({}, dir);
  auto c = s2.client();
  const json lib = json::parse(get_body(*c, "/api/pieces"));
  ASSERT_EQ(lib["pieces"].size(), 2u);
  EXPECT_EQ(lib["pieces"][0]["id"], ids[2]);
  EXPECT_EQ(lib["pieces"][1]["id"], ids[0]);
  EXPECT_EQ(lib["pieces"][1]["rating"], 4);
  const std::string mid = get_body(*c, "/api/pieces/" + ids[0] + ".mid");
  EXPECT_NO_THROW(xm::midi::read_midi_bytes(reinterpret_cast<const uint8_t*>(mid.data()), mid.size(), "restart"));
  EXPECT_EQ(json::parse(get_body(*c, "/api/health"))["pieces"], 2);
}

TEST(server, api_bad_input_gets_4xx_naming_the_field) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  xm::server::ServerOptions o;
  o.max_upload_bytes = 64 << 10;
  o.limits.max_seed_bytes = 64 << 10;
  TestServer s(o);
  auto c = s.client();
  auto post = [&](const std::string& body) { return c->Post("/api/generate", body, "application/json"); };
  expect_refused(post("{\"bars\": 4,"), 400, "body", "truncated JSON");
  expect_refused(post("[1, 2]"), 400, "body", "an array");
  expect_refused(post("{\"top_p\": 1.5}"), 400, "top_p", "top_p out of range");
  expect_refused(post("{\"temperature\": -1}"), 400, "temperature", "negative temperature");
  expect_refused(post("{\"num\": 1000}"), 400, "num", "too many variations");
  expect_refused(post("{\"bars\": \"eight\"}"), 400, "bars", "bars as text");
  expect_refused(post("{\"colour\": \"blue\"}"), 400, "colour", "unknown field");
  expect_refused(post("{\"model\": \"nope\"}"), 400, "model", "unknown model");
  expect_refused(post("{\"scale\": \"no_such_scale\"}"), 400, "scale", "unknown scale (the generator's check)");
  expect_refused(post("{\"key\": \"H#\"}"), 400, "key", "unknown key (the generator's check)");
  expect_refused(post("{\"genre\": \"no-such-genre\"}"), 400, "genre", "unknown genre (the generator's check)");

  auto multipart = [&](const std::string& seed, const std::string& params) {
    httplib::MultipartFormDataItems items = {{"seed", seed, "s.mid", "audio/midi"},
                                             {"params", params, "", "application/json"}};
    return c->Post("/api/generate", items);
  };
  expect_refused(multipart("MThd garbage that is not a MIDI file", "{}"), 400, "seed", "broken MIDI");
  expect_refused(multipart(std::string(70 << 10, 'x'), "{}"), 413, "seed", "too-large upload");
  expect_refused(multipart(xm::read_file_text(xmtest::sample_mid()), "{\"top_k\": -2}"), 400, "top_k",
                 "bad params part");
  expect_refused(multipart(xm::read_file_text(xmtest::sample_mid()), "{oops"), 400, "params", "params not JSON");
  httplib::MultipartFormDataItems extra = {{"extra", "x", "", "text/plain"}};
  expect_refused(c->Post("/api/generate", extra), 400, "extra", "unknown part");
  expect_refused(c->Get("/api/pieces?limit=0"), 400, "limit", "limit 0");
  expect_refused(c->Get("/api/pieces?offset=-1"), 400, "offset", "negative offset");
  // Nothing was queued by any of these, and the server still answers.
  const json h = json::parse(get_body(*c, "/api/health"));
  EXPECT_EQ(h["jobs"]["queued"].get<int>() + h["jobs"]["running"].get<int>() + h["jobs"]["done"].get<int>(), 0);
}

TEST(server, api_no_path_traversal_and_unknown_ids_404) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;
  auto c = s.client();
  for (const char* path : {"/api/pieces/..%2F..%2Fetc%2Fpasswd", "/api/pieces/..%2F..%2Fetc%2Fpasswd.mid",
                           "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/api/pieces/0123456789abcdef",
                           "/api/pieces/0123456789abcdef.wav", "/api/pieces/zz.mid", "/api/jobs/0123456789abcdef",
                           "/api/jobs/..%2Fpasswd", "/api/nothing", "/no-such-file.js", "/api/pieces/%00.mid"}) {
    auto r = c->Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path << ": " << r->body;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    EXPECT_EQ(r->body.find("root:"), std::string::npos) << path;
  }
  expect_refused(c->Post("/api/nothing", "{}", "application/json"), 404, "", "POST to no endpoint");
  expect_refused(c->Delete("/api/pieces/..%2F..%2Fetc"), 404, "", "DELETE traversal");
  // A request for another host name (DNS rebinding) is refused on the loopback interface.
  httplib::Headers evil = {{"Host", "evil.example:80"}};
  expect_refused(c->Get("/api/health", evil), 403, "Host", "foreign Host header");
}

TEST(server, api_serves_studio_assets) {
  ASSERT_FALSE(xmtest::server_tiny_model().empty());
  TestServer s;
  auto c = s.client();
  const xm::server::WebAsset* index = xm::server::find_web_asset("/index.html");
  ASSERT_NE(index, nullptr);
  auto r = c->Get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, std::string(reinterpret_cast<const char*>(index->data), index->size));
  EXPECT_EQ(r->get_header_value("Content-Type"), std::string(index->mime));
  for (const auto& a : xm::server::web_assets()) {
    auto ra = c->Get(std::string(a.path).c_str());
    ASSERT_TRUE(ra) << a.path;
    EXPECT_EQ(ra->status, 200) << a.path;
    EXPECT_EQ(ra->body.size(), a.size) << a.path;
  }
}

}  // namespace

// server.cpp: see server.h. Routes, request parsing into jobs, the job's work (generate, then write the piece's
// files and row), file streaming, Server-Sent Events. Handlers never generate: they validate, queue, and read.
#include "server/server.h"

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <thread>

#include <sys/socket.h>

#include "core/error.h"
#include "generate/generate.h"
#include "midi/midi_io.h"
#include "music/musicxml.h"
#include "nn/runtime.h"
#include "server/api_error.h"
#include "server/audio.h"
#include "server/jobs.h"
#include "server/piece_json.h"
#include "server/store.h"
#include "server/web_assets.h"

namespace xm::server {
namespace {

namespace fs = std::filesystem;
using httplib::Request;
using httplib::Response;

double unix_now_s() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}
double steady_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

void send_json(Response& res, const json& j, int status = 200) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(dump_json(j), "application/json");
}

const char* file_mime(const std::string& ext) {
  if (ext == "mid") return "audio/midi";
  if (ext == "musicxml") return "application/vnd.recordare.musicxml+xml";
  if (ext == "wav") return "audio/wav";
  return "application/json";
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

// The host name of a Host header ("127.0.0.1:8080" -> "127.0.0.1", "[::1]:80" -> "[::1]").
std::string host_name(const std::string& header) {
  if (!header.empty() && header[0] == '[') {
    const size_t close = header.find(']');
    return close == std::string::npos ? header : header.substr(0, close + 1);
  }
  return header.substr(0, header.find(':'));
}

json parse_body_json(const std::string& text, const std::string& field) {
  if (text.empty()) return json::object();
  try {
    return json::parse(text);
  } catch (const json::parse_error& e) {
    throw ApiError(400, field, field + ": invalid JSON at byte " + std::to_string(e.byte) + " (hint: send an object "
                               "such as {\"bars\": 8, \"temperature\": 0.9})");
  }
}

int64_t query_int(const Request& req, const char* name, int64_t fallback, int64_t lo, int64_t hi) {
  if (!req.has_param(name)) return fallback;
  const std::string v = req.get_param_value(name);
  try {
    size_t used = 0;
    const long long x = std::stoll(v, &used);
    if (used != v.size() || x < lo || x > hi) throw 0;
    return x;
  } catch (...) {
    throw ApiError(400, name, std::string("query parameter \"") + name + "\" must be a whole number in " +
                                  std::to_string(lo) + ".." + std::to_string(hi));
  }
}

// httplib listens with a backlog of 5: a burst of connections (20 clients at once) overflows it, the kernel drops
// the SYNs, and clients retry only after a second. Listening again on the bound socket raises the backlog.
class HttpServer : public httplib::Server {
 public:
  bool raise_backlog() { return ::listen(svr_sock_, SOMAXCONN) == 0; }
};

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  std::vector<std::pair<std::string, std::unique_ptr<gen::Generator>>> models;
  std::unique_ptr<PieceStore> store;
  std::unique_ptr<WavRenderer> renderer;
  bool audio = false;
  bool notation = false;
  int threads_per_job = 1;
  std::unique_ptr<JobQueue> jobs;
  HttpServer http;
  std::thread listener;
  int port = 0;
  bool loopback = true;
  std::atomic<size_t> event_streams{0};
  std::atomic<bool> stopping{false};
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopped = false;

  void log(const std::string& line) const {
    if (opt.log) opt.log(line);
  }

  const gen::Generator* find_model(const std::string& name, std::string* resolved) const {
    if (models.empty())
      throw ApiError(503, "model", "no model is loaded (hint: start the server with --model FILE)");
    if (name.empty()) {
      *resolved = models.front().first;
      return models.front().second.get();
    }
    std::string known;
    for (const auto& [n, g] : models) {
      if (n == name) {
        *resolved = n;
        return g.get();
      }
      known += (known.empty() ? "" : ", ") + n;
    }
    throw ApiError(400, "model", "field \"model\": unknown model \"" + name + "\" (loaded: " + known + ")");
  }

  json piece_json(const PieceRecord& r) const {
    json j = r.info;
    j["id"] = r.id;
    j["created"] = double(r.created_ms) / 1000.0;
    j["model"] = r.model;
    j["job"] = r.job;
    j["variation"] = r.variation;
    j["parameters"] = r.params;
    j["rating"] = r.rating > 0 ? json(r.rating) : json(nullptr);
    json files = json::object();
    std::error_code ec;
    for (const char* ext : {"mid", "musicxml", "wav", "json"})
      if (fs::exists(store->file(r.id, ext), ec)) files[ext] = "/api/pieces/" + r.id + "." + ext;
    j["files"] = files;
    return j;
  }

  // The work of one generation job: runs on a worker thread.
  std::vector<std::string> run_job(const std::string& job_id, const ProgressFn& progress,
                                   const GenerateRequest& req, const gen::Generator& g, const std::string& model_name,
                                   double submitted_s) {
    const double t_start = steady_s();
    gen::GenerateOptions o = req.opt;
    o.on_progress = [&](double p) { return progress(0.9 * p); };
    log("job " + job_id + ": generating with " + model_name);
    gen::GenerateResult r = g.generate(req.seed ? &*req.seed : nullptr, o);
    if (!progress(0.9)) throw gen::Cancelled();
    std::vector<std::string> ids;
    const double t_files = steady_s();
    for (size_t i = 0; i < r.pieces.size(); ++i) {
      const gen::Piece& p = r.pieces[i];
      PieceRecord rec;
      rec.id = PieceStore::new_id();
      rec.created_ms = int64_t(unix_now_s() * 1000);
      rec.model = model_name;
      rec.job = job_id;
      rec.variation = int(i) + 1;
      rec.params = req.params;
      rec.params["model"] = model_name;
      std::vector<std::pair<std::string, std::string>> files;
      const std::vector<uint8_t> mid = midi::write_midi_bytes(p.score);
      files.emplace_back("mid", std::string(mid.begin(), mid.end()));
      json info = {{"stop_reason", p.stop_reason},
                   {"notes", p.score.notes.size()},
                   {"tokens", p.tokens.size()},
                   {"seed_tokens", p.seed_tokens},
                   {"generated_tokens", p.generated_tokens},
                   {"invalid_tokens", p.invalid_tokens},
                   {"music_seconds", p.music_seconds},
                   {"duration_s", p.score.duration_s()},
                   {"tokenizer", g.tokenizer().name()},
                   {"family", g.model().family()}};
      info["seed"] = req.seed ? json{{"name", req.seed_name}, {"notes", req.seed->notes.size()}} : json(nullptr);
      try {
        music::MusicXmlOptions mo;
        mo.title = req.title.empty() ? "xlstm-music " + rec.id : req.title;
        if (r.pieces.size() > 1) mo.title += " (" + std::to_string(i + 1) + ")";
        files.emplace_back("musicxml", music::to_musicxml(p.score, mo));
      } catch (const std::exception& e) {
        info["musicxml_error"] = e.what();
      }
      files.emplace_back("json", dump_json(piece_notes_json(p.score, p.continuation_tick)));
      if (audio) {
        try {
          files.emplace_back("wav", renderer->render(p.score));
        } catch (const std::exception& e) {
          info["audio_error"] = e.what();
        }
      }
      info["timings"] = {{"queued_s", std::max(0.0, t_start - submitted_s)},
                         {"generate_s", r.wall_seconds},
                         {"prefill_s", r.prefill_seconds},
                         {"tokens_per_s", r.tokens_per_s},
                         {"music_seconds_per_s", r.music_seconds_per_s},
                         {"files_s", steady_s() - t_files}};
      rec.info = info;
      store->add(rec, files);
      ids.push_back(rec.id);
      progress(0.9 + 0.1 * double(i + 1) / double(r.pieces.size()));
    }
    log("job " + job_id + ": done, " + std::to_string(ids.size()) + " piece(s) in " +
        std::to_string(steady_s() - t_start).substr(0, 5) + " s");
    return ids;
  }

  // ---- handlers ----
  void generate(const Request& req, Response& res) {
    auto greq = std::make_shared<GenerateRequest>();
    if (req.is_multipart_form_data()) {
      for (const auto& [name, part] : req.files)
        if (name != "seed" && name != "params")
          throw ApiError(400, name, "multipart part \"" + name + "\" is unknown (send \"seed\" and \"params\")");
      json params = json::object();
      if (req.has_file("params")) params = parse_body_json(req.get_file_value("params").content, "params");
      *greq = parse_generate_request(params, opt.limits);
      if (req.has_file("seed")) {
        const httplib::MultipartFormData seed = req.get_file_value("seed");
        attach_seed(*greq, seed.content, seed.filename, opt.limits);
      }
    } else {
      *greq = parse_generate_request(parse_body_json(req.body, "body"), opt.limits);
    }
    std::string model_name;
    const gen::Generator* g = find_model(greq->model, &model_name);
    try {
      g->validate(greq->opt);
    } catch (const UsageError& e) {
      const std::string field = generator_error_field(e.what());
      std::string msg = e.what();
      if (msg.rfind("flag --", 0) == 0 && !field.empty()) msg = "field \"" + field + "\"" + msg.substr(msg.find(':'));
      throw ApiError(400, field, msg);
    }
    const double submitted = steady_s();
    auto id = jobs->submit(
        [this, greq, g, model_name, submitted](const std::string& job_id, const ProgressFn& progress) {
          return run_job(job_id, progress, *greq, *g, model_name, submitted);
        },
        model_name);
    if (!id)
      throw ApiError(503, "", "the job queue is full (" + std::to_string(opt.max_queued) +
                                  " jobs waiting); try again when some have finished");
    log("job " + *id + ": queued (" + dump_json(greq->params) + ")");
    res.set_header("Location", "/api/jobs/" + *id);
    send_json(res, {{"job", *id}, {"state", "queued"}}, 202);
  }

  void job_events(const Request& req, Response& res) {
    const std::string id = req.matches[1];
    if (!jobs->status(id)) throw ApiError(404, "", "no job " + id);
    if (event_streams.fetch_add(1) >= opt.max_event_streams) {
      --event_streams;
      throw ApiError(503, "", "too many open event streams (" + std::to_string(opt.max_event_streams) +
                                  "); poll GET /api/jobs/" + id + " instead");
    }
    // Decrements the count when httplib drops the provider (stream done or client gone).
    auto guard = std::shared_ptr<void>(nullptr, [this](void*) { --event_streams; });
    struct StreamState {
      int64_t seen = 0;
      bool finished = false;
      double last_write = 0;
    };
    auto st = std::make_shared<StreamState>();
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream", [this, id, st, guard](size_t, httplib::DataSink& sink) {
          if (st->finished || stopping) {
            sink.done();
            return true;
          }
          auto s = jobs->wait_change(id, st->seen, std::chrono::milliseconds(1000));
          if (!s) {
            sink.done();
            return true;
          }
          if (s->version > st->seen) {
            st->seen = s->version;
            st->last_write = steady_s();
            const std::string ev = "data: " + dump_json(s->to_json()) + "\n\n";
            if (!sink.write(ev.data(), ev.size())) return false;
            if (job_finished(s->state)) st->finished = true;
          } else if (steady_s() - st->last_write > 15) {
            st->last_write = steady_s();
            static const std::string ping = ": keep-alive\n\n";
            if (!sink.write(ping.data(), ping.size())) return false;
          }
          return true;
        });
  }

  void piece_file(const Request& req, Response& res) {
    const std::string id = req.matches[1], ext = req.matches[2];
    if (!store->get(id)) throw ApiError(404, "", "no piece " + id);
    const fs::path path = store->file(id, ext);
    auto f = std::make_shared<std::ifstream>(path, std::ios::binary);
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (!*f || ec) {
      std::string why = "piece " + id + " has no ." + ext + " file";
      if (ext == "wav") why += audio ? " (its audio failed to render; see the piece's audio_error)" : " (audio is off)";
      throw ApiError(404, "", why);
    }
    res.set_header("Content-Disposition", "inline; filename=\"xlstm-music-" + id + "." + ext + "\"");
    res.set_header("Cache-Control", "no-cache");
    res.set_content_provider(size_t(size), file_mime(ext), [f](size_t offset, size_t length, httplib::DataSink& sink) {
      std::vector<char> buf(std::min<size_t>(length, 1 << 16));
      f->clear();
      f->seekg(std::streamoff(offset));
      f->read(buf.data(), std::streamsize(buf.size()));
      const std::streamsize n = f->gcount();
      if (n <= 0) return false;
      return sink.write(buf.data(), size_t(n));
    });
  }

  void rate(const Request& req, Response& res) {
    const std::string id = req.matches[1];
    const json body = parse_body_json(req.body, "body");
    const json* v = &body;
    if (body.is_object()) {
      for (const auto& [k, x] : body.items())
        if (k != "rating") throw ApiError(400, k, "field \"" + k + "\": unknown field (send {\"rating\": 1..5})");
      if (!body.contains("rating")) throw ApiError(400, "rating", "field \"rating\": missing (send {\"rating\": 1..5})");
      v = &body["rating"];
    }
    if (!v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > 5)
      throw ApiError(400, "rating", "field \"rating\": must be a whole number from 1 to 5");
    const int rating = int(v->get<int64_t>());
    if (!store->set_rating(id, rating)) throw ApiError(404, "", "no piece " + id);
    send_json(res, {{"id", id}, {"rating", rating}});
  }

  void asset(const Request& req, Response& res) {
    const WebAsset* a = find_web_asset(req.path);
    if (!a) throw ApiError(404, "", "not found: " + req.path);
    res.set_header("Cache-Control", "no-cache");
    res.set_content_provider(a->size, std::string(a->mime),
                             [a](size_t offset, size_t length, httplib::DataSink& sink) {
                               return sink.write(reinterpret_cast<const char*>(a->data) + offset, length);
                             });
  }

  // Wraps a handler: ApiError -> its status and {"error", "field"}; anything else -> 500 with the reason.
  httplib::Server::Handler wrap(void (Impl::*fn)(const Request&, Response&)) {
    return [this, fn](const Request& req, Response& res) {
      try {
        (this->*fn)(req, res);
      } catch (const ApiError& e) {
        send_json(res, e.to_json(), e.status());
      } catch (const std::exception& e) {
        log(std::string("error: ") + req.method + " " + req.path + ": " + e.what());
        send_json(res, {{"error", std::string("internal error: ") + e.what()}}, 500);
      }
    };
  }
  httplib::Server::Handler wrap(std::function<void(const Request&, Response&)> fn) {
    return [this, fn](const Request& req, Response& res) {
      try {
        fn(req, res);
      } catch (const ApiError& e) {
        send_json(res, e.to_json(), e.status());
      } catch (const std::exception& e) {
        log(std::string("error: ") + req.method + " " + req.path + ": " + e.what());
        send_json(res, {{"error", std::string("internal error: ") + e.what()}}, 500);
      }
    };
  }

  json health() const {
    return {{"ok", true},         {"version", opt.version}, {"audio", audio},          {"notation", notation},
            {"models", models.size()}, {"jobs", jobs->counts()}, {"pieces", store->count()}};
  }

  void routes();
};

void Server::Impl::routes() {
  const std::string id = "([^/.]+)";
  http.Get("/api/health", wrap([this](const Request&, Response& res) { send_json(res, health()); }));
  http.Get("/api/models", wrap([this](const Request&, Response& res) {
             json list = json::array();
             for (const auto& [name, g] : models) {
               json d = g->describe();
               d["name"] = name;
               list.push_back(d);
             }
             send_json(res, {{"models", list}, {"default", models.empty() ? json(nullptr) : json(models[0].first)}});
           }));
  http.Post("/api/generate", wrap(&Impl::generate));
  http.Get("/api/jobs/" + id, wrap([this](const Request& req, Response& res) {
             auto s = jobs->status(req.matches[1]);
             if (!s) throw ApiError(404, "", "no job " + std::string(req.matches[1]));
             send_json(res, s->to_json());
           }));
  http.Get("/api/jobs/" + id + "/events", wrap(&Impl::job_events));
  http.Delete("/api/jobs/" + id, wrap([this](const Request& req, Response& res) {
                auto s = jobs->cancel(req.matches[1]);
                if (!s) throw ApiError(404, "", "no job " + std::string(req.matches[1]));
                json j = s->to_json();
                if (s->state == JobState::running) j["cancel_requested"] = true;
                log("job " + s->id + ": cancel requested (" + job_state_name(s->state) + ")");
                send_json(res, j);
              }));
  http.Get("/api/pieces", wrap([this](const Request& req, Response& res) {
             const int64_t limit = query_int(req, "limit", 100, 1, 1000);
             const int64_t offset = query_int(req, "offset", 0, 0, int64_t(1) << 40);
             json list = json::array();
             for (const PieceRecord& r : store->list(limit, offset)) list.push_back(piece_json(r));
             send_json(res, {{"pieces", list}, {"total", store->count()}, {"limit", limit}, {"offset", offset}});
           }));
  http.Get("/api/pieces/" + id + "\\.(mid|musicxml|wav|json)", wrap(&Impl::piece_file));
  http.Get("/api/pieces/" + id, wrap([this](const Request& req, Response& res) {
             auto r = store->get(req.matches[1]);
             if (!r) throw ApiError(404, "", "no piece " + std::string(req.matches[1]));
             send_json(res, piece_json(*r));
           }));
  http.Post("/api/pieces/" + id + "/rating", wrap(&Impl::rate));
  http.Delete("/api/pieces/" + id, wrap([this](const Request& req, Response& res) {
                if (!store->remove(req.matches[1])) throw ApiError(404, "", "no piece " + std::string(req.matches[1]));
                send_json(res, {{"deleted", std::string(req.matches[1])}});
              }));
  http.Get("/api(/.*)?", wrap([](const Request& req, Response&) -> void {
             throw ApiError(404, "", "no API endpoint " + req.path + " (see docs/server.md)");
           }));
  http.Get("/.*", wrap(&Impl::asset));

  // Requests no route answered (unknown method or path), bodies over the limit, handler exceptions: JSON too.
  http.set_error_handler([this](const Request& req, Response& res) {
    if (!res.body.empty() || res.content_length_ > 0 || res.is_chunked_content_provider_) return;
    json j;
    if (res.status == 413) {
      j = {{"error", "the request body is larger than the limit of " + std::to_string(opt.max_upload_bytes) +
                         " bytes (hint: upload a smaller seed MIDI file)"},
           {"field", req.is_multipart_form_data() ? "seed" : "body"}};
    } else if (res.status == 404) {
      j = {{"error", "not found: " + req.method + " " + req.path + " (see docs/server.md)"}};
    } else if (res.status >= 500) {
      j = {{"error", "internal error"}};
    } else {
      j = {{"error", "bad request (HTTP " + std::to_string(res.status) + ")"}};
    }
    res.set_content(dump_json(j), "application/json");
  });
  http.set_exception_handler([this](const Request& req, Response& res, std::exception_ptr ep) {
    std::string why = "unknown";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      why = e.what();
    } catch (...) {
    }
    log("error: " + req.method + " " + req.path + ": " + why);
    send_json(res, {{"error", "internal error: " + why}}, 500);
  });
  // DNS-rebinding guard: a server on the loopback interface answers only requests addressed to a loopback name.
  http.set_pre_routing_handler([this](const Request& req, Response& res) {
    if (!loopback || !req.has_header("Host")) return httplib::Server::HandlerResponse::Unhandled;
    const std::string h = host_name(req.get_header_value("Host"));
    if (is_loopback(h) || h == opt.host) return httplib::Server::HandlerResponse::Unhandled;
    send_json(res, {{"error", "Host \"" + h + "\" refused: this server answers only requests for localhost"},
                    {"field", "Host"}},
              403);
    return httplib::Server::HandlerResponse::Handled;
  });
  if (opt.log)
    http.set_logger([this](const Request& req, const Response& res) {
      log(req.method + " " + req.path + " " + std::to_string(res.status));
    });
}

Server::Server(ServerOptions opt) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.opt = std::move(opt);
  if (m.opt.workers < 1) throw Error("server: workers must be >= 1");
  if (m.opt.models.empty()) {
    const fs::path def = gen::default_model_path();
    if (!def.empty()) m.opt.models.push_back(def);
  }
  for (const fs::path& p : m.opt.models) {
    const std::string name = p.stem().string();
    for (const auto& [n, g] : m.models)
      if (n == name)
        throw Error(p.string() + ": a model named \"" + name + "\" is already loaded (" + g->path().string() +
                    "); hint: rename one file, models are named by their file stem");
    m.models.emplace_back(name, std::make_unique<gen::Generator>(p));
  }
  m.store = std::make_unique<PieceStore>(m.opt.db);
  m.renderer = std::make_unique<WavRenderer>(find_soundfont(m.opt.soundfont));
  m.audio = m.opt.audio && m.renderer->available();
  for (const WebAsset& a : web_assets()) m.notation = m.notation || a.path.rfind("/vendor/", 0) == 0;
  m.threads_per_job =
      m.opt.threads_per_job > 0 ? m.opt.threads_per_job : std::max(1, nn::available_cores() / m.opt.workers);
  JobQueueOptions jo;
  jo.workers = m.opt.workers;
  jo.max_queued = m.opt.max_queued;
  jo.worker_nice = m.opt.worker_nice;
  const int threads = m.threads_per_job;
  jo.on_worker_start = [threads] { nn::set_threads(threads); };
  m.jobs = std::make_unique<JobQueue>(jo);
  m.loopback = is_loopback(m.opt.host);
  m.routes();
}

Server::~Server() { stop(); }

int Server::start() {
  Impl& m = *impl_;
  const int n = std::max(2, m.opt.http_threads);
  m.http.new_task_queue = [n] { return new httplib::ThreadPool(size_t(n)); };
  m.http.set_payload_max_length(m.opt.max_upload_bytes);
  m.http.set_keep_alive_timeout(5);
  int port = m.opt.port;
  if (port == 0) {
    port = m.http.bind_to_any_port(m.opt.host);
  } else if (!m.http.bind_to_port(m.opt.host, port)) {
    port = -1;
  }
  if (port <= 0)
    throw Error("server: cannot listen on " + m.opt.host + ":" + std::to_string(m.opt.port) +
                " (hint: is another server using the port? try --port N)");
  m.port = port;
  if (!m.http.raise_backlog()) m.log("warning: could not raise the listen backlog (bursts of clients may wait 1 s)");
  m.listener = std::thread([&m] { m.http.listen_after_bind(); });
  // listen_after_bind marks the server running only once its loop starts; stop() before that would be lost.
  for (int i = 0; i < 5000 && !m.http.is_running(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  m.log("listening on http://" + m.opt.host + ":" + std::to_string(port) + "/");
  return port;
}

void Server::wait() {
  std::unique_lock<std::mutex> lock(impl_->stop_mu);
  impl_->stop_cv.wait(lock, [&] { return impl_->stopped; });
}

void Server::stop() {
  Impl& m = *impl_;
  if (m.stopping.exchange(true)) {
    wait();
    return;
  }
  m.http.stop();
  if (m.listener.joinable()) m.listener.join();
  m.jobs->shutdown();
  {
    std::lock_guard<std::mutex> lock(m.stop_mu);
    m.stopped = true;
  }
  m.stop_cv.notify_all();
}

int Server::port() const { return impl_->port; }

json Server::health() const { return impl_->health(); }

std::vector<std::string> Server::model_names() const {
  std::vector<std::string> out;
  for (const auto& [n, g] : impl_->models) out.push_back(n);
  return out;
}

bool Server::audio_on() const { return impl_->audio; }

}  // namespace xm::server

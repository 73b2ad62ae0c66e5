// server.h: the web studio's HTTP server (cpp-httplib from Debian): the JSON API under /api/ (health, models,
// generation jobs with progress over Server-Sent Events, the library of pieces and their files, ratings) and the
// studio's embedded files (web_assets.h) everywhere else. Generation runs on a bounded job queue (jobs.h), pieces
// live in SQLite (store.h), audio comes from FluidSynth (audio.h). The API is described in docs/server.md. Not the
// command line (cli/cmd_serve.cpp).
#pragma once
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "server/request.h"

namespace xm::server {

struct ServerOptions {
  std::string host = "127.0.0.1";              // 0.0.0.0 to listen on every interface (no authentication!)
  int port = 8080;                             // 0: any free port (start() returns it)
  std::vector<std::filesystem::path> models;   // each served under its file stem; empty: gen::default_model_path()
  std::filesystem::path db = "studio/studio.db";  // pieces' files go to <db folder>/pieces/
  int workers = 1;                             // generation jobs that run at once
  int threads_per_job = 0;                     // engine threads of one job; 0: the cores / workers (at least 1)
  size_t max_queued = 64;                      // waiting jobs; more gets 503
  size_t max_upload_bytes = 2u << 20;          // a request body (the seed upload); more gets 413
  int http_threads = 32;                       // request threads (an open event stream holds one)
  size_t max_event_streams = 16;               // concurrent GET /api/jobs/ID/events; more gets 503
  int worker_nice = 5;                         // generation threads run this much nicer than request threads
  std::filesystem::path soundfont;             // empty: find_soundfont()
  bool audio = true;                           // false: never render WAV files
  std::string version = "0.1.0";
  RequestLimits limits;
  std::function<void(const std::string&)> log;  // one line per job event and per request (null: silent)
};

class Server {
 public:
  // Loads the models and opens the database; throws xm::Error naming the file that cannot be used.
  explicit Server(ServerOptions opt);
  ~Server();  // stop()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and serves on background threads; returns the port. Throws xm::Error when it cannot bind.
  int start();
  // Blocks until stop() (from another thread).
  void wait();
  // Stops accepting requests, ends event streams, cancels running jobs (their pieces are not stored), joins every
  // thread. Idempotent.
  void stop();

  int port() const;
  // The body of GET /api/health.
  json health() const;
  // Names of the loaded models, the default first.
  std::vector<std::string> model_names() const;
  bool audio_on() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace xm::server

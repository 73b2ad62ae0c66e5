// cmd_serve.cpp: `xlstm-music serve`: flags -> server::ServerOptions, start the web studio's HTTP server, run until
// SIGINT or SIGTERM, stop cleanly. Thin: the API, jobs, storage and audio live in src/server/.
#include <csignal>
#include <cstdio>
#include <ctime>
#include <pthread.h>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "nn/runtime.h"
#include "server/server.h"

#ifndef XM_VERSION
#define XM_VERSION "0.1.0"
#endif

namespace {

using xm::UsageError;

const char* kUsage =
    "usage: xlstm-music serve [--host 127.0.0.1] [--port 8080] [--model MODEL ...] [--db PATH] [flags]\n"
    "\n"
    "Runs the web studio: open http://HOST:PORT/ in a browser. A JSON API under /api/ (docs/server.md) queues\n"
    "generation jobs (progress over Server-Sent Events), keeps every piece with its parameters and rating in a\n"
    "SQLite library, and serves each piece as MIDI, MusicXML, WAV (FluidSynth) and piano-roll JSON. Stop with\n"
    "Ctrl-C: running jobs are cancelled, everything stored survives.\n"
    "\n"
    "flags:\n"
    "  --host H            address to listen on (default 127.0.0.1: only this machine; 0.0.0.0 exposes the\n"
    "                      studio, which has no authentication, to the network)\n"
    "  --port N            port (default 8080; 0 = any free port, printed at start)\n"
    "  --model FILE        a model to serve, named by its file stem; repeat for several (the first is the\n"
    "                      default; default: $XLSTM_MUSIC_MODEL, else models/default.safetensors)\n"
    "  --db PATH           the library database (default ./studio/studio.db; files in ./studio/pieces/)\n"
    "  --workers N         generation jobs that run at once (default 1)\n"
    "  --threads N         engine threads per job (default: the cores / workers)\n"
    "  --max-queued N      waiting jobs before new requests get 503 (default 64)\n"
    "  --max-upload BYTES  largest request body, i.e. seed MIDI upload (default 2097152)\n"
    "  --soundfont FILE    General MIDI soundfont for WAV audio (default: Debian's fluid-soundfont-gm)\n"
    "  --no-audio          never render WAV files\n"
    "  --quiet             no log lines on stderr\n"
    "\n"
    "exit: 0 after a clean stop, 1 when a model or the database cannot be used or the port is taken, 2 usage error\n";

int run_serve(const std::vector<std::string>& argv) {
  xm::cli::Args a(argv,
                  {"--host", "--port", "--model", "--db", "--workers", "--threads", "--max-queued", "--max-upload",
                   "--soundfont"},
                  {"--no-audio", "--quiet"});
  if (a.help()) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (!a.positional().empty()) throw UsageError("unexpected argument '" + a.positional()[0] + "' (see --help)");
  xm::nn::apply_runtime_env();  // may re-execute this program (same arguments) with the OpenMP wait policy set
  xm::nn::select_blas_core();
  xm::server::ServerOptions o;
  o.host = a.get_or("--host", "127.0.0.1");
  if (o.host.empty()) throw UsageError("flag --host: empty address");
  o.port = int(a.get_int("--port", 8080, 0, 65535));
  for (const std::string& m : a.get_all("--model")) o.models.push_back(m);
  o.db = a.get_or("--db", "studio/studio.db");
  o.workers = int(a.get_int("--workers", 1, 1, 64));
  o.threads_per_job = int(a.get_int("--threads", 0, 1, 4096));
  o.max_queued = size_t(a.get_int("--max-queued", 64, 1, 100000));
  o.max_upload_bytes = size_t(a.get_int("--max-upload", 2 << 20, 1024, 1LL << 30));
  o.limits.max_seed_bytes = o.max_upload_bytes;
  if (a.has("--soundfont")) o.soundfont = a.require("--soundfont");
  o.audio = !a.has("--no-audio");
  o.version = XM_VERSION;
  if (!a.has("--quiet"))
    o.log = [](const std::string& line) {
      char stamp[32];
      const std::time_t t = std::time(nullptr);
      std::tm tm{};
      localtime_r(&t, &tm);
      std::strftime(stamp, sizeof stamp, "%H:%M:%S", &tm);
      std::fprintf(stderr, "[%s] %s\n", stamp, line.c_str());
    };

  // SIGINT/SIGTERM are blocked in every thread (the server's threads inherit the mask) and taken by sigwait here.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  xm::server::Server server(o);
  const int port = server.start();
  const auto names = server.model_names();
  std::string models;
  for (const auto& n : names) models += (models.empty() ? "" : ", ") + n;
  std::printf("xlstm-music studio: http://%s:%d/  (models: %s; audio %s; library %s)\n", o.host.c_str(), port,
              models.empty() ? "none, generation is off" : models.c_str(), server.audio_on() ? "on" : "off",
              o.db.string().c_str());
  std::fflush(stdout);
  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "xlstm-music serve: %s, stopping\n", sig == SIGINT ? "interrupted" : "terminated");
  server.stop();
  return 0;
}

xm::cli::Registrar reg({"serve", "run the web studio (HTTP server with a JSON API, jobs, a library of pieces)", kUsage,
                        run_serve});

}  // namespace

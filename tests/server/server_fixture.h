// server_fixture.h: what the server tests share: a tiny model trained with the real CLI on the repo's sample
// (12 transpositions, 30 steps; cached between the test processes of one build, keyed by the binary's time
// stamp), a real server on 127.0.0.1 and a free port with its own database, and small HTTP helpers. Not a mock.
#pragma once
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>

#include <httplib.h>

#include "core/io.h"
#include "core/json.h"
#include "server/server.h"
#include "support/test_support.h"

namespace xmtest {

namespace fs = std::filesystem;

// The tiny model (trained on first use); empty when training failed (the calling test then fails).
inline const fs::path& server_tiny_model() {
  static const fs::path model = []() -> fs::path {
    const char* env_bin = std::getenv("XM_BINARY");
    const fs::path bin = env_bin && *env_bin ? fs::path(env_bin) : fs::path(XM_TEST_BINARY);
    std::error_code ec;
    const auto stamp = fs::last_write_time(bin, ec).time_since_epoch().count();
    const fs::path cache = fs::temp_directory_path() / ("xm-server-fixture-" + std::to_string(::getuid()) + "-" +
                                                         std::to_string(stamp));
    const fs::path m = cache / "tiny.safetensors";
    if (fs::exists(m, ec)) return m;
    const fs::path dir = temp_dir("server-fixture");
    const std::string src = (source_dir() / "samples").string();
    auto prep = run_cli("data prepare --input '" + src + "' --out '" + (dir / "corpus").string() +
                        "' --transpose -5..6 --split valid=0,test=0 --jobs 1");
    if (prep.exit_code != 0) {
      ADD_FAILURE() << "data prepare failed: " << prep.err;
      return {};
    }
    const fs::path tmp = dir / "tiny.safetensors";
    auto tr = run_cli("train --data '" + (dir / "corpus").string() + "' --preset tiny --steps 30 --threads 1 " +
                      "--eval-windows 4 --quiet --out '" + tmp.string() + "'");
    if (tr.exit_code != 0) {
      ADD_FAILURE() << "train failed: " << tr.err;
      return {};
    }
    fs::create_directories(cache, ec);
    const fs::path part = cache / ("tiny.safetensors.part-" + std::to_string(::getpid()));
    fs::copy_file(tmp, part, fs::copy_options::overwrite_existing, ec);
    if (!ec) fs::rename(part, m, ec);  // atomic: concurrent test processes never see half a file
    fs::remove_all(dir, ec);
    return ec ? tmp : m;
  }();
  return model;
}

inline fs::path sample_mid() { return source_dir() / "samples" / "sample.mid"; }

// A real server on 127.0.0.1, any free port, with its own database folder; stopped by the destructor.
struct TestServer {
  fs::path dir;
  std::unique_ptr<xm::server::Server> server;
  int port = 0;

  explicit TestServer(xm::server::ServerOptions o = {}, fs::path db_dir = {}) {
    dir = db_dir.empty() ? temp_dir("server") : db_dir;
    o.host = "127.0.0.1";
    o.port = 0;
    if (o.models.empty()) o.models = {server_tiny_model()};
    o.db = dir / "studio.db";
    if (o.threads_per_job == 0) o.threads_per_job = 1;
    server = std::make_unique<xm::server::Server>(o);
    port = server->start();
  }
  ~TestServer() {
    if (server) server->stop();
  }
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
    c->set_read_timeout(60, 0);
    c->set_connection_timeout(5, 0);
    return c;
  }
};

inline xm::json body_json(const httplib::Result& r) {
  if (!r) return xm::json();
  try {
    return xm::json::parse(r->body);
  } catch (...) {
    return xm::json();
  }
}

// Polls GET /api/jobs/ID until the job is finished (or timeout_s passes); returns its last status.
inline xm::json wait_job(httplib::Client& c, const std::string& id, double timeout_s = 120) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  xm::json j;
  while (std::chrono::steady_clock::now() < end) {
    j = body_json(c.Get(("/api/jobs/" + id).c_str()));
    const std::string s = j.value("state", "");
    if (s == "done" || s == "failed" || s == "cancelled") return j;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return j;
}

}  // namespace xmtest

// test_support.cpp: see test_support.h.
#include "support/test_support.h"

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace xmtest {

// Built-in defaults (tests/CMakeLists.txt compiles them in; the environment wins when set).
#ifndef XM_TEST_SHARED_DIR
#define XM_TEST_SHARED_DIR "../shared"
#endif
#ifndef XM_TEST_SOURCE_DIR
#define XM_TEST_SOURCE_DIR "."
#endif
#ifndef XM_TEST_BINARY
#define XM_TEST_BINARY "xlstm-music"
#endif

static std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : fallback;
}

fs::path shared_dir() {
  fs::path p = env_or("XM_SHARED_DIR", XM_TEST_SHARED_DIR);
  std::error_code ec;
  if (fs::is_directory(p, ec)) return fs::weakly_canonical(p);
  return {};
}

fs::path dataset_dir(const std::string& name) {
  fs::path s = shared_dir();
  if (s.empty()) return {};
  fs::path p = s / "datasets" / name;
  std::error_code ec;
  return fs::is_directory(p, ec) ? p : fs::path{};
}

fs::path source_dir() { return env_or("XM_SOURCE_DIR", XM_TEST_SOURCE_DIR); }

fs::path temp_dir(const std::string& tag) {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() /
               ("xm-test-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

RunResult run_shell(const std::string& command) {
  fs::path d = temp_dir("run");
  fs::path out = d / "out", err = d / "err";
  std::string full = "(" + command + ") >'" + out.string() + "' 2>'" + err.string() + "' </dev/null";
  int status = std::system(full.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  r.out = slurp(out);
  r.err = slurp(err);
  std::error_code ec;
  fs::remove_all(d, ec);
  return r;
}

RunResult run_cli(const std::string& args) {
  std::string bin = env_or("XM_BINARY", XM_TEST_BINARY);
  return run_shell("'" + bin + "' " + args);
}

}  // namespace xmtest

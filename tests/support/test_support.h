// test_support.h: helpers shared by the tests: where ../shared is, skipping cleanly without it,
// running the real CLI binary, temporary folders. Not a test framework: GoogleTest is.
#pragma once
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace xmtest {

// ../shared as seen from the repository (XM_SHARED_DIR), or empty when it does not exist.
std::filesystem::path shared_dir();
// ../shared/datasets/<name>, or empty when absent.
std::filesystem::path dataset_dir(const std::string& name);
// The repository root (XM_SOURCE_DIR).
std::filesystem::path source_dir();
// A fresh empty folder under the system temp dir, removed when the test binary exits is not promised.
std::filesystem::path temp_dir(const std::string& tag);

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};
// Runs the xlstm-music binary (XM_BINARY) with args (already shell-quoted as needed).
RunResult run_cli(const std::string& args);
// Runs any shell command, capturing stdout and stderr.
RunResult run_shell(const std::string& command);

}  // namespace xmtest

// Skip a test, with a message, when ../shared (or one of its datasets) is missing: a user's fresh clone.
#define XM_REQUIRE_SHARED()                                                        \
  do {                                                                             \
    if (xmtest::shared_dir().empty())                                              \
      GTEST_SKIP() << "../shared not found (XM_SHARED_DIR); skipping corpus test"; \
  } while (0)
#define XM_REQUIRE_DATASET(var, name)                                                  \
  const std::filesystem::path var = xmtest::dataset_dir(name);                         \
  do {                                                                                 \
    if (var.empty())                                                                   \
      GTEST_SKIP() << "../shared/datasets/" << name << " not found; skipping corpus test"; \
  } while (0)

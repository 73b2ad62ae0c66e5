// Tests of core/io: atomic writes replace the file whole, read errors name the file.
#include "core/error.h"
#include "core/io.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

TEST(core, atomic_write_replaces_file_and_leaves_no_temp) {
  fs::path d = xmtest::temp_dir("io");
  fs::path f = d / "a.txt";
  xm::write_file_atomic(f, "first");
  xm::write_file_atomic(f, "second version");
  EXPECT_EQ(xm::read_file_text(f), "second version");
  int n = 0;
  for (auto& e : fs::directory_iterator(d)) (void)e, ++n;
  EXPECT_EQ(n, 1) << "a temporary file was left behind";
  fs::remove_all(d);
}

TEST(core, read_missing_file_names_it) {
  try {
    xm::read_file_bytes("/nonexistent/dir/file.mid");
    FAIL() << "no error";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/file.mid"), std::string::npos) << e.what();
  }
}

TEST(core, read_respects_size_limit) {
  fs::path d = xmtest::temp_dir("io");
  xm::write_file_atomic(d / "big", std::string(1000, 'x'));
  EXPECT_THROW(xm::read_file_bytes(d / "big", 999), xm::Error);
  EXPECT_EQ(xm::read_file_bytes(d / "big", 1000).size(), 1000u);
  fs::remove_all(d);
}

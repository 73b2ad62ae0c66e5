// test_store.cpp: the piece library (SQLite + files): round trip of a record and its files, newest-first order with
// limit/offset, ratings, deletion of rows and files, persistence across reopening, id validation (no path can be
// named through an id), and refusal of a database from a newer schema.
#include <sqlite3.h>

#include "core/io.h"
#include "server/store.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;
using xm::server::PieceRecord;
using xm::server::PieceStore;

PieceRecord record(const std::string& model, int variation) {
  PieceRecord r;
  r.id = PieceStore::new_id();
  r.created_ms = 1700000000000 + variation;
  r.model = model;
  r.job = PieceStore::new_id();
  r.variation = variation;
  r.params = {{"bars", 4}, {"temperature", 0.9}, {"random_seed", 12345678901234}};
  r.info = {{"stop_reason", "bars"}, {"timings", {{"generate_s", 0.25}}}};
  return r;
}

TEST(server, store_round_trip_files_and_persistence) {
  const fs::path dir = xmtest::temp_dir("store");
  const fs::path db = dir / "lib" / "studio.db";
  PieceRecord a = record("tiny", 1);
  {
    PieceStore s(db);
    EXPECT_EQ(s.pieces_dir(), dir / "lib" / "pieces");
    s.add(a, {{"mid", std::string("MThd\0\0", 6)}, {"json", "{\"notes\":[]}"}});
    EXPECT_EQ(s.count(), 1);
  }
  PieceStore s(db);  // reopened: the row and the files are still there
  auto got = s.get(a.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->model, "tiny");
  EXPECT_EQ(got->job, a.job);
  EXPECT_EQ(got->created_ms, a.created_ms);
  EXPECT_EQ(got->params, a.params);
  EXPECT_EQ(got->info, a.info);
  EXPECT_EQ(got->rating, 0);
  EXPECT_EQ(xm::read_file_text(s.file(a.id, "mid")), std::string("MThd\0\0", 6));
  EXPECT_EQ(xm::read_file_text(s.file(a.id, "json")), "{\"notes\":[]}");
  EXPECT_FALSE(fs::exists(s.file(a.id, "wav")));

  EXPECT_TRUE(s.set_rating(a.id, 4));
  EXPECT_EQ(s.get(a.id)->rating, 4);
  EXPECT_FALSE(s.set_rating(PieceStore::new_id(), 3));
  EXPECT_THROW(s.set_rating(a.id, 6), xm::Error);

  EXPECT_TRUE(s.remove(a.id));
  EXPECT_FALSE(s.get(a.id).has_value());
  EXPECT_FALSE(fs::exists(s.file(a.id, "mid")));
  EXPECT_FALSE(fs::exists(s.file(a.id, "json")));
  EXPECT_FALSE(s.remove(a.id));
  EXPECT_EQ(s.count(), 0);
}

TEST(server, store_lists_newest_first_with_limit_and_offset) {
  const fs::path dir = xmtest::temp_dir("store-order");
  PieceStore s(dir / "studio.db");
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) {
    PieceRecord r = record("m", i);
    ids.push_back(r.id);
    s.add(r, {});
  }
  auto all = s.list(100, 0);
  ASSERT_EQ(all.size(), 5u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(all[i].id, ids[4 - i]) << i;
  auto page = s.list(2, 1);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].id, ids[3]);
  EXPECT_EQ(page[1].id, ids[2]);
  EXPECT_TRUE(s.list(10, 5).empty());
}

TEST(server, store_ids_cannot_name_other_paths) {
  EXPECT_TRUE(PieceStore::valid_id("0123456789abcdef"));
  for (const char* bad : {"", "0123456789abcde", "0123456789abcdef0", "0123456789ABCDEF", "../../etc/passwd",
                          "..%2F..%2Fetc%2Fp", "0123456789abcde/", "0123456789abcd.."})
    EXPECT_FALSE(PieceStore::valid_id(bad)) << bad;
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(PieceStore::valid_id(PieceStore::new_id()));
  const fs::path dir = xmtest::temp_dir("store-ids");
  PieceStore s(dir / "studio.db");
  EXPECT_THROW(s.file("../../etc/passwd", "mid"), xm::Error);
  EXPECT_THROW(s.file("0123456789abcdef", "sh"), xm::Error);
  EXPECT_FALSE(s.get("../../etc/passwd").has_value());
  EXPECT_FALSE(s.remove("../../etc/passwd"));
}

TEST(server, store_refuses_a_newer_schema_naming_the_file) {
  const fs::path dir = xmtest::temp_dir("store-schema");
  const fs::path db = dir / "studio.db";
  { PieceStore s(db); }
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.string().c_str(), &h), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(h, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(h);
  try {
    PieceStore s(db);
    FAIL() << "opened a schema-99 database";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find(db.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
  }
}

}  // namespace

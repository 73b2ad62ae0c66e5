// store.cpp: see store.h. SQLite access with prepared statements, one connection, one mutex; WAL journal so a
// reader never waits for a writer on disk and a crash never loses a committed piece.
#include "server/store.h"

#include <random>
#include <sqlite3.h>

#include "core/error.h"
#include "core/io.h"

namespace xm::server {
namespace {

namespace fs = std::filesystem;

constexpr int kSchemaVersion = 1;
const char* kExtensions[] = {"mid", "musicxml", "wav", "json"};

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const fs::path& what) : db_(db), what_(what) {
    if (sqlite3_prepare_v2(db, sql, -1, &st_, nullptr) != SQLITE_OK) fail("prepare");
  }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, const std::string& s) {
    if (sqlite3_bind_text(st_, i, s.data(), int(s.size()), SQLITE_TRANSIENT) != SQLITE_OK) fail("bind");
    return *this;
  }
  Stmt& bind(int i, int64_t v) {
    if (sqlite3_bind_int64(st_, i, v) != SQLITE_OK) fail("bind");
    return *this;
  }
  // true when a row is ready, false when done.
  bool step() {
    const int rc = sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail("step");
    return false;
  }
  std::string text(int col) const {
    const unsigned char* p = sqlite3_column_text(st_, col);
    return p ? std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(st_, col))) : std::string();
  }
  int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
  [[noreturn]] void fail(const char* op) const {
    throw Error(what_.string() + ": SQLite " + op + " failed: " + sqlite3_errmsg(db_) +
                " (hint: is the disk full, or the database written by another program?)");
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* st_ = nullptr;
  fs::path what_;
};

const char* kColumns = "id, created_ms, model, job, variation, params, info, rating";

PieceRecord read_row(const Stmt& s, const fs::path& what) {
  PieceRecord r;
  r.id = s.text(0);
  r.created_ms = s.integer(1);
  r.model = s.text(2);
  r.job = s.text(3);
  r.variation = int(s.integer(4));
  r.params = parse_json(s.text(5), what.string() + ": piece " + r.id + " params");
  r.info = parse_json(s.text(6), what.string() + ": piece " + r.id + " info");
  r.rating = int(s.integer(7));
  return r;
}

}  // namespace

PieceStore::PieceStore(const fs::path& db_path) : db_path_(db_path) {
  std::error_code ec;
  const fs::path dir = db_path.has_parent_path() ? db_path.parent_path() : fs::path(".");
  pieces_dir_ = dir / "pieces";
  fs::create_directories(pieces_dir_, ec);
  if (ec)
    throw Error(pieces_dir_.string() + ": cannot create the pieces folder: " + ec.message() +
                " (hint: choose another --db)");
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(db_path.string().c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(db_path.string() + ": cannot open the studio database: " + why + " (hint: choose another --db)");
  }
  sqlite3_busy_timeout(db_, 5000);
  try {
    int version = 0;
    {
      Stmt s(db_, "PRAGMA user_version", db_path_);
      if (s.step()) version = int(s.integer(0));
    }
    if (version > kSchemaVersion)
      throw Error(db_path.string() + ": written by a newer xlstm-music (schema " + std::to_string(version) +
                  ", this one knows " + std::to_string(kSchemaVersion) + "); hint: upgrade, or use another --db");
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(
        "CREATE TABLE IF NOT EXISTS pieces ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE,"
        " created_ms INTEGER NOT NULL,"
        " model TEXT NOT NULL,"
        " job TEXT NOT NULL,"
        " variation INTEGER NOT NULL,"
        " params TEXT NOT NULL,"
        " info TEXT NOT NULL,"
        " rating INTEGER NOT NULL DEFAULT 0)");
    exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

PieceStore::~PieceStore() { sqlite3_close(db_); }

void PieceStore::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string why = err ? err : "unknown error";
    sqlite3_free(err);
    throw Error(db_path_.string() + ": SQLite failed on \"" + sql + "\": " + why);
  }
}

bool PieceStore::valid_id(std::string_view id) {
  if (id.size() != 16) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

std::string PieceStore::new_id() {
  static std::mutex mu;
  static std::mt19937_64 rng{(uint64_t(std::random_device{}()) << 32) ^ std::random_device{}()};
  uint64_t v;
  {
    std::lock_guard<std::mutex> lock(mu);
    v = rng();
  }
  static const char* hex = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[size_t(i)] = hex[v & 15];
  return s;
}

fs::path PieceStore::file(const std::string& id, const std::string& ext) const {
  if (!valid_id(id)) throw Error("piece id \"" + id + "\" is not 16 hex digits");
  bool known = false;
  for (const char* e : kExtensions) known = known || ext == e;
  if (!known) throw Error("piece file extension \"" + ext + "\" is not one of mid, musicxml, wav, json");
  return pieces_dir_ / (id + "." + ext);
}

void PieceStore::add(const PieceRecord& rec, const std::vector<std::pair<std::string, std::string>>& files) {
  std::vector<fs::path> written;
  try {
    for (const auto& [ext, bytes] : files) {
      const fs::path p = file(rec.id, ext);
      write_file_atomic(p, bytes);
      written.push_back(p);
    }
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_,
           "INSERT INTO pieces (id, created_ms, model, job, variation, params, info, rating)"
           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
           db_path_);
    s.bind(1, rec.id).bind(2, rec.created_ms).bind(3, rec.model).bind(4, rec.job).bind(5, int64_t(rec.variation));
    s.bind(6, rec.params.dump(-1, ' ', false, json::error_handler_t::replace));
    s.bind(7, rec.info.dump(-1, ' ', false, json::error_handler_t::replace));
    s.bind(8, int64_t(rec.rating));
    s.step();
  } catch (...) {
    std::error_code ec;
    for (const fs::path& p : written) fs::remove(p, ec);
    throw;
  }
}

std::optional<PieceRecord> PieceStore::get(const std::string& id) const {
  if (!valid_id(id)) return std::nullopt;
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kColumns + " FROM pieces WHERE id = ?1").c_str(), db_path_);
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s, db_path_);
}

std::vector<PieceRecord> PieceStore::list(int64_t limit, int64_t offset) const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kColumns + " FROM pieces ORDER BY seq DESC LIMIT ?1 OFFSET ?2").c_str(),
         db_path_);
  s.bind(1, limit).bind(2, offset);
  std::vector<PieceRecord> out;
  while (s.step()) out.push_back(read_row(s, db_path_));
  return out;
}

int64_t PieceStore::count() const {
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "SELECT COUNT(*) FROM pieces", db_path_);
  return s.step() ? s.integer(0) : 0;
}

bool PieceStore::set_rating(const std::string& id, int rating) {
  if (!valid_id(id)) return false;
  if (rating < 0 || rating > 5) throw Error("rating " + std::to_string(rating) + " is not in 0..5");
  std::lock_guard<std::mutex> lock(mu_);
  Stmt s(db_, "UPDATE pieces SET rating = ?1 WHERE id = ?2", db_path_);
  s.bind(1, int64_t(rating)).bind(2, id);
  s.step();
  return sqlite3_changes(db_) > 0;
}

bool PieceStore::remove(const std::string& id) {
  if (!valid_id(id)) return false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Stmt s(db_, "DELETE FROM pieces WHERE id = ?1", db_path_);
    s.bind(1, id);
    s.step();
    if (sqlite3_changes(db_) == 0) return false;
  }
  std::error_code ec;
  for (const char* ext : kExtensions) fs::remove(file(id, ext), ec);
  return true;
}

}  // namespace xm::server

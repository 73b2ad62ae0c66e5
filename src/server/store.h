// store.h: the studio's library of pieces: one SQLite database (Debian's libsqlite3) with a row per piece (its
// parameters, model, timings, rating) and the piece's files beside it in <db folder>/pieces/<id>.<ext>. Survives
// restarts; safe to use from many threads (one connection behind a mutex). Not the HTTP layer, not generation.
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"

struct sqlite3;

namespace xm::server {

struct PieceRecord {
  std::string id;          // 16 lowercase hex digits (PieceStore::new_id)
  int64_t created_ms = 0;  // Unix time in milliseconds
  std::string model;       // the model's name (file stem)
  std::string job;         // the job that made it
  int variation = 1;       // 1..num within its job
  json params = json::object();  // the generation parameters as used (random_seed filled in)
  json info = json::object();    // timings, stop reason, token counts, durations, seed, files present
  int rating = 0;          // 0 = not rated, else 1..5
};

class PieceStore {
 public:
  // Opens (creating when absent) the database at db_path and the pieces/ folder beside it. Throws xm::Error naming
  // the path when it cannot be opened or was written by a newer schema.
  explicit PieceStore(const std::filesystem::path& db_path);
  ~PieceStore();
  PieceStore(const PieceStore&) = delete;
  PieceStore& operator=(const PieceStore&) = delete;

  const std::filesystem::path& db_path() const { return db_path_; }
  const std::filesystem::path& pieces_dir() const { return pieces_dir_; }

  // True for ids this store could have made: exactly 16 characters 0-9a-f (so an id never names another path).
  static bool valid_id(std::string_view id);
  static std::string new_id();
  // The file of a piece: pieces_dir()/<id>.<ext>; throws xm::Error for an invalid id or an extension outside
  // mid, musicxml, wav, json.
  std::filesystem::path file(const std::string& id, const std::string& ext) const;

  // Writes the files (extension -> bytes; each atomically) and then the row. Throws xm::Error on failure (files
  // already written are removed).
  void add(const PieceRecord& rec, const std::vector<std::pair<std::string, std::string>>& files);
  std::optional<PieceRecord> get(const std::string& id) const;
  // Newest first (by insertion order), at most limit rows after skipping offset.
  std::vector<PieceRecord> list(int64_t limit, int64_t offset) const;
  int64_t count() const;
  // false when there is no such piece. rating 0 clears it.
  bool set_rating(const std::string& id, int rating);
  // Removes the row and the files; false when there is no such piece.
  bool remove(const std::string& id);

 private:
  std::filesystem::path db_path_, pieces_dir_;
  sqlite3* db_ = nullptr;
  mutable std::mutex mu_;
  void exec(const char* sql) const;
};

}  // namespace xm::server

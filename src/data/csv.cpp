// csv.cpp: see csv.h.
#include "data/csv.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/io.h"

namespace xm::data {

static std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int CsvTable::column(const std::string& name) const {
  const std::string want = lower(name);
  for (size_t i = 0; i < header.size(); ++i)
    if (lower(header[i]) == want) return int(i);
  return -1;
}

int CsvTable::first_column(const std::vector<std::string>& names) const {
  for (const auto& n : names)
    if (int c = column(n); c >= 0) return c;
  return -1;
}

CsvTable parse_csv(const std::string& text, const std::string& what) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string field;
  size_t i = 0, line = 1, record_line = 1;
  if (text.size() >= 3 && text.compare(0, 3, "\xEF\xBB\xBF") == 0) i = 3;
  bool in_quotes = false, any = false;
  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
  };
  auto end_record = [&] {
    end_field();
    // A blank line is not a record.
    if (!(record.size() == 1 && record[0].empty())) records.push_back(std::move(record));
    record.clear();
    record_line = line;
  };
  for (; i < text.size(); ++i) {
    char c = text[i];
    any = true;
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field.push_back(c);
      }
      continue;
    }
    if (c == '"' && field.empty()) {
      in_quotes = true;
    } else if (c == ',') {
      end_field();
    } else if (c == '\r') {
      // CRLF or a lone CR: both end the record.
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      ++line;
      end_record();
      any = false;
    } else if (c == '\n') {
      ++line;
      end_record();
      any = false;
    } else {
      field.push_back(c);
    }
  }
  if (in_quotes)
    throw Error(what + ": line " + std::to_string(record_line) +
                ": unterminated quoted field (hint: a '\"' opens a field that never closes)");
  if (any || !field.empty() || !record.empty()) end_record();

  CsvTable t;
  if (records.empty()) throw Error(what + ": empty CSV (no header line)");
  t.header = std::move(records[0]);
  for (auto& h : t.header) {
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.back()))) h.pop_back();
    while (!h.empty() && std::isspace(static_cast<unsigned char>(h.front()))) h.erase(h.begin());
  }
  for (size_t r = 1; r < records.size(); ++r) {
    records[r].resize(t.header.size());
    t.rows.push_back(std::move(records[r]));
  }
  return t;
}

CsvTable read_csv_file(const std::filesystem::path& path) {
  return parse_csv(read_file_text(path, uint64_t(256) << 20), path.string());
}

}  // namespace xm::data

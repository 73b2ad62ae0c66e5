// csv.h: a small RFC 4180 CSV reader for dataset label files (quoted fields, doubled quotes, CRLF, a UTF-8
// BOM). Rows come back as strings with the header's column names. Not a type-inferring or streaming reader.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace xm::data {

struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;  // each row padded or cut to header.size()

  // Index of the column called name (case-insensitive), or -1.
  int column(const std::string& name) const;
  // The first of names that is a column, or -1.
  int first_column(const std::vector<std::string>& names) const;
};

// Parses CSV text; `what` names the source in errors ("<what>: line N: unterminated quoted field").
CsvTable parse_csv(const std::string& text, const std::string& what);
CsvTable read_csv_file(const std::filesystem::path& path);

}  // namespace xm::data

// error.h: the library's one exception type. Library code throws xm::Error with context (file, byte
// offset or line, flag, hint); only the CLI decides to print and exit. Not for control flow.
#pragma once
#include <stdexcept>
#include <string>

namespace xm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Thrown for command-line misuse (unknown flag, missing value): the CLI exits 2 on it, 1 on xm::Error.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& what) : Error(what) {}
};

}  // namespace xm

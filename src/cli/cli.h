// cli.h: the command-line framework of the xlstm-music binary: a registry of subcommands (each file
// cmd_<name>.cpp registers itself) and a strict flag parser. The front end is thin: work lives in the library.
// Exit codes: 0 success, 1 bad input or failed work (one-line reason), 2 usage error.
#pragma once
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"

namespace xm::cli {

// Parsed arguments of one subcommand. Flags are "--name value", "--name=value" or boolean "--name".
// Unknown flags, missing values and bad numbers throw xm::UsageError naming the flag.
class Args {
 public:
  Args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
       const std::set<std::string>& bool_flags);

  bool help() const { return help_; }
  bool has(const std::string& flag) const;                       // given at least once
  std::optional<std::string> get(const std::string& flag) const;  // last value given
  std::string get_or(const std::string& flag, const std::string& fallback) const;
  std::string require(const std::string& flag) const;  // UsageError when missing
  std::vector<std::string> get_all(const std::string& flag) const;
  long long get_int(const std::string& flag, long long fallback, long long lo, long long hi) const;
  double get_double(const std::string& flag, double fallback, double lo, double hi) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

struct Command {
  std::string name;     // "inspect", or "data prepare" for a nested one
  std::string summary;  // one line for the top-level help
  std::string usage;    // full help text, printed by --help
  std::function<int(const std::vector<std::string>& argv)> run;  // argv after the command name
};

// Registers a command at static-initialisation time: `static xm::cli::Registrar r({...});`
struct Registrar {
  explicit Registrar(Command c);
};

const std::map<std::string, Command>& commands();

// True when stderr is a terminal (progress bars go there only then).
bool stderr_is_tty();

}  // namespace xm::cli

// cli.cpp: see cli.h.
#include "cli/cli.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <unistd.h>

namespace xm::cli {

static std::map<std::string, Command>& registry() {
  static std::map<std::string, Command> r;
  return r;
}

Registrar::Registrar(Command c) { registry()[c.name] = std::move(c); }

const std::map<std::string, Command>& commands() { return registry(); }

bool stderr_is_tty() { return ::isatty(2) == 1; }

Args::Args(const std::vector<std::string>& argv, const std::set<std::string>& value_flags,
           const std::set<std::string>& bool_flags) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") {
      help_ = true;
      continue;
    }
    if (a == "--") {
      for (size_t j = i + 1; j < argv.size(); ++j) positional_.push_back(argv[j]);
      break;
    }
    if (a.size() > 2 && a[0] == '-' && a[1] == '-') {
      std::string name = a, value;
      bool inline_value = false;
      if (auto eq = a.find('='); eq != std::string::npos) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
        inline_value = true;
      }
      if (value_flags.count(name)) {
        if (!inline_value) {
          if (i + 1 >= argv.size()) throw UsageError("flag " + name + " needs a value");
          value = argv[++i];
        }
        values_[name].push_back(value);
      } else if (bool_flags.count(name)) {
        if (inline_value) throw UsageError("flag " + name + " takes no value");
        values_[name].push_back("1");
      } else {
        throw UsageError("unknown flag " + name + " (see --help)");
      }
      continue;
    }
    positional_.push_back(a);
  }
}

bool Args::has(const std::string& flag) const { return values_.count(flag) > 0; }

std::optional<std::string> Args::get(const std::string& flag) const {
  auto it = values_.find(flag);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::string Args::get_or(const std::string& flag, const std::string& fallback) const {
  auto v = get(flag);
  return v ? *v : fallback;
}

std::string Args::require(const std::string& flag) const {
  auto v = get(flag);
  if (!v) throw UsageError("missing required flag " + flag + " (see --help)");
  return *v;
}

std::vector<std::string> Args::get_all(const std::string& flag) const {
  auto it = values_.find(flag);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

long long Args::get_int(const std::string& flag, long long fallback, long long lo, long long hi) const {
  auto v = get(flag);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  long long x = std::strtoll(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno == ERANGE)
    throw UsageError("flag " + flag + ": '" + *v + "' is not an integer");
  if (x < lo || x > hi)
    throw UsageError("flag " + flag + ": " + *v + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return x;
}

double Args::get_double(const std::string& flag, double fallback, double lo, double hi) const {
  auto v = get(flag);
  if (!v) return fallback;
  errno = 0;
  char* end = nullptr;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(x))
    throw UsageError("flag " + flag + ": '" + *v + "' is not a number");
  if (x < lo || x > hi)
    throw UsageError("flag " + flag + ": " + *v + " is out of range [" + std::to_string(lo) + ", " +
                     std::to_string(hi) + "]");
  return x;
}

}  // namespace xm::cli

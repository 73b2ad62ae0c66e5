// bench_clock.h: the clocks the benchmark programs read (wall, process CPU) and the process's peak RSS.
// Header-only, for bench/ programs; not a timer class or a statistics helper.
#pragma once
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <string>

namespace xm::bench {
// Seconds on a POSIX clock: CLOCK_MONOTONIC (wall) or CLOCK_PROCESS_CPUTIME_ID (all threads' CPU).
inline double now(clockid_t id) {
  timespec t;
  clock_gettime(id, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}
// Peak resident set size of this process so far (VmHWM of /proc/self/status), in bytes; 0 when unknown.
inline double peak_rss_bytes() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return 1024.0 * std::atof(line.c_str() + 6);
  return 0;
}
}  // namespace xm::bench

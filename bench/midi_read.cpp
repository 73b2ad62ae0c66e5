// midi_read: speed of the MIDI reader and writer over the corpora in ../shared/datasets (POP909 by default):
// files, MB, events and notes per second of CPU time, one thread, files preloaded in memory (no disk).
// Prints a table and writes JSON with --json; figures quoted in docs/ cite this command. Not a unit test.
#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"

namespace fs = std::filesystem;
using namespace xm;

#ifndef XM_DEFAULT_SHARED_DIR
#define XM_DEFAULT_SHARED_DIR "../shared"
#endif

namespace {

std::vector<fs::path> midi_files(const fs::path& dir) {
  std::vector<fs::path> v;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return v;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (e.is_regular_file() && (ext == ".mid" || ext == ".midi")) v.push_back(e.path());
  }
  std::sort(v.begin(), v.end());
  return v;
}

// This thread's CPU time: steadier than wall time on a shared machine (the work is single-threaded).
double now_s() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = XM_DEFAULT_SHARED_DIR, json_out;
  std::vector<std::string> datasets;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--shared" && i + 1 < argc) {
      shared = argv[++i];
    } else if (a == "--dataset" && i + 1 < argc) {
      datasets.push_back(argv[++i]);
    } else if (a == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::stoi(argv[++i]));
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: midi_read [--shared DIR] [--dataset NAME ...] [--repeat N] [--json OUT.json]\n"
                   "  times read_midi_bytes and write_midi_bytes on every MIDI file of each dataset (default "
                   "pop909),\n"
                   "  best of N passes (default 3), one thread, files preloaded in memory\n");
      return 2;
    }
  }
  if (datasets.empty()) datasets = {"pop909"};
  json results = json::array();
  std::printf("%-16s %6s %8s %10s %10s %10s %10s %12s %10s\n", "dataset", "files", "MB", "read f/s",
              "read MB/s", "Mevents/s", "Mnotes/s", "write f/s", "rejected");
  for (const std::string& name : datasets) {
    std::vector<fs::path> files = midi_files(fs::path(shared) / "datasets" / name);
    if (files.empty()) {
      std::fprintf(stderr, "midi_read: no MIDI files under %s/datasets/%s\n", shared.c_str(), name.c_str());
      continue;
    }
    std::vector<std::vector<uint8_t>> bytes;
    size_t total_bytes = 0;
    for (const fs::path& f : files) {
      bytes.push_back(read_file_bytes(f));
      total_bytes += bytes.back().size();
    }
    double best_read = 1e30, best_write = 1e30;
    int64_t events = 0, notes = 0, rejected = 0;
    std::vector<midi::Score> scores(files.size());
    for (int r = 0; r < repeat; ++r) {
      events = notes = rejected = 0;
      double t0 = now_s();
      for (size_t i = 0; i < files.size(); ++i) {
        try {
          scores[i] = midi::read_midi_bytes(bytes[i].data(), bytes[i].size(), files[i].string());
        } catch (const Error&) {
          ++rejected;
          scores[i] = midi::Score{};
          continue;
        }
        for (const midi::Track& t : scores[i].tracks) events += t.events;
        notes += int64_t(scores[i].notes.size());
      }
      best_read = std::min(best_read, now_s() - t0);
      t0 = now_s();
      size_t written = 0;
      for (const midi::Score& s : scores) written += midi::write_midi_bytes(s).size();
      best_write = std::min(best_write, now_s() - t0);
      if (written == 0) std::fprintf(stderr, "midi_read: nothing written\n");
    }
    double n = double(files.size());
    std::printf("%-16s %6zu %8.2f %10.0f %10.1f %10.2f %10.2f %12.0f %10lld\n", name.c_str(), files.size(),
                total_bytes / 1e6, n / best_read, total_bytes / 1e6 / best_read, events / 1e6 / best_read,
                notes / 1e6 / best_read, n / best_write, (long long)rejected);
    results.push_back({{"dataset", name},
                       {"files", files.size()},
                       {"bytes", total_bytes},
                       {"events", events},
                       {"notes", notes},
                       {"rejected", rejected},
                       {"read_seconds", best_read},
                       {"write_seconds", best_write},
                       {"read_files_per_s", n / best_read},
                       {"read_mb_per_s", total_bytes / 1e6 / best_read},
                       {"read_events_per_s", events / best_read},
                       {"write_files_per_s", n / best_write}});
  }
  if (!json_out.empty()) {
    json out = {{"benchmark", "midi_read"}, {"repeat", repeat}, {"results", results}};
    write_file_atomic(json_out, out.dump(1) + "\n");
    std::printf("wrote %s\n", json_out.c_str());
  }
  return 0;
}

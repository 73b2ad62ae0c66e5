// data_prepare: how fast `data prepare` turns POP909 and Nottingham (../shared/datasets) into token shards:
// files/s and tokens/s per tokenizer, thread count and transposition, best of N runs into a temp folder.
// Prints a table and writes JSON; the figures go to docs/data.md. Not a unit test (nothing is asserted).
//
// usage: data_prepare [--shared DIR] [--repeat N] [--jobs 1,2] [--tokenizers remi,performance]
//                     [--datasets pop909,nottingham] [--transpose -5..6] [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <time.h>
#include <unistd.h>
#include <vector>

#include "core/io.h"
#include "core/json.h"
#include "data/prepare.h"

namespace fs = std::filesystem;

#ifndef XM_DEFAULT_SHARED_DIR
#define XM_DEFAULT_SHARED_DIR "../shared"
#endif

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

// CPU seconds of the whole process (all threads): a figure that other load on the machine barely moves.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

}  // namespace

int main(int argc, char** argv) {
  std::string shared = XM_DEFAULT_SHARED_DIR, json_out = "bench_data_prepare.json";
  std::string jobs_list = "1,2", tokenizers = "remi,performance", datasets = "pop909,nottingham", transpose;
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "data_prepare: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--shared") shared = value();
    else if (a == "--repeat") repeat = std::max(1, std::atoi(value().c_str()));
    else if (a == "--jobs") jobs_list = value();
    else if (a == "--tokenizers") tokenizers = value();
    else if (a == "--datasets") datasets = value();
    else if (a == "--transpose") transpose = value();
    else if (a == "--json") json_out = value();
    else {
      std::fprintf(stderr, "usage: data_prepare [--shared DIR] [--repeat N] [--jobs 1,2] [--tokenizers remi,performance]\n"
                           "                    [--datasets pop909,nottingham] [--transpose -5..6] [--json FILE]\n");
      return a == "--help" ? 0 : 2;
    }
  }
  const fs::path tmp = fs::temp_directory_path() / ("xm-bench-data-" + std::to_string(::getpid()));
  xm::json rows = xm::json::array();
  std::printf("cores: %u, best of %d runs, output in %s\n", std::thread::hardware_concurrency(), repeat, tmp.c_str());
  std::printf("%-11s %-12s %4s %9s %6s %6s %11s %8s %8s %9s %12s\n", "dataset", "tokenizer", "jobs", "transpose",
              "files", "pieces", "tokens", "seconds", "cpu s", "files/s", "tokens/s");
  for (const auto& ds : split_list(datasets)) {
    const fs::path in = fs::path(shared) / "datasets" / ds;
    std::error_code ec;
    if (!fs::is_directory(in, ec)) {
      std::printf("%-11s (not found at %s: skipped)\n", ds.c_str(), in.c_str());
      continue;
    }
    for (const auto& tok : split_list(tokenizers))
      for (const auto& js : split_list(jobs_list)) {
        xm::data::PrepareOptions o;
        o.inputs.push_back({in, ""});
        o.out = tmp / "corpus";
        o.tokenizer = tok;
        o.jobs = std::atoi(js.c_str());
        if (!transpose.empty()) o.transpose = xm::data::parse_transpose_range(transpose);
        double best = 1e30, best_cpu = 1e30;
        xm::json rep;
        for (int r = 0; r < repeat; ++r) {
          const double c0 = cpu_seconds();
          xm::data::PrepareResult res = xm::data::prepare_corpus(o);
          best_cpu = std::min(best_cpu, cpu_seconds() - c0);
          const double t = res.report["seconds"]["total"].get<double>();
          if (t < best) {
            best = t;
            rep = res.report;
          }
        }
        const int64_t files = rep["files"]["found"].get<int64_t>();
        const int64_t tokens = rep["tokens"].get<int64_t>();
        const std::string tr = transpose.empty() ? "none" : transpose;
        std::printf("%-11s %-12s %4d %9s %6lld %6lld %11lld %8.3f %8.3f %9.1f %12.0f\n", ds.c_str(), tok.c_str(),
                    o.jobs, tr.c_str(), (long long)files, (long long)rep["pieces"].get<int64_t>(), (long long)tokens,
                    best, best_cpu, double(files) / best, double(tokens) / best);
        std::fflush(stdout);
        rows.push_back({{"dataset", ds},
                        {"tokenizer", tok},
                        {"jobs", o.jobs},
                        {"transpose", tr},
                        {"files", files},
                        {"pieces", rep["pieces"]},
                        {"skipped", rep["skipped"]["total"]},
                        {"tokens", tokens},
                        {"seconds", best},
                        {"cpu_seconds", best_cpu},
                        {"files_per_s", double(files) / best},
                        {"tokens_per_s", double(tokens) / best}});
      }
  }
  std::error_code ec;
  fs::remove_all(tmp, ec);
  xm::write_file_atomic(json_out, xm::json{{"benchmark", "data_prepare"},
                                           {"cores", std::thread::hardware_concurrency()},
                                           {"repeat", repeat},
                                           {"rows", rows}}
                                      .dump(1) + "\n");
  std::printf("wrote %s\n", json_out.c_str());
  return 0;
}

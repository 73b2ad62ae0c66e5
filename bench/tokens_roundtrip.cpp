// tokens_roundtrip: how exactly each tokenizer's decode(encode(x)) restores the corpora in
// ../shared/datasets (POP909, Nottingham, Groove MIDI, the MIDI edge cases, JSB chorales): exact-note
// share, onset error, velocity error, tokens per note, speed. Prints a table and writes JSON; the
// figures go to docs/tokenizers.md. Not a unit test (tests/tokens/test_corpus.cpp asserts thresholds).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "core/io.h"
#include "core/json.h"
#include "midi/midi_io.h"
#include "tokens/jsb_dataset.h"
#include "tokens/roundtrip.h"
#include "tokens/tokenizer.h"

namespace fs = std::filesystem;
using namespace xm;

#ifndef XM_DEFAULT_SHARED_DIR
#define XM_DEFAULT_SHARED_DIR "../shared"
#endif

namespace {

// *.mid under dir (recursive or not), sorted, thinned to at most limit by an even stride (0 = all).
std::vector<fs::path> midi_files(const fs::path& dir, bool recursive, size_t limit) {
  std::vector<fs::path> v;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return v;
  auto take = [&](const fs::directory_entry& e) {
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (e.is_regular_file() && (ext == ".mid" || ext == ".midi")) v.push_back(e.path());
  };
  if (recursive)
    for (const auto& e : fs::recursive_directory_iterator(dir)) take(e);
  else
    for (const auto& e : fs::directory_iterator(dir)) take(e);
  std::sort(v.begin(), v.end());
  if (limit && v.size() > limit) {
    std::vector<fs::path> t;
    for (size_t i = 0; i < limit; ++i) t.push_back(v[i * v.size() / limit]);
    v = t;
  }
  return v;
}

struct Dataset {
  std::string name;
  std::vector<midi::Score> scores;
  std::vector<std::string> files;
  int64_t unreadable = 0;
};

}  // namespace

int main(int argc, char** argv) {
  fs::path shared = XM_DEFAULT_SHARED_DIR;
  size_t limit = 0;
  int worst = 0;
  std::string json_out;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--shared" && i + 1 < argc) {
      shared = argv[++i];
    } else if (a == "--limit" && i + 1 < argc) {
      limit = size_t(std::stoul(argv[++i]));
    } else if (a == "--worst" && i + 1 < argc) {
      worst = std::stoi(argv[++i]);
    } else if (a == "--json" && i + 1 < argc) {
      json_out = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: tokens_roundtrip [--shared DIR] [--limit N files per dataset] [--json OUT.json] [--worst K]\n"
                   "  --worst K: also list the K pieces with the lowest exact share per dataset and tokenizer\n");
      return 2;
    }
  }
  const fs::path ds = shared / "datasets";
  std::vector<Dataset> sets;
  auto load = [&](const std::string& name, const fs::path& dir, bool recursive) {
    Dataset d{name, {}, {}, 0};
    for (const auto& f : midi_files(dir, recursive, limit)) {
      try {
        d.scores.push_back(midi::read_midi_file(f));
        d.files.push_back(f.lexically_relative(ds).string());
      } catch (const std::exception& e) {
        ++d.unreadable;
      }
    }
    if (!d.scores.empty()) sets.push_back(std::move(d));
  };
  load("pop909", ds / "pop909" / "POP909", true);
  load("nottingham", ds / "nottingham" / "MIDI", false);
  load("groove", ds / "groove-midi", true);
  load("edge-valid", ds / "midi-edge-cases" / "valid", false);
  std::error_code ec;
  if (fs::exists(ds / "jsb-chorales" / "Jsb16thSeparated.json", ec)) {
    tokens::JsbDataset jsb = tokens::load_jsb(ds / "jsb-chorales");
    Dataset d{"jsb", {}, {}, 0};
    for (auto* split : {&jsb.train, &jsb.valid, &jsb.test})
      for (const auto& c : *split) {
        d.scores.push_back(tokens::jsb_chorale_to_score(c));
        d.files.push_back("chorale " + std::to_string(d.files.size()));
      }
    if (limit && d.scores.size() > limit) d.scores.resize(limit);
    sets.push_back(std::move(d));
  }
  if (sets.empty()) {
    std::fprintf(stderr, "tokens_roundtrip: no datasets under %s\n", ds.string().c_str());
    return 1;
  }

  json results = json::array();
  std::printf("%-11s %-12s %6s %8s %9s %8s %9s %9s %8s %8s %8s %8s\n", "dataset", "tokenizer", "pieces", "notes",
              "tokens", "tok/note", "exact", "unmatched", "on_ms", "on_max", "vel_err", "ms/piece");
  for (const auto& d : sets) {
    for (const std::string tn : {"remi", "tuples", "performance", "jsb"}) {
      if (tn == "jsb" && d.name != "jsb") continue;  // four voices: only meaningful on the chorales
      auto tok = tokens::make_tokenizer(tn);
      tokens::RoundtripStats total;
      auto t0 = std::chrono::steady_clock::now();
      std::vector<std::pair<double, size_t>> per_piece;
      for (size_t i = 0; i < d.scores.size(); ++i) {
        tokens::RoundtripStats st = tokens::measure_roundtrip(*tok, d.scores[i]);
        per_piece.push_back({st.exact_share(), i});
        total.add(st);
      }
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      double tpn = total.notes ? double(total.tokens) / double(total.notes) : 0.0;
      std::printf("%-11s %-12s %6lld %8lld %9lld %8.2f %8.4f%% %9lld %8.2f %8.1f %8.2f %8.2f\n", d.name.c_str(),
                  tn.c_str(), (long long)total.pieces, (long long)total.notes, (long long)total.tokens, tpn,
                  100.0 * total.exact_share(), (long long)total.unmatched, total.mean_onset_err_ms(),
                  total.onset_err_ms_max, total.mean_velocity_err(), ms / double(std::max<int64_t>(1, total.pieces)));
      std::sort(per_piece.begin(), per_piece.end());
      for (int k = 0; k < worst && k < int(per_piece.size()); ++k)
        std::printf("    worst: %8.4f%% %s\n", 100.0 * per_piece[size_t(k)].first,
                    d.files[per_piece[size_t(k)].second].c_str());
      json r = total.to_json();
      r["dataset"] = d.name;
      r["tokenizer"] = tn;
      r["unreadable_files"] = d.unreadable;
      r["tokens_per_note"] = tpn;
      r["ms_per_piece"] = ms / double(std::max<int64_t>(1, total.pieces));
      results.push_back(r);
    }
  }
  if (!json_out.empty()) {
    json out = {{"benchmark", "tokens_roundtrip"}, {"limit", limit}, {"results", results}};
    write_file_atomic(json_out, out.dump(1) + "\n");
    std::printf("wrote %s\n", json_out.c_str());
  }
  return 0;
}

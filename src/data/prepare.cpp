// prepare.cpp: see prepare.h. Work flows in batches: worker threads parse, tag and tokenize the files of a
// batch (each result in its own slot), then the calling thread writes the batch in input order, so the
// output is the same for any --jobs and memory stays bounded by one batch.
#include "data/prepare.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <thread>
#include <unistd.h>

#include "core/error.h"
#include "core/io.h"
#include "data/corpus.h"
#include "data/shard.h"
#include "data/sources.h"
#include "midi/midi_io.h"
#include "music/analysis.h"
#include "tokens/jsb_dataset.h"
#include "tokens/tokenizer.h"

namespace xm::data {

namespace fs = std::filesystem;

InputSpec parse_input_spec(const std::string& text) {
  InputSpec s;
  s.path = text;
  std::error_code ec;
  if (fs::exists(text, ec)) return s;
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) return s;
  const std::string genre = text.substr(colon + 1);
  if (genre.find('/') != std::string::npos) return s;
  s.path = text.substr(0, colon);
  s.genre = genre;
  return s;
}

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// One unit of work: a MIDI file of an input, or one chorale of a JSB input.
struct WorkItem {
  int input = 0;
  std::string rel;   // relative path (chorales: "<split>/<n>")
  fs::path path;
  std::string abs;
  int chorale = -1;  // index into the input's chorales, or -1 for a MIDI file
};

struct WorkResult {
  bool ok = false;
  std::string reason;  // the counted reason when !ok
  std::string detail;  // the full message
  PieceInfo piece;     // sequences without shard/offset
  std::vector<std::pair<int, std::vector<int32_t>>> seqs;  // (transpose, ids), the original first
  int64_t out_of_range_shifts = 0;
  int64_t failed_shifts = 0;
  int64_t reader_warnings = 0;
};

// A reader error without the path in front and with numbers as N, so that like errors count together.
std::string reason_key(const std::string& message, const std::string& path) {
  std::string m = message;
  for (const std::string& p : {path + ": ", fs::path(path).filename().string() + ": "})
    if (m.rfind(p, 0) == 0) {
      m = m.substr(p.size());
      break;
    }
  std::string out;
  for (size_t i = 0; i < m.size();) {
    if (std::isdigit(static_cast<unsigned char>(m[i]))) {
      out += 'N';
      while (i < m.size() && (std::isdigit(static_cast<unsigned char>(m[i])) || m[i] == '.')) ++i;
    } else {
      out += m[i++];
    }
  }
  if (out.size() > 160) out = out.substr(0, 160) + "...";
  return out;
}

std::string fmt(const char* f, double x) {
  char b[64];
  std::snprintf(b, sizeof b, f, x);
  return b;
}

// One chorale of a JSB input: its official split and its four voices per 16th note.
struct ChoraleItem {
  std::string name;  // "train/12"
  Split split = Split::Train;
  tokens::JsbChorale chorale;
};

std::vector<ChoraleItem> load_chorales(const fs::path& json_path) {
  tokens::JsbDataset d = tokens::load_jsb(json_path);
  std::vector<ChoraleItem> out;
  for (auto [split, v] : {std::pair<Split, std::vector<tokens::JsbChorale>*>{Split::Train, &d.train},
                          {Split::Valid, &d.valid},
                          {Split::Test, &d.test}})
    for (size_t i = 0; i < v->size(); ++i)
      out.push_back({split_name(split) + "/" + std::to_string(i), split, std::move((*v)[i])});
  return out;
}

tokens::JsbChorale transposed(const tokens::JsbChorale& c, int shift) {
  tokens::JsbChorale t = c;
  for (auto& st : t.steps)
    for (int& p : st)
      if (p >= 0) p += shift;
  return t;
}

// Everything a worker needs, read-only.
struct Context {
  const PrepareOptions* opt = nullptr;
  const tokens::Tokenizer* tok = nullptr;
  std::vector<InputSource> inputs;
  std::vector<std::vector<ChoraleItem>> chorales;  // per input (JSB only)
  LabelTable extra_labels;                          // from --labels
};

midi::Score transposed(const midi::Score& s, int shift) {
  midi::Score t = s;
  for (auto& n : t.notes)
    if (!n.drum) n.pitch += shift;
  for (auto& k : t.key_signatures) {
    // Move the key signature with the notes: +7 sharps per semitone, folded into -7..7 (prefer fewer).
    int sharps = k.sharps + 7 * shift;
    sharps = ((sharps % 12) + 12) % 12;
    if (sharps > 6) sharps -= 12;
    k.sharps = sharps;
  }
  return t;
}

void process(const Context& ctx, const WorkItem& item, WorkResult& r) {
  const PrepareOptions& opt = *ctx.opt;
  const InputSource& in = ctx.inputs[size_t(item.input)];
  midi::Score score;
  PieceLabels labels;
  // JSB chorales with the jsb tokenizer are serialised directly (no round trip through a Score).
  const ChoraleItem* chorale = nullptr;
  if (item.chorale >= 0) {
    chorale = &ctx.chorales[size_t(item.input)][size_t(item.chorale)];
    score = tokens::jsb_chorale_to_score(chorale->chorale);
    labels.has_split = true;
    labels.split = chorale->split;
  } else {
    try {
      score = midi::read_midi_file(item.path);
    } catch (const std::exception& e) {
      r.reason = "unreadable MIDI: " + reason_key(e.what(), item.path.string());
      r.detail = e.what();
      return;
    }
    if (const PieceLabels* l = in.labels.find(item.abs)) labels = *l;
    if (const PieceLabels* l = ctx.extra_labels.find(item.abs)) {
      LabelTable merged;
      merged.add(item.abs, labels);
      merged.add(item.abs, *l);
      labels = *merged.find(item.abs);
    }
  }
  r.reader_warnings = int64_t(score.warnings.size());
  const int64_t notes = int64_t(score.notes.size());
  if (notes == 0) {
    r.reason = "no notes";
    r.detail = "the file holds no notes";
    return;
  }
  if (notes < opt.min_notes) {
    r.reason = "too few notes (< " + std::to_string(opt.min_notes) + ")";
    r.detail = std::to_string(notes) + " notes";
    return;
  }
  double last = 0.0;
  int lo = 128, hi = -1;
  int64_t first_tick = score.notes.front().onset_tick;
  for (const auto& n : score.notes) {
    last = std::max(last, n.offset_s);
    first_tick = std::min(first_tick, n.onset_tick);
    if (!n.drum) {
      lo = std::min(lo, n.pitch);
      hi = std::max(hi, n.pitch);
    }
  }
  if (last > opt.max_seconds) {
    r.reason = "too long (> " + fmt("%g", opt.max_seconds) + " s)";
    r.detail = fmt("%.1f s", last);
    return;
  }

  PieceInfo& p = r.piece;
  p.source = item.rel;
  p.input = in.root.string();
  p.dataset = in.dataset;
  p.notes = notes;
  p.seconds = last;
  p.group = labels.group.empty() ? item.rel : labels.group;
  if (labels.has_split) {
    p.split = labels.split;
    p.split_from = "official";
  } else {
    p.split = assign_split(p.group, opt.split);
    p.split_from = "hash";
  }
  p.genre = !in.genre.empty() ? in.genre : (!labels.genre.empty() ? labels.genre : in.default_genre);
  p.mood = labels.mood;
  p.labels = labels.labels;
  if (hi >= 0) {
    const music::Key k = music::estimate_key(score);
    p.key_tonic = k.tonic;
    p.key_minor = k.minor;
  }
  p.tempo_bpm = std::round(score.tempo_map().bpm_at(first_tick) * 100.0) / 100.0;
  int num = 4, den = 4;
  for (const auto& ts : score.time_signatures)
    if (ts.tick <= first_tick) {
      num = ts.numerator;
      den = ts.denominator;
    }
  p.time_signature = std::to_string(num) + "/" + std::to_string(den);

  std::vector<int> shifts{0};
  if (p.split == Split::Train && hi >= 0) {
    for (int s : opt.transpose.shifts()) {
      if (s == 0) continue;
      if (lo + s < 0 || hi + s > 127) {
        ++r.out_of_range_shifts;
        continue;
      }
      shifts.push_back(s);
    }
  }
  for (int s : shifts) {
    tokens::Conditioning cond;
    if (opt.conditioning) {
      cond.genre = p.genre;
      cond.mood = p.mood;
      if (p.key_tonic >= 0) {
        cond.key_tonic = ((p.key_tonic + s) % 12 + 12) % 12;
        cond.key_minor = p.key_minor;
      }
      cond.tempo_bpm = p.tempo_bpm;
    }
    std::vector<int32_t> ids;
    try {
      if (chorale && ctx.tok->name() == "jsb")
        ids = tokens::jsb_encode_chorale(s == 0 ? chorale->chorale : transposed(chorale->chorale, s));
      else
        ids = s == 0 ? ctx.tok->encode(score, cond) : ctx.tok->encode(transposed(score, s), cond);
    } catch (const std::exception& e) {
      if (s == 0) {
        r.reason = "tokenizer error: " + reason_key(e.what(), item.path.string());
        r.detail = e.what();
        return;
      }
      ++r.failed_shifts;
      continue;
    }
    if (s == 0 && opt.max_tokens > 0 && int64_t(ids.size()) > opt.max_tokens) {
      r.reason = "too many tokens (> " + std::to_string(opt.max_tokens) + ")";
      r.detail = std::to_string(ids.size()) + " tokens";
      return;
    }
    r.seqs.emplace_back(s, std::move(ids));
  }
  r.ok = true;
}

// The open shard of each split, rolled over at opt.shard_tokens.
class ShardSet {
 public:
  ShardSet(const fs::path& dir, const tokens::Tokenizer& tok, uint64_t max_tokens)
      : dir_(dir), max_tokens_(max_tokens) {
    header_.token_bytes = token_bytes_for_vocab(tok.vocab_size());
    header_.vocab_size = uint32_t(tok.vocab_size());
    header_.fields_per_step = uint32_t(tok.fields_per_step());
  }

  SequenceInfo append(Split split, int transpose, const std::vector<int32_t>& ids) {
    const int k = int(split);
    auto& w = open_[size_t(k)];
    if (w && w->num_tokens() > 0 && w->num_tokens() + ids.size() > max_tokens_) close(k);
    if (!w) {
      ShardHeader h = header_;
      h.split = uint32_t(k);
      char name[64];
      std::snprintf(name, sizeof name, "%s-%03d.bin", split_name(split).c_str(), next_[size_t(k)]++);
      w = std::make_unique<ShardWriter>(dir_ / name, h);
      names_[size_t(k)] = name;
      splits_[size_t(k)] = split;
    }
    SequenceInfo s;
    s.transpose = transpose;
    s.shard = names_[size_t(k)];
    s.length = ids.size();
    s.offset = w->append(ids.data(), ids.size());
    ++sequences_[size_t(k)];
    return s;
  }

  void finish() {
    for (int k = 0; k < kNumSplits; ++k) close(k);
  }
  const json& shards() const { return shards_; }

 private:
  void close(int k) {
    auto& w = open_[size_t(k)];
    if (!w) return;
    w->finish();
    shards_.push_back({{"file", names_[size_t(k)]},
                       {"split", split_name(splits_[size_t(k)])},
                       {"tokens", w->num_tokens()},
                       {"sequences", sequences_[size_t(k)]}});
    sequences_[size_t(k)] = 0;
    w.reset();
  }

  fs::path dir_;
  uint64_t max_tokens_;
  ShardHeader header_;
  std::unique_ptr<ShardWriter> open_[kNumSplits];
  std::string names_[kNumSplits];
  Split splits_[kNumSplits] = {Split::Train, Split::Valid, Split::Test};
  int next_[kNumSplits] = {0, 0, 0};
  int64_t sequences_[kNumSplits] = {0, 0, 0};
  json shards_ = json::array();
};

// Refuses to replace anything that is not a prepared corpus (or empty).
void check_out_dir(const fs::path& out) {
  std::error_code ec;
  if (!fs::exists(out, ec)) return;
  if (!fs::is_directory(out, ec))
    throw Error("--out " + out.string() + ": exists and is not a folder (hint: choose a new folder name)");
  if (fs::exists(out / "index.json", ec)) return;
  if (fs::directory_iterator(out, ec) != fs::directory_iterator())
    throw Error("--out " + out.string() +
                ": a non-empty folder that is not a prepared corpus (no index.json); refusing to replace it "
                "(hint: choose a new or empty folder)");
}

}  // namespace

std::string format_report_summary(const json& r) {
  std::string s;
  char line[256];
  const json& sp = r["splits"];
  std::snprintf(line, sizeof line, "prepared %lld pieces from %lld files in %.2f s (%.1f files/s, %.0f tokens/s) -> %s\n",
                (long long)r["pieces"].get<int64_t>(), (long long)r["files"]["found"].get<int64_t>(),
                r["seconds"]["total"].get<double>(), r["files_per_s"].get<double>(), r["tokens_per_s"].get<double>(),
                r["out"].get<std::string>().c_str());
  s += line;
  std::snprintf(line, sizeof line, "  tokenizer %s, vocabulary %d\n", r["tokenizer"].get<std::string>().c_str(),
                r["vocab_size"].get<int>());
  s += line;
  std::snprintf(line, sizeof line, "  %-6s %8s %10s %14s %14s\n", "split", "pieces", "sequences", "tokens",
                "orig. tokens");
  s += line;
  for (const char* k : {"train", "valid", "test"}) {
    const json& x = sp[k];
    std::snprintf(line, sizeof line, "  %-6s %8lld %10lld %14lld %14lld\n", k, (long long)x["pieces"].get<int64_t>(),
                  (long long)x["sequences"].get<int64_t>(), (long long)x["tokens"].get<int64_t>(),
                  (long long)x["original_tokens"].get<int64_t>());
    s += line;
  }
  const json& sk = r["skipped"];
  std::snprintf(line, sizeof line, "skipped %lld files\n", (long long)sk["total"].get<int64_t>());
  s += line;
  std::vector<std::pair<int64_t, std::string>> reasons;
  for (const auto& [k, v] : sk["by_reason"].items()) reasons.emplace_back(v.get<int64_t>(), k);
  std::sort(reasons.begin(), reasons.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [n, k] : reasons) {
    std::snprintf(line, sizeof line, "  %6lld  %s\n", (long long)n, k.c_str());
    s += line;
  }
  return s;
}

PrepareResult prepare_corpus(const PrepareOptions& opt) {
  const auto t0 = Clock::now();
  if (opt.inputs.empty()) throw Error("--input: give at least one input folder");
  if (opt.out.empty()) throw Error("--out: give the output folder");
  if (opt.min_notes < 1) throw Error("--min-notes: must be at least 1");
  if (!(opt.max_seconds > 0)) throw Error("--max-seconds: must be positive");
  check_out_dir(opt.out);

  // The tokenizer first: an unknown name should fail before any work.
  std::unique_ptr<tokens::Tokenizer> tok = tokens::make_tokenizer(opt.tokenizer, opt.tokenizer_options);

  Context ctx;
  ctx.opt = &opt;
  ctx.tok = tok.get();
  for (const auto& csv : opt.label_csvs) ctx.extra_labels.merge(read_labels_csv(csv));

  // ---- scan -----------------------------------------------------------------------------------------
  std::vector<WorkItem> items;
  std::set<std::string> seen;
  int64_t duplicates = 0;
  json inputs_json = json::array();
  for (size_t i = 0; i < opt.inputs.size(); ++i) {
    ctx.inputs.push_back(detect_input(opt.inputs[i].path, opt.inputs[i].genre));
    const InputSource& in = ctx.inputs.back();
    ctx.chorales.emplace_back();
    size_t before = items.size();
    if (!in.jsb_json.empty()) {
      ctx.chorales.back() = load_chorales(in.jsb_json);
      const auto& cs = ctx.chorales.back();
      for (size_t c = 0; c < cs.size(); ++c) {
        WorkItem w;
        w.input = int(i);
        w.rel = cs[c].name;
        w.path = in.jsb_json;
        w.abs = normal_path(in.jsb_json) + "#" + cs[c].name;
        w.chorale = int(c);
        items.push_back(std::move(w));
      }
    } else {
      for (auto& f : scan_midi_files(in)) {
        if (!seen.insert(f.abs).second) {
          ++duplicates;
          continue;
        }
        WorkItem w;
        w.input = int(i);
        w.rel = f.rel;
        w.path = f.path;
        w.abs = f.abs;
        items.push_back(std::move(w));
      }
    }
    inputs_json.push_back({{"path", in.root.string()},
                           {"dataset", in.dataset},
                           {"genre", in.genre.empty() ? in.default_genre : in.genre},
                           {"label_files", in.label_files},
                           {"files", int64_t(items.size() - before)}});
  }
  const double scan_s = seconds_since(t0);

  // ---- process and write, batch by batch --------------------------------------------------------------
  const fs::path out_abs = fs::path(normal_path(opt.out));
  fs::create_directories(out_abs.parent_path());
  const fs::path tmp = out_abs.parent_path() / ("." + out_abs.filename().string() + ".tmp-" + std::to_string(::getpid()));
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp);

  json index_pieces = json::array();
  json skipped_files = json::array();
  std::map<std::string, int64_t> skip_reasons, genres, moods, datasets_pieces;
  int64_t skipped = 0, out_of_range = 0, failed_shifts = 0, files_with_warnings = 0;
  int64_t split_pieces[kNumSplits] = {}, split_seqs[kNumSplits] = {}, split_tokens[kNumSplits] = {},
          split_orig[kNumSplits] = {};
  const int jobs = opt.jobs > 0 ? opt.jobs : std::max(1, int(std::thread::hardware_concurrency()));
  const size_t batch = size_t(std::max(64, jobs * 16));
  const auto t1 = Clock::now();
  try {
    ShardSet shards(tmp, *tok, opt.shard_tokens);
    for (size_t b0 = 0; b0 < items.size(); b0 += batch) {
      const size_t b1 = std::min(items.size(), b0 + batch);
      std::vector<WorkResult> results(b1 - b0);
      std::atomic<size_t> next{b0};
      auto worker = [&] {
        for (size_t k; (k = next.fetch_add(1)) < b1;) {
          try {
            process(ctx, items[k], results[k - b0]);
          } catch (const std::exception& e) {  // a bug or out of memory: count it, never stop the run
            results[k - b0] = WorkResult{};
            results[k - b0].reason = "internal error: " + reason_key(e.what(), items[k].path.string());
            results[k - b0].detail = e.what();
          }
        }
      };
      const int n_threads = int(std::min<size_t>(size_t(jobs), b1 - b0));
      std::vector<std::thread> threads;
      for (int t = 1; t < n_threads; ++t) threads.emplace_back(worker);
      worker();
      for (auto& t : threads) t.join();

      for (size_t k = b0; k < b1; ++k) {
        WorkResult& r = results[k - b0];
        if (r.reader_warnings) ++files_with_warnings;
        if (!r.ok) {
          ++skipped;
          ++skip_reasons[r.reason];
          if (skipped_files.size() < opt.max_listed_skips)
            skipped_files.push_back({{"path", (fs::path(ctx.inputs[size_t(items[k].input)].root) / items[k].rel).string()},
                                     {"reason", r.reason},
                                     {"detail", r.detail}});
          continue;
        }
        PieceInfo& p = r.piece;
        p.id = int64_t(index_pieces.size());
        const int sk = int(p.split);
        for (auto& [shift, ids] : r.seqs) {
          p.sequences.push_back(shards.append(p.split, shift, ids));
          split_tokens[sk] += int64_t(ids.size());
          if (shift == 0) split_orig[sk] += int64_t(ids.size());
          ++split_seqs[sk];
        }
        ++split_pieces[sk];
        out_of_range += r.out_of_range_shifts;
        failed_shifts += r.failed_shifts;
        ++genres[p.genre.empty() ? "(none)" : p.genre];
        if (!p.mood.empty()) ++moods[p.mood];
        ++datasets_pieces[p.dataset];
        json pj = piece_to_json(p);
        if (p.key_tonic >= 0) pj["tags"]["key"] = music::key_name(music::Key{p.key_tonic, p.key_minor, 0.0});
        index_pieces.push_back(std::move(pj));
      }
      if (opt.progress) opt.progress(b1, items.size());
    }
    shards.finish();

    const double process_s = seconds_since(t1);
    int64_t total_tokens = 0;
    for (int k = 0; k < kNumSplits; ++k) total_tokens += split_tokens[k];
    const double total_s = seconds_since(t0);

    json options = {{"split", {{"valid", opt.split.valid}, {"test", opt.split.test}}},
                    {"transpose", {opt.transpose.lo, opt.transpose.hi}},
                    {"min_notes", opt.min_notes},
                    {"max_seconds", opt.max_seconds},
                    {"max_tokens", opt.max_tokens},
                    {"conditioning", opt.conditioning},
                    {"shard_tokens", opt.shard_tokens}};
    json splits = json::object();
    for (int k = 0; k < kNumSplits; ++k)
      splits[split_name(Split(k))] = {{"pieces", split_pieces[k]},
                                      {"sequences", split_seqs[k]},
                                      {"tokens", split_tokens[k]},
                                      {"original_tokens", split_orig[k]}};
    json index = {{"format", kIndexFormat},
                  {"version", kIndexVersion},
                  {"tokenizer", tok->name()},
                  {"vocab_size", tok->vocab_size()},
                  {"fields_per_step", tok->fields_per_step()},
                  {"token_dtype", token_bytes_for_vocab(tok->vocab_size()) == 2 ? "uint16" : "int32"},
                  {"command", opt.command_line},
                  {"options", options},
                  {"inputs", inputs_json},
                  {"splits", splits},
                  {"shards", shards.shards()},
                  {"pieces", std::move(index_pieces)}};
    json genres_without_token = json::array();
    for (const auto& [g, n] : genres)
      if (g != "(none)" && tokens::normalize_genre(g).empty()) genres_without_token.push_back(g);

    json report = {{"tokenizer", tok->name()},
                   {"vocab_size", tok->vocab_size()},
                   {"out", out_abs.string()},
                   {"command", opt.command_line},
                   {"jobs", jobs},
                   {"options", options},
                   {"inputs", inputs_json},
                   {"files", {{"found", int64_t(items.size())},
                              {"duplicates_ignored", duplicates},
                              {"with_reader_warnings", files_with_warnings}}},
                   {"pieces", int64_t(index["pieces"].size())},
                   {"splits", splits},
                   {"tokens", total_tokens},
                   {"shards", int64_t(shards.shards().size())},
                   {"transpositions", {{"out_of_midi_range", out_of_range}, {"tokenizer_failed", failed_shifts}}},
                   {"skipped", {{"total", skipped},
                                {"by_reason", skip_reasons},
                                {"files_listed", int64_t(skipped_files.size())},
                                {"files", skipped_files}}},
                   {"genres", genres},
                   {"genres_without_token", genres_without_token},
                   {"moods", moods},
                   {"datasets", datasets_pieces},
                   {"seconds", {{"scan", scan_s}, {"process_and_write", process_s}, {"total", total_s}}},
                   {"files_per_s", total_s > 0 ? double(items.size()) / total_s : 0.0},
                   {"tokens_per_s", total_s > 0 ? double(total_tokens) / total_s : 0.0}};

    write_file_atomic(tmp / "vocab.json", tok->vocab_json().dump(1) + "\n");
    write_file_atomic(tmp / "index.json", index.dump(1) + "\n");
    write_file_atomic(tmp / "report.json", report.dump(1) + "\n");

    // Swap the new corpus in: the old one (if any) moves aside first, and is removed only afterwards.
    check_out_dir(opt.out);
    const fs::path old = out_abs.parent_path() / ("." + out_abs.filename().string() + ".old-" + std::to_string(::getpid()));
    fs::remove_all(old, ec);
    const bool had_old = fs::exists(out_abs, ec);
    if (had_old) fs::rename(out_abs, old);
    try {
      fs::rename(tmp, out_abs);
    } catch (...) {
      if (had_old) fs::rename(old, out_abs, ec);
      throw;
    }
    if (had_old) fs::remove_all(old, ec);

    PrepareResult res;
    res.report = std::move(report);
    res.summary = format_report_summary(res.report);
    return res;
  } catch (const fs::filesystem_error& e) {
    fs::remove_all(tmp, ec);
    throw Error(std::string("--out ") + opt.out.string() + ": " + e.what());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace xm::data

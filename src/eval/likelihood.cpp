// likelihood.cpp: see likelihood.h. Pieces of a split -> (carry) recurrent prefill window by window with the
// state carried, or (windows) batched forwards over fixed windows; NLL summed per piece, genre and position.
// Not the command line (cli/cmd_eval.cpp).
#include "eval/likelihood.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "core/error.h"
#include "model/xlstm_lm.h"

namespace xm::eval {

double NllTotals::nll_per_token() const { return tokens > 0 ? nll / double(tokens) : NAN; }
double NllTotals::perplexity() const { return tokens > 0 ? std::exp(nll_per_token()) : NAN; }
double NllTotals::bits_per_note() const { return notes > 0 ? nll / std::log(2.0) / double(notes) : NAN; }
double NllTotals::bits_per_second() const { return seconds > 0 ? nll / std::log(2.0) / seconds : NAN; }
void NllTotals::add(const NllTotals& o) {
  pieces += o.pieces, tokens += o.tokens, nll += o.nll, notes += o.notes, seconds += o.seconds;
}

namespace {

// One piece as evaluated: its (possibly cut) ids and the length of its control prefix, in steps.
struct Item {
  size_t piece_index = 0;  // into the report's pieces
  std::vector<int32_t> ids;
  int64_t prefix = 0, steps = 0;
};

// Accumulates one prediction into its piece and its position bucket.
struct Sink {
  LikelihoodReport* r;
  int64_t cap;  // first step of the open-ended bucket
  void add(const Item& it, int64_t position, double nll) {
    NllTotals& t = r->pieces[it.piece_index].totals;
    t.nll += nll;
    ++t.tokens;
    const size_t k = size_t(std::min(position, cap) / r->bucket);
    r->by_position[k].nll += nll;
    ++r->by_position[k].tokens;
  }
};

std::vector<int32_t> pad_step(const tokens::Tokenizer& tok) {
  std::vector<int32_t> p = tok.pad_step();
  for (int32_t& v : p) v = std::max<int32_t>(v, 0);
  return p;
}

// Windows: as train::WindowLoader::fixed_windows: seq+1 steps of prefix + body from body_start, consecutive
// windows overlapping by one body step whose target is counted in the earlier window only.
void run_windows(model::SeqModel& m, const std::vector<Item>& items, const tokens::Tokenizer& tok, int S, int batch,
                 Sink& sink, const LikelihoodOptions& opt) {
  const int F = m.fields();
  struct Window {
    size_t item;
    int64_t body_start;
  };
  std::vector<Window> windows;
  for (size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    const int64_t body = it.steps - it.prefix, span = int64_t(S) + 1 - it.prefix;
    if (span < 2)
      throw Error("--seq " + std::to_string(S) + " leaves no room for music after the " + std::to_string(it.prefix) +
                  " control steps of " + sink.r->pieces[it.piece_index].piece->source + " (hint: use a longer --seq)");
    for (int64_t b = 0;; b += span - 1) {
      windows.push_back({i, b});
      if (b + span >= body) break;
    }
  }
  const std::vector<int32_t> pad = pad_step(tok);
  std::vector<int32_t> ids, targets;
  std::vector<float> nll;
  for (size_t w0 = 0; w0 < windows.size(); w0 += size_t(batch)) {
    const size_t B = std::min(windows.size() - w0, size_t(batch));
    // Steps of each window and the longest input in the batch.
    std::vector<int64_t> len(B);
    int64_t Lmax = 1;
    for (size_t b = 0; b < B; ++b) {
      const Window& w = windows[w0 + b];
      const Item& it = items[w.item];
      len[b] = it.prefix + std::min<int64_t>(int64_t(S) + 1 - it.prefix, it.steps - it.prefix - w.body_start);
      Lmax = std::max(Lmax, len[b] - 1);
    }
    const size_t L = size_t(Lmax) * F;
    ids.assign(B * L, 0);
    targets.assign(B * L, model::kIgnoreIndex);
    for (size_t b = 0; b < B; ++b) {
      const Window& w = windows[w0 + b];
      const Item& it = items[w.item];
      // step k of the window -> step of the piece
      auto piece_step = [&](int64_t k) { return k < it.prefix ? k : it.prefix + w.body_start + (k - it.prefix); };
      for (int64_t k = 0; k < Lmax; ++k)
        for (int f = 0; f < F; ++f)
          ids[b * L + size_t(k) * F + f] =
              k < len[b] - 1 ? it.ids[size_t(piece_step(k)) * F + f] : pad[size_t(f) % pad.size()];
      for (int64_t k = 1; k < len[b]; ++k) {
        const bool counted = k >= it.prefix && !(k == it.prefix && w.body_start > 0);
        if (!counted) continue;
        for (int f = 0; f < F; ++f)
          targets[b * L + size_t(k - 1) * F + f] = it.ids[size_t(piece_step(k)) * F + f];
      }
    }
    m.forward(ids.data(), targets.data(), int(B), int(L));
    nll.assign(B * L, 0.0f);
    m.target_nll(nll.data());
    for (size_t b = 0; b < B; ++b)
      for (size_t i = 0; i < L; ++i)
        if (targets[b * L + i] != model::kIgnoreIndex)
          sink.add(items[windows[w0 + b].item], int64_t(i / size_t(F)) + 1, double(nll[b * L + i]));
    if (opt.progress) opt.progress(int64_t(w0 + B), int64_t(windows.size()));
  }
}

// Carry: pieces in groups of `batch` rows (longest first), each fed through the recurrent prefill in chunks of S
// steps with the state carried; the logits of every position give the NLL of the next token.
void run_carry(model::XlstmLM<float>& lm, const std::vector<Item>& items, const tokens::Tokenizer& tok, int S,
               int batch, Sink& sink, const LikelihoodOptions& opt) {
  const int V = lm.config().vocab_size;
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return items[a].steps > items[b].steps; });
  const int32_t pad = pad_step(tok)[0];
  model::LmCache<float> cache;
  std::vector<int32_t> ids;
  for (size_t g0 = 0; g0 < order.size(); g0 += size_t(batch)) {
    const size_t B = std::min(order.size() - g0, size_t(batch));
    const int64_t T = items[order[g0]].steps;  // longest of the group
    model::LmState<float> state = lm.new_state(int(B));
    for (int64_t c0 = 0; c0 < T - 1; c0 += S) {
      const int64_t Sc = std::min<int64_t>(S, T - 1 - c0);
      ids.assign(B * size_t(Sc), pad);
      for (size_t b = 0; b < B; ++b) {
        const Item& it = items[order[g0 + b]];
        for (int64_t j = 0; j < Sc && c0 + j < it.steps - 1; ++j) ids[b * Sc + j] = it.ids[size_t(c0 + j)];
      }
      lm.prefill(cache, state, ids.data(), int(Sc));
      for (size_t b = 0; b < B; ++b) {
        const Item& it = items[order[g0 + b]];
        for (int64_t j = 0; j < Sc; ++j) {
          const int64_t pos = c0 + j + 1;  // the step being predicted
          if (pos >= it.steps) break;
          if (pos < it.prefix) continue;
          const float* lg = &cache.logits[(b * size_t(Sc) + size_t(j)) * V];
          double mx = lg[0];
          for (int v = 1; v < V; ++v) mx = std::max(mx, double(lg[v]));
          double sum = 0;
          for (int v = 0; v < V; ++v) sum += std::exp(double(lg[v]) - mx);
          sink.add(it, pos, mx + std::log(sum) - double(lg[it.ids[size_t(pos)]]));
        }
      }
    }
    if (opt.progress) opt.progress(int64_t(g0 + B), int64_t(order.size()));
  }
}

std::string split_counts(const data::Corpus& c) {
  std::string s;
  for (data::Split sp : {data::Split::Train, data::Split::Valid, data::Split::Test})
    s += (s.empty() ? "" : ", ") + data::split_name(sp) + " " + std::to_string(c.pieces(sp).size());
  return s;
}

}  // namespace

void check_model_matches_corpus(const model::SeqModel& m, const json& model_tokenizer, const data::Corpus& corpus,
                                const std::string& model_what) {
  const std::string hint = " (hint: evaluate on a corpus prepared with the model's tokenizer and options)";
  if (m.vocab_size() != corpus.vocab_size())
    throw Error("model " + model_what + " has a vocabulary of " + std::to_string(m.vocab_size()) +
                " ids but corpus " + corpus.dir().string() + " has " + std::to_string(corpus.vocab_size()) + " (" +
                corpus.tokenizer_name() + " tokenizer)" + hint);
  if (m.fields() != corpus.fields_per_step())
    throw Error("model " + model_what + " reads " + std::to_string(m.fields()) + " fields per step but corpus " +
                corpus.dir().string() + " has " + std::to_string(corpus.fields_per_step()) + hint);
  if (model_tokenizer.is_object() && model_tokenizer.contains("tokenizer") &&
      model_tokenizer["tokenizer"].is_string() && model_tokenizer["tokenizer"] != corpus.tokenizer_name())
    throw Error("model " + model_what + " was trained with the " + model_tokenizer["tokenizer"].get<std::string>() +
                " tokenizer but corpus " + corpus.dir().string() + " uses " + corpus.tokenizer_name() + hint);
}

LikelihoodReport evaluate_likelihood(model::SeqModel& m, const data::Corpus& corpus, const LikelihoodOptions& opt) {
  const auto t0 = std::chrono::steady_clock::now();
  check_model_matches_corpus(m, json(), corpus, m.family());
  if (opt.bucket < 1) throw Error("eval: the position bucket must be at least 1 step");
  if (opt.batch < 1) throw Error("eval: the batch must be at least 1 row");
  LikelihoodReport r;
  r.family = m.family();
  r.vocab_size = m.vocab_size();
  r.context_length = m.context_length();
  r.fields = m.fields();
  r.num_params = m.num_params();
  r.corpus = corpus.dir().string();
  r.split = data::split_name(opt.split);
  r.seq = opt.seq > 0 ? opt.seq : (r.context_length > 0 ? r.context_length : 256);
  r.positions = opt.positions;
  r.bucket = opt.bucket;
  model::XlstmLM<float>* lm = opt.carry_state && r.fields == 1 ? model::as_xlstm(m) : nullptr;
  r.mode = lm ? "carry" : "windows";
  if (r.seq < 2) throw Error("--seq " + std::to_string(r.seq) + " is too short (at least 2)");

  std::vector<const data::PieceInfo*> pieces = corpus.pieces(opt.split);
  if (pieces.empty())
    throw Error("corpus " + corpus.dir().string() + " has no pieces in the " + r.split + " split (pieces: " +
                split_counts(corpus) + "; hint: choose another --split or prepare the corpus with --split " +
                "valid=F,test=F)");
  if (opt.max_pieces > 0 && int64_t(pieces.size()) > opt.max_pieces) pieces.resize(size_t(opt.max_pieces));

  const auto tok = corpus.make_tokenizer();
  const int F = r.fields;
  std::vector<Item> items;
  for (const data::PieceInfo* p : pieces) {
    const data::TokenView tv = corpus.tokens(*p, 0);
    Item it;
    it.ids.resize(tv.size());
    for (size_t i = 0; i < tv.size(); ++i) it.ids[i] = tv[i];
    // The control prefix the sequence was written with (as train::WindowLoader finds it).
    std::vector<int32_t> head(it.ids.begin(), it.ids.begin() + long(std::min<size_t>(it.ids.size(), 32 * size_t(F))));
    const std::vector<int32_t> pre = tok->control_prefix(tok->read_conditioning(head));
    if (pre.size() <= head.size() && std::equal(pre.begin(), pre.end(), head.begin())) it.prefix = int64_t(pre.size()) / F;
    it.steps = int64_t(it.ids.size()) / F;
    PieceNll pn;
    pn.piece = p;
    if (opt.positions > 0 && it.steps > opt.positions) {
      it.steps = opt.positions;
      it.ids.resize(size_t(it.steps) * F);
      pn.cut = true;
    }
    if (it.steps <= it.prefix) {  // nothing to predict
      ++r.skipped_pieces;
      continue;
    }
    pn.steps = it.steps;
    pn.totals.pieces = 1;
    if (pn.cut) {  // the notes and seconds the evaluated tokens hold
      const midi::Score s = tok->decode(it.ids);
      pn.totals.notes = int64_t(s.notes.size());
      for (const midi::Note& n : s.notes) pn.totals.seconds = std::max(pn.totals.seconds, n.offset_s);
    } else {
      pn.totals.notes = p->notes;
      pn.totals.seconds = p->seconds;
    }
    it.piece_index = r.pieces.size();
    r.pieces.push_back(pn);
    items.push_back(std::move(it));
  }
  if (items.empty())
    throw Error("corpus " + corpus.dir().string() + ": no piece of the " + r.split +
                " split has tokens to predict after its control prefix" +
                (opt.positions > 0 ? " (hint: --positions " + std::to_string(opt.positions) + " is too short)" : ""));

  // Position buckets: [0, bucket), ... up to cap, then [cap, inf).
  int64_t cap = opt.positions > 0 ? opt.positions : std::max<int64_t>(r.seq, r.context_length);
  cap = (cap + r.bucket - 1) / r.bucket * r.bucket;
  for (int64_t b = 0; b <= cap; b += r.bucket) {
    PositionBucket pb;
    pb.from = b;
    pb.to = b < cap ? b + r.bucket - 1 : -1;
    pb.beyond_context = r.context_length > 0 && b >= r.context_length;
    r.by_position.push_back(pb);
  }
  Sink sink{&r, cap};
  // In windows mode with --positions, one window holds a whole (cut) piece.
  const int S = opt.positions > 0 && !lm ? int(std::max<int64_t>(opt.positions, 2)) : r.seq;
  if (lm)
    run_carry(*lm, items, *tok, S, opt.batch, sink, opt);
  else
    run_windows(m, items, *tok, S, opt.batch, sink, opt);
  r.seq = S;
  if (!r.by_position.empty() && r.by_position.back().tokens == 0 && opt.positions > 0) r.by_position.pop_back();

  for (const PieceNll& p : r.pieces) {
    r.overall.add(p.totals);
    r.genres[p.piece->genre.empty() ? "(none)" : p.piece->genre].add(p.totals);
  }
  r.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

namespace {
json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json totals_json(const NllTotals& t) {
  return {{"pieces", t.pieces},
          {"tokens", t.tokens},
          {"nll", t.nll},
          {"nll_per_token", num(t.nll_per_token())},
          {"perplexity", num(t.perplexity())},
          {"notes", t.notes},
          {"seconds", t.seconds},
          {"bits_per_note", num(t.bits_per_note())},
          {"bits_per_second", num(t.bits_per_second())}};
}

std::string fmt(const char* f, double v) {
  if (!std::isfinite(v)) return "-";
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
}  // namespace

json to_json(const LikelihoodReport& r) {
  json j;
  j["model"] = {{"family", r.family},
                {"vocab_size", r.vocab_size},
                {"context_length", r.context_length},
                {"fields", r.fields},
                {"parameters", r.num_params}};
  j["corpus"] = r.corpus;
  j["split"] = r.split;
  j["mode"] = r.mode;
  j["seq"] = r.seq;
  j["positions"] = r.positions;
  j["bucket"] = r.bucket;
  j["skipped_pieces"] = r.skipped_pieces;
  j["overall"] = totals_json(r.overall);
  json g = json::object();
  for (const auto& [name, t] : r.genres) g[name] = totals_json(t);
  j["genres"] = g;
  json pos = json::array();
  for (const PositionBucket& b : r.by_position)
    pos.push_back({{"from", b.from},
                   {"to", b.to < 0 ? json(nullptr) : json(b.to)},
                   {"tokens", b.tokens},
                   {"nll", b.nll},
                   {"nll_per_token", num(b.tokens > 0 ? b.nll / double(b.tokens) : NAN)},
                   {"beyond_context", b.beyond_context}});
  j["by_position"] = pos;
  json pieces = json::array();
  for (const PieceNll& p : r.pieces) {
    json o = totals_json(p.totals);
    o.erase("pieces");
    o["source"] = p.piece->source;
    o["id"] = p.piece->id;
    o["genre"] = p.piece->genre;
    o["steps"] = p.steps;
    o["cut"] = p.cut;
    pieces.push_back(o);
  }
  j["pieces"] = pieces;
  j["elapsed_s"] = r.elapsed_s;
  return j;
}

std::string to_text(const LikelihoodReport& r) {
  std::string s;
  s += "model   " + r.family + ", " + std::to_string(r.num_params) + " parameters, vocabulary " +
       std::to_string(r.vocab_size) + ", context length " + std::to_string(r.context_length) + "\n";
  s += "corpus  " + r.corpus + ", split " + r.split + ": " + std::to_string(r.overall.pieces) + " pieces";
  if (r.skipped_pieces > 0) s += " (" + std::to_string(r.skipped_pieces) + " without music skipped)";
  s += "\nmode    " +
       (r.mode == "carry" ? "state carried across windows of " + std::to_string(r.seq) + " steps"
                          : "windows of " + std::to_string(r.seq) + " steps, each from the zero state with the prefix");
  if (r.positions > 0) s += "; pieces cut to " + std::to_string(r.positions) + " steps";
  s += "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %7s %10s %10s %11s %10s %9s\n", "", "pieces", "tokens", "NLL/token",
                "perplexity", "bits/note", "bits/s");
  s += line;
  auto row = [&](const std::string& name, const NllTotals& t) {
    std::snprintf(line, sizeof line, "%-16s %7lld %10lld %10s %11s %10s %9s\n", name.c_str(), (long long)t.pieces,
                  (long long)t.tokens, fmt("%.4f", t.nll_per_token()).c_str(), fmt("%.3f", t.perplexity()).c_str(),
                  fmt("%.3f", t.bits_per_note()).c_str(), fmt("%.2f", t.bits_per_second()).c_str());
    s += line;
  };
  row("overall", r.overall);
  for (const auto& [name, t] : r.genres) row("  " + name, t);
  s += "\nNLL by position (steps since the start of the " + std::string(r.mode == "carry" ? "piece" : "window") +
       ", prefix included; * = at or beyond the context length " + std::to_string(r.context_length) + ")\n";
  for (const PositionBucket& b : r.by_position) {
    if (b.tokens == 0) continue;
    const std::string range =
        b.to < 0 ? std::to_string(b.from) + "+" : std::to_string(b.from) + "-" + std::to_string(b.to);
    std::snprintf(line, sizeof line, "  %-14s %10lld tokens  NLL/token %s%s\n", range.c_str(), (long long)b.tokens,
                  fmt("%.4f", b.nll / double(b.tokens)).c_str(), b.beyond_context ? "  *" : "");
    s += line;
  }
  return s;
}

}  // namespace xm::eval

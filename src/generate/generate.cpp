// generate.cpp: see generate.h. The Generator: loading, option checks, the batched sampling loop (prefill, grammar
// masks, temperature / top-k / top-p, stopping rules) and assembling each piece (seed + continuation). Not the
// grammars (grammar.cpp), not the seed/continuation merge of scores (compose.cpp), not the command line.
#include "generate/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unistd.h>

#include "core/error.h"
#include "generate/compose.h"
#include "generate/grammar.h"
#include "music/analysis.h"
#include "music/scales.h"
#include "nn/rng.h"

namespace xm::gen {
namespace {

namespace fs = std::filesystem;

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Names in the model's conditioning table under key ("genres", "moods"); nullopt-like flag when no table.
bool table_names(const model::ModelMeta& meta, const char* key, std::vector<std::string>* out) {
  if (!meta.conditioning.is_object() || !meta.conditioning.contains(key) || !meta.conditioning[key].is_array())
    return false;
  for (const json& g : meta.conditioning[key])
    if (g.is_string()) out->push_back(g.get<std::string>());
  return true;
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "none" : s;
}

bool controls_on(const model::ModelMeta& meta) {
  if (!meta.conditioning.is_object()) return true;
  auto it = meta.conditioning.find("controls");
  return it == meta.conditioning.end() || !it->is_boolean() || it->get<bool>();
}

// Samples one id among the allowed ones: logits / temperature, the top_k largest, the smallest set whose
// probability reaches top_p, then one draw. -1 when no allowed id has a finite logit.
int32_t sample_id(const float* logits, const uint8_t* mask, int V, const GenerateOptions& o, nn::Rng& rng,
                  std::vector<std::pair<double, int32_t>>& buf) {
  buf.clear();
  for (int id = 0; id < V; ++id)
    if (mask[id] && std::isfinite(logits[id])) buf.push_back({double(logits[id]) / o.temperature, id});
  if (buf.empty()) return -1;
  auto desc = [](const auto& a, const auto& b) { return a.first != b.first ? a.first > b.first : a.second < b.second; };
  if (o.top_k > 0 && size_t(o.top_k) < buf.size()) {
    std::nth_element(buf.begin(), buf.begin() + o.top_k, buf.end(), desc);
    buf.resize(size_t(o.top_k));
  }
  std::sort(buf.begin(), buf.end(), desc);
  const double mx = buf[0].first;
  double sum = 0;
  for (auto& [x, id] : buf) sum += (x = std::exp(x - mx));
  if (o.top_p < 1.0) {
    double cum = 0;
    size_t keep = 0;
    while (keep < buf.size() && cum < o.top_p * sum) cum += buf[keep++].first;
    buf.resize(std::max<size_t>(1, keep));
    sum = cum > 0 ? cum : buf[0].first;
  }
  double u = rng.uniform() * sum;
  for (const auto& [p, id] : buf) {
    if (u < p) return id;
    u -= p;
  }
  return buf.back().second;
}

// P(id) under the softmax of the row's logits at temperature 1, no mask.
double softmax_prob(const float* logits, int V, int32_t id) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < V; ++i)
    if (std::isfinite(logits[i])) mx = std::max(mx, logits[i]);
  if (!std::isfinite(mx) || !std::isfinite(logits[id])) return 0.0;
  double sum = 0;
  for (int i = 0; i < V; ++i)
    if (std::isfinite(logits[i])) sum += std::exp(double(logits[i]) - mx);
  return std::exp(double(logits[id]) - mx) / sum;
}

// The pitches the sampler may emit: inside the range and the scale (tonic from --key, else C).
GrammarConstraints pitch_constraints(const GenerateOptions& o) {
  GrammarConstraints c;
  const music::Scale* scale = o.scale.empty() ? nullptr : music::find_scale(o.scale);
  music::Key key;
  const int tonic = !o.key.empty() && music::parse_key(o.key, &key) ? key.tonic : 0;
  for (int p = 0; p < 128; ++p)
    c.pitch_ok[size_t(p)] = p >= o.pitch_min && p <= o.pitch_max && (!scale || music::in_scale(p, tonic, *scale));
  return c;
}

// Without a seed, the controls the user left open (key, tempo class) are chosen by the model, in the order
// data prepare writes them (genre, mood, key, tempo): training always had them, so a prefix without them is
// out of distribution (the model then tends to end the piece at once). One draw per open control, with the
// sampling options, shared by every row. Tokenizers without such tokens keep control_prefix(cond).
std::vector<int32_t> complete_controls(const model::SeqModel& m, const tokens::Tokenizer& tok,
                                       tokens::Conditioning cond, const GenerateOptions& opt) {
  const int V = m.vocab_size();
  std::vector<int32_t> keys, tempos;
  for (int id = 0; id < V && id < tok.vocab_size(); ++id) {
    const std::string n = tok.token_name(id);
    if (n.rfind("Key_", 0) == 0) keys.push_back(id);
    if (n.rfind("TempoClass_", 0) == 0) tempos.push_back(id);
  }
  const bool want_key = cond.key_tonic < 0 && !keys.empty();
  const bool want_tempo = cond.tempo_bpm <= 0 && !tempos.empty();
  tokens::Conditioning head = cond;  // BOS, genre, mood
  head.key_tonic = -1;
  head.tempo_bpm = 0;
  std::vector<int32_t> prefix = tok.control_prefix(head);
  if ((!want_key && !want_tempo) || prefix.empty()) return tok.control_prefix(cond);
  nn::Rng rng(opt.random_seed * 0x2545F4914F6CDD1Dull + 7);
  std::vector<std::pair<double, int32_t>> buf;
  std::vector<uint8_t> mask(static_cast<size_t>(V));
  auto state = m.new_state(1);
  m.feed(*state, prefix.data(), int(prefix.size()));
  auto choose = [&](const std::vector<int32_t>& ids) {
    std::fill(mask.begin(), mask.end(), uint8_t(0));
    for (int32_t id : ids) mask[size_t(id)] = 1;
    int32_t pick = ids.front();
    m.next(*state, [&](int, const float* logits, int32_t* chosen) {
      const int32_t s = sample_id(logits, mask.data(), V, opt, rng, buf);
      if (s >= 0) pick = s;
      chosen[0] = pick;
    });
    m.feed(*state, &pick, 1);
    prefix.push_back(pick);
  };
  // The given key (if any) goes in its place before the tempo class.
  if (want_key) {
    choose(keys);
  } else if (cond.key_tonic >= 0) {
    tokens::Conditioning k;
    k.key_tonic = cond.key_tonic;
    k.key_minor = cond.key_minor;
    for (int32_t id : tok.control_prefix(k))
      if (id != tok.bos_id()) {
        m.feed(*state, &id, 1);
        prefix.push_back(id);
      }
  }
  if (want_tempo) {
    choose(tempos);
  } else if (cond.tempo_bpm > 0) {
    tokens::Conditioning t;
    t.tempo_bpm = cond.tempo_bpm;
    for (int32_t id : tok.control_prefix(t))
      if (id != tok.bos_id()) prefix.push_back(id);
  }
  return prefix;
}

struct Row {
  std::unique_ptr<Grammar> g;
  std::vector<int32_t> ids;  // prefix + kept steps
  size_t boundary = 0;       // ids.size() at the last point where the piece may end
  int64_t sampled = 0;       // steps sampled (kept or not)
  bool stopped = false;
  std::string reason;
  int fallbacks = 0;
  nn::Rng rng;
};

}  // namespace

Generator::Generator(const fs::path& model_file) : path_(model_file) {
  model::LoadedSeqModel m = model::load_seq_model(model_file);
  init(std::move(m.model), std::move(m.meta));
}

Generator::Generator(std::unique_ptr<model::SeqModel> m, model::ModelMeta meta, const fs::path& name)
    : path_(name) {
  init(std::move(m), std::move(meta));
}

void Generator::init(std::unique_ptr<model::SeqModel> m, model::ModelMeta meta) {
  model_ = std::move(m);
  meta_ = std::move(meta);
  const std::string what = path_.string();
  if (!meta_.tokenizer.is_object())
    throw Error(what + ": the model file has no tokenizer in its metadata, so its ids cannot become music "
                "(hint: train it with `xlstm-music train`, which stores the corpus's tokenizer)");
  try {
    tok_ = tokens::tokenizer_from_json(meta_.tokenizer);
  } catch (const std::exception& e) {
    throw Error(what + ": __metadata__ \"tokenizer\": " + e.what());
  }
  if (tok_->vocab_size() != model_->vocab_size())
    throw Error(what + ": the tokenizer has " + std::to_string(tok_->vocab_size()) + " ids but the model " +
                std::to_string(model_->vocab_size()) + "; the file is inconsistent");
  if (tok_->fields_per_step() != model_->fields())
    throw Error(what + ": the tokenizer has " + std::to_string(tok_->fields_per_step()) +
                " fields per step but the model " + std::to_string(model_->fields()));
  make_grammar(*tok_);  // throws for a tokenizer without a grammar
}

Generator::~Generator() = default;

json Generator::describe() const {
  std::vector<std::string> genres, moods;
  table_names(meta_, "genres", &genres);
  table_names(meta_, "moods", &moods);
  return {{"name", path_.stem().string()},
          {"path", path_.string()},
          {"family", model_->family()},
          {"tokenizer", tok_->name()},
          {"vocab_size", model_->vocab_size()},
          {"parameters", model_->num_params()},
          {"genres", genres},
          {"moods", moods},
          {"training", meta_.training.is_null() ? json::object() : meta_.training}};
}

void Generator::validate(const GenerateOptions& o) const {
  auto bad = [](const std::string& flag, const std::string& why) { throw UsageError("flag " + flag + ": " + why); };
  if (!(o.temperature > 0) || !std::isfinite(o.temperature)) bad("--temperature", "must be > 0");
  if (!(o.top_p > 0 && o.top_p <= 1)) bad("--top-p", "must be in (0, 1]");
  if (o.top_k < 0) bad("--top-k", "must be >= 0 (0 = off)");
  if (o.num < 1 || o.num > 256) bad("--num", "must be in 1..256");
  if (o.bars < 0) bad("--bars", "must be >= 0");
  if (!(o.seconds >= 0) || !std::isfinite(o.seconds)) bad("--seconds", "must be >= 0");
  if (o.max_tokens < 0) bad("--max-tokens", "must be >= 0");
  if (!(o.stop_prob >= 0 && o.stop_prob <= 1)) bad("--stop-prob", "must be in [0, 1] (0 = off)");
  if (o.tempo_bpm != 0 && !(o.tempo_bpm >= 10 && o.tempo_bpm <= 1000)) bad("--tempo", "must be in 10..1000 BPM");
  if (o.pitch_min < 0 || o.pitch_max > 127 || o.pitch_min > o.pitch_max)
    bad("--pitch-range", "must be LO..HI with 0 <= LO <= HI <= 127");
  auto check_name = [&](const std::string& value, const char* table, const std::vector<std::string>& all,
                        const std::string& flag, const std::string& normalized) {
    if (value.empty()) return;
    std::vector<std::string> known;
    if (!table_names(meta_, table, &known)) known = all;
    if (normalized.empty() || std::find(known.begin(), known.end(), normalized) == known.end())
      bad(flag, "unknown " + flag.substr(2) + " \"" + value + "\" for this model (known: " + join(known) + ")");
  };
  check_name(o.genre, "genres", tokens::genre_names(), "--genre", tokens::normalize_genre(o.genre));
  check_name(o.mood, "moods", tokens::mood_names(), "--mood", o.mood);
  music::Key key;
  if (!o.key.empty() && !music::parse_key(o.key, &key))
    bad("--key", "unknown key \"" + o.key + "\" (e.g. C, F#m, \"Bb major\", \"A minor\")");
  if (!o.scale.empty() && !music::find_scale(o.scale)) {
    std::vector<std::string> names;
    for (const auto& s : music::scale_table()) names.push_back(s.name);
    bad("--scale", "unknown scale \"" + o.scale + "\" (known: " + join(names) + ")");
  }
  const GrammarConstraints c = pitch_constraints(o);
  if (std::none_of(c.pitch_ok.begin(), c.pitch_ok.end(), [](bool b) { return b; }))
    bad("--pitch-range", "no pitch of the scale lies in the range");
}

GenerateResult Generator::generate(const midi::Score* seed, const GenerateOptions& opt) const {
  validate(opt);
  const double t0 = now_s();
  const int B = opt.num, nf = model_->fields(), V = model_->vocab_size();
  const tokens::Tokenizer& tok = *tok_;
  const bool seed_music = seed && !seed->notes.empty();

  // The continuation's tempo: --tempo, else the seed's at its last onset, else the model's choice (0).
  double bpm = opt.tempo_bpm;
  if (bpm <= 0 && seed_music) bpm = seed->tempo_map().bpm_at(seed->notes.back().onset_tick);

  // Controls, as data prepare writes them: genre, mood, key (the seed's estimate when not given), tempo.
  tokens::Conditioning cond;
  if (controls_on(meta_)) {
    if (!opt.genre.empty()) cond.genre = tokens::normalize_genre(opt.genre);
    cond.mood = opt.mood;
    music::Key key;
    if (!opt.key.empty() && music::parse_key(opt.key, &key)) {
      cond.key_tonic = key.tonic;
      cond.key_minor = key.minor;
    } else if (seed_music) {
      key = music::estimate_key(*seed);
      cond.key_tonic = key.tonic;
      cond.key_minor = key.minor;
    }
    if (bpm > 0) cond.tempo_bpm = bpm;
    else if (seed) cond.tempo_bpm = seed->tempo_map().bpm_at(0);
  }

  // The prefix: the seed's ids without their end of piece, or the control prefix.
  std::vector<int32_t> prefix;
  if (seed_music) {
    try {
      prefix = tok.encode(*seed, cond);
    } catch (const std::exception& e) {
      throw Error(std::string("seed MIDI: cannot be tokenized: ") + e.what());
    }
    if (prefix.size() >= size_t(nf) && prefix[prefix.size() - size_t(nf)] == tok.eos_id())
      prefix.resize(prefix.size() - size_t(nf));
  } else {
    prefix = tok.control_prefix(cond);
    if (nf == 1 && controls_on(meta_) && (cond.key_tonic < 0 || cond.tempo_bpm <= 0))
      prefix = complete_controls(*model_, tok, cond, opt);
  }
  if (prefix.empty())
    throw Error(path_.string() + ": its tokenizer has no BOS token (" + tok.name() +
                " with core_only), so generation needs a seed MIDI with notes (--seed-midi)");

  // Grammar through the prefix; the clock's origin for the bars and seconds rules.
  std::unique_ptr<Grammar> g0 = make_grammar(tok, pitch_constraints(opt));
  for (int32_t id : prefix) g0->advance(id);
  const int64_t bars_limit = g0->bars() + opt.bars;
  const double sec_limit = g0->seconds() + opt.seconds;
  g0->begin_continuation(bpm, seed_music);
  const int64_t cap = opt.max_tokens > 0 ? opt.max_tokens : (opt.bars > 0 || opt.seconds > 0) ? kSafetyCap : 1024;

  // Prefill: the prefix into one row, all its steps in one call, then copied into the N rows.
  const int64_t S = int64_t(prefix.size()) / nf;
  std::unique_ptr<model::SeqState> state = model_->new_state(B);
  {
    std::unique_ptr<model::SeqState> one = model_->new_state(1);
    model_->feed(*one, prefix.data(), int(S));
    for (int b = 0; b < B; ++b) state->copy_row(b, *one, 0);
  }
  const double t_prefill = now_s() - t0;

  std::vector<Row> rows(static_cast<size_t>(B));
  for (int b = 0; b < B; ++b) {
    Row& r = rows[size_t(b)];
    r.g = g0->clone();
    r.ids = prefix;
    r.boundary = prefix.size();
    r.rng.seed(opt.random_seed * 0x9E3779B97F4A7C15ull + uint64_t(b) * 0xD1B54A32D192ED03ull + 1);
  }
  std::vector<int32_t> pad = tok.pad_step();
  for (auto& p : pad)
    if (p < 0) p = tok.eos_id() >= 0 ? tok.eos_id() : 0;
  const int32_t eos = tok.eos_id();
  std::vector<int32_t> step(static_cast<size_t>(B) * nf);
  std::vector<uint8_t> mask(static_cast<size_t>(V));
  std::vector<std::pair<double, int32_t>> buf;
  std::vector<char> was_stopped(static_cast<size_t>(B));
  // A Transformer with a learned position table cannot take a step past its context length.
  const json cfg = model_->config_json();
  const bool bounded_context = model_->family() == "transformer" && model_->context_length() > 0 &&
                               cfg.value("positions", std::string("learned")) == "learned";
  int active = B;

  auto stop = [&](Row& r, const char* why) {
    r.stopped = true;
    r.reason = why;
    --active;
  };
  while (active > 0) {
    for (int b = 0; b < B; ++b) was_stopped[size_t(b)] = rows[size_t(b)].stopped;
    model_->next(*state, [&](int field, const float* logits, int32_t* chosen) {
      for (int b = 0; b < B; ++b) {
        Row& r = rows[size_t(b)];
        int32_t id = pad[size_t(field)];
        if (!r.stopped) {
          const float* lg = logits + size_t(b) * V;
          if (field == 0 && opt.stop_prob > 0 && eos >= 0 && softmax_prob(lg, V, eos) >= opt.stop_prob) {
            stop(r, "stop_prob");
          } else {
            r.g->allowed(mask.data());
            id = sample_id(lg, mask.data(), V, opt, r.rng, buf);
            if (id < 0) {  // nothing allowed has a finite logit: EOS, else the best id the grammar allows
              ++r.fallbacks;
              id = r.g->can_follow(eos, false) ? eos : -1;
              for (int i = 0; i < V && id < 0; ++i)
                if (r.g->can_follow(i, false) && i != tok.pad_id()) id = i;
              if (id < 0) id = pad[size_t(field)];
            }
            r.g->advance(id);
          }
        }
        chosen[b] = id;
        step[size_t(b) * nf + size_t(field)] = id;
      }
    });
    double progress = 0;
    for (int b = 0; b < B; ++b) {
      Row& r = rows[size_t(b)];
      if (was_stopped[size_t(b)] || r.stopped) {
        progress += 1;
        continue;
      }
      ++r.sampled;
      const Grammar& g = *r.g;
      if (!g.ended() && opt.bars > 0 && g.bars() > bars_limit) {
        stop(r, "bars");
      } else if (!g.ended() && opt.seconds > 0 && g.seconds() >= sec_limit - 1e-9) {
        stop(r, "seconds");
      } else {
        r.ids.insert(r.ids.end(), step.begin() + size_t(b) * nf, step.begin() + size_t(b + 1) * nf);
        if (g.at_boundary()) r.boundary = r.ids.size();
        if (g.ended()) stop(r, "eos");
        else if (r.sampled >= cap) stop(r, "max_tokens");
        else if (bounded_context && state->steps() >= model_->context_length()) stop(r, "context");
      }
      double f = double(r.sampled) / double(cap);
      if (opt.bars > 0) f = std::max(f, double(g.bars() - (bars_limit - opt.bars)) / double(opt.bars));
      if (opt.seconds > 0) f = std::max(f, 1.0 - (sec_limit - g.seconds()) / opt.seconds);
      progress += r.stopped ? 1.0 : std::clamp(f, 0.0, 1.0);
    }
    if (opt.on_progress && !opt.on_progress(progress / B)) throw Cancelled();
    if (active > 0) model_->feed(*state, step.data(), 1);
  }
  const double t_loop = now_s() - t0;

  // The pieces: trim each row to its last boundary (EOS rows end at their EOS), decode, compose with the seed.
  GenerateResult res;
  int seed_invalid = 0;
  if (seed_music) tok.decode(prefix, &seed_invalid);
  ComposeInput ci;
  ci.tokenizer = tok.name();
  ci.seed = seed_music ? seed : nullptr;
  ci.continuation_tick = g0->continuation_tick();
  ci.bpm = bpm;
  double total_music = 0;
  int64_t total_tokens = 0;
  for (Row& r : rows) {
    if (r.reason != "eos") r.ids.resize(r.boundary);
    Piece p;
    p.tokens = std::move(r.ids);
    p.seed_tokens = int64_t(prefix.size());
    p.generated_tokens = (int64_t(p.tokens.size()) - p.seed_tokens) / nf;
    p.stop_reason = r.reason;
    p.fallbacks = r.fallbacks;
    int invalid = 0;
    const midi::Score decoded = tok.decode(p.tokens, &invalid);
    p.invalid_tokens = std::max(0, invalid - seed_invalid);
    ComposeOutput co = compose(decoded, ci);
    p.score = std::move(co.score);
    p.continuation_tick = co.continuation_tick;
    p.music_seconds = co.music_seconds;
    total_music += p.music_seconds;
    total_tokens += p.generated_tokens;
    res.pieces.push_back(std::move(p));
  }
  res.wall_seconds = t_loop;
  res.prefill_seconds = t_prefill;
  res.tokens_per_s = t_loop > 0 ? double(total_tokens) / t_loop : 0;
  res.music_seconds_per_s = t_loop > 0 ? total_music / t_loop : 0;
  return res;
}

fs::path default_model_path() {
  if (const char* e = std::getenv("XLSTM_MUSIC_MODEL"); e && *e) return fs::path(e);
  std::vector<fs::path> candidates;
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n > 0) {
    const fs::path dir = fs::path(std::string(buf, size_t(n))).parent_path();
    candidates.push_back(dir / ".." / "models" / "default.safetensors");
    candidates.push_back(dir / ".." / ".." / "models" / "default.safetensors");
    candidates.push_back(dir / ".." / "share" / "xlstm-music" / "models" / "default.safetensors");
  }
#ifdef XM_SOURCE_DIR
  candidates.push_back(fs::path(XM_SOURCE_DIR) / "models" / "default.safetensors");
#endif
  std::error_code ec;
  for (const auto& c : candidates)
    if (fs::is_regular_file(c, ec)) return c.lexically_normal();
  return {};
}

}  // namespace xm::gen

// corpus.cpp: see corpus.h.
#include "data/corpus.h"

#include "core/io.h"

namespace xm::data {

namespace fs = std::filesystem;

const SequenceInfo* PieceInfo::sequence(int transpose) const {
  for (const auto& s : sequences)
    if (s.transpose == transpose) return &s;
  return nullptr;
}

json piece_to_json(const PieceInfo& p) {
  json j = json::object();
  j["id"] = p.id;
  j["source"] = p.source;
  j["input"] = p.input;
  j["dataset"] = p.dataset;
  j["split"] = split_name(p.split);
  j["split_from"] = p.split_from;
  j["group"] = p.group;
  json tags = json::object();
  if (!p.genre.empty()) tags["genre"] = p.genre;
  if (!p.mood.empty()) tags["mood"] = p.mood;
  if (p.key_tonic >= 0) {
    tags["key_tonic"] = p.key_tonic;
    tags["key_minor"] = p.key_minor;
  }
  if (p.tempo_bpm > 0) tags["tempo_bpm"] = p.tempo_bpm;
  if (!p.time_signature.empty()) tags["time_signature"] = p.time_signature;
  tags["notes"] = p.notes;
  tags["seconds"] = p.seconds;
  for (const auto& [k, v] : p.labels) tags["label:" + k] = v;
  j["tags"] = std::move(tags);
  json seqs = json::array();
  for (const auto& s : p.sequences)
    seqs.push_back({{"transpose", s.transpose}, {"shard", s.shard}, {"offset", s.offset}, {"length", s.length}});
  j["sequences"] = std::move(seqs);
  return j;
}

PieceInfo piece_from_json(const json& j, const std::string& what) {
  if (!j.is_object()) throw Error(what + ": not a JSON object");
  PieceInfo p;
  p.id = json_get<int64_t>(j, "id", what);
  p.source = json_get<std::string>(j, "source", what);
  p.input = json_get_or<std::string>(j, "input", "", what);
  p.dataset = json_get_or<std::string>(j, "dataset", "", what);
  const std::string split = json_get<std::string>(j, "split", what);
  if (!parse_split_name(split, &p.split)) throw Error(what + ": unknown split \"" + split + "\"");
  p.split_from = json_get_or<std::string>(j, "split_from", "", what);
  p.group = json_get_or<std::string>(j, "group", "", what);
  const json tags = json_get_or<json>(j, "tags", json::object(), what);
  const std::string tw = what + ".tags";
  p.genre = json_get_or<std::string>(tags, "genre", "", tw);
  p.mood = json_get_or<std::string>(tags, "mood", "", tw);
  p.key_tonic = json_get_or<int>(tags, "key_tonic", -1, tw);
  p.key_minor = json_get_or<bool>(tags, "key_minor", false, tw);
  p.tempo_bpm = json_get_or<double>(tags, "tempo_bpm", 0.0, tw);
  p.time_signature = json_get_or<std::string>(tags, "time_signature", "", tw);
  p.notes = json_get_or<int64_t>(tags, "notes", 0, tw);
  p.seconds = json_get_or<double>(tags, "seconds", 0.0, tw);
  for (const auto& [k, v] : tags.items())
    if (k.rfind("label:", 0) == 0 && v.is_string()) p.labels[k.substr(6)] = v.get<std::string>();
  const json seqs = json_get<json>(j, "sequences", what);
  if (!seqs.is_array()) throw Error(what + ": \"sequences\" is not an array");
  for (size_t i = 0; i < seqs.size(); ++i) {
    const std::string sw = what + ".sequences[" + std::to_string(i) + "]";
    SequenceInfo s;
    s.transpose = json_get<int>(seqs[i], "transpose", sw);
    s.shard = json_get<std::string>(seqs[i], "shard", sw);
    s.offset = json_get<uint64_t>(seqs[i], "offset", sw);
    s.length = json_get<uint64_t>(seqs[i], "length", sw);
    p.sequences.push_back(std::move(s));
  }
  return p;
}

Corpus Corpus::open(const fs::path& dir) {
  const std::string hint = " (hint: point at a folder written by `xlstm-music data prepare`)";
  Corpus c;
  c.dir_ = dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir.string() + ": no such corpus folder" + hint);
  const fs::path index_path = dir / "index.json";
  const fs::path vocab_path = dir / "vocab.json";
  if (!fs::exists(index_path, ec)) throw Error(index_path.string() + ": missing" + hint);
  if (!fs::exists(vocab_path, ec)) throw Error(vocab_path.string() + ": missing" + hint);
  json index = parse_json(read_file_text(index_path), index_path.string());
  c.vocab_ = parse_json(read_file_text(vocab_path), vocab_path.string());
  const std::string iw = index_path.string();
  if (json_get_or<std::string>(index, "format", "", iw) != kIndexFormat)
    throw Error(iw + ": field \"format\" is not \"" + std::string(kIndexFormat) + "\"" + hint);
  const int version = json_get<int>(index, "version", iw);
  if (version != kIndexVersion)
    throw Error(iw + ": index version " + std::to_string(version) + ", this build reads " +
                std::to_string(kIndexVersion) + " (hint: prepare the corpus again)");
  const json pieces = json_get<json>(index, "pieces", iw);
  if (!pieces.is_array()) throw Error(iw + ": \"pieces\" is not an array");
  c.pieces_.reserve(pieces.size());
  for (size_t i = 0; i < pieces.size(); ++i)
    c.pieces_.push_back(piece_from_json(pieces[i], iw + ": pieces[" + std::to_string(i) + "]"));
  index.erase("pieces");
  c.index_ = std::move(index);

  const int vocab = c.vocab_size();
  const json shards = json_get<json>(c.index_, "shards", iw);
  if (!shards.is_array()) throw Error(iw + ": \"shards\" is not an array");
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string sw = iw + ": shards[" + std::to_string(i) + "]";
    const std::string file = json_get<std::string>(shards[i], "file", sw);
    if (file.find('/') != std::string::npos || file.find("..") != std::string::npos)
      throw Error(sw + ": shard name \"" + file + "\" must be a plain file name in the corpus folder");
    ShardReader r(dir / file);
    if (r.header().vocab_size != uint32_t(vocab))
      throw Error((dir / file).string() + ": vocabulary size " + std::to_string(r.header().vocab_size) +
                  " differs from vocab.json's " + std::to_string(vocab) + hint);
    const uint64_t want = json_get<uint64_t>(shards[i], "tokens", sw);
    if (r.header().num_tokens != want)
      throw Error((dir / file).string() + ": " + std::to_string(r.header().num_tokens) +
                  " tokens, index.json says " + std::to_string(want) + hint);
    c.shards_.emplace(file, std::move(r));
  }
  for (const auto& p : c.pieces_) {
    for (const auto& s : p.sequences) {
      auto it = c.shards_.find(s.shard);
      if (it == c.shards_.end())
        throw Error(iw + ": piece " + std::to_string(p.id) + " (" + p.source + ") refers to shard \"" + s.shard +
                    "\", which is not listed in \"shards\"" + hint);
      if (s.offset + s.length > it->second.header().num_tokens || s.offset + s.length < s.offset)
        throw Error(iw + ": piece " + std::to_string(p.id) + " (" + p.source + "): tokens [" +
                    std::to_string(s.offset) + ", " + std::to_string(s.offset + s.length) + ") lie outside " +
                    s.shard + " (" + std::to_string(it->second.header().num_tokens) + " tokens)" + hint);
    }
  }
  return c;
}

std::unique_ptr<tokens::Tokenizer> Corpus::make_tokenizer() const { return tokens::tokenizer_from_json(vocab_); }

std::string Corpus::tokenizer_name() const {
  return json_get_or<std::string>(index_, "tokenizer", "", (dir_ / "index.json").string());
}

int Corpus::vocab_size() const { return json_get<int>(vocab_, "vocab_size", (dir_ / "vocab.json").string()); }

int Corpus::fields_per_step() const {
  return json_get_or<int>(index_, "fields_per_step", 1, (dir_ / "index.json").string());
}

std::vector<const PieceInfo*> Corpus::pieces(Split split) const {
  std::vector<const PieceInfo*> out;
  for (const auto& p : pieces_)
    if (p.split == split) out.push_back(&p);
  return out;
}

std::vector<SequenceRef> Corpus::sequences(Split split, bool originals_only) const {
  std::vector<SequenceRef> out;
  for (const auto& p : pieces_) {
    if (p.split != split) continue;
    for (const auto& s : p.sequences)
      if (!originals_only || s.transpose == 0) out.push_back({&p, &s});
  }
  return out;
}

uint64_t Corpus::num_tokens(Split split, bool originals_only) const {
  uint64_t n = 0;
  for (const auto& r : sequences(split, originals_only)) n += r.sequence->length;
  return n;
}

TokenView Corpus::tokens(const SequenceInfo& s) const {
  auto it = shards_.find(s.shard);
  if (it == shards_.end()) throw Error((dir_ / s.shard).string() + ": shard not part of this corpus");
  return it->second.tokens().subview(size_t(s.offset), size_t(s.length));
}

TokenView Corpus::tokens(const PieceInfo& p, int transpose) const {
  const SequenceInfo* s = p.sequence(transpose);
  if (!s)
    throw Error((dir_ / "index.json").string() + ": piece " + std::to_string(p.id) + " (" + p.source +
                ") has no sequence transposed by " + std::to_string(transpose) +
                " (only the training split is transposed)");
  return tokens(*s);
}

}  // namespace xm::data

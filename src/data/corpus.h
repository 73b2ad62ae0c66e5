// corpus.h: a prepared corpus on disk (what `xlstm-music data prepare` writes) and its reader: open the
// folder, check index.json against vocab.json and the shards, mmap the shards, iterate the pieces of a split
// with their tags and token ids. The index schema (to_json / from_json) lives here for writer and reader.
// Not the preparation pipeline (prepare.h) and not a batcher for training.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "data/shard.h"
#include "data/split.h"
#include "tokens/tokenizer.h"

namespace xm::data {

constexpr const char* kIndexFormat = "xlstm-music corpus";
constexpr int kIndexVersion = 1;

// One token sequence of a piece: the original (transpose 0) or a transposed copy (training split only).
struct SequenceInfo {
  int transpose = 0;   // semitones applied to the pitched notes (drums never move)
  std::string shard;   // file name in the corpus folder, e.g. "train-000.bin"
  uint64_t offset = 0; // in tokens, from the start of the shard's token data
  uint64_t length = 0; // in tokens
};

struct PieceInfo {
  int64_t id = 0;            // position in index.json's "pieces"
  std::string source;        // path relative to its input ("POP909/001/001.mid"; chorales: "train/12")
  std::string input;         // the input folder (or file) as given on the command line
  std::string dataset;       // "pop909", "nottingham", "groove-midi", ..., or the input folder's name
  Split split = Split::Train;
  std::string split_from;    // "hash" or "official"
  std::string group;         // the key hashed for the split (versions of one tune share it)
  std::string genre;         // conditioning label ("" = none)
  std::string mood;          // conditioning label ("" = none)
  int key_tonic = -1;        // estimated key of the original (music::estimate_key); -1 = none
  bool key_minor = false;
  double tempo_bpm = 0.0;    // at the first note
  std::string time_signature;  // at the first note, "4/4"
  int64_t notes = 0;
  double seconds = 0.0;      // last note offset
  std::map<std::string, std::string> labels;  // from label files: style, collection, makam, valence, ...
  std::vector<SequenceInfo> sequences;        // sequences[0] is the original (transpose 0)

  const SequenceInfo* sequence(int transpose) const;  // nullptr when absent
};

json piece_to_json(const PieceInfo& p);
// what names the source in errors ("index.json: pieces[12]").
PieceInfo piece_from_json(const json& j, const std::string& what);

// A sequence of a split, as iterated for training.
struct SequenceRef {
  const PieceInfo* piece = nullptr;
  const SequenceInfo* sequence = nullptr;
};

class Corpus {
 public:
  // Opens a prepared corpus folder; every shard is mapped and every piece's range checked against it.
  // Throws xm::Error naming the file and what is wrong, with a hint.
  static Corpus open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const json& index() const { return index_; }   // the whole index.json (without "pieces")
  const json& vocab() const { return vocab_; }   // vocab.json
  std::unique_ptr<tokens::Tokenizer> make_tokenizer() const;  // tokens::tokenizer_from_json(vocab())
  std::string tokenizer_name() const;
  int vocab_size() const;
  int fields_per_step() const;

  const std::vector<PieceInfo>& pieces() const { return pieces_; }
  std::vector<const PieceInfo*> pieces(Split split) const;
  // Every sequence of a split (with transposed copies unless originals_only), in index order.
  std::vector<SequenceRef> sequences(Split split, bool originals_only = false) const;
  uint64_t num_tokens(Split split, bool originals_only = false) const;

  TokenView tokens(const SequenceInfo& s) const;
  TokenView tokens(const PieceInfo& p, int transpose = 0) const;  // throws when that transposition is absent
  const std::map<std::string, ShardReader>& shards() const { return shards_; }

 private:
  std::filesystem::path dir_;
  json index_;
  json vocab_;
  std::vector<PieceInfo> pieces_;
  std::map<std::string, ShardReader> shards_;
};

}  // namespace xm::data

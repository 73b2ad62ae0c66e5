// shard.h: the binary token shard format (a 64-byte little-endian header, then the token ids as uint16 or
// int32, ready to mmap), its writer and a read-only memory-mapped view. Which piece lies where is recorded
// in the corpus index (corpus.h), not in the shard. Not a compressed or random-write format.
#pragma once
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

namespace xm::data {

static_assert(std::endian::native == std::endian::little, "token shards are little-endian");

// Header layout (all little-endian):
//   0  char[8]  magic "XMTOKSH1"
//   8  uint32   version (1)
//  12  uint32   bytes per token: 2 (uint16) or 4 (int32)
//  16  uint64   number of tokens
//  24  uint32   vocabulary size (every id is in [0, vocab_size))
//  28  uint32   number of sequences (pieces x transpositions) in the shard
//  32  uint32   fields per step (1, or the note-tuple width)
//  36  uint32   split (0 train, 1 valid, 2 test)
//  40  byte[24] zero
//  64  tokens
constexpr char kShardMagic[8] = {'X', 'M', 'T', 'O', 'K', 'S', 'H', '1'};
constexpr uint32_t kShardVersion = 1;
constexpr size_t kShardHeaderBytes = 64;

struct ShardHeader {
  uint32_t version = kShardVersion;
  uint32_t token_bytes = 2;
  uint64_t num_tokens = 0;
  uint32_t vocab_size = 0;
  uint32_t num_sequences = 0;
  uint32_t fields_per_step = 1;
  uint32_t split = 0;
};

// 2 when every id of a vocabulary of this size fits in uint16, else 4.
inline uint32_t token_bytes_for_vocab(int vocab_size) { return vocab_size <= 65536 ? 2u : 4u; }

// Appends sequences to one shard file. The header is written on finish(); an unfinished file has a zero
// magic, so a reader never mistakes it for a good shard. Throws xm::Error naming the file.
class ShardWriter {
 public:
  ShardWriter(const std::filesystem::path& path, const ShardHeader& header);
  ~ShardWriter();
  ShardWriter(const ShardWriter&) = delete;
  ShardWriter& operator=(const ShardWriter&) = delete;

  // Appends one sequence; returns its offset (in tokens) in the shard. Ids outside [0, vocab) throw.
  uint64_t append(const int32_t* ids, size_t n);
  uint64_t num_tokens() const { return header_.num_tokens; }
  void finish();  // writes the header, fsyncs and closes
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  ShardHeader header_;
  std::FILE* f_ = nullptr;
  std::vector<uint8_t> buf_;
};

// A read-only mmap of a whole file (RAII, movable).
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::filesystem::path& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A view of token ids stored as uint16 or int32 (owned by the mapping it comes from).
class TokenView {
 public:
  TokenView() = default;
  TokenView(const uint8_t* data, size_t size, uint32_t token_bytes) : data_(data), size_(size), bytes_(token_bytes) {}
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int32_t operator[](size_t i) const {
    if (bytes_ == 2) {
      uint16_t v;
      std::memcpy(&v, data_ + 2 * i, 2);
      return int32_t(v);
    }
    int32_t v;
    std::memcpy(&v, data_ + 4 * i, 4);
    return v;
  }
  TokenView subview(size_t offset, size_t count) const;  // clamped to the view
  void copy_to(int32_t* dst) const;
  std::vector<int32_t> to_vector() const;
  uint32_t token_bytes() const { return bytes_; }
  const uint8_t* raw() const { return data_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint32_t bytes_ = 2;
};

// A mapped shard with its header checked (magic, version, token width, file size).
class ShardReader {
 public:
  ShardReader() = default;
  explicit ShardReader(const std::filesystem::path& path);
  const ShardHeader& header() const { return header_; }
  TokenView tokens() const;  // all of the shard's tokens
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  MappedFile map_;
  ShardHeader header_;
};

}  // namespace xm::data

// shard.cpp: see shard.h.
#include "data/shard.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace xm::data {

namespace {

void put_u32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put_u64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

// ---- writer ---------------------------------------------------------------------------------------

ShardWriter::ShardWriter(const std::filesystem::path& path, const ShardHeader& header)
    : path_(path), header_(header) {
  if (header_.token_bytes != 2 && header_.token_bytes != 4)
    throw Error(path.string() + ": token width must be 2 or 4 bytes, not " + std::to_string(header_.token_bytes));
  header_.num_tokens = 0;
  header_.num_sequences = 0;
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) throw Error(path.string() + ": cannot create shard: " + errno_text());
  uint8_t zero[kShardHeaderBytes] = {};
  if (std::fwrite(zero, 1, sizeof zero, f_) != sizeof zero)
    throw Error(path.string() + ": cannot write shard header: " + errno_text());
}

ShardWriter::~ShardWriter() {
  if (f_) std::fclose(f_);  // unfinished: the zero magic marks it as incomplete
}

uint64_t ShardWriter::append(const int32_t* ids, size_t n) {
  if (!f_) throw Error(path_.string() + ": append after finish()");
  const uint64_t offset = header_.num_tokens;
  buf_.resize(n * header_.token_bytes);
  for (size_t i = 0; i < n; ++i) {
    const int32_t id = ids[i];
    if (id < 0 || uint32_t(id) >= header_.vocab_size)
      throw Error(path_.string() + ": token id " + std::to_string(id) + " at sequence position " +
                  std::to_string(i) + " is outside the vocabulary [0, " + std::to_string(header_.vocab_size) +
                  ") (a tokenizer bug)");
    if (header_.token_bytes == 2) {
      const uint16_t v = uint16_t(id);
      std::memcpy(&buf_[2 * i], &v, 2);
    } else {
      std::memcpy(&buf_[4 * i], &id, 4);
    }
  }
  if (n && std::fwrite(buf_.data(), 1, buf_.size(), f_) != buf_.size())
    throw Error(path_.string() + ": write failed: " + errno_text());
  header_.num_tokens += n;
  header_.num_sequences += 1;
  return offset;
}

void ShardWriter::finish() {
  if (!f_) return;
  uint8_t h[kShardHeaderBytes] = {};
  std::memcpy(h, kShardMagic, 8);
  put_u32(h + 8, header_.version);
  put_u32(h + 12, header_.token_bytes);
  put_u64(h + 16, header_.num_tokens);
  put_u32(h + 24, header_.vocab_size);
  put_u32(h + 28, header_.num_sequences);
  put_u32(h + 32, header_.fields_per_step);
  put_u32(h + 36, header_.split);
  bool ok = std::fflush(f_) == 0 && std::fseek(f_, 0, SEEK_SET) == 0 &&
            std::fwrite(h, 1, sizeof h, f_) == sizeof h && std::fflush(f_) == 0 && ::fsync(::fileno(f_)) == 0;
  const std::string why = ok ? "" : errno_text();
  ok = (std::fclose(f_) == 0) && ok;
  f_ = nullptr;
  if (!ok) throw Error(path_.string() + ": cannot finish shard: " + why);
}

// ---- mapping --------------------------------------------------------------------------------------

MappedFile::MappedFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open: " + errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string why = errno_text();
    ::close(fd);
    throw Error(path.string() + ": cannot stat: " + why);
  }
  size_ = size_t(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      std::string why = errno_text();
      ::close(fd);
      throw Error(path.string() + ": cannot mmap: " + why);
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

// ---- views and readers ----------------------------------------------------------------------------

TokenView TokenView::subview(size_t offset, size_t count) const {
  if (offset > size_) offset = size_;
  if (count > size_ - offset) count = size_ - offset;
  return TokenView(data_ + offset * bytes_, count, bytes_);
}

void TokenView::copy_to(int32_t* dst) const {
  if (bytes_ == 4) {
    if (size_) std::memcpy(dst, data_, size_ * 4);
    return;
  }
  for (size_t i = 0; i < size_; ++i) {
    uint16_t v;
    std::memcpy(&v, data_ + 2 * i, 2);
    dst[i] = int32_t(v);
  }
}

std::vector<int32_t> TokenView::to_vector() const {
  std::vector<int32_t> v(size_);
  copy_to(v.data());
  return v;
}

ShardReader::ShardReader(const std::filesystem::path& path) : path_(path), map_(path) {
  const std::string hint = " (hint: the corpus is damaged or was written by another version; run "
                           "`xlstm-music data prepare` again)";
  const uint8_t* p = map_.data();
  if (map_.size() < kShardHeaderBytes)
    throw Error(path.string() + ": " + std::to_string(map_.size()) + " bytes, shorter than the " +
                std::to_string(kShardHeaderBytes) + "-byte shard header" + hint);
  if (std::memcmp(p, kShardMagic, 8) != 0)
    throw Error(path.string() + ": byte 0: not a token shard (magic is not XMTOKSH1; an unfinished shard has a "
                "zero magic)" + hint);
  header_.version = get_u32(p + 8);
  header_.token_bytes = get_u32(p + 12);
  header_.num_tokens = get_u64(p + 16);
  header_.vocab_size = get_u32(p + 24);
  header_.num_sequences = get_u32(p + 28);
  header_.fields_per_step = get_u32(p + 32);
  header_.split = get_u32(p + 36);
  if (header_.version != kShardVersion)
    throw Error(path.string() + ": byte 8: shard version " + std::to_string(header_.version) + ", expected " +
                std::to_string(kShardVersion) + hint);
  if (header_.token_bytes != 2 && header_.token_bytes != 4)
    throw Error(path.string() + ": byte 12: token width " + std::to_string(header_.token_bytes) +
                " (expected 2 or 4)" + hint);
  const uint64_t want = kShardHeaderBytes + header_.num_tokens * header_.token_bytes;
  if (header_.num_tokens > (uint64_t(1) << 40) || want != map_.size())
    throw Error(path.string() + ": header says " + std::to_string(header_.num_tokens) + " tokens (" +
                std::to_string(want) + " bytes) but the file has " + std::to_string(map_.size()) + " bytes" + hint);
}

TokenView ShardReader::tokens() const {
  return TokenView(map_.data() ? map_.data() + kShardHeaderBytes : nullptr, size_t(header_.num_tokens),
                   header_.token_bytes);
}

}  // namespace xm::data

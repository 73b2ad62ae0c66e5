// io.cpp: see io.h.
#include "core/io.h"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

namespace xm {

static std::string sys_reason() { return std::strerror(errno); }

std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path, uint64_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(path.string() + ": cannot open: " + sys_reason());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    std::string r = sys_reason();
    ::close(fd);
    throw Error(path.string() + ": cannot stat: " + r);
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw Error(path.string() + ": is a directory, not a file");
  }
  if (uint64_t(st.st_size) > max_bytes) {
    ::close(fd);
    throw Error(path.string() + ": file is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                std::to_string(max_bytes));
  }
  std::vector<uint8_t> buf;
  buf.reserve(size_t(st.st_size));
  uint8_t chunk[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string r = sys_reason();
      ::close(fd);
      throw Error(path.string() + ": read failed: " + r);
    }
    if (n == 0) break;
    if (buf.size() + size_t(n) > max_bytes) {
      ::close(fd);
      throw Error(path.string() + ": file grew over the limit of " + std::to_string(max_bytes) + " bytes");
    }
    buf.insert(buf.end(), chunk, chunk + n);
  }
  ::close(fd);
  return buf;
}

std::string read_file_text(const std::filesystem::path& path, uint64_t max_bytes) {
  auto b = read_file_bytes(path, max_bytes);
  return std::string(b.begin(), b.end());
}

void write_file_atomic(const std::filesystem::path& path, const void* data, size_t size) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  std::string tmp_name(1, '.');  // built by appends: GCC 12 warns falsely (-Wrestrict) on "." + string
  tmp_name.append(path.filename().string());
  tmp_name.append(".tmp-").append(std::to_string(::getpid())).append("-").append(std::to_string(counter++));
  std::filesystem::path tmp = dir / tmp_name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path.string() + ": cannot create temporary file " + tmp.string() + ": " + sys_reason());
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t left = size;
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string r = sys_reason();
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error(path.string() + ": write failed: " + r);
    }
    p += n;
    left -= size_t(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string r = sys_reason();
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": fsync/close failed: " + r);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string r = sys_reason();
    ::unlink(tmp.c_str());
    throw Error(path.string() + ": rename from temporary file failed: " + r);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace xm

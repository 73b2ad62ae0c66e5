// io.h: whole-file reads and atomic writes (temp file in the same folder, fsync, rename), so a crash or a
// kill -9 never leaves a half-written file where a good one was. Not a streaming or mmap layer.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xm {

// Reads a whole file; throws xm::Error naming the path and the reason. max_bytes bounds the allocation.
std::vector<uint8_t> read_file_bytes(const std::filesystem::path& path,
                                     uint64_t max_bytes = uint64_t(1) << 32);
std::string read_file_text(const std::filesystem::path& path, uint64_t max_bytes = uint64_t(1) << 32);

// Writes data to path atomically: path.tmp-<pid>-<n>, fsync, rename over path, fsync the folder.
void write_file_atomic(const std::filesystem::path& path, const void* data, size_t size);
inline void write_file_atomic(const std::filesystem::path& path, std::string_view text) {
  write_file_atomic(path, text.data(), text.size());
}

}  // namespace xm

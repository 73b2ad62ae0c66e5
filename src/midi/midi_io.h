// midi_io.h: reading and writing Standard MIDI Files (format 0, 1, 2; PPQ and SMPTE division) to and
// from the score model. Reading is strict where the file is unusable (error with file, byte offset and
// reason) and lenient where players are (warnings in Score::warnings). Not a real-time MIDI layer.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "midi/score.h"

namespace xm::midi {

struct ReadOptions {
  bool extend_notes_under_sustain = false;  // Performance RNN style: pedal-held notes last until release
  uint64_t max_file_bytes = 64u << 20;      // refuse larger files (no unbounded allocation)
};

// Throws xm::Error "<name>: byte <offset>: <reason>" for files it rejects.
Score read_midi_bytes(const uint8_t* data, size_t size, const std::string& name, const ReadOptions& opt = {});
Score read_midi_file(const std::filesystem::path& path, const ReadOptions& opt = {});

struct WriteOptions {
  int format = 1;  // 0 (one track) or 1 (a tempo track plus one track per Score track)
};
std::vector<uint8_t> write_midi_bytes(const Score& score, const WriteOptions& opt = {});
void write_midi_file(const Score& score, const std::filesystem::path& path, const WriteOptions& opt = {});  // atomic

}  // namespace xm::midi

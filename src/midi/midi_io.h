// midi_io.h: reading and writing Standard MIDI Files (format 0, 1, 2; PPQ and SMPTE division) to and
// from the score model. Reading is strict where the file is unusable (error with file, byte offset and
// reason) and lenient where players are (warnings in Score::warnings). Not a real-time MIDI layer.
//
// Reading, in detail:
// - Rejected (xm::Error): no MThd (RIFF RMID wrappers are unwrapped first), a header shorter than 6 bytes,
//   format > 2, division 0 or an unknown SMPTE frame rate, more than max_events events, a file larger
//   than max_file_bytes. Everything else is recovered from, with a warning that names the byte offset:
//   a chunk length beyond the end of the file (the chunk is read to the end), fewer tracks than the
//   header says, garbage or stray bytes after the last track (ignored), a truncated event or a data byte
//   without a status (the track ends there), running status continued after a meta or sysex event
//   (kept), system common/real-time bytes F1..FE inside a track (skipped with their data bytes), a
//   missing end-of-track. Only the header's number of MTrk chunks is read; other chunks are skipped.
// - Notes pair note-on with note-off (a note-on with velocity 0 is a note-off) per (track, channel,
//   pitch), first in first out, so overlapping same-pitch notes stay separate notes; a note-off with no
//   open note is ignored; notes still open at the end of their track end there (one warning per track).
// - Program of a note: the last program change on its channel (in any track) at or before its onset tick.
// - Tempo, time and key signature events from every track form one map (format 1 files put them in
//   track 0, but some put them elsewhere).
// - Format 2 (independent sequences): the tracks are laid one after another on one timeline, each
//   starting at the end-of-track tick of the one before (as a player plays them in turn), so a format 2
//   file becomes one score whose ticks and seconds are absolute; tempo events of a track apply from its
//   start onwards.
// - extend_notes_under_sustain (Performance RNN / Magenta's apply_sustain_control_changes): per channel
//   (drums excepted), a note released while CC64 >= 64 lasts until the pedal goes below 64, or until
//   the same pitch is struck again on that channel, or the end of the piece; at one tick the order is
//   pedal down, pedal up, note-on, note-off.
//
// Writing: format 1 writes one MTrk per Score track (at least one; more when a note or event names a
// higher track), every event into the track it names (the tempo map, meters and keys of a built score
// name track 0); format 0 writes everything into one MTrk (tracks are lost). Texts and sysex go back where
// they were; a track name not among the texts is written at tick 0; program changes are added where a note's
// program differs from what a reader would infer. Same-tick order: metas, texts, sysex, program, control,
// pitch bend, note-offs of earlier notes, note-ons, note-offs of zero-length notes, so that reading the
// result gives back the same notes (pairing is FIFO as above).
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
  uint64_t max_events = 10'000'000;         // refuse files with more events (each one costs memory)
  size_t max_warnings = 64;                 // further warnings are counted in one last line
};

// Throws xm::Error "<name>: byte <offset>: <reason>" for files it rejects.
Score read_midi_bytes(const uint8_t* data, size_t size, const std::string& name, const ReadOptions& opt = {});
Score read_midi_file(const std::filesystem::path& path, const ReadOptions& opt = {});

struct WriteOptions {
  int format = 1;  // 0 (one track) or 1 (one track per Score track, each event in the track it names)
};
// Both throw xm::Error for what cannot be written: pitch, velocity, channel or program out of range,
// an offset before its onset, a negative tick, a time signature denominator that is not a power of two.
// A gap longer than a delta time can say (2^28 - 1 ticks) is bridged with empty FF 7F metas.
std::vector<uint8_t> write_midi_bytes(const Score& score, const WriteOptions& opt = {});
void write_midi_file(const Score& score, const std::filesystem::path& path,
                     const WriteOptions& opt = {});  // atomic

}  // namespace xm::midi

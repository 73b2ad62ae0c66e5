// score.h: the score model every layer after midi/ works with: notes with onsets and offsets in ticks and
// seconds, the tempo map, meters, keys, controllers (sustain pedal), names and texts. Built from a parsed
// Standard MIDI File (midi_io.h) and turned back into one. Not a notation model (no voices or beams).
// Event lists (tempos, controls, texts, ...) are sorted by tick, stably (file order within a tick).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xm::midi {

struct Note {
  int pitch = 60;     // 0..127
  int velocity = 64;  // 1..127
  int channel = 0;    // 0..15
  int program = 0;    // 0..127, the channel's program at the onset
  int track = 0;      // index into Score::tracks
  bool drum = false;  // channel 9 (General MIDI percussion)
  int64_t onset_tick = 0;
  int64_t offset_tick = 0;
  double onset_s = 0.0;
  double offset_s = 0.0;
};

struct TempoChange {
  int64_t tick = 0;
  double seconds = 0.0;
  uint32_t us_per_quarter = 500000;  // 120 BPM
  int track = 0;                     // where the file had it (format 1 files: usually 0)
  double bpm() const { return 60000000.0 / double(us_per_quarter); }
};

struct TimeSignature {
  int64_t tick = 0;
  double seconds = 0.0;
  int numerator = 4;
  int denominator = 4;  // the real denominator (4), not the file's power of two (2)
  int clocks_per_click = 24;
  int notated_32nds_per_quarter = 8;
  int track = 0;
};

struct KeySignature {
  int64_t tick = 0;
  double seconds = 0.0;
  int sharps = 0;  // -7 (7 flats) .. +7 (7 sharps)
  bool minor = false;
  int track = 0;
};

struct ControlChange {
  int64_t tick = 0;
  double seconds = 0.0;
  int track = 0;
  int channel = 0;
  int controller = 0;  // 64 = sustain pedal
  int value = 0;
};

struct ProgramChange {
  int64_t tick = 0;
  double seconds = 0.0;
  int track = 0;
  int channel = 0;
  int program = 0;
};

struct PitchBend {
  int64_t tick = 0;
  double seconds = 0.0;
  int track = 0;
  int channel = 0;
  int value = 0;  // -8192..8191
};

// Meta text events 0x01..0x0F (text, copyright, track name, instrument, lyric, marker, cue, ...).
struct TextEvent {
  int64_t tick = 0;
  double seconds = 0.0;
  int track = 0;
  int type = 1;
  std::string text;
};

struct Track {
  std::string name;        // meta 0x03 (the first in the track; every one is also in Score::texts)
  std::string instrument;  // meta 0x04 (likewise)
  int64_t events = 0;      // events read from the MTrk chunk (end of track included); 0 for built scores
  int64_t end_tick = 0;    // tick of the track's end-of-track event
};

// Meta 0x54: where the track starts in SMPTE time (informational; it does not move any tick).
struct SmpteOffset {
  bool present = false;
  int track = 0;
  int hours = 0;  // the first byte as stored (frame-rate bits 5-6 included)
  int minutes = 0;
  int seconds = 0;
  int frames = 0;
  int subframes = 0;
};

// System exclusive messages (F0 ... and F7 escapes), kept so that writing a read file loses nothing.
struct SysEx {
  int64_t tick = 0;
  double seconds = 0.0;
  int track = 0;
  uint8_t status = 0xF0;      // 0xF0 (a sysex message) or 0xF7 (an escape / continuation)
  std::vector<uint8_t> data;  // the bytes after the length, as stored (F0 messages end with F7)
};

// Converts ticks to seconds (and back) exactly through a piecewise-constant tempo map: each instant is
// computed from integer tick and microsecond sums (no accumulated rounding), then divided once.
// Division is either PPQ (ticks per quarter) or SMPTE (frames per second x ticks per frame), where tempo
// events do not change the tick length (they are kept only for bpm_at and display).
class TempoMap {
 public:
  TempoMap() = default;
  // tempos sorted by tick (unsorted input is sorted stably); a 120 BPM entry at tick 0 is implied when the
  // first is later than 0; of several tempos at one tick the last wins; tempo 0 entries are ignored.
  TempoMap(int ticks_per_quarter, std::vector<TempoChange> tempos);
  // frames_per_second 24, 25, 29 (= 29.97 drop frame) or 30.
  static TempoMap smpte(int frames_per_second, int ticks_per_frame, std::vector<TempoChange> tempos = {});

  double ticks_to_seconds(int64_t tick) const;
  int64_t seconds_to_ticks(double seconds) const;  // nearest tick
  double bpm_at(int64_t tick) const;
  const std::vector<TempoChange>& tempos() const { return tempos_; }  // with seconds filled in
  bool is_smpte() const { return smpte_ticks_per_second_num_ > 0; }

 private:
  int ticks_per_quarter_ = 480;
  // SMPTE: ticks per second = num / den exactly (29.97 fps = 30000/1001); 0 for PPQ.
  int64_t smpte_ticks_per_second_num_ = 0;
  int64_t smpte_ticks_per_second_den_ = 1;
  std::vector<TempoChange> tempos_;
  // For PPQ: acc_[i] = sum over the segments before tempos_[i] of (ticks x microseconds per quarter),
  // in 128 bits so that no file can overflow it; seconds = (acc + dt x us) / (10^6 x ticks per quarter).
  __extension__ typedef unsigned __int128 u128;
  std::vector<u128> acc_;
  void fill_seconds();
};

struct Score {
  int format = 1;               // SMF format 0, 1 or 2
  int ticks_per_quarter = 480;  // PPQ; for SMPTE files, the ticks of a quarter at 120 BPM (for quantising)
  bool smpte = false;
  int smpte_fps = 0;  // 24, 25, 29 (29.97 drop frame) or 30
  int smpte_ticks_per_frame = 0;
  std::vector<Track> tracks;
  std::vector<Note> notes;  // sorted by (onset_tick, pitch, channel, track)
  std::vector<TempoChange> tempos;
  std::vector<TimeSignature> time_signatures;
  std::vector<KeySignature> key_signatures;
  std::vector<ControlChange> controls;
  std::vector<ProgramChange> programs;
  std::vector<PitchBend> pitch_bends;
  std::vector<TextEvent> texts;  // every text meta, names included, in file order per track
  std::vector<SysEx> sysex;
  SmpteOffset smpte_offset;
  std::vector<std::string> warnings;  // what the reader recovered from, with byte offsets
  int64_t end_tick = 0;               // the last end-of-track tick (the piece's length)

  TempoMap tempo_map() const;
  double duration_s() const;  // of max(end_tick, the last note offset)
  // Recomputes every event's seconds from its tick through tempo_map() (after editing ticks or tempos).
  void refresh_seconds();
};

// "C4" for 60 (middle C is C4), sharps for black keys: "C#4".
std::string pitch_name(int pitch);
// "C major", "Eb major", "F# minor" (sharps -7..7; others give "? major" with the count).
std::string key_name(int sharps, bool minor);

}  // namespace xm::midi

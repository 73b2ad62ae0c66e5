// score.h: the score model every layer after midi/ works with: notes with onsets and offsets in ticks and
// seconds, the tempo map, meters, keys, controllers (sustain pedal), names and texts. Built from a parsed
// Standard MIDI File (midi_file.h) and turned back into one. Not a notation model (no voices or beams).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xm::midi {

struct Note {
  int pitch = 60;      // 0..127
  int velocity = 64;   // 1..127
  int channel = 0;     // 0..15
  int program = 0;     // 0..127, the channel's program at the onset
  int track = 0;       // index into Score::tracks
  bool drum = false;   // channel 9 (General MIDI percussion)
  int64_t onset_tick = 0;
  int64_t offset_tick = 0;
  double onset_s = 0.0;
  double offset_s = 0.0;
};

struct TempoChange {
  int64_t tick = 0;
  double seconds = 0.0;
  uint32_t us_per_quarter = 500000;  // 120 BPM
  double bpm() const { return 60000000.0 / double(us_per_quarter); }
};

struct TimeSignature {
  int64_t tick = 0;
  double seconds = 0.0;
  int numerator = 4;
  int denominator = 4;  // the real denominator (4), not the file's power of two (2)
  int clocks_per_click = 24;
  int notated_32nds_per_quarter = 8;
};

struct KeySignature {
  int64_t tick = 0;
  double seconds = 0.0;
  int sharps = 0;  // -7 (7 flats) .. +7 (7 sharps)
  bool minor = false;
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
  std::string name;        // meta 0x03
  std::string instrument;  // meta 0x04
};

// Converts ticks to seconds (and back) exactly through a piecewise-constant tempo map.
// Division is either PPQ (ticks per quarter) or SMPTE (frames per second x ticks per frame), where tempo
// events do not change the tick length.
class TempoMap {
 public:
  TempoMap() = default;
  // tempos sorted by tick; a 120 BPM entry at tick 0 is implied when the first is later than 0.
  TempoMap(int ticks_per_quarter, std::vector<TempoChange> tempos);
  static TempoMap smpte(int frames_per_second, int ticks_per_frame);

  double ticks_to_seconds(int64_t tick) const;
  int64_t seconds_to_ticks(double seconds) const;  // nearest tick
  double bpm_at(int64_t tick) const;
  const std::vector<TempoChange>& tempos() const { return tempos_; }  // with seconds filled in

 private:
  int ticks_per_quarter_ = 480;
  double smpte_seconds_per_tick_ = 0.0;  // > 0 for SMPTE division
  std::vector<TempoChange> tempos_;
};

struct Score {
  int format = 1;                // SMF format 0, 1 or 2
  int ticks_per_quarter = 480;   // PPQ; for SMPTE files, the ticks of a quarter at 120 BPM (for quantising)
  bool smpte = false;
  int smpte_fps = 0;             // 24, 25, 29 (29.97 drop frame) or 30
  int smpte_ticks_per_frame = 0;
  std::vector<Track> tracks;
  std::vector<Note> notes;  // sorted by (onset_tick, pitch, channel, track)
  std::vector<TempoChange> tempos;
  std::vector<TimeSignature> time_signatures;
  std::vector<KeySignature> key_signatures;
  std::vector<ControlChange> controls;
  std::vector<ProgramChange> programs;
  std::vector<PitchBend> pitch_bends;
  std::vector<TextEvent> texts;
  std::vector<std::string> warnings;  // what the reader recovered from, with byte offsets
  int64_t end_tick = 0;               // the last end-of-track tick (the piece's length)

  TempoMap tempo_map() const;
  double duration_s() const;
};

}  // namespace xm::midi

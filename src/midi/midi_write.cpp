// midi_write.cpp: the Standard MIDI File writer (format 0 and 1) of midi_io.h: events of each track in
// a same-tick order that reading back reproduces, delta times, the atomic file write.
// Not the reader (midi_read.cpp); it writes what the Score holds and invents nothing but program changes.
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>

#include "core/error.h"
#include "core/io.h"
#include "midi/midi_io.h"

namespace xm::midi {
namespace {

constexpr int64_t kMaxDelta = 0x0FFFFFFF;

// Same-tick order within a track (see midi_io.h).
enum Prio : uint8_t {
  kMeta = 0,
  kText = 1,
  kSysex = 2,
  kProgram = 3,
  kControl = 4,
  kBend = 5,
  kNoteOffEarlier = 6,
  kNoteOn = 7,
  kNoteOffZero = 8,
  kEndOfTrack = 9,
};

struct Event {
  int64_t tick;
  uint8_t prio;
  uint32_t seq;                   // keeps the Score's order among equals
  uint32_t data_begin, data_len;  // bytes in the shared pool
};

struct TrackBuf {
  std::vector<Event> events;
};

class Builder {
 public:
  explicit Builder(size_t ntracks) : tracks_(ntracks) {}

  void add(size_t track, int64_t tick, Prio prio, std::initializer_list<uint8_t> bytes) {
    add(track, tick, prio, bytes.begin(), bytes.size());
  }
  void add(size_t track, int64_t tick, Prio prio, const uint8_t* bytes, size_t n) {
    Event e{tick, prio, seq_++, uint32_t(pool_.size()), uint32_t(n)};
    pool_.insert(pool_.end(), bytes, bytes + n);
    tracks_[track].events.push_back(e);
  }
  // A meta or sysex event: status (FF type, or F0/F7), length as a VLQ, data.
  void add_var(size_t track, int64_t tick, Prio prio, std::initializer_list<uint8_t> head,
               const uint8_t* data, size_t n) {
    std::vector<uint8_t> b(head);
    put_vlq(b, uint32_t(n));
    b.insert(b.end(), data, data + n);
    add(track, tick, prio, b.data(), b.size());
  }

  std::vector<uint8_t> finish(int format, uint16_t division, const std::vector<int64_t>& end_ticks) {
    std::vector<uint8_t> out = {'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, uint8_t(format)};
    out.push_back(uint8_t(tracks_.size() >> 8));
    out.push_back(uint8_t(tracks_.size() & 0xFF));
    out.push_back(uint8_t(division >> 8));
    out.push_back(uint8_t(division & 0xFF));
    for (size_t t = 0; t < tracks_.size(); ++t) {
      std::vector<Event>& ev = tracks_[t].events;
      std::sort(ev.begin(), ev.end(), [](const Event& a, const Event& b) {
        if (a.tick != b.tick) return a.tick < b.tick;
        if (a.prio != b.prio) return a.prio < b.prio;
        return a.seq < b.seq;
      });
      std::vector<uint8_t> body;
      int64_t now = 0;
      uint8_t running = 0;
      for (const Event& e : ev) {
        if (put_delta(body, e.tick - now)) running = 0;
        now = e.tick;
        const uint8_t* b = pool_.data() + e.data_begin;
        size_t n = e.data_len;
        if (b[0] < 0xF0) {  // channel message: running status where it applies
          if (b[0] == running) {
            ++b, --n;
          } else {
            running = b[0];
          }
        } else {
          running = 0;  // meta and sysex cancel running status
        }
        body.insert(body.end(), b, b + n);
      }
      int64_t end = std::max(now, end_ticks[t]);
      put_delta(body, end - now);
      body.insert(body.end(), {0xFF, 0x2F, 0x00});
      if (body.size() > 0xFFFFFFFFu)
        throw Error("MIDI writer: track " + std::to_string(t) + " is larger than 4 GiB");
      out.insert(out.end(), {'M', 'T', 'r', 'k'});
      uint32_t len = uint32_t(body.size());
      out.insert(out.end(), {uint8_t(len >> 24), uint8_t(len >> 16), uint8_t(len >> 8), uint8_t(len)});
      out.insert(out.end(), body.begin(), body.end());
    }
    return out;
  }

 private:
  std::vector<TrackBuf> tracks_;
  std::vector<uint8_t> pool_;
  uint32_t seq_ = 0;

  static void put_vlq(std::vector<uint8_t>& b, uint32_t v) {
    uint8_t tmp[5];
    int n = 0;
    tmp[n++] = uint8_t(v & 0x7F);
    while (v >>= 7) tmp[n++] = uint8_t(0x80 | (v & 0x7F));
    while (n > 0) b.push_back(tmp[--n]);
  }
  // A gap longer than one delta time can say is bridged with empty sequencer-specific metas (FF 7F 00),
  // which readers skip; returns whether it did (a meta cancels running status).
  static bool put_delta(std::vector<uint8_t>& b, int64_t d) {
    bool filler = false;
    while (d > kMaxDelta) {
      put_vlq(b, uint32_t(kMaxDelta));
      b.insert(b.end(), {0xFF, 0x7F, 0x00});
      d -= kMaxDelta;
      filler = true;
    }
    put_vlq(b, uint32_t(d));
    return filler;
  }
};

void check_range(const char* what, size_t index, const char* field, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw Error("MIDI writer: " + std::string(what) + " " + std::to_string(index) + ": " + field + " " +
                std::to_string(v) + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) +
                "]");
}

}  // namespace

std::vector<uint8_t> write_midi_bytes(const Score& score, const WriteOptions& opt) {
  if (opt.format != 0 && opt.format != 1)
    throw Error("MIDI writer: format " + std::to_string(opt.format) + " cannot be written (0 or 1)");
  // Division.
  uint16_t division;
  if (score.smpte) {
    int fps = score.smpte_fps, tpf = score.smpte_ticks_per_frame;
    if ((fps != 24 && fps != 25 && fps != 29 && fps != 30) || tpf < 1 || tpf > 255)
      throw Error("MIDI writer: SMPTE division " + std::to_string(fps) + " fps x " + std::to_string(tpf) +
                  " ticks per frame cannot be written (24/25/29/30 fps, 1..255 ticks)");
    division = uint16_t(uint16_t(uint8_t(int8_t(-fps))) << 8 | uint16_t(tpf));
  } else {
    if (score.ticks_per_quarter < 1 || score.ticks_per_quarter > 0x7FFF)
      throw Error("MIDI writer: ticks_per_quarter " + std::to_string(score.ticks_per_quarter) +
                  " is out of range [1, 32767]");
    division = uint16_t(score.ticks_per_quarter);
  }

  // How many tracks: every track the Score names, at least one.
  int max_track = int(score.tracks.size()) - 1;
  auto see = [&](int t, const char* what, size_t i) {
    check_range(what, i, "track", t, 0, 65534);
    max_track = std::max(max_track, t);
  };
  for (size_t i = 0; i < score.notes.size(); ++i) see(score.notes[i].track, "note", i);
  for (size_t i = 0; i < score.controls.size(); ++i) see(score.controls[i].track, "control change", i);
  for (size_t i = 0; i < score.programs.size(); ++i) see(score.programs[i].track, "program change", i);
  for (size_t i = 0; i < score.pitch_bends.size(); ++i) see(score.pitch_bends[i].track, "pitch bend", i);
  for (size_t i = 0; i < score.texts.size(); ++i) see(score.texts[i].track, "text", i);
  for (size_t i = 0; i < score.sysex.size(); ++i) see(score.sysex[i].track, "sysex", i);
  for (size_t i = 0; i < score.tempos.size(); ++i) see(score.tempos[i].track, "tempo", i);
  for (size_t i = 0; i < score.time_signatures.size(); ++i)
    see(score.time_signatures[i].track, "time signature", i);
  for (size_t i = 0; i < score.key_signatures.size(); ++i)
    see(score.key_signatures[i].track, "key signature", i);
  size_t ntracks = opt.format == 0 ? 1 : size_t(std::max(max_track, 0) + 1);
  auto T = [&](int track) { return opt.format == 0 ? size_t(0) : size_t(track); };
  Builder b(ntracks);
  auto tick_ok = [](const char* what, size_t i, int64_t tick) {
    check_range(what, i, "tick", tick, 0, INT64_MAX / 2);
  };

  // The tempo map, meters, keys, SMPTE offset: in the track they name (track 0 unless read from elsewhere).
  for (size_t i = 0; i < score.tempos.size(); ++i) {
    const TempoChange& t = score.tempos[i];
    tick_ok("tempo", i, t.tick);
    check_range("tempo", i, "us_per_quarter", t.us_per_quarter, 1, 0xFFFFFF);
    uint32_t us = t.us_per_quarter;
    b.add(T(t.track), t.tick, kMeta, {0xFF, 0x51, 0x03, uint8_t(us >> 16), uint8_t(us >> 8), uint8_t(us)});
  }
  for (size_t i = 0; i < score.time_signatures.size(); ++i) {
    const TimeSignature& ts = score.time_signatures[i];
    tick_ok("time signature", i, ts.tick);
    check_range("time signature", i, "numerator", ts.numerator, 0, 255);
    int dd = 0;
    while (dd < 31 && (1 << dd) < ts.denominator) ++dd;
    if (ts.denominator < 1 || (1 << dd) != ts.denominator)
      throw Error("MIDI writer: time signature " + std::to_string(i) + ": denominator " +
                  std::to_string(ts.denominator) + " is not a power of two");
    check_range("time signature", i, "clocks_per_click", ts.clocks_per_click, 0, 255);
    check_range("time signature", i, "notated_32nds_per_quarter", ts.notated_32nds_per_quarter, 0, 255);
    b.add(T(ts.track), ts.tick, kMeta,
          {0xFF, 0x58, 0x04, uint8_t(ts.numerator), uint8_t(dd), uint8_t(ts.clocks_per_click),
           uint8_t(ts.notated_32nds_per_quarter)});
  }
  for (size_t i = 0; i < score.key_signatures.size(); ++i) {
    const KeySignature& k = score.key_signatures[i];
    tick_ok("key signature", i, k.tick);
    check_range("key signature", i, "sharps", k.sharps, -128, 127);
    b.add(T(k.track), k.tick, kMeta, {0xFF, 0x59, 0x02, uint8_t(int8_t(k.sharps)), uint8_t(k.minor ? 1 : 0)});
  }
  if (score.smpte_offset.present) {
    const SmpteOffset& o = score.smpte_offset;
    check_range("SMPTE offset", 0, "track", o.track, 0, 65534);
    size_t t = T(o.track) < ntracks ? T(o.track) : 0;
    b.add(t, 0, kMeta,
          {0xFF, 0x54, 0x05, uint8_t(o.hours), uint8_t(o.minutes), uint8_t(o.seconds), uint8_t(o.frames),
           uint8_t(o.subframes)});
  }

  // Texts (names included) where they were; a track name not among them at tick 0 of its track.
  std::vector<bool> has_name(ntracks, false), has_instrument(ntracks, false);
  for (size_t i = 0; i < score.texts.size(); ++i) {
    const TextEvent& t = score.texts[i];
    tick_ok("text", i, t.tick);
    check_range("text", i, "type", t.type, 1, 15);
    if (t.type == 3) has_name[T(t.track)] = true;
    if (t.type == 4) has_instrument[T(t.track)] = true;
    b.add_var(T(t.track), t.tick, kText, {0xFF, uint8_t(t.type)},
              reinterpret_cast<const uint8_t*>(t.text.data()), t.text.size());
  }
  for (size_t i = 0; i < score.tracks.size() && opt.format == 1; ++i) {
    const Track& tr = score.tracks[i];
    if (!tr.name.empty() && !has_name[i])
      b.add_var(i, 0, kText, {0xFF, 0x03}, reinterpret_cast<const uint8_t*>(tr.name.data()), tr.name.size());
    if (!tr.instrument.empty() && !has_instrument[i])
      b.add_var(i, 0, kText, {0xFF, 0x04}, reinterpret_cast<const uint8_t*>(tr.instrument.data()),
                tr.instrument.size());
  }
  for (size_t i = 0; i < score.sysex.size(); ++i) {
    const SysEx& x = score.sysex[i];
    tick_ok("sysex", i, x.tick);
    if (x.status != 0xF0 && x.status != 0xF7)
      throw Error("MIDI writer: sysex " + std::to_string(i) + ": status must be 0xF0 or 0xF7");
    b.add_var(T(x.track), x.tick, kSysex, {x.status}, x.data.data(), x.data.size());
  }

  // Program changes: the Score's, plus one wherever a note's program differs from what a reader infers.
  std::array<std::map<int64_t, int>, 16> prog;  // channel -> tick -> program (the last at a tick wins)
  for (size_t i = 0; i < score.programs.size(); ++i) {
    const ProgramChange& p = score.programs[i];
    tick_ok("program change", i, p.tick);
    check_range("program change", i, "channel", p.channel, 0, 15);
    check_range("program change", i, "program", p.program, 0, 127);
    b.add(T(p.track), p.tick, kProgram, {uint8_t(0xC0 | p.channel), uint8_t(p.program)});
    prog[size_t(p.channel)][p.tick] = p.program;
  }
  std::vector<size_t> order(score.notes.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t c) { return score.notes[a].onset_tick < score.notes[c].onset_tick; });
  for (size_t i : order) {
    const Note& n = score.notes[i];
    check_range("note", i, "channel", n.channel, 0, 15);
    check_range("note", i, "program", n.program, 0, 127);
    tick_ok("note", i, n.onset_tick);
    auto& m = prog[size_t(n.channel)];
    auto it = m.upper_bound(n.onset_tick);
    int inferred = it == m.begin() ? 0 : std::prev(it)->second;
    if (inferred != n.program) {
      b.add(T(n.track), n.onset_tick, kProgram, {uint8_t(0xC0 | n.channel), uint8_t(n.program)});
      m[n.onset_tick] = n.program;
    }
  }
  for (size_t i = 0; i < score.controls.size(); ++i) {
    const ControlChange& c = score.controls[i];
    tick_ok("control change", i, c.tick);
    check_range("control change", i, "channel", c.channel, 0, 15);
    check_range("control change", i, "controller", c.controller, 0, 127);
    check_range("control change", i, "value", c.value, 0, 127);
    b.add(T(c.track), c.tick, kControl, {uint8_t(0xB0 | c.channel), uint8_t(c.controller), uint8_t(c.value)});
  }
  for (size_t i = 0; i < score.pitch_bends.size(); ++i) {
    const PitchBend& p = score.pitch_bends[i];
    tick_ok("pitch bend", i, p.tick);
    check_range("pitch bend", i, "channel", p.channel, 0, 15);
    check_range("pitch bend", i, "value", p.value, -8192, 8191);
    int v = p.value + 8192;
    b.add(T(p.track), p.tick, kBend, {uint8_t(0xE0 | p.channel), uint8_t(v & 0x7F), uint8_t(v >> 7)});
  }

  // Notes: within one (track, channel, pitch), onsets in order of (onset, offset) so that FIFO pairing
  // on reading gives each note-off to the right note-on.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t c) {
    const Note &x = score.notes[a], &y = score.notes[c];
    if (x.onset_tick != y.onset_tick) return x.onset_tick < y.onset_tick;
    return x.offset_tick < y.offset_tick;
  });
  for (size_t i : order) {
    const Note& n = score.notes[i];
    check_range("note", i, "pitch", n.pitch, 0, 127);
    check_range("note", i, "velocity", n.velocity, 1, 127);
    if (n.offset_tick < n.onset_tick)
      throw Error("MIDI writer: note " + std::to_string(i) + ": offset tick " +
                  std::to_string(n.offset_tick) + " is before its onset tick " +
                  std::to_string(n.onset_tick));
    tick_ok("note", i, n.offset_tick);
    size_t t = T(n.track);
    b.add(t, n.onset_tick, kNoteOn, {uint8_t(0x90 | n.channel), uint8_t(n.pitch), uint8_t(n.velocity)});
    b.add(t, n.offset_tick, n.offset_tick == n.onset_tick ? kNoteOffZero : kNoteOffEarlier,
          {uint8_t(0x80 | n.channel), uint8_t(n.pitch), 0x40});
  }

  // End of each track: its recorded end, never before its last event; track 0 carries the Score's end when
  // no track reaches it.
  std::vector<int64_t> ends(ntracks, 0);
  for (size_t i = 0; i < score.tracks.size(); ++i)
    ends[T(int(i))] = std::max(ends[T(int(i))], score.tracks[i].end_tick);
  if (*std::max_element(ends.begin(), ends.end()) < score.end_tick) ends[0] = score.end_tick;
  return b.finish(opt.format, division, ends);
}

void write_midi_file(const Score& score, const std::filesystem::path& path, const WriteOptions& opt) {
  std::vector<uint8_t> bytes;
  try {
    bytes = write_midi_bytes(score, opt);
  } catch (const Error& e) {
    throw Error(path.string() + ": " + e.what());
  }
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace xm::midi

// midi_read.cpp: the Standard MIDI File reader (read_midi_bytes, read_midi_file): chunks, events, note
// pairing, the tempo map and the sustain option, as midi_io.h describes. Not the writer (midi_write.cpp).
// Every length is checked against the bytes that remain; nothing allocates more than the file implies.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/io.h"
#include "midi/midi_io.h"

namespace xm::midi {
namespace {

constexpr int kKeys = 16 * 128;  // (channel, pitch)

std::string hex2(unsigned v) {
  char b[8];
  std::snprintf(b, sizeof b, "0x%02X", v & 0xFFu);
  return b;
}

uint32_t be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}
uint16_t be16(const uint8_t* p) {
  return uint16_t(p[0] << 8 | p[1]);
}
uint32_t le32(const uint8_t* p) {
  return uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
}

enum class Vlq { ok, truncated, too_long };

// Reads a variable-length quantity of at most 4 bytes from [p, end).
Vlq read_vlq(const uint8_t* d, size_t& p, size_t end, uint32_t& value) {
  value = 0;
  for (int i = 0; i < 4; ++i) {
    if (p >= end) return Vlq::truncated;
    uint8_t b = d[p++];
    value = (value << 7) | (b & 0x7Fu);
    if (!(b & 0x80)) return Vlq::ok;
  }
  return Vlq::too_long;
}

// FIFO of open notes for one (channel, pitch): indices into the note list.
struct OpenQueue {
  std::vector<uint32_t> idx;
  size_t head = 0;
  bool empty() const { return head == idx.size(); }
  void push(uint32_t i) { idx.push_back(i); }
  uint32_t pop() {
    uint32_t i = idx[head++];
    if (head == idx.size()) idx.clear(), head = 0;
    return i;
  }
  void clear() { idx.clear(), head = 0; }
};

class Reader {
 public:
  Reader(const uint8_t* d, size_t n, size_t base, const std::string& name, const ReadOptions& opt, Score& s)
      : d_(d), n_(n), base_(base), name_(name), opt_(opt), s_(s), open_(kKeys) {}

  void read();

 private:
  const uint8_t* d_;
  size_t n_;
  size_t base_;  // offset of d_ in the file (RIFF wrappers), for messages
  const std::string& name_;
  const ReadOptions& opt_;
  Score& s_;
  std::vector<OpenQueue> open_;
  std::vector<int> touched_;  // keys with open notes in the current track
  uint64_t events_ = 0;
  size_t dropped_warnings_ = 0;

  [[noreturn]] void fail(size_t off, const std::string& reason) const {
    throw Error(name_ + ": byte " + std::to_string(base_ + off) + ": " + reason);
  }
  void warn(size_t off, const std::string& what) {
    if (s_.warnings.size() < opt_.max_warnings)
      s_.warnings.push_back("byte " + std::to_string(base_ + off) + ": " + what);
    else
      ++dropped_warnings_;
  }
  void count_event(size_t off) {
    if (++events_ > opt_.max_events)
      fail(off, "more than " + std::to_string(opt_.max_events) +
                    " events (ReadOptions::max_events); refusing to allocate for them");
  }
  void read_track(size_t start, size_t end, int track, int64_t base_tick);
  void finish();
};

void Reader::read() {
  if (n_ < 4 || std::memcmp(d_, "MThd", 4) != 0) {
    std::string found = n_ == 0 ? "the file is empty" : "no MThd header at the start";
    fail(0, "not a Standard MIDI File: " + found + " (hint: is this a MIDI file?)");
  }
  if (n_ < 14) fail(n_, "truncated header: " + std::to_string(n_) + " bytes, the MThd chunk needs 14");
  uint32_t hlen = be32(d_ + 4);
  if (hlen < 6) fail(4, "header length " + std::to_string(hlen) + " is shorter than 6");
  if (uint64_t(hlen) > n_ - 8)
    fail(4, "header length " + std::to_string(hlen) + " runs past the end of the file");
  int format = be16(d_ + 8);
  int ntrks = be16(d_ + 10);
  uint16_t division = be16(d_ + 12);
  if (format > 2) fail(8, "unknown SMF format " + std::to_string(format) + " (0, 1 or 2 expected)");
  s_.format = format;
  if (division & 0x8000) {
    int fps = -int(int8_t(division >> 8));
    int tpf = division & 0xFF;
    if (fps != 24 && fps != 25 && fps != 29 && fps != 30)
      fail(12,
           "SMPTE division with " + std::to_string(fps) + " frames per second (24, 25, 29 or 30 expected)");
    if (tpf == 0) fail(13, "SMPTE division with 0 ticks per frame");
    s_.smpte = true;
    s_.smpte_fps = fps;
    s_.smpte_ticks_per_frame = tpf;
    double ticks_per_second = (fps == 29 ? 30000.0 / 1001.0 : double(fps)) * tpf;
    s_.ticks_per_quarter = std::max(1, int(ticks_per_second * 0.5 + 0.5));  // a quarter at 120 BPM
  } else {
    if (division == 0) fail(12, "division is 0 ticks per quarter note");
    s_.ticks_per_quarter = division;
  }
  if (format == 0 && ntrks != 1)
    warn(10, "format 0 file declares " + std::to_string(ntrks) + " tracks (1 expected); reading them all");

  size_t p = 8 + size_t(hlen);
  int read_tracks = 0;
  int64_t base_tick = 0;
  while (read_tracks < ntrks) {
    if (p >= n_) {
      warn(p,
           "the file ends after " + std::to_string(read_tracks) + " of " + std::to_string(ntrks) + " tracks");
      break;
    }
    if (n_ - p < 8) {
      warn(p, "truncated chunk header (" + std::to_string(n_ - p) + " bytes left) after " +
                  std::to_string(read_tracks) + " of " + std::to_string(ntrks) + " tracks; ignored");
      break;
    }
    const uint8_t* id = d_ + p;
    uint64_t len = be32(d_ + p + 4);
    if (std::memcmp(id, "MTrk", 4) == 0) {
      size_t start = p + 8;
      size_t end = start + len;
      if (len > n_ - start) {
        warn(p + 4, "track chunk declares " + std::to_string(len) + " bytes but only " +
                        std::to_string(n_ - start) + " remain; reading to the end of the file");
        end = n_;
      }
      read_track(start, end, read_tracks, base_tick);
      if (format == 2) base_tick = s_.tracks.back().end_tick;
      ++read_tracks;
      p = end;
      continue;
    }
    bool ascii = std::all_of(id, id + 4, [](uint8_t c) { return c >= 0x20 && c <= 0x7E; });
    if (!ascii) {
      warn(p, "expected a chunk, found bytes " + hex2(id[0]) + " " + hex2(id[1]) + " ...; " +
                  std::to_string(read_tracks) + " of " + std::to_string(ntrks) +
                  " tracks read, the rest ignored");
      p = n_;
      break;
    }
    if (len > n_ - p - 8) {
      warn(p, "chunk '" + std::string(reinterpret_cast<const char*>(id), 4) +
                  "' runs past the end of the file; " + std::to_string(read_tracks) + " of " +
                  std::to_string(ntrks) + " tracks read");
      p = n_;
      break;
    }
    p += 8 + len;  // an unknown chunk: skipped, as the standard asks
  }
  // After the declared tracks: further well-formed chunks are skipped quietly, anything else is reported.
  while (p < n_) {
    if (n_ - p >= 8 && std::all_of(d_ + p, d_ + p + 4, [](uint8_t c) { return c >= 0x20 && c <= 0x7E; }) &&
        uint64_t(be32(d_ + p + 4)) <= n_ - p - 8) {
      if (std::memcmp(d_ + p, "MTrk", 4) == 0)
        warn(p, "an MTrk chunk beyond the " + std::to_string(ntrks) + " tracks the header declares; ignored");
      p += 8 + size_t(be32(d_ + p + 4));
      continue;
    }
    warn(p, std::to_string(n_ - p) + " stray bytes after the last track; ignored");
    break;
  }
  finish();
}

void Reader::read_track(size_t start, size_t end, int track, int64_t base_tick) {
  s_.tracks.emplace_back();
  Track& tr = s_.tracks.back();
  int64_t tick = base_tick;
  size_t p = start;
  uint8_t status = 0;             // running status (a channel status), 0 = none
  bool status_cancelled = false;  // a meta or sysex came after the last channel status
  bool warned_running = false;
  int illegal_bytes = 0;
  size_t first_illegal = 0;
  bool eot = false;
  int64_t events = 0;

  while (p < end) {
    size_t ev = p;
    uint32_t delta = 0;
    Vlq v = read_vlq(d_, p, end, delta);
    if (v == Vlq::truncated) {
      warn(ev, "track " + std::to_string(track) + " ends inside a delta time");
      break;
    }
    if (v == Vlq::too_long) {
      warn(ev, "delta time longer than 4 bytes in track " + std::to_string(track) + "; the track ends here");
      break;
    }
    if (p >= end) {
      warn(ev, "track " + std::to_string(track) + " ends after a delta time, before its event");
      break;
    }
    tick += delta;
    uint8_t b = d_[p];
    if (b == 0xFF) {  // meta event
      size_t mp = p + 1;
      if (mp >= end) {
        warn(p, "track " + std::to_string(track) + " ends inside a meta event");
        break;
      }
      uint8_t type = d_[mp++];
      uint32_t len = 0;
      if (read_vlq(d_, mp, end, len) != Vlq::ok || len > end - mp) {
        warn(p, "meta event " + hex2(type) + " in track " + std::to_string(track) +
                    " has a length past the end of its track; the track ends here");
        break;
      }
      const uint8_t* m = d_ + mp;
      p = mp + len;
      status_cancelled = true;
      ++events;
      count_event(ev);
      if (type == 0x2F) {
        eot = true;
        break;
      }
      if (type == 0x51) {
        if (len < 3) {
          warn(ev, "tempo event with " + std::to_string(len) + " data bytes (3 expected); ignored");
          continue;
        }
        uint32_t us = uint32_t(m[0]) << 16 | uint32_t(m[1]) << 8 | m[2];
        if (us == 0) {
          warn(ev, "tempo of 0 microseconds per quarter; ignored");
          continue;
        }
        s_.tempos.push_back(TempoChange{tick, 0.0, us, track});
      } else if (type == 0x58) {
        if (len < 2) {
          warn(ev, "time signature with " + std::to_string(len) + " data bytes (4 expected); ignored");
          continue;
        }
        if (m[1] > 30) {
          warn(ev, "time signature denominator 2^" + std::to_string(m[1]) + "; ignored");
          continue;
        }
        TimeSignature ts;
        ts.tick = tick;
        ts.track = track;
        ts.numerator = m[0];
        ts.denominator = 1 << m[1];
        if (len >= 4) {
          ts.clocks_per_click = m[2];
          ts.notated_32nds_per_quarter = m[3];
        }
        s_.time_signatures.push_back(ts);
      } else if (type == 0x59) {
        if (len < 2) {
          warn(ev, "key signature with " + std::to_string(len) + " data bytes (2 expected); ignored");
          continue;
        }
        s_.key_signatures.push_back(KeySignature{tick, 0.0, int(int8_t(m[0])), m[1] != 0, track});
      } else if (type >= 0x01 && type <= 0x0F) {
        TextEvent t;
        t.tick = tick;
        t.track = track;
        t.type = type;
        t.text.assign(reinterpret_cast<const char*>(m), len);
        if (type == 0x03 && tr.name.empty()) tr.name = t.text;
        if (type == 0x04 && tr.instrument.empty()) tr.instrument = t.text;
        s_.texts.push_back(std::move(t));
      } else if (type == 0x54) {
        if (len >= 5 && !s_.smpte_offset.present) {
          s_.smpte_offset = SmpteOffset{true, track, m[0], m[1], m[2], m[3], m[4]};
        }
      }
      continue;  // other metas (sequence number, channel prefix, port, sequencer specific) carry no music
    }
    if (b == 0xF0 || b == 0xF7) {  // sysex message or escape
      size_t sp = p + 1;
      uint32_t len = 0;
      if (read_vlq(d_, sp, end, len) != Vlq::ok || len > end - sp) {
        warn(p, "sysex event in track " + std::to_string(track) +
                    " has a length past the end of its track; the track ends here");
        break;
      }
      SysEx x;
      x.tick = tick;
      x.track = track;
      x.status = b;
      x.data.assign(d_ + sp, d_ + sp + len);
      s_.sysex.push_back(std::move(x));
      p = sp + len;
      status_cancelled = true;
      ++events;
      count_event(ev);
      continue;
    }
    if (b > 0xF0) {  // system common / real-time: illegal in a file; skip it and its data bytes
      if (illegal_bytes++ == 0) first_illegal = p;
      int data = (b == 0xF1 || b == 0xF3) ? 1 : b == 0xF2 ? 2 : 0;
      ++p;
      for (int i = 0; i < data && p < end && d_[p] < 0x80; ++i) ++p;
      continue;
    }
    uint8_t st;
    if (b & 0x80) {
      st = b;
      ++p;
      status = b;
      status_cancelled = false;
    } else {
      if (status == 0) {
        warn(p, "data byte " + hex2(b) + " without a status in track " + std::to_string(track) +
                    "; the track ends here");
        break;
      }
      if (status_cancelled && !warned_running) {
        warn(p, "running status continued after a meta or sysex event in track " + std::to_string(track) +
                    " (kept)");
        warned_running = true;
      }
      st = status;
    }
    int kind = st >> 4, channel = st & 0x0F;
    int ndata = (kind == 0xC || kind == 0xD) ? 1 : 2;
    if (end - p < size_t(ndata)) {
      warn(ev, "track " + std::to_string(track) + " ends inside a channel message");
      p = end;
      break;
    }
    uint8_t d1 = d_[p], d2 = ndata == 2 ? d_[p + 1] : 0;
    if (d1 >= 0x80 || d2 >= 0x80) {
      warn(p, "status byte " + hex2(d1 >= 0x80 ? d1 : d2) + " where a data byte belongs in track " +
                  std::to_string(track) + "; the track ends here");
      break;
    }
    p += size_t(ndata);
    ++events;
    count_event(ev);
    switch (kind) {
      case 0x9:
        if (d2 > 0) {
          int key = channel * 128 + d1;
          if (open_[key].empty()) touched_.push_back(key);
          open_[key].push(uint32_t(s_.notes.size()));
          Note nt;
          nt.pitch = d1;
          nt.velocity = d2;
          nt.channel = channel;
          nt.track = track;
          nt.drum = channel == 9;
          nt.onset_tick = tick;
          nt.offset_tick = -1;
          s_.notes.push_back(nt);
          break;
        }
        [[fallthrough]];  // velocity 0: a note-off
      case 0x8: {
        int key = channel * 128 + d1;
        if (!open_[key].empty()) s_.notes[open_[key].pop()].offset_tick = tick;
        break;
      }
      case 0xB:
        s_.controls.push_back(ControlChange{tick, 0.0, track, channel, d1, d2});
        break;
      case 0xC:
        s_.programs.push_back(ProgramChange{tick, 0.0, track, channel, d1});
        break;
      case 0xE:
        s_.pitch_bends.push_back(PitchBend{tick, 0.0, track, channel, int(d2) * 128 + d1 - 8192});
        break;
      default:  // 0xA polyphonic and 0xD channel aftertouch: read, not kept
        break;
    }
  }
  if (illegal_bytes > 0)
    warn(first_illegal, std::to_string(illegal_bytes) +
                            " system common/real-time status byte(s) (F1..FE) in track " +
                            std::to_string(track) + "; skipped");
  if (!eot) {
    warn(p, "track " + std::to_string(track) + " has no end-of-track event");
  } else if (p < end) {
    warn(p, std::to_string(end - p) + " bytes after the end-of-track event of track " +
                std::to_string(track) + "; ignored");
  }
  tr.events = events;
  tr.end_tick = tick;
  int still_open = 0;
  for (int key : touched_) {
    while (!open_[key].empty()) {
      s_.notes[open_[key].pop()].offset_tick = tick;
      ++still_open;
    }
    open_[key].clear();
  }
  touched_.clear();
  if (still_open > 0)
    warn(p, std::to_string(still_open) + " note(s) still sounding at the end of track " +
                std::to_string(track) + " end there (tick " + std::to_string(tick) + ")");
}

// Magenta's apply_sustain_control_changes, per channel, with the order pedal-down, pedal-up, note-on,
// note-off at one tick; a released note held by the pedal ends at pedal-up or when its pitch is struck again.
void extend_under_sustain(Score& s) {
  struct Ev {
    int64_t tick;
    int type;  // 0 pedal down, 1 pedal up, 2 note-on, 3 note-off
    int32_t ref;
  };
  for (int ch = 0; ch < 16; ++ch) {
    if (ch == 9) continue;
    std::vector<Ev> evs;
    for (const ControlChange& c : s.controls)
      if (c.channel == ch && c.controller == 64) evs.push_back(Ev{c.tick, c.value >= 64 ? 0 : 1, -1});
    if (evs.empty()) continue;
    for (size_t i = 0; i < s.notes.size(); ++i) {
      const Note& n = s.notes[i];
      if (n.channel != ch || n.drum) continue;
      evs.push_back(Ev{n.onset_tick, 2, int32_t(i)});
      evs.push_back(Ev{n.offset_tick, 3, int32_t(i)});
    }
    std::stable_sort(evs.begin(), evs.end(), [](const Ev& a, const Ev& b) {
      return a.tick != b.tick ? a.tick < b.tick : a.type < b.type;
    });
    bool down = false;
    std::vector<int32_t> held;  // released while the pedal was down
    std::vector<int64_t> new_offset(s.notes.size(), -1);
    for (const Ev& e : evs) {
      if (e.type == 0) {
        down = true;
      } else if (e.type == 1) {
        down = false;
        for (int32_t i : held) new_offset[size_t(i)] = e.tick;
        held.clear();
      } else if (e.type == 2) {
        int pitch = s.notes[size_t(e.ref)].pitch;
        auto it = std::remove_if(held.begin(), held.end(), [&](int32_t i) {
          if (s.notes[size_t(i)].pitch != pitch) return false;
          new_offset[size_t(i)] = e.tick;
          return true;
        });
        held.erase(it, held.end());
      } else if (down) {
        held.push_back(e.ref);
      }
    }
    for (int32_t i : held) new_offset[size_t(i)] = std::max(s.end_tick, s.notes[size_t(i)].offset_tick);
    for (size_t i = 0; i < s.notes.size(); ++i)
      if (new_offset[i] > s.notes[i].offset_tick) s.notes[i].offset_tick = new_offset[i];
  }
}

void Reader::finish() {
  // Events come in tick order per track; only files with several tracks need the (stable) merge.
  auto sort_by_tick = [](auto& v) {
    auto by_tick = [](const auto& a, const auto& b) { return a.tick < b.tick; };
    if (!std::is_sorted(v.begin(), v.end(), by_tick)) std::stable_sort(v.begin(), v.end(), by_tick);
  };
  sort_by_tick(s_.tempos);
  sort_by_tick(s_.time_signatures);
  sort_by_tick(s_.key_signatures);
  sort_by_tick(s_.controls);
  sort_by_tick(s_.programs);
  sort_by_tick(s_.pitch_bends);
  sort_by_tick(s_.texts);
  sort_by_tick(s_.sysex);
  s_.end_tick = 0;
  for (const Track& t : s_.tracks) s_.end_tick = std::max(s_.end_tick, t.end_tick);

  // Program at each onset: the last program change on the channel at or before it.
  std::array<std::vector<std::pair<int64_t, int>>, 16> prog;
  for (const ProgramChange& pc : s_.programs) prog[size_t(pc.channel)].emplace_back(pc.tick, pc.program);
  for (Note& n : s_.notes) {
    const auto& v = prog[size_t(n.channel)];
    if (v.empty()) continue;
    auto it = std::upper_bound(v.begin(), v.end(), n.onset_tick,
                               [](int64_t t, const std::pair<int64_t, int>& e) { return t < e.first; });
    if (it != v.begin()) n.program = std::prev(it)->second;
  }
  if (opt_.extend_notes_under_sustain) extend_under_sustain(s_);
  auto note_order = [](const Note& a, const Note& b) {
    if (a.onset_tick != b.onset_tick) return a.onset_tick < b.onset_tick;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    if (a.channel != b.channel) return a.channel < b.channel;
    if (a.track != b.track) return a.track < b.track;
    if (a.offset_tick != b.offset_tick) return a.offset_tick < b.offset_tick;
    return a.velocity < b.velocity;
  };
  if (!std::is_sorted(s_.notes.begin(), s_.notes.end(), note_order))
    std::sort(s_.notes.begin(), s_.notes.end(), note_order);
  s_.refresh_seconds();
  if (dropped_warnings_ > 0)
    s_.warnings.push_back("... and " + std::to_string(dropped_warnings_) + " more warnings");
}

}  // namespace

Score read_midi_bytes(const uint8_t* data, size_t size, const std::string& name, const ReadOptions& opt) {
  if (size > opt.max_file_bytes)
    throw Error(name + ": byte 0: file of " + std::to_string(size) + " bytes is larger than the limit of " +
                std::to_string(opt.max_file_bytes) + " (ReadOptions::max_file_bytes)");
  size_t base = 0;
  // RIFF RMID: a Standard MIDI File inside the RIFF "data" chunk.
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "RMID", 4) == 0) {
    size_t p = 12;
    bool found = false;
    while (size - p >= 8) {
      uint64_t len = le32(data + p + 4);
      if (std::memcmp(data + p, "data", 4) == 0) {
        base = p + 8;
        size = size_t(std::min<uint64_t>(len, size - base));
        found = true;
        break;
      }
      p += 8 + size_t(len) + (len & 1);
      if (p > size) break;
    }
    if (!found) throw Error(name + ": byte 12: RIFF RMID file without a 'data' chunk");
    data += base;
  }
  Score s;
  Reader r(data, size, base, name, opt, s);
  r.read();
  return s;
}

Score read_midi_file(const std::filesystem::path& path, const ReadOptions& opt) {
  std::vector<uint8_t> bytes = read_file_bytes(path, opt.max_file_bytes);
  return read_midi_bytes(bytes.data(), bytes.size(), path.string(), opt);
}

}  // namespace xm::midi

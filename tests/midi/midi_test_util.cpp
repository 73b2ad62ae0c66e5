// midi_test_util.cpp: see midi_test_util.h.
#include "midi/midi_test_util.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace fs = std::filesystem;
using namespace xm::midi;

namespace xmtest {

Smf::Smf(int format, uint16_t division) {
  bytes = {
      'M', 'T', 'h', 'd', 0, 0, 0, 6, 0, uint8_t(format), 0, 0, uint8_t(division >> 8), uint8_t(division)};
}

Smf& Smf::track(std::initializer_list<uint8_t> body) {
  return track(std::vector<uint8_t>(body));
}

Smf& Smf::track(const std::vector<uint8_t>& body) {
  uint32_t n = uint32_t(body.size());
  bytes.insert(bytes.end(),
               {'M', 'T', 'r', 'k', uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)});
  bytes.insert(bytes.end(), body.begin(), body.end());
  ++ntracks;
  return *this;
}

Smf& Smf::raw(std::initializer_list<uint8_t> b) {
  bytes.insert(bytes.end(), b);
  return *this;
}

std::vector<uint8_t> Smf::done() {
  bytes[10] = uint8_t(ntracks >> 8);
  bytes[11] = uint8_t(ntracks);
  return bytes;
}

std::vector<fs::path> midi_files_under(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".mid" || ext == ".midi") out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> spread(const std::vector<fs::path>& files, size_t n) {
  if (n == 0 || n >= files.size()) return files;
  std::vector<fs::path> out;
  for (size_t i = 0; i < n; ++i) out.push_back(files[i * files.size() / n]);
  return out;
}

size_t corpus_sample_size() {
  if (const char* v = std::getenv("XM_CORPUS_SAMPLE"); v && *v) return size_t(std::strtoull(v, nullptr, 10));
#if defined(__SANITIZE_ADDRESS__)
  return 600;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return 600;
#endif
#endif
  return 0;
}

namespace {

// describe() writes every compared field; equal descriptions mean equal elements. The fast path compares
// the raw fields first (same_fields) so that millions of notes do not each become two strings.
template <class A, class F, class S>
std::string diff_list(const char* what, const std::vector<A>& a, const std::vector<A>& b, F describe,
                      S same_fields) {
  if (a.size() != b.size())
    return std::string(what) + ": " + std::to_string(a.size()) + " vs " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (same_fields(a[i], b[i])) continue;
    std::string x = describe(a[i]), y = describe(b[i]);
    if (x != y) return std::string(what) + " " + std::to_string(i) + ": " + x + " vs " + y;
  }
  return "";
}
template <class A, class F>
std::string diff_list(const char* what, const std::vector<A>& a, const std::vector<A>& b, F describe) {
  return diff_list(what, a, b, describe, [](const A&, const A&) { return false; });
}

std::string exact(double v) {
  std::ostringstream s;
  s.precision(17);
  s << v;
  return s.str();
}

}  // namespace

std::string score_diff(const Score& a, const Score& b, bool ignore_tracks) {
  if (a.ticks_per_quarter != b.ticks_per_quarter || a.smpte != b.smpte || a.smpte_fps != b.smpte_fps ||
      a.smpte_ticks_per_frame != b.smpte_ticks_per_frame)
    return "division differs";
  if (a.end_tick != b.end_tick)
    return "end_tick " + std::to_string(a.end_tick) + " vs " + std::to_string(b.end_tick);
  auto tr = [&](int t) { return ignore_tracks ? 0 : t; };
  std::string d;
  d = diff_list(
      "note", a.notes, b.notes,
      [&](const Note& n) {
        return std::to_string(n.pitch) + "/v" + std::to_string(n.velocity) + "/ch" +
               std::to_string(n.channel) + "/p" + std::to_string(n.program) + "/t" +
               std::to_string(tr(n.track)) + "/d" + std::to_string(n.drum) + " " +
               std::to_string(n.onset_tick) + "-" + std::to_string(n.offset_tick) + " " + exact(n.onset_s) +
               "-" + exact(n.offset_s);
      },
      [&](const Note& x, const Note& y) {
        return x.pitch == y.pitch && x.velocity == y.velocity && x.channel == y.channel &&
               x.program == y.program && tr(x.track) == tr(y.track) && x.drum == y.drum &&
               x.onset_tick == y.onset_tick && x.offset_tick == y.offset_tick && x.onset_s == y.onset_s &&
               x.offset_s == y.offset_s;
      });
  if (!d.empty()) return d;
  d = diff_list("tempo", a.tempos, b.tempos, [&](const TempoChange& t) {
    return std::to_string(t.tick) + "/t" + std::to_string(tr(t.track)) + ":" +
           std::to_string(t.us_per_quarter) + "@" + exact(t.seconds);
  });
  if (!d.empty()) return d;
  d = diff_list("time signature", a.time_signatures, b.time_signatures, [&](const TimeSignature& t) {
    return std::to_string(t.tick) + "/t" + std::to_string(tr(t.track)) + ":" + std::to_string(t.numerator) +
           "/" + std::to_string(t.denominator) + "," + std::to_string(t.clocks_per_click) + "," +
           std::to_string(t.notated_32nds_per_quarter);
  });
  if (!d.empty()) return d;
  d = diff_list("key signature", a.key_signatures, b.key_signatures, [&](const KeySignature& k) {
    return std::to_string(k.tick) + "/t" + std::to_string(tr(k.track)) + ":" + std::to_string(k.sharps) +
           (k.minor ? "m" : "M");
  });
  if (!d.empty()) return d;
  d = diff_list("text", a.texts, b.texts, [&](const TextEvent& t) {
    return std::to_string(t.tick) + "/t" + std::to_string(tr(t.track)) + "/" + std::to_string(t.type) + ":" +
           t.text;
  });
  if (!d.empty()) return d;
  if (!ignore_tracks) {
    d = diff_list("track", a.tracks, b.tracks, [](const Track& t) {
      return t.name + "|" + t.instrument + "|" + std::to_string(t.end_tick);
    });
    if (!d.empty()) return d;
  }
  d = diff_list(
      "control", a.controls, b.controls,
      [&](const ControlChange& c) {
        return std::to_string(c.tick) + "/t" + std::to_string(tr(c.track)) + "/ch" +
               std::to_string(c.channel) + ":" + std::to_string(c.controller) + "=" + std::to_string(c.value);
      },
      [&](const ControlChange& x, const ControlChange& y) {
        return x.tick == y.tick && tr(x.track) == tr(y.track) && x.channel == y.channel &&
               x.controller == y.controller && x.value == y.value;
      });
  if (!d.empty()) return d;
  d = diff_list("program", a.programs, b.programs, [&](const ProgramChange& c) {
    return std::to_string(c.tick) + "/t" + std::to_string(tr(c.track)) + "/ch" + std::to_string(c.channel) +
           ":" + std::to_string(c.program);
  });
  if (!d.empty()) return d;
  d = diff_list(
      "pitch bend", a.pitch_bends, b.pitch_bends,
      [&](const PitchBend& c) {
        return std::to_string(c.tick) + "/t" + std::to_string(tr(c.track)) + "/ch" +
               std::to_string(c.channel) + ":" + std::to_string(c.value);
      },
      [&](const PitchBend& x, const PitchBend& y) {
        return x.tick == y.tick && tr(x.track) == tr(y.track) && x.channel == y.channel && x.value == y.value;
      });
  if (!d.empty()) return d;
  d = diff_list("sysex", a.sysex, b.sysex, [&](const SysEx& x) {
    return std::to_string(x.tick) + "/t" + std::to_string(tr(x.track)) + "/" + std::to_string(x.status) +
           ":" + std::string(x.data.begin(), x.data.end());
  });
  if (!d.empty()) return d;
  if (a.smpte_offset.present != b.smpte_offset.present) return "SMPTE offset presence differs";
  return "";
}

}  // namespace xmtest

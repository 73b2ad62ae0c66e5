// cmd_inspect.cpp: `xlstm-music inspect FILE.mid [--json] [--limit N]`: what a MIDI file holds (header,
// tracks, tempo map, meters, keys, notes) as a readable report or as JSON; reader warnings go to stderr.
// Thin: reading is midi/midi_io.h; this file only formats.
#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/cli.h"
#include "core/json.h"
#include "midi/midi_io.h"

namespace {

using xm::UsageError;
using namespace xm::midi;

const char* kUsage =
    "usage: xlstm-music inspect FILE.mid [--json] [--limit N]\n"
    "\n"
    "Reads a Standard MIDI File (format 0, 1 or 2) and prints its header, tracks (names, instruments,\n"
    "event and note counts), tempo map, time and key signatures and notes. Warnings about damage the\n"
    "reader recovered from go to stderr. Exit 1 (with the reason, file and byte offset) when the file\n"
    "cannot be read.\n"
    "\n"
    "flags:\n"
    "  --json      machine output: {\"format\", \"division\", \"tracks\", \"notes\", \"tempos\",\n"
    "              \"time_signatures\", \"key_signatures\"}, times in seconds\n"
    "  --limit N   show at most N notes (default: all; 0 shows none)\n"
    "  --sustain   extend notes held by the sustain pedal (CC64), as Performance RNN does\n"
    "\n"
    "Channels are numbered 0-15 (9 is General MIDI percussion) in both forms.\n";

struct TrackInfo {
  int64_t notes = 0;
  std::set<int> channels, programs;
};

std::vector<TrackInfo> track_info(const Score& s) {
  std::vector<TrackInfo> info(s.tracks.size());
  for (const Note& n : s.notes) {
    if (n.track < 0 || size_t(n.track) >= info.size()) continue;
    TrackInfo& t = info[size_t(n.track)];
    ++t.notes;
    t.channels.insert(n.channel);
    t.programs.insert(n.program);
  }
  return info;
}

std::string join(const std::set<int>& v) {
  std::string out;
  for (int x : v) {
    if (!out.empty()) out += ',';
    out += std::to_string(x);
  }
  return out.empty() ? "-" : out;
}

// Texts from files are bytes in any encoding: show them printable (control bytes as '?').
std::string printable(const std::string& s, size_t max = 28) {
  std::string out;
  for (unsigned char c : s) out += (c < 0x20 || c == 0x7F) ? '?' : char(c);
  if (out.size() > max) out = out.substr(0, max - 3) + "...";
  return out;
}

xm::ordered_json to_json(const Score& s, size_t limit) {
  xm::ordered_json j;
  j["format"] = s.format;
  if (s.smpte)
    j["division"] = {{"smpte_fps", s.smpte_fps}, {"ticks_per_frame", s.smpte_ticks_per_frame}};
  else
    j["division"] = s.ticks_per_quarter;
  std::vector<TrackInfo> info = track_info(s);
  j["tracks"] = xm::ordered_json::array();
  for (size_t i = 0; i < s.tracks.size(); ++i) {
    const Track& t = s.tracks[i];
    j["tracks"].push_back({{"index", i},
                           {"name", t.name},
                           {"instrument", t.instrument},
                           {"events", t.events},
                           {"notes", info[i].notes},
                           {"channels", info[i].channels},
                           {"programs", info[i].programs},
                           {"end", s.tempo_map().ticks_to_seconds(t.end_tick)}});
  }
  j["notes"] = xm::ordered_json::array();
  for (size_t i = 0; i < s.notes.size() && i < limit; ++i) {
    const Note& n = s.notes[i];
    j["notes"].push_back({{"pitch", n.pitch},
                          {"velocity", n.velocity},
                          {"start", n.onset_s},
                          {"end", n.offset_s},
                          {"channel", n.channel},
                          {"program", n.program},
                          {"track", n.track}});
  }
  TempoMap map = s.tempo_map();
  j["tempos"] = xm::ordered_json::array();
  for (const TempoChange& t : map.tempos()) j["tempos"].push_back({{"time", t.seconds}, {"bpm", t.bpm()}});
  j["time_signatures"] = xm::ordered_json::array();
  for (const TimeSignature& t : s.time_signatures)
    j["time_signatures"].push_back(
        {{"time", t.seconds}, {"numerator", t.numerator}, {"denominator", t.denominator}});
  j["key_signatures"] = xm::ordered_json::array();
  for (const KeySignature& k : s.key_signatures)
    j["key_signatures"].push_back({{"time", k.seconds},
                                   {"key", key_name(k.sharps, k.minor)},
                                   {"sharps", k.sharps},
                                   {"minor", k.minor}});
  return j;
}

void print_human(const std::string& file, const Score& s, size_t limit) {
  std::string division;
  if (s.smpte)
    division = (s.smpte_fps == 29 ? std::string("29.97") : std::to_string(s.smpte_fps)) + " fps x " +
               std::to_string(s.smpte_ticks_per_frame) + " ticks per frame (SMPTE)";
  else
    division = std::to_string(s.ticks_per_quarter) + " ticks per quarter";
  std::printf("%s\n", file.c_str());
  std::printf("  format %d, %zu track%s, %s\n", s.format, s.tracks.size(), s.tracks.size() == 1 ? "" : "s",
              division.c_str());
  std::printf("  %zu notes, %.3f s (%lld ticks)\n", s.notes.size(), s.duration_s(), (long long)s.end_tick);

  std::vector<TrackInfo> info = track_info(s);
  std::printf("\ntracks:\n  %3s  %-28s  %-16s  %7s  %6s  %-9s  %s\n", "#", "name", "instrument", "events",
              "notes", "channels", "programs");
  for (size_t i = 0; i < s.tracks.size(); ++i)
    std::printf("  %3zu  %-28s  %-16s  %7lld  %6lld  %-9s  %s\n", i, printable(s.tracks[i].name).c_str(),
                printable(s.tracks[i].instrument, 16).c_str(), (long long)s.tracks[i].events,
                (long long)info[i].notes, join(info[i].channels).c_str(), join(info[i].programs).c_str());

  TempoMap map = s.tempo_map();
  std::printf("\ntempo map%s:\n  %10s  %10s  %8s\n",
              s.smpte ? " (SMPTE division: tempo does not move ticks)" : "", "tick", "time (s)", "bpm");
  const auto& tempos = map.tempos();
  const size_t kMaxTempos = 40;
  for (size_t i = 0; i < tempos.size() && i < kMaxTempos; ++i)
    std::printf("  %10lld  %10.3f  %8.2f\n", (long long)tempos[i].tick, tempos[i].seconds, tempos[i].bpm());
  if (tempos.size() > kMaxTempos) std::printf("  ... %zu more\n", tempos.size() - kMaxTempos);

  std::printf("\ntime signatures:%s\n", s.time_signatures.empty() ? " none (4/4 assumed)" : "");
  for (const TimeSignature& t : s.time_signatures)
    std::printf("  %10lld  %10.3f  %d/%d\n", (long long)t.tick, t.seconds, t.numerator, t.denominator);
  std::printf("\nkey signatures:%s\n", s.key_signatures.empty() ? " none" : "");
  for (const KeySignature& k : s.key_signatures)
    std::printf("  %10lld  %10.3f  %s\n", (long long)k.tick, k.seconds, key_name(k.sharps, k.minor).c_str());

  size_t shown = std::min(limit, s.notes.size());
  if (shown == 0 && limit == 0) return;
  std::printf("\nnotes (%zu of %zu):\n  %10s  %10s  %10s  %10s  %5s  %-4s  %3s  %2s  %4s  %5s\n", shown,
              s.notes.size(), "start (s)", "end (s)", "on tick", "off tick", "pitch", "name", "vel", "ch",
              "prog", "track");
  for (size_t i = 0; i < shown; ++i) {
    const Note& n = s.notes[i];
    std::printf("  %10.3f  %10.3f  %10lld  %10lld  %5d  %-4s  %3d  %2d  %4d  %5d%s\n", n.onset_s, n.offset_s,
                (long long)n.onset_tick, (long long)n.offset_tick, n.pitch, pitch_name(n.pitch).c_str(),
                n.velocity, n.channel, n.program, n.track, n.drum ? "  drum" : "");
  }
}

int run(const std::vector<std::string>& argv) {
  xm::cli::Args args(argv, {"--limit"}, {"--json", "--sustain"});
  if (args.help()) {
    std::printf("%s", kUsage);
    return 0;
  }
  if (args.positional().size() != 1)
    throw UsageError(args.positional().empty()
                         ? "missing FILE.mid (see --help)"
                         : "expected one file, got " + std::to_string(args.positional().size()));
  long long limit = args.get_int("--limit", -1, 0, 1LL << 40);
  const std::string& file = args.positional()[0];
  ReadOptions opt;
  opt.extend_notes_under_sustain = args.has("--sustain");
  Score s = read_midi_file(file, opt);
  for (const std::string& w : s.warnings) std::fprintf(stderr, "warning: %s: %s\n", file.c_str(), w.c_str());
  size_t n = limit < 0 ? s.notes.size() : size_t(limit);
  if (args.has("--json")) {
    std::string out = to_json(s, n).dump(2, ' ', false, xm::ordered_json::error_handler_t::replace);
    std::printf("%s\n", out.c_str());
  } else {
    print_human(file, s, n);
  }
  return 0;
}

xm::cli::Registrar reg({"inspect", "show what a MIDI file holds: tracks, tempo map, meters, keys, notes",
                        kUsage, run});

}  // namespace

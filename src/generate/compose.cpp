// compose.cpp: see compose.h. Seed + continuation as one Score, and the tempo written into it. Not the sampler
// (generate.cpp) and not the grammars (grammar.cpp).
#include "generate/compose.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace xm::gen {
namespace {

uint32_t us_of(double bpm) { return uint32_t(std::lround(60000000.0 / bpm)); }

void sort_notes(midi::Score& s) {
  std::stable_sort(s.notes.begin(), s.notes.end(), [](const midi::Note& a, const midi::Note& b) {
    if (a.onset_tick != b.onset_tick) return a.onset_tick < b.onset_tick;
    if (a.pitch != b.pitch) return a.pitch < b.pitch;
    if (a.channel != b.channel) return a.channel < b.channel;
    return a.track < b.track;
  });
  std::stable_sort(s.programs.begin(), s.programs.end(),
                   [](const auto& a, const auto& b) { return a.tick < b.tick; });
  for (const auto& n : s.notes) s.end_tick = std::max(s.end_tick, n.offset_tick);
  s.refresh_seconds();
}

// End of the last note starting at or after tick, in seconds after tick (0 when none).
double seconds_after(const midi::Score& s, int64_t tick) {
  const midi::TempoMap map = s.tempo_map();
  const double t0 = map.ticks_to_seconds(tick);
  double end = t0;
  for (const auto& n : s.notes)
    if (n.onset_tick >= tick) end = std::max(end, n.offset_s);
  return end - t0;
}

}  // namespace

ComposeOutput compose(const midi::Score& dec, const ComposeInput& in) {
  ComposeOutput out;
  const bool perf = in.tokenizer == "performance";
  if (!in.seed) {
    // No seed: the decoded piece. Grid tokenizers keep their ticks and take the tempo; the performance
    // tokenizer's times are seconds, so its ticks are rescaled to keep them under the new tempo.
    out.score = dec;
    if (in.bpm > 0) {
      midi::Score& s = out.score;
      if (perf) {
        const double f = in.bpm / dec.tempo_map().bpm_at(0);
        auto scale = [&](int64_t t) { return int64_t(std::llround(double(t) * f)); };
        for (auto& n : s.notes) n.onset_tick = scale(n.onset_tick), n.offset_tick = scale(n.offset_tick);
        for (auto& p : s.programs) p.tick = scale(p.tick);
        s.end_tick = scale(s.end_tick);
      }
      midi::TempoChange t;
      t.us_per_quarter = us_of(in.bpm);
      s.tempos = {t};
    }
    sort_notes(out.score);
    out.music_seconds = seconds_after(out.score, 0);
    return out;
  }
  const midi::Score& seed = *in.seed;
  if (in.tokenizer == "jsb") {
    // Four voices on one grid: the decoded chorale is the output (its seed part is the seed on the 16th grid).
    out.score = dec;
    midi::TempoChange t;
    t.us_per_quarter = us_of(seed.tempo_map().bpm_at(0));
    out.score.tempos = {t};
    if (in.bpm > 0 && in.continuation_tick > 0 && us_of(in.bpm) != t.us_per_quarter) {
      t.tick = in.continuation_tick;
      t.us_per_quarter = us_of(in.bpm);
      out.score.tempos.push_back(t);
    }
    sort_notes(out.score);
    out.continuation_tick = in.continuation_tick;
    out.music_seconds = seconds_after(out.score, out.continuation_tick);
    return out;
  }

  midi::Score s = seed;
  s.warnings.clear();
  const double dec_tpq = std::max(1, dec.ticks_per_quarter), tpq = std::max(1, seed.ticks_per_quarter);
  const int64_t cont = perf ? seed.tempo_map().seconds_to_ticks(double(in.continuation_tick) / 1000.0)
                            : int64_t(std::llround(double(in.continuation_tick) * tpq / dec_tpq));
  if (in.bpm > 0) {
    uint32_t before = 500000;  // the tempo in force just before cont
    for (const auto& t : s.tempos)
      if (t.tick < cont) before = t.us_per_quarter;
    std::erase_if(s.tempos, [&](const midi::TempoChange& t) { return t.tick >= cont; });
    if (us_of(in.bpm) != before || s.tempos.empty()) {
      midi::TempoChange t;
      t.tick = cont;
      t.us_per_quarter = us_of(in.bpm);
      s.tempos.push_back(t);
    }
  }
  const midi::TempoMap map = s.tempo_map();

  // Parts: a continuation note goes to the seed's part of its program (drums: the seed's drum part), else to a
  // new track on a free channel with a program change at the continuation's start.
  std::map<std::pair<bool, int>, std::pair<int, int>> part;  // (drum, program) -> (track, channel)
  std::set<int> used;
  int tracks = int(s.tracks.size());
  for (const auto& n : seed.notes) {
    part.emplace(std::make_pair(n.drum, n.drum ? 0 : n.program), std::make_pair(n.track, n.channel));
    used.insert(n.channel);
    tracks = std::max(tracks, n.track + 1);
  }
  for (const auto& p : seed.programs) used.insert(p.channel);
  s.tracks.resize(size_t(tracks));
  for (const auto& n : dec.notes) {
    if (n.onset_tick < in.continuation_tick) continue;
    midi::Note m = n;
    if (perf) {
      m.onset_tick = map.seconds_to_ticks(n.onset_s);
      m.offset_tick = map.seconds_to_ticks(n.offset_s);
    } else {
      m.onset_tick = int64_t(std::llround(double(n.onset_tick) * tpq / dec_tpq));
      m.offset_tick = int64_t(std::llround(double(n.offset_tick) * tpq / dec_tpq));
    }
    m.offset_tick = std::max(m.offset_tick, m.onset_tick + 1);
    const auto key = std::make_pair(n.drum, n.drum ? 0 : n.program);
    auto it = part.find(key);
    if (it == part.end()) {
      int ch = 9;
      if (!n.drum) {
        ch = 0;
        for (int c = 0; c < 16; ++c)
          if (c != 9 && !used.count(c)) {
            ch = c;
            break;
          }
      }
      used.insert(ch);
      midi::Track tr;
      tr.name = n.drum ? "xlstm-music drums" : "xlstm-music program " + std::to_string(n.program);
      s.tracks.push_back(tr);
      const int track = int(s.tracks.size()) - 1;
      if (!n.drum) {
        midi::ProgramChange pc;
        pc.tick = cont;
        pc.track = track;
        pc.channel = ch;
        pc.program = n.program;
        s.programs.push_back(pc);
      }
      it = part.emplace(key, std::make_pair(track, ch)).first;
    }
    m.track = it->second.first;
    m.channel = it->second.second;
    s.notes.push_back(m);
  }
  sort_notes(s);
  out.score = std::move(s);
  out.continuation_tick = cont;
  out.music_seconds = seconds_after(out.score, cont);
  // seconds_after counts seed notes starting at or after cont too; none do (the grammar starts the
  // continuation after the seed's last onset).
  return out;
}

}  // namespace xm::gen

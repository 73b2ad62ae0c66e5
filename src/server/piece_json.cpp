// piece_json.cpp: see piece_json.h.
#include "server/piece_json.h"

namespace xm::server {

json piece_notes_json(const midi::Score& s, int64_t continuation_tick) {
  json notes = json::array();
  for (const midi::Note& n : s.notes)
    notes.push_back({{"pitch", n.pitch},
                     {"start_s", n.onset_s},
                     {"end_s", n.offset_s},
                     {"velocity", n.velocity},
                     {"channel", n.channel},
                     {"program", n.program},
                     {"drum", n.drum},
                     {"seed", n.onset_tick < continuation_tick}});
  const midi::TempoMap tm = s.tempo_map();
  json tempos = json::array();
  for (const midi::TempoChange& t : tm.tempos()) tempos.push_back({{"time_s", t.seconds}, {"bpm", t.bpm()}});
  json meters = json::array();
  for (const midi::TimeSignature& ts : s.time_signatures)
    meters.push_back({{"time_s", ts.seconds}, {"numerator", ts.numerator}, {"denominator", ts.denominator}});
  json first_meter = {{"numerator", 4}, {"denominator", 4}};
  if (!s.time_signatures.empty())
    first_meter = {{"numerator", s.time_signatures.front().numerator},
                   {"denominator", s.time_signatures.front().denominator}};
  return {{"duration_s", s.duration_s()},
          {"continuation_s", continuation_tick > 0 ? tm.ticks_to_seconds(continuation_tick) : 0.0},
          {"tempo_bpm", tm.tempos().empty() ? 120.0 : tm.tempos().front().bpm()},
          {"tempos", tempos},
          {"time_signature", first_meter},
          {"time_signatures", meters},
          {"notes", notes}};
}

}  // namespace xm::server

// piece_json.h: the notes of a piece as the studio's piano roll reads them (GET /api/pieces/ID.json): every note
// with its times in seconds and whether it came from the seed, plus tempo, time signature and duration. Not the
// piece's record (store.h) and not MusicXML.
#pragma once
#include <cstdint>

#include "core/json.h"
#include "midi/score.h"

namespace xm::server {

// {"duration_s", "continuation_s", "tempo_bpm", "tempos": [{"time_s", "bpm"}], "time_signature": {"numerator",
//  "denominator"}, "time_signatures": [{"time_s", "numerator", "denominator"}], "notes": [{"pitch", "start_s",
//  "end_s", "velocity", "channel", "program", "drum", "seed"}]}; a note is "seed" when its onset tick is before
// continuation_tick (gen::Piece::continuation_tick).
json piece_notes_json(const midi::Score& score, int64_t continuation_tick);

}  // namespace xm::server

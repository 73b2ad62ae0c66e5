// jsb_dataset.h: the JSB Chorales benchmark data (Coconet "Jsb16thSeparated" format: per chorale, per
// 16th note, the pitches of Soprano, Alto, Tenor, Bass; official train/valid/test split) and the JSB
// note-wise serialisation of it (tokenizer "jsb"). Not a MIDI reader: chorales become Scores here.
#pragma once
#include <array>
#include <cstdint>
#include <filesystem>
#include <vector>

#include "midi/score.h"

namespace xm::tokens {

// One chorale: per 16th-note step the MIDI pitches of S, A, T, B; -1 = that voice is silent.
struct JsbChorale {
  std::vector<std::array<int, 4>> steps;
};

struct JsbDataset {
  std::vector<JsbChorale> train, valid, test;  // 229 / 76 / 77 in the official split
};

// path: the dataset folder (reads Jsb16thSeparated.json in it) or that JSON file itself.
// Throws xm::Error naming the file, split, chorale and step of anything malformed.
JsbDataset load_jsb(const std::filesystem::path& path);

// The "jsb" vocabulary: PAD 0, BOS 1, EOS 2, REST 3, Pitch_p = 4 + p (p = 0..127); 132 ids.
constexpr int32_t kJsbPad = 0, kJsbBos = 1, kJsbEos = 2, kJsbRest = 3, kJsbPitch0 = 4, kJsbVocab = 132;

// Direct serialisation (no Score): [BOS] then S,A,T,B per step [EOS]; a sounding pitch is repeated on
// every 16th step it lasts (the Music Transformer convention), silence is REST.
std::vector<int32_t> jsb_encode_chorale(const JsbChorale& c, bool bos_eos = true);
// The inverse: PAD skipped, EOS stops; out-of-range ids, misplaced BOS and an unfinished last step are
// skipped and counted in *invalid.
JsbChorale jsb_decode_chorale(const std::vector<int32_t>& ids, int* invalid = nullptr);

// A chorale as a Score: four tracks (Soprano, Alto, Tenor, Bass) on channels 0..3, 480 ticks per
// quarter, one step = a 16th; equal pitches on consecutive steps of a voice become one held note.
midi::Score jsb_chorale_to_score(const JsbChorale& c, double bpm = 100.0, int velocity = 80);
// The four voices of any Score on the 16th grid: when exactly four tracks hold (non-drum) notes, each
// track is a voice (ordered by mean pitch, highest = Soprano; the highest note when a track has
// chords); otherwise, per step, the sounding pitches from high to low: 1 -> S; 2 -> S,B; 3 -> S,A,B;
// 4 or more -> the two highest and the two lowest.
JsbChorale jsb_score_to_chorale(const midi::Score& s);

}  // namespace xm::tokens

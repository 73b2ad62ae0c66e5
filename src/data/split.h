// split.h: the train/valid/test split of a corpus (deterministic, by a hash of each piece's group key, so a
// piece keeps its split when files are added) and the transposition range used to augment the training split.
// Not the pipeline (prepare.h) and not an official-split reader (labels.h supplies those).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xm::data {

enum class Split { Train = 0, Valid = 1, Test = 2 };
constexpr int kNumSplits = 3;

std::string split_name(Split s);  // "train", "valid", "test"
// Accepts "train", "valid"/"validation"/"val"/"dev", "test" (any case); false otherwise.
bool parse_split_name(const std::string& text, Split* out);

struct SplitSpec {
  double valid = 0.05;
  double test = 0.05;
};
// "valid=0.05,test=0.05" (either key may be left out: it is then 0; "train=" is accepted and must equal
// 1 - valid - test). Throws xm::Error with the reason (the CLI adds the flag name).
SplitSpec parse_split_spec(const std::string& text);

// A 64-bit FNV-1a hash, finished with a SplitMix64 mix so that near-identical keys spread evenly.
uint64_t stable_hash(const std::string& key);
// The split of a piece from its group key: u = hash / 2^64 in [0, 1); u < test -> Test,
// u < test + valid -> Valid, else Train. Depends only on the key and the fractions.
Split assign_split(const std::string& group_key, const SplitSpec& spec);

struct TransposeRange {
  int lo = 0;
  int hi = 0;
  bool none() const { return lo == 0 && hi == 0; }
  std::vector<int> shifts() const;  // 0 first, then lo..hi without 0
};
// "-5..6", "-5:6", "0" / "none" (no transposition); must include 0, within [-24, 24].
TransposeRange parse_transpose_range(const std::string& text);

}  // namespace xm::data

// scales.h: scale tables as pitch-class sets relative to a tonic: church modes, pentatonics, blues,
// harmonic and melodic minor, whole tone, a set of Hindustani ragas and Turkish makams (microtones
// approximated to the nearest semitone; docs/music-analysis.md says how). Used to constrain generation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace xm::music {

struct Scale {
  std::string name;    // "major", "dorian", "raga_yaman", "makam_hicaz", ...
  std::string family;  // "western", "raga", "makam"
  uint16_t mask = 0;   // bit i set: pitch class (tonic + i) mod 12 belongs to the scale
  std::string note;    // how the microtonal steps were approximated, or empty
};

const std::vector<Scale>& scale_table();
const Scale* find_scale(const std::string& name);  // nullptr when unknown
bool in_scale(int pitch, int tonic, const Scale& scale);

}  // namespace xm::music

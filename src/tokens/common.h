// common.h: pieces the four tokenizers share: a vocabulary of named id ranges, the velocity and tempo
// bins, the control tables (genre, mood, key, tempo class), option reading, and finishing a decoded
// Score. Internal to tokens/ (the public interface is tokenizer.h); not a tokenizer itself.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/json.h"
#include "midi/score.h"
#include "music/analysis.h"
#include "tokens/tokenizer.h"

namespace xm::tokens {

// A vocabulary built range by range: each range is a kind ("Pitch") with `count` consecutive ids.
class Vocab {
 public:
  struct Range {
    std::string kind;
    int start = 0;
    int count = 0;
  };
  // Adds count ids named name_of(i), i = 0..count-1; returns the first id.
  int add_range(const std::string& kind, int count, const std::function<std::string(int)>& name_of);
  int add(const std::string& name) { return add_range(name, 1, [&](int) { return name; }); }
  int size() const { return int(names_.size()); }
  const std::string& name(int id) const { return names_[size_t(id)]; }
  int find(const std::string& name) const;  // -1 when absent
  const Range& range(const std::string& kind) const;  // throws when absent (a programming error)
  bool has_range(const std::string& kind) const;
  // The kind of the range holding id, or nullptr when id is out of range.
  const Range* range_of(int id) const;
  json names_json() const;
  json ranges_json() const;

 private:
  std::vector<std::string> names_;
  std::vector<Range> ranges_;
  std::map<std::string, int> by_name_;
};

// ---- velocity: 32 bins of 4 over 1..127 (Magenta performance_lib) ----------------------------------
constexpr int kVelocityBins = 32;
int velocity_to_bin(int velocity);         // 1..32
int velocity_bin_low(int bin);             // Magenta's bin_to_velocity: 1 + (bin-1)*4
int velocity_bin_center(int bin);          // the middle of the bin (error at most 2)

// ---- tempo: 32 log-spaced bins from 40 to 250 BPM ---------------------------------------------------
constexpr int kTempoBins = 32;
double tempo_bin_bpm(int bin);  // 0..31
int tempo_to_bin(double bpm);   // nearest in log space, clamped
std::string tempo_class_of(double bpm);  // "slow" (< 90), "medium" (< 140), "fast"
const std::vector<std::string>& tempo_class_names();
double tempo_class_bpm(const std::string& cls);  // a representative BPM (decode default)

// ---- keys: 24 (12 major, 12 minor), index = tonic + 12 * minor -------------------------------------
std::string key_token_suffix(int index);  // "C", "F#", "Bbm"

// Adds the Genre_, Mood_, Key_ and TempoClass_ ranges to v.
void add_control_ranges(Vocab& v);
// The control token ids for cond, in the order Genre, Mood, Key, TempoClass (missing ones skipped).
std::vector<int32_t> control_ids(const Vocab& v, const Conditioning& cond);
// Reads one control id into cond; false when id is not a control token.
bool apply_control_id(const Vocab& v, int32_t id, Conditioning* cond);

// ---- options ----------------------------------------------------------------------------------------
// make_tokenizer accepts either an options object or a whole saved vocabulary ({"tokenizer", "options"}).
json options_object(const json& options_or_vocab, const std::string& tokenizer);
// Throws xm::Error naming the first key of opts not in known (with the list of known keys as a hint).
void check_option_keys(const json& opts, const std::vector<std::string>& known, const std::string& tokenizer);
int option_int(const json& opts, const std::string& key, int fallback, int lo, int hi, const std::string& tok);
bool option_bool(const json& opts, const std::string& key, bool fallback, const std::string& tok);
double option_double(const json& opts, const std::string& key, double fallback, double lo, double hi,
                     const std::string& tok);

// ---- scores -----------------------------------------------------------------------------------------
// Sorts notes by (onset_tick, pitch, channel, track), fills every seconds field from the tempo map, and
// sets end_tick to the last offset (or keeps a later end_tick).
void finish_score(midi::Score& s);
// Sustain pedal (CC64 >= 64 down): a note released while its channel's pedal is down lasts until the
// pedal is released, or until the same pitch is struck again on that channel (Magenta's
// apply_sustain_control_changes; the same rule as midi::ReadOptions::extend_notes_under_sustain, drums
// excepted). Ticks and seconds both move. Idempotent.
void apply_sustain(midi::Score& s);

// The four tokenizers (options already unwrapped by options_object).
std::unique_ptr<Tokenizer> make_remi(const json& opts);
std::unique_ptr<Tokenizer> make_performance(const json& opts);
std::unique_ptr<Tokenizer> make_jsb(const json& opts);
std::unique_ptr<Tokenizer> make_tuples(const json& opts);

// A General MIDI channel for the k-th non-drum program of a decoded piece: 0..15 skipping 9, cycled.
int channel_for_part(int k);

// Parts of a decoded piece: one track per program (drums: program key 128, channel 9), created in
// first-use order, each non-drum part with a ProgramChange at tick 0.
class PartTable {
 public:
  explicit PartTable(midi::Score* score) : score_(score) {}
  // Fills n.program, n.drum, n.channel and n.track for program 0..127, or 128 = drums.
  void assign(int program_key, midi::Note* n);

 private:
  midi::Score* score_;
  std::map<int, std::pair<int, int>> parts_;  // program key -> (track, channel)
  int melodic_ = 0;
};

// ---- chords: index 0 = no chord ("N"), then root * 10 + quality - 1 + 1 (121 in all) -----------------
constexpr int kChordTokens = 1 + 12 * 10;
int chord_index(const music::Chord& c);
std::string chord_token_suffix(int index);  // "N", "C:maj", "F#:min7"
music::ChordSpanUnit parse_chord_unit(const std::string& text, const std::string& tok);
std::string chord_unit_name(music::ChordSpanUnit u);

}  // namespace xm::tokens

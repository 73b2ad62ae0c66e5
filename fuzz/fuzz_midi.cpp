// fuzz_midi.cpp: the libFuzzer target of the MIDI layer: read any bytes; when they parse, the writer
// must write the score (no exception) and reading that back must give the same notes, tempos and texts
// with no warnings. Not a unit test: fuzz/run.sh runs it (scripts/test.sh for 60 s in CI).
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "midi/midi_io.h"

using namespace xm::midi;

namespace {

[[noreturn]] void mismatch() {
  std::abort();
}

void check_round_trip(const Score& s, const ReadOptions& opt) {
  std::vector<uint8_t> out = write_midi_bytes(s);  // anything the reader makes must be writable
  Score back = read_midi_bytes(out.data(), out.size(), "fuzz-rewritten", opt);
  if (!back.warnings.empty()) mismatch();
  if (back.notes.size() != s.notes.size() || back.tempos.size() != s.tempos.size() ||
      back.texts.size() != s.texts.size() || back.end_tick != s.end_tick)
    mismatch();
  for (size_t i = 0; i < s.notes.size(); ++i) {
    const Note &a = s.notes[i], &b = back.notes[i];
    if (a.pitch != b.pitch || a.velocity != b.velocity || a.channel != b.channel || a.track != b.track ||
        a.program != b.program || a.onset_tick != b.onset_tick || a.offset_tick != b.offset_tick ||
        a.onset_s != b.onset_s || a.offset_s != b.offset_s)
      mismatch();
  }
  for (size_t i = 0; i < s.tempos.size(); ++i)
    if (s.tempos[i].tick != back.tempos[i].tick ||
        s.tempos[i].us_per_quarter != back.tempos[i].us_per_quarter)
      mismatch();
  for (size_t i = 0; i < s.texts.size(); ++i)
    if (s.texts[i].text != back.texts[i].text || s.texts[i].tick != back.texts[i].tick) mismatch();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ReadOptions opt;
  opt.max_events = 1'000'000;
  Score s;
  try {
    s = read_midi_bytes(data, size, "fuzz", opt);
  } catch (const xm::Error&) {
    return 0;  // a clean rejection is a fine answer
  }
  check_round_trip(s, opt);
  // The sustain option rewrites offsets: it must never produce a note that ends before it starts.
  ReadOptions sus = opt;
  sus.extend_notes_under_sustain = true;
  Score e = read_midi_bytes(data, size, "fuzz", sus);
  if (e.notes.size() != s.notes.size()) mismatch();
  for (size_t i = 0; i < e.notes.size(); ++i)
    if (e.notes[i].offset_tick < e.notes[i].onset_tick) mismatch();
  return 0;
}

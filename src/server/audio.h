// audio.h: a Score rendered to a WAV file (16-bit stereo PCM) with FluidSynth (libfluidsynth from Debian) and a
// General MIDI soundfont (Debian's fluid-soundfont-gm by default). Optional: built only when CMake found
// FluidSynth (XM_HAVE_FLUIDSYNTH); otherwise available() is false and render() throws. Not real-time playback.
#pragma once
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "midi/score.h"

namespace xm::server {

// True when this build has FluidSynth.
bool audio_compiled();

// The soundfont to use: preferred when given (even if missing: the renderer then says so), else $XM_SOUNDFONT, else
// the first of Debian's /usr/share/sounds/sf2/{default-GM,FluidR3_GM}.sf2 that exists; empty when none.
std::filesystem::path find_soundfont(const std::filesystem::path& preferred = {});

struct WavOptions {
  int sample_rate = 44100;
  double tail_seconds = 1.5;        // rendered after the last note off (release and reverb)
  double max_seconds = 20 * 60;     // longer scores are refused (a WAV is ~10 MB a minute)
  double gain = 0.5;                // FluidSynth's master gain
};

// Renders with a fresh synthesizer each time (so the same score gives the same bytes), one render at a time (a
// mutex), so render() may be called from any thread.
class WavRenderer {
 public:
  explicit WavRenderer(std::filesystem::path soundfont, WavOptions opt = {});
  ~WavRenderer();
  WavRenderer(const WavRenderer&) = delete;
  WavRenderer& operator=(const WavRenderer&) = delete;

  // FluidSynth compiled in and the soundfont file exists.
  bool available() const;
  const std::filesystem::path& soundfont() const { return soundfont_; }
  // The bytes of a RIFF/WAVE file. Throws xm::Error when audio is unavailable, the soundfont cannot be loaded, or
  // the score is longer than max_seconds.
  std::string render(const midi::Score& score);

 private:
  std::filesystem::path soundfont_;
  WavOptions opt_;
  std::mutex mu_;
  struct Synth;
};

}  // namespace xm::server

// test_audio.cpp: WAV rendering with FluidSynth: the RIFF/WAVE header, the length (the score plus its tail), sound
// where the notes are and silence before them, programs and drums accepted, the length limit; and a clear error when
// audio is unavailable. Skips the rendering checks when FluidSynth or the soundfont is missing.
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "server/audio.h"
#include "support/test_support.h"

namespace {

using xm::midi::Note;
using xm::midi::Score;

Score two_notes() {
  Score s;
  s.tracks.resize(1);
  s.tempos.push_back({});  // 120 BPM
  Note a;
  a.pitch = 60;
  a.velocity = 100;
  a.onset_tick = 480;   // 0.5 s
  a.offset_tick = 960;  // 1.0 s
  Note d = a;
  d.channel = 9;
  d.drum = true;
  d.pitch = 38;
  Note b = a;
  b.program = 40;  // violin
  b.channel = 1;
  b.onset_tick = 960;
  b.offset_tick = 1440;
  s.notes = {a, d, b};
  s.end_tick = 1440;
  s.refresh_seconds();
  return s;
}

double rms(const std::string& wav, double from_s, double to_s) {
  const int16_t* pcm = reinterpret_cast<const int16_t*>(wav.data() + 44);
  const size_t frames = (wav.size() - 44) / 4;
  const size_t a = std::min(frames, size_t(from_s * 44100)), b = std::min(frames, size_t(to_s * 44100));
  double sum = 0;
  for (size_t i = a * 2; i < b * 2; ++i) sum += double(pcm[i]) * pcm[i];
  return b > a ? std::sqrt(sum / double((b - a) * 2)) : 0;
}

TEST(server, audio_renders_a_wav_with_sound_where_the_notes_are) {
  xm::server::WavRenderer r(xm::server::find_soundfont());
  if (!r.available()) GTEST_SKIP() << "FluidSynth or a General MIDI soundfont is missing: audio is off";
  const Score s = two_notes();
  const std::string wav = r.render(s);
  ASSERT_GE(wav.size(), 44u);
  EXPECT_EQ(wav.substr(0, 4), "RIFF");
  EXPECT_EQ(wav.substr(8, 8), "WAVEfmt ");
  EXPECT_EQ(wav.substr(36, 4), "data");
  uint32_t riff = 0, rate = 0, data = 0;
  uint16_t channels = 0, bits = 0;
  std::memcpy(&riff, wav.data() + 4, 4);
  std::memcpy(&channels, wav.data() + 22, 2);
  std::memcpy(&rate, wav.data() + 24, 4);
  std::memcpy(&bits, wav.data() + 34, 2);
  std::memcpy(&data, wav.data() + 40, 4);
  EXPECT_EQ(riff + 8, wav.size());
  EXPECT_EQ(size_t(data) + 44, wav.size());
  EXPECT_EQ(channels, 2);
  EXPECT_EQ(rate, 44100u);
  EXPECT_EQ(bits, 16);
  const double seconds = double(data) / 4 / 44100;
  EXPECT_NEAR(seconds, s.duration_s() + xm::server::WavOptions{}.tail_seconds, 0.01);
  const double before = rms(wav, 0.0, 0.45), during = rms(wav, 0.55, 1.4);
  EXPECT_LT(before, 1.0);        // digital silence before the first note
  EXPECT_GT(during, 100.0);      // clearly audible while the notes sound
  // A second render (the shared synth reset in between: no note or reverb left over) gives the same bytes.
  const std::string again = r.render(s);
  EXPECT_EQ(again.size(), wav.size());
  size_t first = 0;
  int maxd = 0;
  for (size_t i = 44; i + 1 < wav.size(); i += 2) {
    int16_t x, y;
    std::memcpy(&x, wav.data() + i, 2);
    std::memcpy(&y, again.data() + i, 2);
    if (x != y && !first) first = (i - 44) / 4;
    maxd = std::max(maxd, std::abs(int(x) - int(y)));
  }
  EXPECT_TRUE(again == wav) << "renders differ from frame " << first << " by up to " << maxd << "; silence before the first note: rms " << rms(again, 0.0, 0.45);
}

TEST(server, audio_refuses_too_long_and_says_why_when_unavailable) {
  xm::server::WavOptions o;
  o.max_seconds = 1.0;
  xm::server::WavRenderer r(xm::server::find_soundfont(), o);
  if (r.available()) {
    try {
      r.render(two_notes());
      FAIL() << "rendered past max_seconds";
    } catch (const xm::Error& e) {
      EXPECT_NE(std::string(e.what()).find("limit"), std::string::npos) << e.what();
    }
  }
  xm::server::WavRenderer none("/nonexistent/soundfont.sf2");
  EXPECT_FALSE(none.available());
  try {
    none.render(two_notes());
    FAIL() << "rendered without a soundfont";
  } catch (const xm::Error& e) {
    EXPECT_NE(std::string(e.what()).find("audio is off"), std::string::npos) << e.what();
  }
}

}  // namespace

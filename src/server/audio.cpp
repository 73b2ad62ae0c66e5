// audio.cpp: see audio.h. The score's events (program changes, controllers, pitch bends, notes) are sorted by time
// and fed to a driverless FluidSynth synth between blocks of rendered samples, so the timing is sample-exact.
#include "server/audio.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "core/error.h"

#ifdef XM_HAVE_FLUIDSYNTH
#include <fluidsynth.h>
#endif

namespace xm::server {
namespace {

namespace fs = std::filesystem;

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s += char((v >> (8 * i)) & 0xFF);
}
void put_u16(std::string& s, uint16_t v) {
  s += char(v & 0xFF);
  s += char(v >> 8);
}

// 44-byte header of a PCM WAVE file with 16-bit stereo samples.
std::string wav_header(uint32_t frames, int sample_rate) {
  const uint32_t data_bytes = frames * 4;
  std::string h;
  h += "RIFF";
  put_u32(h, 36 + data_bytes);
  h += "WAVEfmt ";
  put_u32(h, 16);
  put_u16(h, 1);  // PCM
  put_u16(h, 2);  // channels
  put_u32(h, uint32_t(sample_rate));
  put_u32(h, uint32_t(sample_rate) * 4);
  put_u16(h, 4);   // block align
  put_u16(h, 16);  // bits per sample
  h += "data";
  put_u32(h, data_bytes);
  return h;
}

}  // namespace

bool audio_compiled() {
#ifdef XM_HAVE_FLUIDSYNTH
  return true;
#else
  return false;
#endif
}

fs::path find_soundfont(const fs::path& preferred) {
  if (!preferred.empty()) return preferred;
  if (const char* env = std::getenv("XM_SOUNDFONT"); env && *env) return env;
  std::error_code ec;
  for (const char* p : {"/usr/share/sounds/sf2/default-GM.sf2", "/usr/share/sounds/sf2/FluidR3_GM.sf2",
                        "/usr/share/soundfonts/default.sf2", "/usr/share/soundfonts/FluidR3_GM.sf2"})
    if (fs::is_regular_file(p, ec)) return p;
  return {};
}

#ifdef XM_HAVE_FLUIDSYNTH
struct WavRenderer::Synth {
  fluid_settings_t* settings = nullptr;
  fluid_synth_t* synth = nullptr;
  ~Synth() {
    if (synth) delete_fluid_synth(synth);
    if (settings) delete_fluid_settings(settings);
  }
};
#else
struct WavRenderer::Synth {};
#endif

WavRenderer::WavRenderer(fs::path soundfont, WavOptions opt) : soundfont_(std::move(soundfont)), opt_(opt) {}
WavRenderer::~WavRenderer() = default;

bool WavRenderer::available() const {
  std::error_code ec;
  return audio_compiled() && !soundfont_.empty() && fs::is_regular_file(soundfont_, ec);
}

std::string WavRenderer::render(const midi::Score& score) {
#ifndef XM_HAVE_FLUIDSYNTH
  (void)score;
  throw Error("audio is off: this xlstm-music was built without FluidSynth (install libfluidsynth-dev, rebuild)");
#else
  if (!available())
    throw Error("audio is off: no General MIDI soundfont" +
                (soundfont_.empty() ? std::string(" found (install fluid-soundfont-gm or give --soundfont)")
                                    : " at " + soundfont_.string()));
  const double end_s = score.duration_s() + opt_.tail_seconds;
  if (!(end_s <= opt_.max_seconds))
    throw Error("audio: the piece lasts " + std::to_string(int(end_s)) + " s, more than the limit of " +
                std::to_string(int(opt_.max_seconds)) + " s");

  // Events in time order; at one instant: program, controller, bend, note-off, note-on.
  struct Ev {
    double t;
    int order, channel, a, b;
  };
  std::vector<Ev> ev;
  ev.reserve(score.notes.size() * 2 + score.controls.size() + score.pitch_bends.size() + 16);
  std::vector<int> program(16, -1);
  for (const auto& pc : score.programs) ev.push_back({pc.seconds, 0, pc.channel & 15, pc.program & 127, 0});
  for (const auto& cc : score.controls) ev.push_back({cc.seconds, 1, cc.channel & 15, cc.controller & 127, cc.value & 127});
  for (const auto& pb : score.pitch_bends)
    ev.push_back({pb.seconds, 2, pb.channel & 15, std::clamp(pb.value + 8192, 0, 16383), 0});
  for (const auto& n : score.notes) {
    // A note's program (the reader infers it per onset) as a program change just before it, if it differs.
    ev.push_back({n.onset_s, 0, n.channel & 15, n.program & 127, 1});
    ev.push_back({n.offset_s, 3, n.channel & 15, n.pitch & 127, 0});
    ev.push_back({n.onset_s, 4, n.channel & 15, n.pitch & 127, std::clamp(n.velocity, 1, 127)});
  }
  std::stable_sort(ev.begin(), ev.end(), [](const Ev& x, const Ev& y) { return x.t != y.t ? x.t < y.t : x.order < y.order; });

  // A fresh synth per render: chorus and reverb keep state (LFO phases) that a reset does not clear, and the
  // same score should give the same bytes. Cheap: with dynamic sample loading only the soundfont's headers are
  // parsed here; samples are read when a program needs them. Renders are serialised (memory and CPU stay bounded).
  std::lock_guard<std::mutex> lock(mu_);
  fluid_set_log_function(FLUID_WARN, nullptr, nullptr);
  fluid_set_log_function(FLUID_INFO, nullptr, nullptr);
  fluid_set_log_function(FLUID_DBG, nullptr, nullptr);
  Synth synth;
  synth.settings = new_fluid_settings();
  if (!synth.settings) throw Error("audio: FluidSynth could not create its settings");
  fluid_settings_setnum(synth.settings, "synth.sample-rate", opt_.sample_rate);
  fluid_settings_setnum(synth.settings, "synth.gain", opt_.gain);
  fluid_settings_setint(synth.settings, "synth.cpu-cores", 1);
  fluid_settings_setint(synth.settings, "synth.dynamic-sample-loading", 1);
  synth.synth = new_fluid_synth(synth.settings);
  if (!synth.synth) throw Error("audio: FluidSynth could not create a synthesizer");
  if (fluid_synth_sfload(synth.synth, soundfont_.string().c_str(), 1) == FLUID_FAILED)
    throw Error("audio: FluidSynth cannot load the soundfont " + soundfont_.string() +
                " (hint: reinstall fluid-soundfont-gm or give another --soundfont)");
  fluid_synth_t* syn = synth.synth;

  const int sr = opt_.sample_rate;
  const uint32_t total = uint32_t(std::ceil(std::max(0.0, end_s) * sr));
  std::string out = wav_header(total, sr);
  const size_t header = out.size();
  out.resize(header + size_t(total) * 4);
  int16_t* pcm = reinterpret_cast<int16_t*>(out.data() + header);  // little-endian host (x86, arm64)
  // Floats converted here, without fluid_synth_write_s16's random dither, so the same score gives the same bytes.
  std::vector<float> buf(2 * 4096);
  uint32_t done = 0;
  auto render_to = [&](uint32_t frame) {
    frame = std::min(frame, total);
    while (done < frame) {
      const int n = int(std::min<uint32_t>(frame - done, 4096));
      fluid_synth_write_float(syn, n, buf.data(), 0, 2, buf.data(), 1, 2);
      for (int i = 0; i < 2 * n; ++i)
        pcm[size_t(done) * 2 + size_t(i)] = int16_t(std::lrint(std::clamp(buf[size_t(i)], -1.0f, 1.0f) * 32767.0f));
      done += uint32_t(n);
    }
  };
  for (const Ev& e : ev) {
    render_to(uint32_t(std::llround(std::max(0.0, e.t) * sr)));
    switch (e.order) {
      case 0:
        if (e.b == 1 && program[size_t(e.channel)] == e.a) break;  // a note's program already in place
        program[size_t(e.channel)] = e.a;
        if (e.channel != 9) fluid_synth_program_change(syn, e.channel, e.a);
        break;
      case 1: fluid_synth_cc(syn, e.channel, e.a, e.b); break;
      case 2: fluid_synth_pitch_bend(syn, e.channel, e.a); break;
      case 3: fluid_synth_noteoff(syn, e.channel, e.a); break;
      default: fluid_synth_noteon(syn, e.channel, e.a, e.b); break;
    }
  }
  render_to(total);
  return out;
#endif
}

}  // namespace xm::server

// log_plot.h: the training log (MODEL.log.jsonl, one JSON object per line) read back for a resume, and the
// loss plot (MODEL.loss.svg) drawn as hand-written SVG: training loss (raw and smoothed) and validation loss
// against the step. Not the loop that writes the lines (trainer.cpp) and not a general plotting library.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.h"

namespace xm::train {

// The log lines of path whose "step" is at most max_step, in file order; a missing file gives none, and a
// line that does not parse (a run killed while writing it) ends the read.
std::vector<json> read_log(const std::filesystem::path& path, int64_t max_step);

struct LossPoint {
  int64_t step = 0;
  double value = 0;
};
struct LossCurves {
  std::vector<LossPoint> train;  // per step (skipped steps left out)
  std::vector<LossPoint> valid;  // per validation pass
};
// The curves of log lines ("loss" and "valid_loss" fields; null or missing values are left out).
LossCurves curves_from_log(const std::vector<json>& lines);

// A self-contained SVG image (about 800x420): axes with ticks, the raw training loss (faint), its moving
// average, and the validation loss with markers. The title is XML-escaped. Empty curves give an empty plot.
std::string loss_svg(const LossCurves& curves, const std::string& title);

}  // namespace xm::train

// svg.h: the small pieces every hand-written SVG plot here needs (the training loss plot, the evaluation
// report): XML escaping, printf-style number text, "nice" axis ticks and their labels. Not a plot layout.
#pragma once
#include <string>
#include <vector>

namespace xm::svg {

std::string escape(const std::string& s);         // & < > " as entities
std::string fmt(const char* printf_format, double v);
// About n "nice" ticks (1, 2, 5 x 10^k) covering [lo, hi]; {lo} when the range is empty.
std::vector<double> nice_ticks(double lo, double hi, int n);
// A short label: "0.25", "3", "1e+06".
std::string tick_label(double v);

}  // namespace xm::svg

// log_plot.cpp: see log_plot.h. Reading the JSONL log and drawing the SVG loss plot by hand.
// Not the log writer.
#include "train/log_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

#include "core/svg.h"

namespace xm::train {

std::vector<json> read_log(const std::filesystem::path& path, int64_t max_step) {
  std::vector<json> out;
  std::ifstream f(path);
  if (!f) return out;
  std::string line;
  while (std::getline(f, line)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) break;
    if (j["step"].get<int64_t>() > max_step) break;
    out.push_back(std::move(j));
  }
  return out;
}

LossCurves curves_from_log(const std::vector<json>& lines) {
  LossCurves c;
  for (const json& j : lines) {
    const int64_t step = j.value("step", int64_t(0));
    auto num = [&](const char* key, double* v) {
      auto it = j.find(key);
      if (it == j.end() || !it->is_number()) return false;
      *v = it->get<double>();
      return std::isfinite(*v);
    };
    double v;
    if (num("loss", &v)) c.train.push_back({step, v});
    if (num("valid_loss", &v)) c.valid.push_back({step, v});
  }
  return c;
}

namespace {
using svg::fmt;
using svg::nice_ticks;
using svg::tick_label;
}  // namespace

std::string loss_svg(const LossCurves& c, const std::string& title) {
  const double W = 800, H = 420, L = 70, R = 20, T = 40, Bm = 50;
  const double pw = W - L - R, ph = H - T - Bm;
  int64_t xmax = 1;
  double ylo = INFINITY, yhi = -INFINITY;
  for (const auto* curve : {&c.train, &c.valid})
    for (const LossPoint& p : *curve) {
      xmax = std::max(xmax, p.step);
      ylo = std::min(ylo, p.value), yhi = std::max(yhi, p.value);
    }
  if (!std::isfinite(ylo)) ylo = 0, yhi = 1;
  if (yhi - ylo < 1e-9) ylo -= 0.5, yhi += 0.5;
  const double pad = 0.05 * (yhi - ylo);
  ylo -= pad, yhi += pad;
  auto X = [&](double s) { return L + pw * s / double(xmax); };
  auto Y = [&](double v) { return T + ph * (1.0 - (v - ylo) / (yhi - ylo)); };

  std::string s;
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"800\" height=\"420\" viewBox=\"0 0 800 420\" "
       "font-family=\"sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"800\" height=\"420\" fill=\"white\"/>\n";
  s += "<text x=\"400\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">" + svg::escape(title) + "</text>\n";
  // grid, ticks and labels
  for (double v : nice_ticks(ylo, yhi, 6)) {
    const double y = Y(v);
    s += "<line x1=\"" + fmt("%.1f", L) + "\" y1=\"" + fmt("%.1f", y) + "\" x2=\"" + fmt("%.1f", L + pw) + "\" y2=\"" +
         fmt("%.1f", y) + "\" stroke=\"#e4e4e4\"/>\n";
    s += "<text x=\"" + fmt("%.1f", L - 6) + "\" y=\"" + fmt("%.1f", y + 4) + "\" text-anchor=\"end\">" +
         tick_label(v) + "</text>\n";
  }
  for (double v : nice_ticks(0, double(xmax), 8)) {
    const double x = X(v);
    s += "<line x1=\"" + fmt("%.1f", x) + "\" y1=\"" + fmt("%.1f", T) + "\" x2=\"" + fmt("%.1f", x) + "\" y2=\"" +
         fmt("%.1f", T + ph) + "\" stroke=\"#f0f0f0\"/>\n";
    s += "<text x=\"" + fmt("%.1f", x) + "\" y=\"" + fmt("%.1f", T + ph + 18) + "\" text-anchor=\"middle\">" +
         tick_label(v) + "</text>\n";
  }
  s += "<rect x=\"" + fmt("%.1f", L) + "\" y=\"" + fmt("%.1f", T) + "\" width=\"" + fmt("%.1f", pw) + "\" height=\"" +
       fmt("%.1f", ph) + "\" fill=\"none\" stroke=\"#444\"/>\n";
  s += "<text x=\"" + fmt("%.1f", L + pw / 2) + "\" y=\"" + fmt("%.1f", H - 12) + "\" text-anchor=\"middle\">step</text>\n";
  s += "<text transform=\"translate(18," + fmt("%.1f", T + ph / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">loss (nats per token)</text>\n";

  auto polyline = [&](const std::vector<LossPoint>& pts, const std::string& style) {
    if (pts.empty()) return;
    s += "<polyline fill=\"none\" " + style + " points=\"";
    for (const LossPoint& p : pts) s += fmt("%.1f", X(double(p.step))) + "," + fmt("%.1f", Y(p.value)) + " ";
    s += "\"/>\n";
  };
  polyline(c.train, "stroke=\"#1f77b4\" stroke-opacity=\"0.3\" stroke-width=\"1\"");
  // moving average over about 1/50 of the run
  std::vector<LossPoint> smooth;
  const size_t win = std::max<size_t>(1, c.train.size() / 50);
  double acc = 0;
  for (size_t i = 0; i < c.train.size(); ++i) {
    acc += c.train[i].value;
    if (i >= win) acc -= c.train[i - win].value;
    const size_t n = std::min(i + 1, win);
    smooth.push_back({c.train[i].step, acc / double(n)});
  }
  polyline(smooth, "stroke=\"#1f77b4\" stroke-width=\"2\"");
  polyline(c.valid, "stroke=\"#ff7f0e\" stroke-width=\"2\"");
  for (const LossPoint& p : c.valid)
    s += "<circle cx=\"" + fmt("%.1f", X(double(p.step))) + "\" cy=\"" + fmt("%.1f", Y(p.value)) +
         "\" r=\"3\" fill=\"#ff7f0e\"/>\n";
  // legend
  const double lx = L + pw - 170, ly = T + 12;
  s += "<rect x=\"" + fmt("%.1f", lx - 8) + "\" y=\"" + fmt("%.1f", ly - 12) +
       "\" width=\"170\" height=\"42\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n";
  s += "<line x1=\"" + fmt("%.1f", lx) + "\" y1=\"" + fmt("%.1f", ly) + "\" x2=\"" + fmt("%.1f", lx + 24) + "\" y2=\"" +
       fmt("%.1f", ly) + "\" stroke=\"#1f77b4\" stroke-width=\"2\"/>\n";
  s += "<text x=\"" + fmt("%.1f", lx + 30) + "\" y=\"" + fmt("%.1f", ly + 4) + "\">train (moving average)</text>\n";
  s += "<line x1=\"" + fmt("%.1f", lx) + "\" y1=\"" + fmt("%.1f", ly + 18) + "\" x2=\"" + fmt("%.1f", lx + 24) +
       "\" y2=\"" + fmt("%.1f", ly + 18) + "\" stroke=\"#ff7f0e\" stroke-width=\"2\"/>\n";
  s += "<text x=\"" + fmt("%.1f", lx + 30) + "\" y=\"" + fmt("%.1f", ly + 22) + "\">validation</text>\n";
  s += "</svg>\n";
  return s;
}

}  // namespace xm::train

// svg.cpp: see svg.h.
#include "core/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace xm::svg {

std::string escape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    switch (ch) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += ch;
    }
  }
  return o;
}

std::string fmt(const char* printf_format, double v) {
  char b[64];
  std::snprintf(b, sizeof b, printf_format, v);
  return b;
}

std::vector<double> nice_ticks(double lo, double hi, int n) {
  std::vector<double> t;
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (raw <= m * mag) {
      step = m * mag;
      break;
    }
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step)
    t.push_back(std::abs(v) < step * 1e-9 ? 0 : v);
  return t;
}

std::string tick_label(double v) {
  if (v != 0 && (std::abs(v) >= 1e5 || std::abs(v) < 1e-2)) return fmt("%.0e", v);
  std::string s = fmt("%.3f", v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

namespace {
// Sizes and fixed positions: one decimal, without a trailing ".0" ("320", "127.6").
std::string num(double v) {
  std::string s = fmt("%.1f", v);
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  return s;
}
std::string attr_text(const std::string& attrs) {
  return attrs.empty() ? "" : " " + attrs;
}
}  // namespace

std::string px(double v) {
  return fmt("%.1f", v);
}

std::string line(double x1, double y1, double x2, double y2, const std::string& attrs) {
  return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) + "\"" +
         attr_text(attrs) + "/>\n";
}

std::string rect(double x, double y, double w, double h, const std::string& attrs) {
  return "<rect x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(w) + "\" height=\"" + px(h) + "\"" +
         attr_text(attrs) + "/>\n";
}

std::string text(double x, double y, const std::string& body, const std::string& attrs) {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\"" + attr_text(attrs) + ">" + escape(body) +
         "</text>\n";
}

std::string vtext(double x, double y, const std::string& body, const std::string& attrs) {
  return "<text transform=\"translate(" + px(x) + "," + px(y) + ") rotate(-90)\"" + attr_text(attrs) + ">" +
         escape(body) + "</text>\n";
}

std::string circle(double x, double y, double r, const std::string& fill, const std::string& stroke) {
  return "<circle cx=\"" + px(x) + "\" cy=\"" + px(y) + "\" r=\"" + px(r) + "\" fill=\"" + fill + "\"" +
         (stroke.empty() ? "" : " stroke=\"" + stroke + "\" stroke-width=\"1.5\"") + "/>\n";
}

std::string legend(double x, double y, double width, const std::vector<LegendItem>& items) {
  std::string s = "<rect x=\"" + px(x - 8) + "\" y=\"" + px(y - 12) + "\" width=\"" + num(width) +
                  "\" height=\"" + num(18.0 * double(items.size()) + 6) +
                  "\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#ccc\"/>\n";
  for (size_t i = 0; i < items.size(); ++i) {
    const double yy = y + 18.0 * double(i);
    if (items[i].marker_only)
      s += circle(x + 12, yy, 3.5, "white", items[i].color);
    else
      s += line(x, yy, x + 24, yy, "stroke=\"" + items[i].color + "\" stroke-width=\"3\"");
    s += text(x + 30, yy + 4, items[i].name);
  }
  return s;
}

std::string Frame::open(const std::string& title, const std::string& xname, const std::string& yname,
                        bool x_ticks) const {
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(W) + "\" height=\"" + num(H) +
                  "\" viewBox=\"0 0 " + num(W) + " " + num(H) +
                  "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  if (clip) s += "<defs><clipPath id=\"plot\">" + rect(L, T, pw(), ph(), "") + "</clipPath></defs>\n";
  s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s += "<text x=\"" + num(W / 2) + "\" y=\"" + num(title_y) + "\" text-anchor=\"middle\" font-size=\"" +
       num(title_size) + "\">" + escape(title) + "</text>\n";
  for (double v : nice_ticks(ylo, yhi, y_ticks)) {
    s += line(L, Y(v), L + pw(), Y(v), "stroke=\"#e4e4e4\"");
    s += text(L - 6, Y(v) + 4, tick_label(v), "text-anchor=\"end\"");
  }
  if (x_ticks)
    for (double v : nice_ticks(xlo, xhi, 8)) {
      if (x_grid) s += line(X(v), T, X(v), T + ph(), "stroke=\"#f0f0f0\"");
      s += text(X(v), T + ph() + x_label_dy, tick_label(v), "text-anchor=\"middle\"");
    }
  s += rect(L, T, pw(), ph(), "fill=\"none\" stroke=\"#444\"");
  s += text(L + pw() / 2, H - x_name_dy, xname, "text-anchor=\"middle\"");
  s += "<text transform=\"translate(" + num(y_name_x) + "," + px(T + ph() / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + escape(yname) + "</text>\n";
  return s;
}

void Frame::set_y(double lo, double hi, double y_max) {
  if (std::isfinite(y_max)) hi = std::min(hi, y_max);
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double pad = 0.05 * (hi - lo);
  ylo = lo - pad, yhi = hi + pad;
}

}  // namespace xm::svg

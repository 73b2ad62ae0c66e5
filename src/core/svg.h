// svg.h: the small pieces every hand-written SVG plot here needs (the training loss plot, the evaluation
// report, bench/experiment_plots): XML escaping, printf-style number text, "nice" axis ticks and their
// labels, single elements in pixel coordinates, a legend box, and the plot frame (axes, grid, ticks, data ->
// pixel mapping). Not a plotting library: series, bars and layout decisions stay with each plot.
#pragma once
#include <string>
#include <vector>

namespace xm::svg {

std::string escape(const std::string& s);  // & < > " as entities
std::string fmt(const char* printf_format, double v);
// About n "nice" ticks (1, 2, 5 x 10^k) covering [lo, hi]; {lo} when the range is empty.
std::vector<double> nice_ticks(double lo, double hi, int n);
// A short label: "0.25", "3", "1e+06".
std::string tick_label(double v);

// Single elements in pixel coordinates, one line each. Coordinates are written with one decimal (px);
// attrs is further attribute text (may be empty), body is escaped here.
std::string px(double v);
std::string line(double x1, double y1, double x2, double y2, const std::string& attrs);
std::string rect(double x, double y, double w, double h, const std::string& attrs);
std::string text(double x, double y, const std::string& body, const std::string& attrs = "");
std::string vtext(double x, double y, const std::string& body, const std::string& attrs);  // reads upwards
// stroke empty: no outline; otherwise a 1.5 px outline in that colour.
std::string circle(double x, double y, double r, const std::string& fill, const std::string& stroke);

struct LegendItem {
  std::string name, color;
  bool marker_only = false;  // a hollow circle instead of a line
};
// A white box of the given width with one row per item; (x, y) is where the first row's line starts.
std::string legend(double x, double y, double width, const std::vector<LegendItem>& items);

// The frame of a plot: background, title, y grid with tick labels, optional x ticks, plot border, axis names.
// X/Y map data to pixels. The defaults are the evaluation report's look; other plots set the members.
struct Frame {
  double W = 640, H = 300, L = 64, R = 16, T = 34, B = 46;  // size and margins, pixels
  double xlo = 0, xhi = 1, ylo = 0, yhi = 1;                // data range
  double title_y = 20, title_size = 14;                     // title baseline and font size
  int y_ticks = 5;                                          // about this many y grid lines
  bool x_grid = false;                                      // vertical grid lines at the x ticks
  double x_label_dy = 16;                                   // x tick labels' baseline below the plot
  double x_name_dy = 8;                                     // x axis name's baseline above the bottom
  double y_name_x = 16;                                     // y axis name's baseline from the left
  bool clip = false;  // defines clipPath id="plot" (the plot area), for clip-path="url(#plot)"

  double pw() const { return W - L - R; }
  double ph() const { return H - T - B; }
  double X(double x) const { return L + pw() * (x - xlo) / (xhi - xlo); }
  double Y(double y) const { return T + ph() * (1.0 - (y - ylo) / (yhi - ylo)); }
  // The opening <svg> tag and the frame; the caller appends the data and "</svg>\n".
  std::string open(const std::string& title, const std::string& xname, const std::string& yname,
                   bool x_ticks = true) const;
  // Sets the y range to [lo, hi] padded by 5% (y_max, when finite, caps hi; a range that is not
  // finite becomes [0, 1]).
  void set_y(double lo, double hi, double y_max);
};

}  // namespace xm::svg

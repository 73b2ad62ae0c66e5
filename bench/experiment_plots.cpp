// experiment_plots: draws the SVG plots of docs/results.md from files the project already writes: training
// loss per run (train JSONL logs), NLL by position and grouped per-genre bars (`xlstm-music eval --json`).
// Not a general plotting tool and not the per-run plots (train/log_plot.cpp, eval/report.cpp).
//
// usage: experiment_plots --help (loss | position | bars, each with NAME=FILE series; see kUsage)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/io.h"
#include "core/json.h"
#include "core/svg.h"

using xm::Error;
using xm::json;
using xm::UsageError;
using xm::svg::circle;
using xm::svg::fmt;
using xm::svg::Frame;
using xm::svg::LegendItem;
using xm::svg::line;
using xm::svg::rect;
using xm::svg::text;
using xm::svg::vtext;

namespace {

const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};
const char* color(size_t i) {
  return kPalette[i % (sizeof kPalette / sizeof kPalette[0])];
}

const char* kUsage =
    "usage: experiment_plots loss     --out F.svg --title T [--x tokens|seconds] [--y-label L]\n"
    "                                 [--y-max V] NAME=RUN.log.jsonl ...\n"
    "       experiment_plots position --out F.svg --title T [--metric nll_per_token] [--mark N]...\n"
    "                                 [--y-max V] NAME=EVAL.json ...\n"
    "       experiment_plots bars     --out F.svg --title T [--metric nll_per_token|bits_per_note]\n"
    "                                 NAME=EVAL.json ...\n"
    "  NAME is the series' legend entry; a training log is a train JSONL log, an EVAL.json the output of\n"
    "  `xlstm-music eval --model M --data C [--positions P --bucket B] --json`. --mark N: a dashed line at\n"
    "  position N (the first labelled \"train length\"). Exit: 0 written, 1 bad input, 2 usage error.\n";

struct Args {
  std::string cmd, out, title, x = "tokens", y_label, metric = "nll_per_token";
  double y_max = NAN;
  std::vector<double> marks;
  std::vector<std::pair<std::string, std::string>> inputs;  // NAME, path
};

double parse_number(const std::string& flag, const std::string& v) {
  size_t used = 0;
  double d = NAN;
  try {
    d = std::stod(v, &used);
  } catch (const std::exception&) {
  }
  if (used != v.size() || !std::isfinite(d)) throw UsageError(flag + " " + v + ": not a number");
  return d;
}

Args parse_args(int argc, char** argv) {
  if (argc < 2) throw UsageError("missing subcommand");
  Args a;
  a.cmd = argv[1];
  if (a.cmd != "loss" && a.cmd != "position" && a.cmd != "bars")
    throw UsageError("unknown subcommand " + a.cmd);
  for (int i = 2; i < argc; ++i) {
    const std::string s = argv[i];
    auto val = [&]() -> std::string {
      if (i + 1 >= argc) throw UsageError("flag " + s + " needs a value");
      return argv[++i];
    };
    if (s == "--out")
      a.out = val();
    else if (s == "--title")
      a.title = val();
    else if (s == "--x" && a.cmd == "loss")
      a.x = val();
    else if (s == "--y-label" && a.cmd == "loss")
      a.y_label = val();
    else if (s == "--y-max" && a.cmd != "bars")
      a.y_max = parse_number(s, val());
    else if (s == "--metric" && a.cmd != "loss")
      a.metric = val();
    else if (s == "--mark" && a.cmd == "position")
      a.marks.push_back(parse_number(s, val()));
    else if (s.rfind("--", 0) == 0)
      throw UsageError("unknown flag " + s + " for " + a.cmd);
    else {
      const size_t eq = s.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
        throw UsageError("argument " + s + ": expected NAME=FILE");
      a.inputs.emplace_back(s.substr(0, eq), s.substr(eq + 1));
    }
  }
  if (a.out.empty()) throw UsageError("--out F.svg is required");
  if (a.title.empty()) throw UsageError("--title T is required");
  if (a.inputs.empty()) throw UsageError("no NAME=FILE series given");
  if (a.x != "tokens" && a.x != "seconds") throw UsageError("--x " + a.x + ": expected tokens or seconds");
  if (a.cmd == "bars" && a.metric != "nll_per_token" && a.metric != "bits_per_note")
    throw UsageError("--metric " + a.metric + ": expected nll_per_token or bits_per_note");
  return a;
}

// The frame of every plot here: larger than the report's, with vertical grid lines and clip-path
// url(#plot) to keep lines inside the plot area.
Frame plot_frame() {
  Frame fr;
  fr.W = 800, fr.H = 440, fr.L = 70, fr.R = 20, fr.T = 40, fr.B = 50;
  fr.title_y = 22, fr.title_size = 15, fr.y_ticks = 6, fr.x_grid = true;
  fr.x_label_dy = 18, fr.x_name_dy = 12, fr.y_name_x = 18, fr.clip = true;
  return fr;
}

// A legend box in the top-right corner of the plot area, sized to its longest name.
std::string legend(const Frame& fr, const std::vector<LegendItem>& items) {
  size_t longest = 0;
  for (const LegendItem& it : items) longest = std::max(longest, it.name.size());
  const double w = 46 + 6.8 * double(longest);
  return xm::svg::legend(fr.L + fr.pw() - w - 4, fr.T + 18, w, items);
}

using Points = std::vector<std::pair<double, double>>;

std::string polyline(const Frame& fr, const Points& pts, const std::string& style) {
  if (pts.empty()) return "";
  std::string s = "<polyline fill=\"none\" clip-path=\"url(#plot)\" " + style + " points=\"";
  for (const auto& [x, y] : pts) s += fmt("%.1f", fr.X(x)) + "," + fmt("%.1f", fr.Y(y)) + " ";
  return s + "\"/>\n";
}

// Keeps the lowest and highest point of every pixel column, in order, so thousands of steps draw as they look
// in a fraction of the bytes.
Points thin(const Frame& fr, const Points& pts) {
  Points out;
  for (size_t i = 0; i < pts.size();) {
    const long col = std::lround(fr.X(pts[i].first));
    size_t j = i, lo = i, hi = i;
    for (; j < pts.size() && std::lround(fr.X(pts[j].first)) == col; ++j) {
      if (pts[j].second < pts[lo].second) lo = j;
      if (pts[j].second > pts[hi].second) hi = j;
    }
    out.push_back(pts[std::min(lo, hi)]);
    if (lo != hi) out.push_back(pts[std::max(lo, hi)]);
    i = j;
  }
  return out;
}

// A number field that may be absent (false) but, when present, must be a number or null.
bool number_field(const json& j, const char* key, double* v, const std::string& what) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_number())
    throw Error(what + ": field \"" + key + "\" is not a number (" + it->type_name() + ")");
  *v = it->get<double>();
  return std::isfinite(*v);
}

struct Run {
  Points loss, valid;
};

Run read_run(const std::string& path, bool by_seconds) {
  const std::string text = xm::read_file_text(path);
  Run r;
  double tokens = 0, seconds = 0;
  size_t pos = 0;
  // A last line without its newline is one the trainer is still writing: it is left out.
  for (int64_t n = 1; text.find('\n', pos) != std::string::npos; ++n) {
    const size_t end = text.find('\n', pos);
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty()) continue;
    const std::string what = path + ":" + std::to_string(n);
    const json j = xm::parse_json(line, what);
    if (!j.is_object()) throw Error(what + ": a log line must be a JSON object");
    double v;
    if (number_field(j, "tokens", &v, what)) tokens += v;
    if (number_field(j, "elapsed_s", &v, what)) seconds = v;
    const double x = by_seconds ? seconds : tokens;
    if (number_field(j, "loss", &v, what)) r.loss.push_back({x, v});
    if (number_field(j, "valid_loss", &v, what)) r.valid.push_back({x, v});
  }
  if (r.loss.empty() && r.valid.empty())
    throw Error(path + ": no line has a \"loss\" or \"valid_loss\" field");
  return r;
}

// Centred moving average over about 1/50 of the run.
Points smooth(const Points& p) {
  const size_t half = std::max<size_t>(1, p.size() / 50) / 2;
  Points out;
  for (size_t i = 0; i < p.size(); ++i) {
    const size_t a = i >= half ? i - half : 0, b = std::min(p.size() - 1, i + half);
    double acc = 0;
    for (size_t k = a; k <= b; ++k) acc += p[k].second;
    out.push_back({p[i].first, acc / double(b - a + 1)});
  }
  return out;
}

std::string plot_loss(const Args& a) {
  std::vector<Run> runs;
  for (const auto& in : a.inputs) runs.push_back(read_run(in.second, a.x == "seconds"));
  double xmax = 0, ylo = INFINITY, yhi = -INFINITY;
  std::vector<Points> smoothed;
  for (const Run& r : runs) {
    smoothed.push_back(smooth(r.loss));
    for (const Points* p : {static_cast<const Points*>(&smoothed.back()), &r.valid})
      for (const auto& [x, y] : *p) xmax = std::max(xmax, x), ylo = std::min(ylo, y), yhi = std::max(yhi, y);
  }
  // Axis unit: millions of tokens, or seconds / minutes / hours.
  double scale = 1;
  std::string xname = "training tokens seen";
  if (a.x == "tokens" && xmax >= 1e6) scale = 1e6, xname += " (millions)";
  if (a.x == "seconds") {
    scale = xmax > 3 * 3600 ? 3600 : xmax > 600 ? 60 : 1;
    xname = std::string("training time (") +
            (scale == 3600 ? "hours"
             : scale == 60 ? "minutes"
                           : "seconds") +
            ")";
  }
  Frame fr = plot_frame();
  fr.xhi = xmax > 0 ? xmax / scale : 1;
  fr.set_y(ylo, yhi, a.y_max);
  auto scaled = [&](Points p) {
    for (auto& pt : p) pt.first /= scale;
    return p;
  };
  std::string s = fr.open(a.title, xname, a.y_label.empty() ? "training loss (nats per token)" : a.y_label);
  std::vector<LegendItem> items;
  for (size_t i = 0; i < runs.size(); ++i)
    s += polyline(fr, thin(fr, scaled(runs[i].loss)),
                  "stroke=\"" + std::string(color(i)) + "\" stroke-opacity=\"0.18\" stroke-width=\"1\"");
  bool any_valid = false;
  for (size_t i = 0; i < runs.size(); ++i) {
    s += polyline(fr, thin(fr, scaled(smoothed[i])),
                  "stroke=\"" + std::string(color(i)) + "\" stroke-width=\"2\"");
    for (const auto& [x, y] : scaled(runs[i].valid)) {
      if (y > fr.yhi) continue;
      s += circle(fr.X(x), fr.Y(y), 3.5, "white", color(i));
      any_valid = true;
    }
    items.push_back({a.inputs[i].first, color(i)});
  }
  if (any_valid) items.push_back({"validation loss", "#444", true});
  return s + legend(fr, items) + "</svg>\n";
}

json read_eval(const std::string& path) {
  json j = xm::parse_json(xm::read_file_text(path), path);
  if (!j.is_object()) throw Error(path + ": expected the JSON object of `xlstm-music eval --json`");
  return j;
}

std::string metric_label(const std::string& m) {
  if (m == "nll_per_token") return "NLL per token (nats)";
  if (m == "bits_per_note") return "bits per note";
  return m;
}

std::string plot_position(const Args& a) {
  std::vector<Points> series;
  double xmax = 0, ylo = INFINITY, yhi = -INFINITY;
  for (const double m : a.marks) xmax = std::max(xmax, m);
  for (const auto& in : a.inputs) {
    const json j = read_eval(in.second);
    const auto buckets = xm::json_get<json>(j, "by_position", in.second);
    if (!buckets.is_array()) throw Error(in.second + ": field \"by_position\" is not an array");
    const double width = xm::json_get_or<double>(j, "bucket", 0.0, in.second);
    Points p;
    for (size_t k = 0; k < buckets.size(); ++k) {
      const json& b = buckets[k];
      const std::string what = in.second + ": by_position[" + std::to_string(k) + "]";
      if (xm::json_get<double>(b, "tokens", what) <= 0) continue;
      const double from = xm::json_get<double>(b, "from", what);
      const double to = xm::json_get_or<double>(b, "to", -1.0, what);
      double v;
      if (!b.contains(a.metric))
        throw Error(what + ": missing field \"" + a.metric + "\" (hint: --metric nll_per_token)");
      if (!number_field(b, a.metric.c_str(), &v, what)) continue;
      // The open-ended last bucket [from, inf) is drawn half a bucket past its start.
      const double x = to >= 0 ? (from + to + 1) / 2 : from + width / 2;
      p.push_back({x, v});
      xmax = std::max(xmax, x), ylo = std::min(ylo, v), yhi = std::max(yhi, v);
    }
    if (p.empty())
      throw Error(in.second + ": no by_position bucket has tokens and a \"" + a.metric + "\" value");
    series.push_back(std::move(p));
  }
  Frame fr = plot_frame();
  fr.xhi = xmax > 0 ? xmax * 1.03 : 1;
  fr.set_y(ylo, yhi, a.y_max);
  std::string s = fr.open(a.title, "position in the piece (steps)", metric_label(a.metric));
  for (size_t m = 0; m < a.marks.size(); ++m) {
    const double x = fr.X(a.marks[m]);
    s += line(x, fr.T, x, fr.T + fr.ph(), "stroke=\"#666\" stroke-dasharray=\"5,4\"");
    const std::string label = m == 0 ? "train length" : xm::svg::tick_label(a.marks[m]);
    const bool left = x + 8 + 6.8 * double(label.size()) > fr.L + fr.pw();  // no room on the right
    s += text(left ? x - 4 : x + 4, fr.T + fr.ph() - 6, label,
              left ? "fill=\"#444\" text-anchor=\"end\"" : "fill=\"#444\"");
  }
  std::vector<LegendItem> items;
  for (size_t i = 0; i < series.size(); ++i) {
    s += polyline(fr, series[i], "stroke=\"" + std::string(color(i)) + "\" stroke-width=\"2\"");
    for (const auto& [x, y] : series[i])
      if (y <= fr.yhi) s += circle(fr.X(x), fr.Y(y), 3, color(i), "");
    items.push_back({a.inputs[i].first, color(i)});
  }
  return s + legend(fr, items) + "</svg>\n";
}

std::string plot_bars(const Args& a) {
  std::vector<std::string> groups;          // genre names in order of first appearance, then "all"
  std::vector<std::vector<double>> values;  // [series][group], NaN = no bar
  std::vector<json> files;
  for (const auto& in : a.inputs) {
    files.push_back(read_eval(in.second));
    const auto genres = xm::json_get<json>(files.back(), "genres", in.second);
    if (!genres.is_object()) throw Error(in.second + ": field \"genres\" is not an object");
    for (const auto& g : genres.items())
      if (std::find(groups.begin(), groups.end(), g.key()) == groups.end()) groups.push_back(g.key());
  }
  groups.push_back("all");
  double ymax = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& path = a.inputs[i].second;
    const json& genres = files[i]["genres"];
    std::vector<double> row;
    for (size_t g = 0; g < groups.size(); ++g) {
      const bool all = g + 1 == groups.size();
      const json& totals =
          all ? xm::json_get<json>(files[i], "overall", path) : genres.value(groups[g], json());
      const std::string what = path + (all ? ": overall" : ": genres." + groups[g]);
      double v = NAN;
      if (!totals.is_null() && !number_field(totals, a.metric.c_str(), &v, what)) v = NAN;
      row.push_back(v);
      if (std::isfinite(v)) ymax = std::max(ymax, v);
    }
    values.push_back(std::move(row));
  }
  Frame fr = plot_frame();
  fr.T = 40 + 18;  // room for a one-row legend above the plot
  fr.xhi = double(groups.size());
  const double slot = fr.pw() / double(groups.size()), bw = slot * 0.8 / double(files.size());
  const bool vertical_labels = bw < 36;
  const double headroom = vertical_labels ? 40 : 20;  // pixels above the tallest bar for its label
  fr.ylo = 0;
  fr.yhi = ymax > 0 ? ymax * fr.ph() / (fr.ph() - headroom) : 1;
  std::string s = fr.open(a.title, "genre", metric_label(a.metric), false);
  int drawn = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    for (size_t i = 0; i < files.size(); ++i) {
      const double v = values[i][g];
      if (!std::isfinite(v)) continue;
      const double x0 = fr.X(double(g)) + slot * 0.1 + bw * double(i), top = fr.Y(v);
      s += rect(x0 + 1, top, bw - 2, fr.Y(0) - top, "fill=\"" + std::string(color(i)) + "\"");
      if (vertical_labels)
        s += vtext(x0 + bw / 2, top - 4, fmt("%.3f", v), "font-size=\"10\" dominant-baseline=\"middle\"");
      else
        s += text(x0 + bw / 2, top - 4, fmt("%.3f", v), "text-anchor=\"middle\" font-size=\"11\"");
      ++drawn;
    }
    s += text(fr.X(double(g) + 0.5), fr.T + fr.ph() + 18, groups[g], "text-anchor=\"middle\"");
  }
  if (drawn == 0) throw Error("no file has a \"" + a.metric + "\" value for any genre or overall");
  // One-row legend between the title and the plot.
  double lx = fr.L;
  for (size_t i = 0; i < files.size(); ++i) {
    s += rect(lx, fr.T - 22, 14, 10, "fill=\"" + std::string(color(i)) + "\"");
    s += text(lx + 19, fr.T - 13, a.inputs[i].first);
    lx += 19 + 6.8 * double(a.inputs[i].first.size()) + 18;
  }
  return s + "</svg>\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("%s", kUsage);
    return 0;
  }
  try {
    const Args a = parse_args(argc, argv);
    const std::string svg = a.cmd == "loss"       ? plot_loss(a)
                            : a.cmd == "position" ? plot_position(a)
                                                  : plot_bars(a);
    xm::write_file_atomic(a.out, svg);
    std::printf("wrote %s (%zu series)\n", a.out.c_str(), a.inputs.size());
    return 0;
  } catch (const UsageError& e) {
    std::fprintf(stderr, "experiment_plots: %s\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "experiment_plots: %s\n", e.what());
    return 1;
  }
}

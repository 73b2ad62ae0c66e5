// compare.cpp: see compare.h. Kernel densities by linear binning and a discrete Gaussian kernel, OA and KL on
// the grid, intra-/inter-set distances, and reading a folder of MIDI files into features.
// Not the report writer (report.cpp).
#include "eval/compare.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "midi/midi_io.h"

namespace xm::eval {
namespace fs = std::filesystem;

// ---------------------------------------------------------------- samples and densities
double Samples::total_weight() const {
  if (weight.empty()) return double(value.size());
  double w = 0;
  for (double x : weight) w += x;
  return w;
}

double Samples::mean() const {
  const double n = total_weight();
  if (n <= 0) return 0;
  double s = 0;
  for (size_t i = 0; i < value.size(); ++i) s += value[i] * (weight.empty() ? 1.0 : weight[i]);
  return s / n;
}

double Samples::stddev() const {
  const double n = total_weight();
  if (n <= 1) return 0;
  const double m = mean();
  double s = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const double d = value[i] - m;
    s += d * d * (weight.empty() ? 1.0 : weight[i]);
  }
  return std::sqrt(s / (n - 1));
}

double scott_bandwidth(const Samples& s) {
  const double n = s.total_weight();
  const double floor = 1e-6 * std::max(1.0, std::abs(s.mean()));
  if (n <= 1) return floor;
  return std::max(s.stddev() * std::pow(n, -0.2), floor);
}

std::vector<double> kde_on_grid(const Samples& s, double h, double lo, double step, int n) {
  std::vector<double> mass(size_t(n), 0.0);
  for (size_t i = 0; i < s.value.size(); ++i) {
    const double w = s.weight.empty() ? 1.0 : s.weight[i];
    const double u = (s.value[i] - lo) / step;
    const double fl = std::floor(u);
    const long k = long(fl);
    const double frac = u - fl;
    if (k >= 0 && k < n) mass[size_t(k)] += w * (1.0 - frac);
    if (k + 1 >= 0 && k + 1 < n) mass[size_t(k + 1)] += w * frac;
  }
  const long K = long(std::ceil(4.0 * h / step));
  std::vector<double> kern(size_t(2 * K + 1));
  double ksum = 0;
  for (long k = -K; k <= K; ++k) {
    const double z = double(k) * step / h;
    kern[size_t(k + K)] = std::exp(-0.5 * z * z);
    ksum += kern[size_t(k + K)];
  }
  for (double& v : kern) v /= ksum;
  std::vector<double> dens(size_t(n), 0.0);
  for (long i = 0; i < n; ++i) {
    if (mass[size_t(i)] == 0) continue;
    for (long k = -K; k <= K; ++k)
      if (i + k >= 0 && i + k < n) dens[size_t(i + k)] += mass[size_t(i)] * kern[size_t(k + K)];
  }
  double total = 0;
  for (double v : dens) total += v;
  if (total > 0)
    for (double& v : dens) v /= total * step;
  return dens;
}

DensityPair kde_pair(const Samples& a, const Samples& b, int grid_points) {
  if (a.value.empty() || b.value.empty()) throw Error("kde_pair: a distribution with no samples");
  if (grid_points < 16) throw Error("kde_pair: at least 16 grid points");
  const double ha = scott_bandwidth(a), hb = scott_bandwidth(b), h = std::max(ha, hb);
  double mn = a.value[0], mx = a.value[0];
  for (const Samples* s : {&a, &b})
    for (double v : s->value) mn = std::min(mn, v), mx = std::max(mx, v);
  DensityPair d;
  d.lo = mn - 4 * h;
  d.step = (mx + 4 * h - d.lo) / double(grid_points - 1);
  d.p = kde_on_grid(a, ha, d.lo, d.step, grid_points);
  d.q = kde_on_grid(b, hb, d.lo, d.step, grid_points);
  return d;
}

double overlap_area(const DensityPair& d) {
  double s = 0;
  for (size_t i = 0; i < d.p.size(); ++i) s += std::min(d.p[i], d.q[i]);
  return s * d.step;
}

double kl_divergence(const DensityPair& d) {
  constexpr double eps = 1e-10;
  double s = 0;
  for (size_t i = 0; i < d.p.size(); ++i) {
    const double P = d.p[i] * d.step, Q = d.q[i] * d.step;
    if (P > 0) s += P * std::log((P + eps) / (Q + eps));
  }
  return std::max(0.0, s);
}

// ---------------------------------------------------------------- distances
namespace {
double distance(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return std::sqrt(s);
}
}  // namespace

Samples intra_set_distances(const FeatureSet& s) {
  Samples out;
  const size_t n = s.size();
  out.value.reserve(n * (n + 1) / 2);
  out.weight.reserve(n * (n + 1) / 2);
  for (size_t i = 0; i < n; ++i) {
    out.value.push_back(0.0);
    out.weight.push_back(1.0);
    for (size_t j = i + 1; j < n; ++j) {
      out.value.push_back(distance(s[i], s[j]));
      out.weight.push_back(2.0);
    }
  }
  return out;
}

Samples inter_set_distances(const FeatureSet& a, const FeatureSet& b) {
  Samples out;
  out.value.reserve(a.size() * b.size());
  for (const auto& x : a)
    for (const auto& y : b) out.value.push_back(distance(x, y));
  return out;
}

// ---------------------------------------------------------------- sets of files
MidiSet read_midi_set(const fs::path& dir, const std::string& role, const FeatureOptions& opt) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw Error(role + " " + dir.string() + ": no such folder (hint: give a folder of .mid files)");
  if (!fs::is_directory(dir, ec)) throw Error(role + " " + dir.string() + ": not a folder (hint: give the folder)");
  MidiSet set;
  set.dir = dir;
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string ext = it->path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    if (ext == ".mid" || ext == ".midi" || ext == ".kar") files.push_back(it->path());
  }
  if (ec) throw Error(role + " " + dir.string() + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    const std::string rel = fs::relative(p, dir, ec).string();
    try {
      midi::Score score = midi::read_midi_file(p);
      if (score.notes.empty()) {
        set.skipped.push_back({rel, "no notes"});
        continue;
      }
      set.files.push_back({rel, compute_features(score, opt)});
    } catch (const std::exception& e) {
      set.skipped.push_back({rel, e.what()});
    }
  }
  if (set.files.empty())
    throw Error(role + " " + dir.string() + ": no usable MIDI file (" + std::to_string(files.size()) + " found, " +
                std::to_string(set.skipped.size()) + " unreadable or without notes; hint: the folder must hold " +
                ".mid/.midi files with notes)");
  return set;
}

namespace {
Summary summarize(const Samples& s) {
  Summary out;
  out.count = int64_t(std::llround(s.total_weight()));
  out.mean = s.mean();
  out.stddev = s.stddev();
  return out;
}

FeatureSet collect(const MidiSet& set, const std::string& name) {
  FeatureSet all;
  std::vector<double> v;
  for (const FileFeatures& f : set.files)
    if (feature_value(f.features, name, &v)) all.push_back(v);
  if (all.size() <= size_t(kMaxSetSize)) return all;
  FeatureSet picked;  // evenly spaced, so the pairwise distances stay within memory
  for (size_t k = 0; k < size_t(kMaxSetSize); ++k) picked.push_back(all[k * all.size() / size_t(kMaxSetSize)]);
  return picked;
}

// Absolute summary: scalar features directly; vectors as the distance of each vector to the set's mean vector.
Summary absolute(const FeatureSet& s, int dims, std::vector<double>* mean_out) {
  mean_out->assign(size_t(dims), 0.0);
  for (const auto& v : s)
    for (int d = 0; d < dims; ++d) (*mean_out)[size_t(d)] += v[size_t(d)] / double(s.size());
  Samples x;
  for (const auto& v : s) x.value.push_back(dims == 1 ? v[0] : distance(v, *mean_out));
  Summary out = summarize(x);
  if (dims != 1) out.mean = x.mean();  // mean distance to the centroid
  return out;
}
}  // namespace

std::vector<FeatureComparison> compare_features(const MidiSet& generated, const MidiSet& reference) {
  std::vector<FeatureComparison> out;
  for (const FeatureInfo& info : feature_table()) {
    FeatureComparison c;
    c.info = info;
    const FeatureSet g = collect(generated, info.name), r = collect(reference, info.name);
    c.generated.count = int64_t(g.size());
    c.reference.count = int64_t(r.size());
    c.defined = !g.empty() && !r.empty();
    if (!g.empty()) c.generated = absolute(g, info.dims, &c.generated_mean);
    if (!r.empty()) c.reference = absolute(r, info.dims, &c.reference_mean);
    if (!c.defined) {
      out.push_back(std::move(c));
      continue;
    }
    const Samples ig = intra_set_distances(g), ir = intra_set_distances(r), x = inter_set_distances(g, r);
    c.intra_generated = summarize(ig);
    c.intra_reference = summarize(ir);
    c.inter = summarize(x);
    const DensityPair dg = kde_pair(ig, x), dr = kde_pair(ir, x);
    c.oa_generated = overlap_area(dg);
    c.kl_generated = kl_divergence(dg);
    c.oa_reference = overlap_area(dr);
    c.kl_reference = kl_divergence(dr);
    // One grid for the three curves of the plot.
    const double hg = scott_bandwidth(ig), hr = scott_bandwidth(ir), hx = scott_bandwidth(x);
    const double h = std::max({hg, hr, hx});
    double mn = 0, mx = 0;
    for (const Samples* s : {&ig, &ir, &x})
      for (double v : s->value) mn = std::min(mn, v), mx = std::max(mx, v);
    const int n = 256;
    c.grid_lo = std::max(0.0, mn - 4 * h);
    c.grid_step = (mx + 4 * h - c.grid_lo) / double(n - 1);
    c.pdf_intra_generated = kde_on_grid(ig, hg, c.grid_lo, c.grid_step, n);
    c.pdf_intra_reference = kde_on_grid(ir, hr, c.grid_lo, c.grid_step, n);
    c.pdf_inter = kde_on_grid(x, hx, c.grid_lo, c.grid_step, n);
    out.push_back(std::move(c));
  }
  return out;
}

SetComparison compare_sets(const fs::path& generated, const fs::path& reference, const FeatureOptions& opt) {
  SetComparison c;
  c.generated = read_midi_set(generated, "--generated", opt);
  c.reference = read_midi_set(reference, "--reference", opt);
  c.features = compare_features(c.generated, c.reference);
  return c;
}

// ---------------------------------------------------------------- output
namespace {
json summary_json(const Summary& s) { return {{"count", s.count}, {"mean", s.mean}, {"stddev", s.stddev}}; }

json set_json(const MidiSet& s) {
  json skipped = json::array();
  for (const SkippedFile& f : s.skipped) skipped.push_back({{"file", f.path}, {"reason", f.reason}});
  return {{"dir", s.dir.string()}, {"files", s.files.size()}, {"skipped", skipped}};
}

std::string fmt(const char* f, double v) {
  char b[64];
  std::snprintf(b, sizeof b, f, v);
  return b;
}
}  // namespace

json to_json(const SetComparison& c) {
  json j;
  j["generated"] = set_json(c.generated);
  j["reference"] = set_json(c.reference);
  json feats = json::object();
  for (const FeatureComparison& f : c.features) {
    json o = {{"title", f.info.title}, {"unit", f.info.unit}, {"dims", f.info.dims}, {"defined", f.defined},
              {"generated", summary_json(f.generated)}, {"reference", summary_json(f.reference)}};
    if (f.info.dims > 1) {
      o["generated"]["mean_vector"] = f.generated_mean;
      o["reference"]["mean_vector"] = f.reference_mean;
    }
    if (f.defined) {
      o["intra_generated"] = summary_json(f.intra_generated);
      o["intra_reference"] = summary_json(f.intra_reference);
      o["inter"] = summary_json(f.inter);
      o["oa_generated"] = f.oa_generated;
      o["kl_generated"] = f.kl_generated;
      o["oa_reference"] = f.oa_reference;
      o["kl_reference"] = f.kl_reference;
    }
    feats[f.info.name] = o;
  }
  j["features"] = feats;
  return j;
}

std::string to_text(const SetComparison& c) {
  std::string s;
  s += "generated  " + c.generated.dir.string() + ": " + std::to_string(c.generated.files.size()) + " files";
  if (!c.generated.skipped.empty()) s += " (" + std::to_string(c.generated.skipped.size()) + " skipped)";
  s += "\nreference  " + c.reference.dir.string() + ": " + std::to_string(c.reference.files.size()) + " files";
  if (!c.reference.skipped.empty()) s += " (" + std::to_string(c.reference.skipped.size()) + " skipped)";
  s += "\n\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-22s %21s %21s %13s %13s\n", "feature", "generated mean+-sd",
                "reference mean+-sd", "OA/KL gen", "OA/KL ref");
  s += line;
  for (const FeatureComparison& f : c.features) {
    auto ms = [&](const Summary& x) {
      return x.count == 0 ? std::string("-") : fmt("%.4g", x.mean) + " +- " + fmt("%.3g", x.stddev);
    };
    std::string oag = "-", oar = "-";
    if (f.defined) {
      oag = fmt("%.3f", f.oa_generated) + "/" + fmt("%.3f", f.kl_generated);
      oar = fmt("%.3f", f.oa_reference) + "/" + fmt("%.3f", f.kl_reference);
    }
    std::snprintf(line, sizeof line, "%-22s %21s %21s %13s %13s\n", f.info.title.c_str(), ms(f.generated).c_str(),
                  ms(f.reference).c_str(), oag.c_str(), oar.c_str());
    s += line;
  }
  s += "\nOA: overlapped area of the intra-set distance PDF with the inter-set PDF (1 = indistinguishable);\n"
       "KL: KL(intra || inter) in nats (0 = indistinguishable). Pitch-class histogram: mean distance to the\n"
       "set's mean histogram instead of mean+-sd. Definitions: docs/evaluation.md.\n";
  for (const MidiSet* set : {&c.generated, &c.reference})
    for (const SkippedFile& f : set->skipped) s += "skipped " + (set->dir / f.path).string() + ": " + f.reason + "\n";
  return s;
}

}  // namespace xm::eval

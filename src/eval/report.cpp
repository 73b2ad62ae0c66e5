// report.cpp: see report.h. Markdown text and SVG drawn by hand (polylines, bars) in the plot frame of
// core/svg.h. Not the numbers (compare.cpp).
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/io.h"
#include "core/svg.h"

namespace xm::eval {
namespace fs = std::filesystem;

namespace {
using svg::fmt;
using svg::Frame;

const char* kGen = "#1f77b4";
const char* kRef = "#ff7f0e";
const char* kInter = "#2ca02c";

std::string cell(const Summary& s, int dims) {
  if (s.count == 0) return "-";
  return fmt("%.4g", s.mean) + " ± " + fmt("%.3g", s.stddev) + (dims > 1 ? " (dist. to mean)" : "");
}
}  // namespace

std::string distance_pdf_svg(const FeatureComparison& f) {
  Frame fr;
  const size_t n = f.pdf_inter.size();
  fr.xlo = f.grid_lo;
  fr.xhi = f.grid_lo + f.grid_step * double(n > 0 ? n - 1 : 1);
  double ymax = 0;
  for (const auto* v : {&f.pdf_intra_generated, &f.pdf_intra_reference, &f.pdf_inter})
    for (double y : *v) ymax = std::max(ymax, y);
  fr.yhi = ymax > 0 ? ymax * 1.08 : 1;
  std::string unit = f.info.unit.empty() ? "" : " (" + f.info.unit + ")";
  std::string s = fr.open(f.info.title + ": distance distributions (OA gen " + fmt("%.3f", f.oa_generated) +
                              ", ref " + fmt("%.3f", f.oa_reference) + ")",
                          "distance between pieces" + unit, "density");
  auto line = [&](const std::vector<double>& v, const char* color) {
    if (v.empty()) return;
    s += "<polyline fill=\"none\" stroke=\"" + std::string(color) + "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < v.size(); ++i)
      s += fmt("%.1f", fr.X(f.grid_lo + f.grid_step * double(i))) + "," + fmt("%.1f", fr.Y(v[i])) + " ";
    s += "\"/>\n";
  };
  line(f.pdf_intra_reference, kRef);
  line(f.pdf_intra_generated, kGen);
  line(f.pdf_inter, kInter);
  s += svg::legend(fr.L + fr.pw() - 196, fr.T + 16, 190,
                   {{"intra-set, generated", kGen}, {"intra-set, reference", kRef}, {"inter-set", kInter}});
  s += "</svg>\n";
  return s;
}

std::string pitch_class_svg(const FeatureComparison& f) {
  static const char* names[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
  Frame fr;
  fr.xlo = 0, fr.xhi = 12;
  double ymax = 0;
  for (const auto* v : {&f.generated_mean, &f.reference_mean})
    for (double y : *v) ymax = std::max(ymax, y);
  fr.yhi = ymax > 0 ? ymax * 1.1 : 1;
  std::string s = fr.open("mean pitch-class histogram", "pitch class", "share of notes", false);
  const double slot = fr.pw() / 12.0, bw = slot * 0.38;
  for (int pc = 0; pc < 12; ++pc) {
    const double x0 = fr.X(pc) + slot * 0.1;
    const std::pair<const std::vector<double>*, const char*> bars[2] = {{&f.generated_mean, kGen},
                                                                        {&f.reference_mean, kRef}};
    for (int k = 0; k < 2; ++k) {
      if (bars[k].first->size() != 12) continue;
      const double v = (*bars[k].first)[size_t(pc)];
      s += svg::rect(x0 + bw * k, fr.Y(v), bw, fr.Y(0) - fr.Y(v),
                     "fill=\"" + std::string(bars[k].second) + "\"");
    }
    s += svg::text(fr.X(pc + 0.5), fr.T + fr.ph() + 16, names[pc], "text-anchor=\"middle\"");
  }
  s += svg::legend(fr.L + fr.pw() - 196, fr.T + 16, 190, {{"generated", kGen}, {"reference", kRef}});
  s += "</svg>\n";
  return s;
}

std::vector<fs::path> write_report(const SetComparison& c, const fs::path& out_md) {
  std::vector<fs::path> written{out_md};
  const fs::path dir = out_md.parent_path().empty() ? fs::path(".") : out_md.parent_path();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir)) throw Error("--report " + out_md.string() + ": cannot create the folder " + dir.string());
  const std::string stem = out_md.stem().string();
  std::string md;
  md += "# Music metrics: generated against reference\n\n";
  md += "| set | folder | files used | skipped |\n|---|---|---|---|\n";
  md += "| generated | `" + c.generated.dir.string() + "` | " + std::to_string(c.generated.files.size()) + " | " +
        std::to_string(c.generated.skipped.size()) + " |\n";
  md += "| reference | `" + c.reference.dir.string() + "` | " + std::to_string(c.reference.files.size()) + " | " +
        std::to_string(c.reference.skipped.size()) + " |\n\n";
  md += "Method of Yang and Lerch (2018): for each feature, the distances between every two pieces of a set\n"
        "(intra-set) and between a generated and a reference piece (inter-set), smoothed by Gaussian kernel density\n"
        "estimates. **OA** is the overlapped area of a set's intra-set PDF with the inter-set PDF (1 = the sets are\n"
        "indistinguishable by this feature), **KL** is KL(intra || inter) in nats (0 = indistinguishable).\n"
        "Exact definitions: docs/evaluation.md of xlstm-music.\n\n";
  md += "| feature | unit | generated mean ± sd | reference mean ± sd | intra gen | intra ref | inter | OA gen | KL gen "
        "| OA ref | KL ref |\n|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const FeatureComparison& f : c.features) {
    md += "| " + f.info.title + " | " + f.info.unit + " | " + cell(f.generated, f.info.dims) + " | " +
          cell(f.reference, f.info.dims) + " | ";
    if (f.defined) {
      md += fmt("%.4g", f.intra_generated.mean) + " | " + fmt("%.4g", f.intra_reference.mean) + " | " +
            fmt("%.4g", f.inter.mean) + " | " + fmt("%.3f", f.oa_generated) + " | " + fmt("%.3f", f.kl_generated) +
            " | " + fmt("%.3f", f.oa_reference) + " | " + fmt("%.3f", f.kl_reference) + " |\n";
    } else {
      md += "- | - | - | - | - | - | - |\n";
    }
  }
  md += "\n(intra/inter columns: mean distance.)\n\n## Distributions\n\n";
  for (const FeatureComparison& f : c.features) {
    if (!f.defined) {
      md += "- " + f.info.title + ": not defined for one of the sets (no piece has it)\n";
      continue;
    }
    const fs::path svg = dir / (stem + "." + f.info.name + ".svg");
    write_file_atomic(svg, distance_pdf_svg(f));
    written.push_back(svg);
    md += "### " + f.info.title + "\n\n![" + f.info.title + "](" + svg.filename().string() + ")\n\n";
    if (f.info.name == "pitch_class_histogram") {
      const fs::path pcs = dir / (stem + ".pitch_classes.svg");
      write_file_atomic(pcs, pitch_class_svg(f));
      written.push_back(pcs);
      md += "![mean pitch-class histograms](" + pcs.filename().string() + ")\n\n";
    }
  }
  for (const MidiSet* set : {&c.generated, &c.reference}) {
    if (set->skipped.empty()) continue;
    md += "## Skipped files in `" + set->dir.string() + "`\n\n";
    for (const SkippedFile& f : set->skipped) md += "- `" + f.path + "`: " + f.reason + "\n";
    md += "\n";
  }
  write_file_atomic(out_md, md);
  return written;
}

}  // namespace xm::eval

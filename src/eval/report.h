// report.h: the Markdown report of a set comparison (compare.h) with hand-written SVG plots beside it: for each
// feature the three distance PDFs (intra generated, intra reference, inter), and the mean pitch-class histograms
// of both sets. Not the comparison itself and not a general plotting library.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "eval/compare.h"

namespace xm::eval {

// A self-contained SVG (about 640x300) of the three distance PDFs of one feature; title XML-escaped.
std::string distance_pdf_svg(const FeatureComparison& f);
// Bars of the two sets' mean pitch-class histograms (the pitch_class_histogram feature).
std::string pitch_class_svg(const FeatureComparison& f);

// Writes out_md and, beside it, <stem>.<feature>.svg for every defined feature and <stem>.pitch_classes.svg;
// every write atomic. Returns the files written (out_md first). Throws xm::Error naming a file it cannot write.
std::vector<std::filesystem::path> write_report(const SetComparison& c, const std::filesystem::path& out_md);

}  // namespace xm::eval

// compare.h: two sets of MIDI files compared feature by feature with the method of Yang and Lerch (2018): for
// every feature the intra-set distances of each set and the inter-set distances, smoothed by Gaussian kernel
// density estimates, and the overlapped area (OA) and KL divergence of each intra-set PDF with the inter-set PDF.
// Also the KDE / OA / KL building blocks. Not the per-piece metrics (metrics.h) nor the report files (report.h).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/json.h"
#include "eval/metrics.h"

namespace xm::eval {

// ---- densities -------------------------------------------------------------------------------------------
// Weighted samples of a 1-D distribution (weights are multiplicities: intra-set distances of distinct pairs
// count twice, see intra_set_distances).
struct Samples {
  std::vector<double> value;
  std::vector<double> weight;  // empty: every weight 1
  double total_weight() const;
  double mean() const;
  double stddev() const;  // weighted, with the N / (N - 1) correction of an unbiased variance (N = total weight)
};

// Scott's rule, as scipy.stats.gaussian_kde: h = stddev * N^(-1/5). A set with no spread gets a tiny floor
// (1e-6 * max(1, |mean|)) so its density is a narrow spike rather than undefined.
double scott_bandwidth(const Samples& s);

// Two Gaussian KDEs on one grid (grid_points points from min - 4h to max + 4h over both sets, h the larger
// bandwidth), by linear binning and a discrete Gaussian kernel cut at 4h and normalised, so each density
// integrates to exactly 1 on the grid.
struct DensityPair {
  double lo = 0, step = 1;  // grid x_i = lo + i * step
  std::vector<double> p, q;  // densities at the grid points
};
DensityPair kde_pair(const Samples& a, const Samples& b, int grid_points = 1024);
// One KDE with bandwidth h at the n grid points lo + i * step (same binning and kernel; mass outside the grid is
// dropped and the rest renormalised to integrate to 1).
std::vector<double> kde_on_grid(const Samples& s, double h, double lo, double step, int n);

// OA = integral of min(p, q) (1 = the same distribution, 0 = disjoint).
double overlap_area(const DensityPair& d);
// KL(p || q) in nats over the grid masses P_i = p_i step, Q_i = q_i step: sum P_i ln((P_i + eps) / (Q_i + eps)),
// eps = 1e-10 so that a q with no mass where p has some gives a large finite value.
double kl_divergence(const DensityPair& d);

// ---- distances ---------------------------------------------------------------------------------------
// A set of feature vectors (one per piece); distances are Euclidean.
using FeatureSet = std::vector<std::vector<double>>;
// Every ordered pair (i, j) of the set, i == j included (distance 0): distinct pairs once with weight 2, and the
// n self pairs with weight 1, so that two identical sets give intra == inter exactly (docs/evaluation.md says why
// this departs from the leave-one-out of the original code).
Samples intra_set_distances(const FeatureSet& s);
// Every pair (a_i, b_j): |a| * |b| distances, weight 1.
Samples inter_set_distances(const FeatureSet& a, const FeatureSet& b);

// ---- sets of files -------------------------------------------------------------------------------------
struct FileFeatures {
  std::string path;  // relative to the set's folder
  MusicFeatures features;
};
struct SkippedFile {
  std::string path;
  std::string reason;  // the reader's error, or "no notes"
};
struct MidiSet {
  std::filesystem::path dir;
  std::vector<FileFeatures> files;
  std::vector<SkippedFile> skipped;
};
// Every *.mid / *.midi / *.kar file under dir (recursively, sorted by path), read with midi::read_midi_file;
// unreadable files and files without notes are listed in skipped. Throws xm::Error naming the folder when it is
// missing or not a folder, or when no file could be used (an empty set), with `role` ("--generated") in front.
MidiSet read_midi_set(const std::filesystem::path& dir, const std::string& role, const FeatureOptions& opt = {});

struct Summary {
  int64_t count = 0;
  double mean = 0, stddev = 0;
};

struct FeatureComparison {
  FeatureInfo info;
  // Absolute: the feature over the pieces of each set (for the histogram: its 12 means; stddev of the vectors'
  // distances to their mean).
  Summary generated, reference;
  std::vector<double> generated_mean, reference_mean;  // dims values
  // Relative: distances.
  Summary intra_generated, intra_reference, inter;
  double oa_generated = 0, kl_generated = 0;  // intra(generated) against inter
  double oa_reference = 0, kl_reference = 0;  // intra(reference) against inter
  bool defined = false;                       // both sets have at least one piece with this feature
  // The three distance PDFs on one grid, for plots.
  double grid_lo = 0, grid_step = 1;
  std::vector<double> pdf_intra_generated, pdf_intra_reference, pdf_inter;
};

struct SetComparison {
  MidiSet generated, reference;
  std::vector<FeatureComparison> features;  // in feature_table() order
};

// Compares two folders of MIDI files (read_midi_set on each).
SetComparison compare_sets(const std::filesystem::path& generated, const std::filesystem::path& reference,
                           const FeatureOptions& opt = {});
// The comparison of two already read sets. A set with more than kMaxSetSize pieces defining a feature is
// represented by kMaxSetSize of them, evenly spaced in path order (the distances grow with the square).
constexpr int kMaxSetSize = 2000;
std::vector<FeatureComparison> compare_features(const MidiSet& generated, const MidiSet& reference);

json to_json(const SetComparison& c);  // without the PDFs
std::string to_text(const SetComparison& c);

}  // namespace xm::eval

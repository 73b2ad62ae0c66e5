// sources.h: what a corpus is prepared from: an input folder (recursively scanned for *.mid, *.midi, *.kar
// in any case), the dataset it holds (recognised by its label files: POP909, Nottingham, Groove, SymbTr,
// VGMIDI, JSB chorales, MIDI edge cases, or a plain folder) and the per-file labels read from CSV files
// (genre/style, mood, official split, grouping of versions of one tune). Not the parsing of MIDI itself.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "data/split.h"

namespace xm::data {

struct PieceLabels {
  std::string genre;  // conditioning genre ("" = none)
  std::string mood;   // conditioning mood ("" = none)
  bool has_split = false;  // an official split
  Split split = Split::Train;
  std::string group;  // relative key hashed for the split; "" = the file's own relative path
  std::map<std::string, std::string> labels;  // everything else worth keeping (style, makam, valence, ...)
};

// Per-file labels, keyed by absolute, lexically normal path.
class LabelTable {
 public:
  // Adds labels for a file; fields already present are overwritten by non-empty new ones.
  void add(const std::string& abs_path, const PieceLabels& l);
  const PieceLabels* find(const std::string& abs_path) const;
  size_t size() const { return map_.size(); }
  void merge(const LabelTable& other);  // other wins where both have a field

 private:
  std::unordered_map<std::string, PieceLabels> map_;
};

// Absolute and lexically normal (no symlink resolution): the key LabelTable uses.
std::string normal_path(const std::filesystem::path& p);

// Reads a labels CSV. The file column is the first of file, path, midi_filename, midi, filename, midi_file
// (relative to the CSV's folder, or absolute); melody_file and chords_file columns label those files too,
// grouped with the main one. Columns: genre; style ("funk/groove1": genre "funk"); collection (Nottingham
// tune type); mood; valence + arousal (mood from tokens::mood_from_valence_arousal); split (train/valid(ation)/test);
// group; and makam, form, usul, composer, name, title, artist, series, console, game, piece, drummer,
// beat_type, bpm, time_signature, expect are kept as labels. Throws xm::Error naming the file and line.
LabelTable read_labels_csv(const std::filesystem::path& csv);

// One --input: a folder (or a single MIDI file) and what is known about it.
struct InputSource {
  std::filesystem::path root;       // as given
  std::string root_abs;             // normal_path(root)
  bool is_file = false;             // a single MIDI file
  std::string dataset;              // "pop909", "nottingham", "groove-midi", "symbtr-makam", "vgmidi",
                                    // "jsb-chorales", "midi-edge-cases", or the folder's name
  std::string genre;                // given with --genre or DIR:GENRE: wins over every label
  std::string default_genre;        // the dataset's genre where no label gives one
  std::vector<std::string> exclude_dirs;  // folder names not descended into (POP909's versions/)
  LabelTable labels;                // from the dataset's own label files
  std::vector<std::string> label_files;   // which were read
  std::filesystem::path jsb_json;   // JSB chorales: the JSON file with the train/valid/test arrays
};

// Recognises the dataset in root and reads its label files. Throws xm::Error when root does not exist.
InputSource detect_input(const std::filesystem::path& root, const std::string& genre = "");

// True for *.mid, *.midi, *.kar in any case.
bool is_midi_name(const std::filesystem::path& p);

struct ScannedFile {
  std::filesystem::path path;  // as found (root / rel)
  std::string rel;             // relative to the root, '/'-separated
  std::string abs;             // normal_path(path)
};
// Every MIDI file under the input (sorted by rel, so the order never depends on the file system).
// Unreadable sub-folders are skipped, symlinked folders are not followed.
std::vector<ScannedFile> scan_midi_files(const InputSource& in);

}  // namespace xm::data

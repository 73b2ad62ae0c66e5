// sources.cpp: see sources.h.
#include "data/sources.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "core/error.h"
#include "data/csv.h"
#include "tokens/tokenizer.h"

namespace xm::data {

namespace fs = std::filesystem;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t a = 0, b = s.size();
  while (a < b && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  while (b > a && std::isspace(static_cast<unsigned char>(s[b - 1]))) --b;
  return s.substr(a, b - a);
}

// A conditioning label: trimmed, lower case, spaces as '-'.
std::string label_word(const std::string& s) {
  std::string t = lower(trim(s));
  for (char& c : t)
    if (c == ' ' || c == '_') c = '-';
  return t;
}

bool parse_pm1(const std::string& s, int* out) {
  const std::string t = trim(s);
  char* end = nullptr;
  double x = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0') return false;
  *out = x > 0 ? 1 : (x < 0 ? -1 : 0);
  return true;
}

// Nottingham collection (file-name prefix) -> tune type.
std::string nottingham_style(const std::string& collection) {
  const std::string c = lower(collection);
  if (c.rfind("reels", 0) == 0) return "reel";
  if (c == "jigs") return "jig";
  if (c == "hpps") return "hornpipe";
  if (c == "waltzes") return "waltz";
  if (c == "slip") return "slip-jig";
  if (c == "xmas") return "christmas";
  return c;  // ashover, morris, playford, ...
}

bool file_exists(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool csv_has_columns(const fs::path& csv, const std::vector<std::string>& cols) {
  if (!file_exists(csv)) return false;
  try {
    CsvTable t = read_csv_file(csv);
    for (const auto& c : cols)
      if (t.column(c) < 0) return false;
    return true;
  } catch (const Error&) {
    return false;
  }
}

}  // namespace

std::string normal_path(const fs::path& p) {
  std::error_code ec;
  fs::path a = fs::absolute(p, ec);
  if (ec) a = p;
  return a.lexically_normal().generic_string();
}

void LabelTable::add(const std::string& abs_path, const PieceLabels& l) {
  auto [it, fresh] = map_.try_emplace(abs_path, l);
  if (fresh) return;
  PieceLabels& d = it->second;
  if (!l.genre.empty()) d.genre = l.genre;
  if (!l.mood.empty()) d.mood = l.mood;
  if (l.has_split) {
    d.has_split = true;
    d.split = l.split;
  }
  if (!l.group.empty()) d.group = l.group;
  for (const auto& [k, v] : l.labels)
    if (!v.empty()) d.labels[k] = v;
}

const PieceLabels* LabelTable::find(const std::string& abs_path) const {
  auto it = map_.find(abs_path);
  return it == map_.end() ? nullptr : &it->second;
}

void LabelTable::merge(const LabelTable& other) {
  for (const auto& [k, v] : other.map_) add(k, v);
}

LabelTable read_labels_csv(const fs::path& csv) {
  const CsvTable t = read_csv_file(csv);
  const std::string what = csv.string();
  const int file_col = t.first_column({"file", "path", "midi_filename", "midi", "filename", "midi_file"});
  if (file_col < 0)
    throw Error(what + ": line 1: no file column (hint: name it file, path, midi_filename, midi or filename; "
                "paths are relative to the CSV's folder)");
  const int melody_col = t.column("melody_file"), chords_col = t.column("chords_file");
  const int genre_col = t.column("genre"), style_col = t.column("style"), coll_col = t.column("collection");
  const int mood_col = t.column("mood"), val_col = t.column("valence"), aro_col = t.column("arousal");
  const int split_col = t.column("split"), group_col = t.column("group");
  static const std::vector<std::string> kept = {"makam", "form", "usul", "composer", "name", "title", "artist",
                                                "series", "console", "game", "piece", "drummer", "beat_type",
                                                "bpm", "time_signature", "expect"};
  std::vector<std::pair<std::string, int>> kept_cols;
  for (const auto& k : kept)
    if (int c = t.column(k); c >= 0) kept_cols.emplace_back(k, c);

  const fs::path base = fs::path(normal_path(csv)).parent_path();
  LabelTable table;
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const std::string line = what + ": line " + std::to_string(r + 2);
    const std::string file = trim(row[size_t(file_col)]);
    if (file.empty()) continue;
    PieceLabels l;
    if (genre_col >= 0) l.genre = label_word(row[size_t(genre_col)]);
    if (style_col >= 0 && !trim(row[size_t(style_col)]).empty()) {
      const std::string style = trim(row[size_t(style_col)]);
      l.labels["style"] = style;
      if (l.genre.empty()) l.genre = label_word(style.substr(0, style.find('/')));
    }
    if (coll_col >= 0 && !trim(row[size_t(coll_col)]).empty()) {
      l.labels["collection"] = trim(row[size_t(coll_col)]);
      l.labels["style"] = nottingham_style(trim(row[size_t(coll_col)]));
    }
    if (mood_col >= 0) l.mood = label_word(row[size_t(mood_col)]);
    if (val_col >= 0 && aro_col >= 0) {
      int v = 0, a = 0;
      if (parse_pm1(row[size_t(val_col)], &v) && parse_pm1(row[size_t(aro_col)], &a)) {
        l.labels["valence"] = std::to_string(v);
        l.labels["arousal"] = std::to_string(a);
        if (l.mood.empty()) l.mood = tokens::mood_from_valence_arousal(v, a);
      }
    }
    if (split_col >= 0 && !trim(row[size_t(split_col)]).empty()) {
      if (!parse_split_name(row[size_t(split_col)], &l.split))
        throw Error(line + ": split \"" + row[size_t(split_col)] + "\" is not train, valid(ation) or test");
      l.has_split = true;
    }
    for (const auto& [k, c] : kept_cols)
      if (!trim(row[size_t(c)]).empty()) l.labels[k] = trim(row[size_t(c)]);

    auto resolve = [&](const std::string& f) {
      fs::path p(f);
      return normal_path(p.is_absolute() ? p : base / p);
    };
    // Versions of one tune (Nottingham's melody-only and chords-only files) share the main file's group.
    const bool versions = (melody_col >= 0 && !trim(row[size_t(melody_col)]).empty()) ||
                          (chords_col >= 0 && !trim(row[size_t(chords_col)]).empty());
    if (group_col >= 0 && !trim(row[size_t(group_col)]).empty()) {
      l.group = trim(row[size_t(group_col)]);
    } else if (versions) {
      l.group = fs::path(file).lexically_normal().generic_string();
    }
    table.add(resolve(file), l);
    for (int vc : {melody_col, chords_col}) {
      if (vc < 0 || trim(row[size_t(vc)]).empty()) continue;
      PieceLabels v = l;
      v.labels["version"] = vc == melody_col ? "melody" : "chords";
      table.add(resolve(trim(row[size_t(vc)])), v);
    }
  }
  return table;
}

bool is_midi_name(const fs::path& p) {
  const std::string e = lower(p.extension().string());
  return e == ".mid" || e == ".midi" || e == ".kar";
}

// VGMIDI: phrases labelled/phrases/<piece>_<k>.mid carry the labels; the full piece labelled/midi/<piece>.mid
// gets them too when all of its phrases agree, and both share the group <piece> (no leak across splits).
static void add_vgmidi_labels(InputSource& in, const fs::path& csv) {
  LabelTable phrases = read_labels_csv(csv);
  CsvTable t = read_csv_file(csv);
  const int mc = t.column("midi");
  struct Agg {
    PieceLabels l;
    bool conflict = false;
  };
  std::map<std::string, Agg> pieces;
  LabelTable grouped;
  for (const auto& row : t.rows) {
    const std::string rel = trim(row[size_t(mc)]);
    const PieceLabels* l = phrases.find(normal_path(fs::path(in.root_abs) / rel));
    if (!l) continue;
    std::string stem = fs::path(rel).stem().string();
    if (auto u = stem.rfind('_'); u != std::string::npos) stem = stem.substr(0, u);
    PieceLabels pl = *l;
    pl.group = "vgmidi:" + stem;
    grouped.add(normal_path(fs::path(in.root_abs) / rel), pl);
    auto [it, fresh] = pieces.try_emplace(stem, Agg{pl, false});
    if (!fresh && (it->second.l.mood != pl.mood)) it->second.conflict = true;
  }
  for (auto& [stem, agg] : pieces) {
    PieceLabels full = agg.l;
    if (agg.conflict) {
      full.mood.clear();
      full.labels.erase("valence");
      full.labels.erase("arousal");
    }
    full.labels["version"] = "full";
    grouped.add(normal_path(fs::path(in.root_abs) / "labelled" / "midi" / (stem + ".mid")), full);
  }
  in.labels.merge(grouped);
}

InputSource detect_input(const fs::path& root, const std::string& genre) {
  InputSource in;
  in.root = root;
  in.root_abs = normal_path(root);
  in.genre = label_word(genre);
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    if (lower(root.extension().string()) == ".json") {
      in.dataset = "jsb-chorales";
      in.default_genre = "chorale";
      in.jsb_json = root;
      return in;
    }
    in.is_file = true;
    in.dataset = fs::path(in.root_abs).parent_path().filename().string();
    return in;
  }
  if (!fs::is_directory(root, ec))
    throw Error(root.string() + ": no such folder (hint: --input takes a folder of MIDI files, or DIR:GENRE)");
  const fs::path r(in.root_abs);
  in.dataset = r.filename().string();
  auto read = [&](const fs::path& csv) {
    in.labels.merge(read_labels_csv(csv));
    in.label_files.push_back(csv.string());
  };
  if (file_exists(r / "Jsb16thSeparated.json")) {
    in.dataset = "jsb-chorales";
    in.default_genre = "chorale";
    in.jsb_json = r / "Jsb16thSeparated.json";
  } else if (file_exists(r / "POP909" / "index.csv") || (file_exists(r / "index.csv") && file_exists(r / "001" / "001.mid"))) {
    in.dataset = "pop909";
    in.default_genre = "pop";
    in.exclude_dirs = {"versions"};
    const fs::path base = file_exists(r / "POP909" / "index.csv") ? r / "POP909" : r;
    CsvTable t = read_csv_file(base / "index.csv");
    const int id = t.column("song_id"), name = t.column("name"), artist = t.column("artist");
    if (id >= 0) {
      for (const auto& row : t.rows) {
        const std::string sid = trim(row[size_t(id)]);
        if (sid.empty()) continue;
        PieceLabels l;
        if (name >= 0 && !trim(row[size_t(name)]).empty()) l.labels["title"] = trim(row[size_t(name)]);
        if (artist >= 0 && !trim(row[size_t(artist)]).empty()) l.labels["artist"] = trim(row[size_t(artist)]);
        in.labels.add(normal_path(base / sid / (sid + ".mid")), l);
      }
      in.label_files.push_back((base / "index.csv").string());
    }
  } else if (csv_has_columns(r / "info.csv", {"midi_filename", "style"})) {
    in.dataset = "groove-midi";
    in.default_genre = "drums";
    read(r / "info.csv");
  } else if (csv_has_columns(r / "metadata.csv", {"file", "collection"})) {
    in.dataset = "nottingham";
    in.default_genre = "folk";
    read(r / "metadata.csv");
  } else if (csv_has_columns(r / "metadata.csv", {"file", "makam"})) {
    in.dataset = "symbtr-makam";
    in.default_genre = "makam";
    read(r / "metadata.csv");
  } else if (csv_has_columns(r / "vgmidi_labelled.csv", {"midi", "valence", "arousal"})) {
    in.dataset = "vgmidi";
    in.default_genre = "game";
    add_vgmidi_labels(in, r / "vgmidi_labelled.csv");
    in.label_files.push_back((r / "vgmidi_labelled.csv").string());
  } else if (csv_has_columns(r / "MANIFEST.csv", {"file", "expect"})) {
    in.dataset = "midi-edge-cases";
    read(r / "MANIFEST.csv");
  }
  return in;
}

std::vector<ScannedFile> scan_midi_files(const InputSource& in) {
  std::vector<ScannedFile> out;
  if (!in.jsb_json.empty()) return out;
  if (in.is_file) {
    out.push_back({in.root, in.root.filename().generic_string(), in.root_abs});
    return out;
  }
  const fs::path root(in.root_abs);
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  if (ec) throw Error(in.root.string() + ": cannot list folder: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) break;
    const fs::directory_entry& e = *it;
    std::error_code e2;
    if (e.is_directory(e2)) {
      const std::string name = e.path().filename().string();
      if (std::find(in.exclude_dirs.begin(), in.exclude_dirs.end(), name) != in.exclude_dirs.end() ||
          (!name.empty() && name[0] == '.'))
        it.disable_recursion_pending();
      continue;
    }
    if (!e.is_regular_file(e2) || !is_midi_name(e.path())) continue;
    ScannedFile f;
    f.path = e.path();
    f.rel = e.path().lexically_relative(root).generic_string();
    f.abs = e.path().lexically_normal().generic_string();
    out.push_back(std::move(f));
  }
  std::sort(out.begin(), out.end(), [](const ScannedFile& a, const ScannedFile& b) { return a.rel < b.rel; });
  return out;
}

}  // namespace xm::data

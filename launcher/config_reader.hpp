#pragma once

// Internal to the topology parser (config*.cpp): the reader that collects
// located problems, and helpers its sections share.

#include "actors/core/topology.hpp"
#include "algorithms/data/input_file.hpp"
#include "launcher/config.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace metronome::launcher::detail {

namespace fs = std::filesystem;

inline std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += l + '\n';
  return out;
}

inline std::string comma_list(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : ", ") + w;
  return out;
}

inline std::string in_quotes(const std::string& s) {
  return "'" + s + "'";
}

inline std::string line_of(const YAML::Mark& m) {
  return std::to_string(m.line + 1);
}

inline std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The word of `known` at most two edits from `word`, or "".
inline std::string closest(const std::string& word,
                           const std::vector<std::string>& known) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& k : known) {
    auto d = edit_distance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return best;
}

// Why `path` cannot be read as a file, or "" when it can; a FIFO or a
// device is refused, since reading it could block or never end.
inline std::string unreadable(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (!fs::exists(st))
    return "no such file";
  if (fs::is_directory(st))
    return "it is a directory";
  if (!fs::is_regular_file(st))
    return "it is " + algorithms::describe_path(path) + ", not a regular file";
  if (::access(path.c_str(), R_OK) != 0)
    return std::strerror(errno);
  return {};
}

struct problem_line {
  int line = -1;
  int column = -1;
  std::string text;
};

// Collects problems with their positions while reading one file.
class reader {
public:
  explicit reader(std::string file)
      : file_(std::move(file))
      , dir_(fs::absolute(file_).parent_path()) {}

  void problem(const YAML::Mark& m, const std::string& what,
               const std::string& hint) {
    std::string text = file_;
    if (m.line >= 0)
      text += ":" + line_of(m) + ":" + std::to_string(m.column + 1);
    text += ": " + what + " (" + hint + ")";
    problems_.push_back({m.line, m.column, std::move(text)});
  }

  void problem(const YAML::Node& at, const std::string& what,
               const std::string& hint) {
    problem(at.Mark(), what, hint);
  }

  // A problem whose text already carries its hint.
  void problem_text(const YAML::Mark& m, const std::string& text) {
    auto located = file_;
    if (m.line >= 0)
      located += ":" + line_of(m) + ":" + std::to_string(m.column + 1);
    problems_.push_back({m.line, m.column, located + ": " + text});
  }

  // Where `key` itself is written in `map`, or where `map` starts.
  static YAML::Mark key_mark(const YAML::Node& map, const std::string& key) {
    if (map.IsMap())
      for (const auto& kv : map)
        if (kv.first.IsScalar() && kv.first.Scalar() == key)
          return kv.first.Mark();
    return map.Mark();
  }

  // Reports keys of `map` not in `known` (suggesting the closest one) and
  // duplicate keys; false when `map` is not a mapping at all.
  bool check_keys(const YAML::Node& map, const std::string& where,
                  const std::vector<std::string>& known, const YAML::Mark& at) {
    if (!map.IsMap()) {
      problem(map.IsNull() ? at : map.Mark(),
              where + (map.IsNull() ? " is empty" : " must be a mapping"),
              "indent 'key: value' lines under it; valid keys: " +
                  comma_list(known));
      return false;
    }
    std::map<std::string, YAML::Mark> seen;
    for (const auto& kv : map) {
      auto key = kv.first.as<std::string>("");
      auto [first, fresh] = seen.emplace(key, kv.first.Mark());
      if (!fresh) {
        problem(kv.first, "duplicate key '" + key + "' in " + where,
                "first at line " + line_of(first->second) +
                    "; keep one of them");
        continue;
      }
      if (std::find(known.begin(), known.end(), key) != known.end())
        continue;
      auto best = closest(key, known);
      problem(kv.first, "unknown key '" + key + "' in " + where,
              best.empty() ? "valid keys: " + comma_list(known)
                           : "did you mean '" + best + "'?");
    }
    return true;
  }

  // The text of map[key] if it is present and a single value; reports
  // empty values, lists and mappings.
  std::optional<std::string> scalar(const YAML::Node& map,
                                    const std::string& key,
                                    const std::string& example) {
    auto node = map[key];
    if (!node)
      return std::nullopt;
    auto hint = "e.g. " + key + ": " + example;
    if (node.IsNull()) {
      problem(key_mark(map, key), in_quotes(key) + " is empty", hint);
      return std::nullopt;
    }
    if (!node.IsScalar()) {
      problem(node,
              in_quotes(key) + " must be a single value, not a " +
                  (node.IsSequence() ? "list" : "mapping"),
              hint);
      return std::nullopt;
    }
    return node.Scalar();
  }

  bool text(const YAML::Node& map, const std::string& key, std::string& out,
            const std::string& example) {
    auto value = scalar(map, key, example);
    if (value)
      out = *value;
    return value.has_value();
  }

  // A whole number in [min, max] written in decimal.
  template <class T>
  bool whole(const YAML::Node& map, const std::string& key, T& out,
             std::uint64_t min, std::uint64_t max, const std::string& example) {
    auto value = scalar(map, key, example);
    if (!value)
      return false;
    std::string_view s = *value;
    if (!s.empty() && s.front() == '+')
      s.remove_prefix(1);
    bool digits = !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return c >= '0' && c <= '9';
    });
    std::uint64_t v = 0;
    bool parsed =
        digits &&
        std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc();
    if (parsed && v >= min && v <= max) {
      out = static_cast<T>(v);
      return true;
    }
    std::string range;
    if (max <= 0xffffffffu)
      range = "a whole number in " + std::to_string(min) + ".." +
              std::to_string(max);
    else
      range =
          min == 0 ? "a whole number (0 or more)" : "a positive whole number";
    auto what =
        in_quotes(key) + " must be " + range + ", not " + in_quotes(*value);
    if (digits && !parsed)
      what = in_quotes(key) + " is too large: " + *value;
    problem(map[key], what, "e.g. " + key + ": " + example);
    return false;
  }

  bool positive_real(const YAML::Node& map, const std::string& key, float& out,
                     const std::string& example) {
    auto value = scalar(map, key, example);
    if (!value)
      return false;
    std::string_view s = *value;
    if (!s.empty() && s.front() == '+')
      s.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size() &&
        std::isfinite(v) && v > 0 && v <= std::numeric_limits<float>::max() &&
        static_cast<float>(v) > 0) {
      out = static_cast<float>(v);
      return true;
    }
    problem(map[key],
            in_quotes(key) + " must be a positive finite number, not " +
                in_quotes(*value),
            "e.g. " + key + ": " + example);
    return false;
  }

  // A finite number above `low` (or at it, when `low_allowed`) and at most
  // `high`.
  bool real(const YAML::Node& map, const std::string& key, double& out,
            double low, bool low_allowed, double high,
            const std::string& example) {
    auto value = scalar(map, key, example);
    if (!value)
      return false;
    std::string_view s = *value;
    if (!s.empty() && s.front() == '+')
      s.remove_prefix(1);
    double v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (!s.empty() && ec == std::errc() && end == s.data() + s.size() &&
        std::isfinite(v) && (v > low || (low_allowed && v == low)) &&
        v <= high) {
      out = v;
      return true;
    }
    auto range = fmt::format("{} {} and at most {}",
                             low_allowed ? "at least" : "above", low, high);
    problem(map[key],
            in_quotes(key) + " must be a finite number " + range + ", not " +
                in_quotes(*value),
            "e.g. " + key + ": " + example);
    return false;
  }

  // true or false.
  bool flag(const YAML::Node& map, const std::string& key, bool& out) {
    auto value = scalar(map, key, "true");
    if (!value)
      return false;
    if (*value == "true" || *value == "false") {
      out = *value == "true";
      return true;
    }
    problem(map[key],
            in_quotes(key) + " must be true or false, not " + in_quotes(*value),
            "e.g. " + key + ": true");
    return false;
  }

  // One of `valid`; `notes` gives hints for known wrong values.
  bool choice(const YAML::Node& map, const std::string& key, std::string& out,
              const std::vector<std::string>& valid, const std::string& what,
              const std::map<std::string, std::string>& notes = {}) {
    auto value = scalar(map, key, valid.front());
    if (!value)
      return false;
    if (std::find(valid.begin(), valid.end(), *value) != valid.end()) {
      out = *value;
      return true;
    }
    std::string hint = "valid: " + comma_list(valid);
    auto best = closest(*value, valid);
    if (auto n = notes.find(*value); n != notes.end())
      hint = n->second + "; " + hint;
    else if (!best.empty())
      hint = "did you mean '" + best + "'? " + hint;
    problem(map[key], "unknown " + what + " " + in_quotes(*value), hint);
    return false;
  }

  // `path`, the text of map[key], made absolute against the topology
  // file's directory. The tree is rewritten to match once it is read
  // (rewrite_paths), so that a tree emitted after loading names the same
  // files from any directory.
  std::string resolve(const YAML::Node& map, const std::string& key,
                      const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute())
      return path;
    auto absolute = (dir_ / path).lexically_normal().string();
    rewrites_.emplace_back(map[key], absolute);
    return absolute;
  }

  // Writes the absolute paths resolve() made into the tree; until then its
  // checks see the paths as written.
  void rewrite_paths() {
    for (auto& [node, absolute] : rewrites_)
      node = absolute;
    rewrites_.clear();
  }

  std::vector<std::string> sorted_problems() const {
    auto all = problems_;
    std::stable_sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
      return std::tie(a.line, a.column) < std::tie(b.line, b.column);
    });
    std::vector<std::string> out;
    for (auto& p : all)
      out.push_back(std::move(p.text));
    return out;
  }

  bool ok() const { return problems_.empty(); }
  const fs::path& dir() const { return dir_; }

private:
  std::string file_;
  fs::path dir_;
  std::vector<problem_line> problems_;
  std::vector<std::pair<YAML::Node, std::string>> rewrites_;
};

// Where the fields of one node were written, for later checks.
struct node_marks {
  YAML::Mark at;   ///< the node entry
  YAML::Mark host; ///< its host, or `at` when the default is used
  YAML::Mark port;
  YAML::Mark control; ///< its control_port, or `port` for the default
  bool host_given = false;
  bool host_ok = false;
  bool port_ok = false;
  bool control_given = false;
  bool control_ok = false;
};

inline std::string node_label(const actors::node_spec& spec,
                              const YAML::Mark& at) {
  return spec.name.empty() ? "the node at line " + line_of(at)
                           : "node " + in_quotes(spec.name);
}

/// The YAML document in the file at `path` (a `what`: "topology",
/// "experiment"); throws config_error naming the file when it cannot be
/// read, and the position of a syntax error or of nesting past the
/// parser's depth limit.
YAML::Node load_yaml(reader& r, const std::string& path,
                     const std::string& what);

/// Checks hosts and ports of every node (config_hosts.cpp).
void check_hosts(reader& r, const actors::topology& topo,
                 const std::vector<node_marks>& marks,
                 const load_options& options);

/// Reads and checks job.data (config_data.cpp).
void read_data(reader& r, const YAML::Node& job, const YAML::Mark& job_at,
               actors::topology& topo);

/// Reads and checks job.stragglers (config_data.cpp).
void read_stragglers(reader& r, const YAML::Node& job, actors::topology& topo);

} // namespace metronome::launcher::detail

#include "algorithms/data/libsvm_loader.hpp"

#include "algorithms/data/input_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

namespace metronome::algorithms {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

bool parse_double(std::string_view s, double& out) {
  if (!s.empty() && s.front() == '+') {
    s.remove_prefix(1);
    if (!s.empty() && (s.front() == '+' || s.front() == '-'))
      return false;
  }
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && std::isfinite(out);
}

bool parse_index(std::string_view s, std::int64_t& out) {
  if (s.empty())
    return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

std::string_view next_token(std::string_view line, std::size_t& pos) {
  while (pos < line.size() && is_space(line[pos]))
    ++pos;
  std::size_t start = pos;
  while (pos < line.size() && !is_space(line[pos]))
    ++pos;
  return line.substr(start, pos - start);
}

// 0-based column of token `k` of `line` (token 0 is the label).
std::size_t token_column(std::string_view line, std::size_t k) {
  std::size_t pos = 0;
  std::string_view tok = next_token(line, pos);
  for (std::size_t i = 0; i < k; ++i)
    tok = next_token(line, pos);
  return pos - tok.size();
}

bool fail(libsvm_line& out, std::size_t col, std::string what) {
  out.error = std::move(what);
  out.column = col + 1;
  return false;
}

bool parse_label(std::string_view tok, std::size_t col, libsvm_labels mode,
                 libsvm_line& out) {
  double label = 0;
  if (mode == libsvm_labels::binary) {
    if (!parse_double(tok, label) ||
        (label != 1.0 && label != -1.0 && label != 0.0))
      return fail(out, col,
                  fmt::format("bad label '{}' (expected +1, 1, -1 or 0)",
                              quoted_excerpt(tok)));
  } else if (tok.empty() || tok.find(':') != std::string_view::npos) {
    return fail(out, col,
                fmt::format("missing target (the line starts with '{}')",
                            quoted_excerpt(tok)));
  } else if (!parse_double(tok, label)) {
    return fail(out, col,
                fmt::format("bad target '{}' (expected a finite number)",
                            quoted_excerpt(tok)));
  }
  out.label = label;
  return true;
}

bool parse_feature(std::string_view tok, std::size_t col, libsvm_labels mode,
                   std::size_t num_features, libsvm_line& out) {
  std::size_t colon = tok.find(':');
  if (colon == std::string_view::npos)
    return fail(out, col,
                fmt::format("missing ':' in feature '{}' (expected "
                            "index:value)",
                            quoted_excerpt(tok)));
  std::string_view index_text = tok.substr(0, colon);
  std::string_view value_text = tok.substr(colon + 1);
  std::int64_t index = 0;
  if (!parse_index(index_text, index))
    return fail(out, col,
                fmt::format("bad feature index '{}' (expected a positive "
                            "integer)",
                            quoted_excerpt(index_text)));
  if (index <= 0)
    return fail(out, col,
                fmt::format("feature index must be positive, got {}", index));
  if (num_features > 0 && static_cast<std::uint64_t>(index) > num_features)
    return fail(out, col,
                fmt::format("feature index {} exceeds the number of "
                            "features {}",
                            index, num_features));
  if (static_cast<std::uint64_t>(index) > libsvm_max_features)
    return fail(out, col,
                fmt::format("feature index {} exceeds the limit of {} "
                            "features (see docs/input-limits.md)",
                            index, libsvm_max_features));
  // Classification data is stored as float.
  double value = 0;
  if (!parse_double(value_text, value) ||
      (mode == libsvm_labels::binary &&
       std::abs(value) > std::numeric_limits<float>::max()))
    return fail(out, col + colon + 1,
                fmt::format("bad feature value '{}' (expected a finite "
                            "number)",
                            quoted_excerpt(value_text)));
  out.features.push_back({index, value});
  return true;
}

// Reports the first repeated index (in the order of a stable sort, at the
// later of its two occurrences), as the loader always has.
bool check_duplicates(std::string_view line, libsvm_line& out) {
  const auto& f = out.features;
  auto not_increasing = [](auto& a, auto& b) { return a.index >= b.index; };
  if (std::adjacent_find(f.begin(), f.end(), not_increasing) == f.end())
    return true;
  std::vector<std::pair<std::int64_t, std::size_t>> seen;
  seen.reserve(f.size());
  for (std::size_t i = 0; i < f.size(); ++i)
    seen.emplace_back(f[i].index, i);
  std::stable_sort(seen.begin(), seen.end(),
                   [](auto& a, auto& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < seen.size(); ++i)
    if (seen[i].first == seen[i - 1].first) {
      std::size_t last = std::max(seen[i].second, seen[i - 1].second);
      return fail(out, token_column(line, last + 1),
                  fmt::format("duplicate feature index {}", seen[i].first));
    }
  return true;
}

// Calls `on_sample(parsed)` for every sample line of `path`. Throws load_error
// for malformed or unreadable input.
template <typename OnSample>
void read_libsvm(const std::string& path, libsvm_labels mode,
                 std::size_t num_features, OnSample on_sample) {
  line_reader in(path, libsvm_max_line);
  libsvm_line parsed;
  std::string_view line;
  std::size_t samples = 0;
  while (in.next(line)) {
    std::string_view text = libsvm_content(line);
    if (text.empty())
      continue;
    if (!parse_libsvm_line(text, mode, num_features, parsed))
      throw load_error(fmt::format("{}:{}:{}: {}", path, in.line_number(),
                                   parsed.column, parsed.error));
    on_sample(parsed);
    ++samples;
  }
  if (samples == 0)
    throw load_error(
        fmt::format("{}:{}:1: no samples in file", path, in.line_number() + 1));
}

} // namespace

std::string_view libsvm_content(std::string_view line) {
  line = line.substr(0, line.find('#'));
  if (std::all_of(line.begin(), line.end(), is_space))
    return {};
  return line;
}

bool parse_libsvm_line(std::string_view line, libsvm_labels mode,
                       std::size_t num_features, libsvm_line& out) {
  out.features.clear();
  out.error.clear();
  out.column = 0;
  std::size_t pos = 0;
  std::string_view tok = next_token(line, pos);
  if (!parse_label(tok, pos - tok.size(), mode, out))
    return false;
  for (tok = next_token(line, pos); !tok.empty(); tok = next_token(line, pos))
    if (!parse_feature(tok, pos - tok.size(), mode, num_features, out))
      return false;
  return check_duplicates(line, out);
}

std::string libsvm_line_problem(std::string_view line, libsvm_labels mode) {
  libsvm_line parsed;
  std::string_view text = libsvm_content(line);
  if (text.empty()) {
    std::size_t col = 0;
    while (col < line.size() && is_space(line[col]))
      ++col;
    return fmt::format("col {}: missing {} (the line holds no sample)", col + 1,
                       mode == libsvm_labels::binary ? "label" : "target");
  }
  if (parse_libsvm_line(text, mode, 0, parsed))
    return {};
  return fmt::format("col {}: {}", parsed.column, parsed.error);
}

dataset load_libsvm(const std::string& path, std::size_t num_features) {
  using triplet = Eigen::Triplet<float, std::int64_t>;
  dataset d;
  std::vector<triplet> entries;
  std::int64_t largest = 0;
  read_libsvm(
      path, libsvm_labels::binary, num_features, [&](const libsvm_line& s) {
        auto col = static_cast<std::int64_t>(d.labels.size());
        for (const auto& f : s.features) {
          entries.emplace_back(f.index - 1, col, static_cast<float>(f.value));
          largest = std::max(largest, f.index);
        }
        d.labels.push_back(s.label > 0 ? 1.0f : 0.0f);
      });
  d.num_features =
      num_features > 0 ? num_features : static_cast<std::size_t>(largest);
  d.num_classes = 2;
  d.sparse.resize(static_cast<std::int64_t>(d.num_features),
                  static_cast<std::int64_t>(d.labels.size()));
  d.sparse.setFromTriplets(entries.begin(), entries.end());
  d.sparse.makeCompressed();
  return d;
}

regression_data load_libsvm_regression(const std::string& path,
                                       std::size_t num_features) {
  using triplet = Eigen::Triplet<double, std::int64_t>;
  regression_data d;
  std::vector<triplet> entries;
  std::int64_t largest = 0;
  read_libsvm(path, libsvm_labels::real, num_features,
              [&](const libsvm_line& s) {
                auto row = static_cast<std::int64_t>(d.y.size());
                for (const auto& f : s.features) {
                  entries.emplace_back(row, f.index - 1, f.value);
                  largest = std::max(largest, f.index);
                }
                d.y.push_back(s.label);
              });
  auto features =
      num_features > 0 ? num_features : static_cast<std::size_t>(largest);
  d.x.resize(static_cast<std::int64_t>(d.y.size()),
             static_cast<std::int64_t>(features));
  d.x.setFromTriplets(entries.begin(), entries.end());
  d.x.makeCompressed();
  return d;
}

} // namespace metronome::algorithms

#include "algorithms/data/libsvm_loader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace metronome::algorithms {

namespace {

using triplet = Eigen::Triplet<float, std::int64_t>;

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

class line_parser {
public:
  line_parser(const std::string& path, std::size_t line_no,
              std::string_view line, std::size_t num_features)
      : path_(path)
      , line_no_(line_no)
      , line_(line)
      , num_features_(num_features) {}

  /// Parses one non-empty line; appends its features to `out` as column
  /// `col` and returns the class (0 or 1).
  float parse(std::int64_t col, std::vector<triplet>& out,
              std::int64_t& largest) {
    std::size_t pos = 0;
    std::string_view tok = next_token(pos);
    std::size_t tok_col = pos - tok.size();
    double label = 0;
    if (!parse_double(tok, label) ||
        (label != 1.0 && label != -1.0 && label != 0.0))
      throw error(tok_col,
                  fmt::format("bad label '{}' (expected +1, 1, -1 or 0)", tok));
    seen_.clear();
    for (tok = next_token(pos); !tok.empty(); tok = next_token(pos)) {
      tok_col = pos - tok.size();
      std::size_t colon = tok.find(':');
      if (colon == std::string_view::npos)
        throw error(tok_col,
                    fmt::format("missing ':' in feature '{}' (expected "
                                "index:value)",
                                tok));
      std::string_view index_text = tok.substr(0, colon);
      std::string_view value_text = tok.substr(colon + 1);
      std::int64_t index = 0;
      if (!parse_index(index_text, index))
        throw error(tok_col,
                    fmt::format("bad feature index '{}' (expected a positive "
                                "integer)",
                                index_text));
      if (index <= 0)
        throw error(
            tok_col,
            fmt::format("feature index must be positive, got {}", index));
      if (num_features_ > 0 &&
          static_cast<std::uint64_t>(index) > num_features_)
        throw error(tok_col,
                    fmt::format("feature index {} exceeds the number of "
                                "features {}",
                                index, num_features_));
      double value = 0;
      if (!parse_double(value_text, value) ||
          std::abs(value) > std::numeric_limits<float>::max())
        throw error(tok_col + colon + 1,
                    fmt::format("bad feature value '{}' (expected a finite "
                                "number)",
                                value_text));
      seen_.emplace_back(index, tok_col);
      out.emplace_back(index - 1, col, static_cast<float>(value));
      largest = std::max(largest, index);
    }
    check_duplicates();
    return label > 0 ? 1.0f : 0.0f;
  }

private:
  std::string_view next_token(std::size_t& pos) const {
    while (pos < line_.size() && is_space(line_[pos]))
      ++pos;
    std::size_t start = pos;
    while (pos < line_.size() && !is_space(line_[pos]))
      ++pos;
    return line_.substr(start, pos - start);
  }

  void check_duplicates() {
    auto not_increasing = [](auto& a, auto& b) { return a.first >= b.first; };
    if (std::adjacent_find(seen_.begin(), seen_.end(), not_increasing) ==
        seen_.end())
      return;
    std::stable_sort(seen_.begin(), seen_.end(),
                     [](auto& a, auto& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < seen_.size(); ++i)
      if (seen_[i].first == seen_[i - 1].first)
        throw error(std::max(seen_[i].second, seen_[i - 1].second),
                    fmt::format("duplicate feature index {}", seen_[i].first));
  }

  load_error error(std::size_t col, const std::string& what) const {
    return load_error(
        fmt::format("{}:{}:{}: {}", path_, line_no_, col + 1, what));
  }

  const std::string& path_;
  std::size_t line_no_;
  std::string_view line_;
  std::size_t num_features_;
  std::vector<std::pair<std::int64_t, std::size_t>> seen_;
};

} // namespace

dataset load_libsvm(const std::string& path, std::size_t num_features) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw load_error(
        fmt::format("{}: cannot open file: {}", path, std::strerror(errno)));
  dataset d;
  std::vector<triplet> entries;
  std::int64_t largest = 0;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    std::string_view text = line;
    text = text.substr(0, text.find('#'));
    if (std::all_of(text.begin(), text.end(), is_space))
      continue;
    line_parser p(path, line_no, text, num_features);
    auto col = static_cast<std::int64_t>(d.labels.size());
    d.labels.push_back(p.parse(col, entries, largest));
  }
  if (in.bad())
    throw load_error(fmt::format("{}:{}: read error: {}", path, line_no + 1,
                                 std::strerror(errno)));
  if (d.labels.empty())
    throw load_error(
        fmt::format("{}:{}:1: no samples in file", path, line_no + 1));
  d.num_features =
      num_features > 0 ? num_features : static_cast<std::size_t>(largest);
  d.num_classes = 2;
  d.sparse.resize(static_cast<std::int64_t>(d.num_features),
                  static_cast<std::int64_t>(d.labels.size()));
  d.sparse.setFromTriplets(entries.begin(), entries.end());
  d.sparse.makeCompressed();
  return d;
}

} // namespace metronome::algorithms

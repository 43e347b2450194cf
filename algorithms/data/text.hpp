#pragma once

#include <cstddef>
#include <string_view>

namespace metronome::algorithms {

/// `s` without leading and trailing blanks (space, tab, CR, LF, VT, FF).
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view blanks = " \t\r\n\v\f";
  auto begin = s.find_first_not_of(blanks);
  if (begin == std::string_view::npos)
    return {};
  return s.substr(begin, s.find_last_not_of(blanks) - begin + 1);
}

/// Whether `c` separates fields on a line: space, tab, CR, VT or FF.
inline bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/// The field of `line` that starts at or after `pos` (blanks skipped), or
/// an empty view at the end; `pos` moves past it.
inline std::string_view next_field(std::string_view line, std::size_t& pos) {
  while (pos < line.size() && is_blank(line[pos]))
    ++pos;
  std::size_t start = pos;
  while (pos < line.size() && !is_blank(line[pos]))
    ++pos;
  return line.substr(start, pos - start);
}

} // namespace metronome::algorithms

#pragma once

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

} // namespace metronome::algorithms

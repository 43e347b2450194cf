#pragma once

// Internal to the figures (plot*.cpp): text measured in characters.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace metronome::launcher::experiment::plot_text {

/// The length of the valid XML character encoded in UTF-8 at s[i], or 0.
std::size_t utf8_length(std::string_view s, std::size_t i);

/// The characters of `s` (UTF-8 lead bytes and stray bytes).
std::size_t columns(std::string_view s);

/// `s` cut to `n` characters, the last one an ellipsis when cut.
std::string shorten(std::string_view s, std::size_t n);

/// `s` broken at spaces into lines of at most `width` characters, at most
/// `max_lines` of them, the last one ending with an ellipsis if cut.
std::vector<std::string> wrap(std::string_view s, std::size_t width,
                              std::size_t max_lines);

} // namespace metronome::launcher::experiment::plot_text

#include "launcher/experiment/plot_text.hpp"
#include "launcher/experiment/plot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace metronome::launcher::experiment {

namespace plot_text {

std::size_t utf8_length(std::string_view s, std::size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = c < 0x80           ? 1
                  : (c >> 5) == 0x6  ? 2
                  : (c >> 4) == 0xE  ? 3
                  : (c >> 3) == 0x1E ? 4
                                     : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  char32_t cp = n == 1 ? c : c & (0x7F >> n);
  for (std::size_t k = 1; k < n; ++k) {
    auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80)
      return 0;
    cp = cp << 6 | (b & 0x3F);
  }
  static constexpr char32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
  bool control = cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r';
  bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
  if (control || surrogate || cp < least[n] || cp > 0x10FFFF || cp == 0xFFFE ||
      cp == 0xFFFF)
    return 0;
  return n;
}

std::size_t columns(std::string_view s) {
  return std::count_if(s.begin(), s.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  });
}

namespace {

// The first `n` characters of `s` (bytes of a broken sequence count each).
std::string head(std::string_view s, std::size_t n) {
  std::size_t i = 0;
  for (std::size_t seen = 0; i < s.size(); ++i) {
    bool lead = (static_cast<unsigned char>(s[i]) & 0xC0) != 0x80;
    if (lead && seen++ == n)
      break;
  }
  return std::string(s.substr(0, i));
}

// Splits `word` into pieces of at most `width` characters.
void split_word(std::string_view word, std::size_t width,
                std::vector<std::string>& pieces) {
  while (columns(word) > width) {
    std::string piece = head(word, width);
    pieces.push_back(piece);
    word.remove_prefix(piece.size());
  }
  if (!word.empty())
    pieces.emplace_back(word);
}

} // namespace

std::string shorten(std::string_view s, std::size_t n) {
  if (columns(s) <= n)
    return std::string(s);
  return head(s, n > 0 ? n - 1 : 0) + "\u2026";
}

std::vector<std::string> wrap(std::string_view s, std::size_t width,
                              std::size_t max_lines) {
  width = std::max<std::size_t>(width, 4);
  std::vector<std::string> words, lines;
  for (std::size_t i = 0; i < s.size();) {
    std::size_t j = std::min(s.find(' ', i), s.size());
    split_word(s.substr(i, j - i), width, words);
    i = j + 1;
  }
  for (const auto& w : words) {
    if (!lines.empty() && columns(lines.back()) + 1 + columns(w) <= width)
      lines.back() += " " + w;
    else
      lines.push_back(w);
  }
  if (lines.size() > max_lines) {
    lines.resize(max_lines);
    lines.back() = shorten(lines.back() + "\u2026", width);
  }
  return lines;
}

} // namespace plot_text

std::string compact_number(double value, int digits) {
  if (std::isnan(value))
    return "nan";
  if (std::isinf(value))
    return value > 0 ? "inf" : "-inf";
  if (value == 0)
    return "0";
  std::string s = fmt::format("{:.{}g}", value, std::max(digits, 1));
  auto e = s.find('e');
  if (e == std::string::npos)
    return s;
  std::string mantissa = s.substr(0, e);
  bool negative = s[e + 1] == '-';
  std::string exponent = s.substr(e + 2);
  exponent.erase(
      0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
  return mantissa + (negative ? "e-" : "e") + exponent;
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = plot_text::utf8_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD"; // U+FFFD
      ++i;
      continue;
    }
    switch (text[i]) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    case '\'':
      out += "&apos;";
      break;
    default:
      out.append(text.substr(i, n));
    }
    i += n;
  }
  return out;
}

} // namespace metronome::launcher::experiment

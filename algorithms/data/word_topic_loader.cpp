#include "algorithms/data/word_topic_loader.hpp"

#include "algorithms/data/input_file.hpp"
#include "algorithms/data/text.hpp"

#include <fmt/format.h>

#include <charconv>
#include <limits>
#include <numeric>

namespace metronome::algorithms {

namespace {

// The whole number `field` (below `bound`), or a located error naming it.
std::uint64_t parse_below(const line_reader& r, std::string_view field,
                          const char* what, std::uint64_t bound) {
  std::uint64_t v = 0;
  auto [end, ec] =
      std::from_chars(field.data(), field.data() + field.size(), v);
  if (ec != std::errc() || end != field.data() + field.size() || v >= bound)
    throw r.error(fmt::format("{} {} is not a whole number below {}", what,
                              quoted_excerpt(field), bound));
  return v;
}

} // namespace

lda::word_topic_rows load_word_topic_counts(const std::string& path,
                                            std::size_t vocabulary,
                                            std::size_t topics) {
  std::vector<std::uint32_t> words(vocabulary);
  std::iota(words.begin(), words.end(), 0u);
  lda::word_topic_rows rows(words, topics);
  std::vector<bool> seen(vocabulary, false);
  // A line holds at most a word and `topics` entries of two 10-digit
  // numbers.
  line_reader r(path, 32 + topics * 24);
  const std::uint64_t most = std::numeric_limits<std::int32_t>::max();
  for (std::string_view line; r.next(line);) {
    std::size_t pos = 0;
    auto first = next_field(line, pos);
    if (first.empty())
      continue;
    auto word = parse_below(r, first, "word", vocabulary);
    if (seen[word])
      throw r.error(fmt::format("word {} has a second line", word));
    seen[word] = true;
    std::int32_t* row = rows.row(word);
    for (auto entry = next_field(line, pos); !entry.empty();
         entry = next_field(line, pos)) {
      auto colon = entry.find(':');
      if (colon == std::string_view::npos)
        throw r.error(
            fmt::format("{} is not TOPIC:COUNT", quoted_excerpt(entry)));
      auto k = parse_below(r, entry.substr(0, colon), "topic", topics);
      auto n = parse_below(r, entry.substr(colon + 1), "count", most + 1);
      if (row[k] != 0)
        throw r.error(
            fmt::format("topic {} of word {} appears twice", k, word));
      row[k] = static_cast<std::int32_t>(n);
    }
  }
  return rows;
}

} // namespace metronome::algorithms

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metronome::algorithms::lda {

/// A bag-of-words corpus: every document as the word ids of its tokens.
struct corpus {
  std::vector<std::string> vocabulary; ///< word id -> word
  /// Document d's tokens are words[offsets[d], offsets[d + 1]).
  std::vector<std::size_t> offsets{0};
  std::vector<std::uint32_t> words; ///< the word id of every token

  std::size_t documents() const { return offsets.size() - 1; }
  std::size_t tokens() const { return words.size(); }
  std::size_t length(std::size_t d) const {
    return offsets[d + 1] - offsets[d];
  }
};

} // namespace metronome::algorithms::lda

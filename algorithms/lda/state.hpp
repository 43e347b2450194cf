#pragma once

#include "algorithms/lda/lda.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

/// The internals of a document_shard that the samplers share (private to
/// algorithms/lda).
namespace metronome::algorithms::lda {

/// A token of a block: its index in the shard and its local document.
struct token_ref {
  std::uint32_t token;
  std::uint32_t doc;
};

/// A block's tokens grouped by word: word i's are tokens[starts[i],
/// starts[i + 1]), in shard order.
struct block_tokens {
  std::vector<std::uint32_t> words;
  std::vector<std::uint32_t> starts{0};
  std::vector<token_ref> tokens;
};

/// Throws std::invalid_argument unless 1 <= topics <= 65535, alpha and beta
/// are positive and finite, and vocabulary is at least 1.
void check_hyper(const hyper& h);

/// Throws std::logic_error: a count would go negative.
[[noreturn]] void negative_count();

inline void decrement(std::int32_t& c) {
  if (c <= 0)
    negative_count();
  --c;
}

inline void decrement(std::int64_t& c) {
  if (c <= 0)
    negative_count();
  --c;
}

struct document_shard::state {
  std::size_t topics = 0;
  double alpha = 0;
  std::vector<std::size_t> offsets{0}; ///< local documents' token ranges
  std::vector<std::uint32_t> words;    ///< word of each token
  std::vector<std::uint16_t> z;        ///< topic of each token
  std::vector<std::int32_t> n_dk;      ///< documents x topics
  /// Each document's topics with n_dk > 0, unordered: nz[nz_begin[d],
  /// nz_begin[d] + nz_size[d]), room for min(K, n_d).
  std::vector<std::size_t> nz_begin{0};
  std::vector<std::uint32_t> nz_size;
  std::vector<std::uint16_t> nz;
  std::vector<block_tokens> blocks;

  std::int32_t* doc_row(std::size_t d) { return n_dk.data() + d * topics; }
  const std::uint16_t* doc_nonzeros(std::size_t d) const {
    return nz.data() + nz_begin[d];
  }

  /// n_dk -= 1, keeping the non-zero list.
  void remove(std::uint32_t d, std::uint16_t k) {
    std::int32_t& c = doc_row(d)[k];
    decrement(c);
    if (c == 0) {
      std::uint16_t* list = nz.data() + nz_begin[d];
      std::uint32_t last = --nz_size[d];
      std::uint32_t i = 0;
      while (list[i] != k)
        ++i;
      list[i] = list[last];
    }
  }

  /// n_dk += 1, keeping the non-zero list.
  void add(std::uint32_t d, std::uint16_t k) {
    std::int32_t& c = doc_row(d)[k];
    if (c++ == 0)
      nz[nz_begin[d] + nz_size[d]++] = k;
  }
};

} // namespace metronome::algorithms::lda

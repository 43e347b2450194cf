#pragma once

#include "algorithms/lda/corpus.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metronome::algorithms::lda {

/// A synthetic corpus sampled from known topics (LDA's generative model).
struct generator_spec {
  std::size_t topics = 10;
  std::size_t vocabulary = 1000;
  std::size_t documents = 1000;
  double mean_length = 100; ///< document lengths are 1 + Poisson(mean - 1)
  double alpha = 0.1;       ///< Dirichlet prior of each document's mixture
  double beta = 0.01;       ///< Dirichlet prior of each topic
  std::uint64_t seed = 1;
};

/// Generates a corpus from `spec` and stores the true topics (topics rows
/// of vocabulary probabilities) in `topics`. Words are named w0, w1, ...
/// Draws come from std::mt19937_64 with portable helpers, so a seed gives
/// the same corpus with every standard library. Throws
/// std::invalid_argument for a spec out of range (zero sizes, priors not
/// positive and finite, more than 2^28 tokens expected).
corpus generate(const generator_spec& spec,
                std::vector<std::vector<double>>& topics);

/// The mean cosine similarity between the topics of `estimated` and those
/// of `truth` (rows of word probabilities, same vocabulary), each true topic
/// matched to a distinct estimated one greedily by best similarity (a
/// true topic left without one counts 0). Throws std::invalid_argument
/// when truth is empty or the rows differ in length.
double matched_topic_cosine(const std::vector<std::vector<double>>& estimated,
                            const std::vector<std::vector<double>>& truth);

} // namespace metronome::algorithms::lda

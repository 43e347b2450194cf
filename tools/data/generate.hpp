#pragma once

#include "algorithms/lasso/generator.hpp"
#include "algorithms/lda/generator.hpp"

#include <cstddef>
#include <string>

namespace metronome::tools {

/// What `metronome data lasso` writes.
struct lasso_data_options {
  algorithms::lasso::generator_spec spec;
  std::string out; ///< the LIBSVM file; the truth goes to OUT.truth
};

/// Writes a generated Lasso problem and its true coefficients (one per
/// line, %.17g); returns the exit code (2 on bad settings or paths).
int run_lasso_data(const lasso_data_options& options);

/// What `metronome data lda` writes.
struct lda_data_options {
  algorithms::lda::generator_spec spec;
  std::string docword; ///< the UCI docword file
  std::string vocab;   ///< its vocabulary file
  std::string topics;  ///< the true topics; empty means DOCWORD.topics
};

/// The most topics x vocabulary entries `data lda` keeps for the truth
/// (8 bytes each).
constexpr std::size_t lda_data_max_topic_entries = std::size_t{1} << 27;

/// Writes a generated LDA corpus in the UCI bag-of-words format (see
/// write_docword) and its true topics, one line per topic: the topic index
/// (from 0), then its 20 most probable words as word:probability, most
/// probable first, separated by spaces. Prints a JSON summary on stdout;
/// returns the exit code (2 on bad settings or unwritable paths, checked
/// before generating when possible).
int run_lda_data(const lda_data_options& options);

} // namespace metronome::tools

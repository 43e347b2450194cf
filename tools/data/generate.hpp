#pragma once

#include "algorithms/lasso/generator.hpp"

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

} // namespace metronome::tools

#pragma once

#include "algorithms/data/libsvm_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace metronome::algorithms::lasso {

/// A synthetic Lasso problem with a known sparse truth and correlated
/// features.
struct generator_spec {
  std::size_t samples = 1000;
  std::size_t features = 10000;
  /// Stored entries per row; 0 means dense rows (every feature).
  std::size_t nonzeros_per_row = 0;
  /// Consecutive columns sharing one latent factor per row (the last block
  /// may be shorter).
  std::size_t block_size = 10;
  /// Correlation between two columns of the same block, in [0, 1).
  double correlation = 0.0;
  /// Non-zero coefficients of the truth.
  std::size_t true_nonzeros = 20;
  /// Standard deviation of the Gaussian noise added to y.
  double noise = 0.1;
  std::uint64_t seed = 1;
};

/// The most entries a generated problem stores (samples x entries per row):
/// 2^26, about 4 GiB while it is built and written.
constexpr std::size_t generator_max_entries = std::size_t{1} << 26;

/// The most entries a generated row stores (2^20), so that its LIBSVM line
/// stays well below libsvm_max_line.
constexpr std::size_t generator_max_row_entries = std::size_t{1} << 20;

/// Generates a problem and stores its truth b* in `truth` (features values,
/// true_nonzeros of them non-zero: a random sign times a magnitude uniform
/// in [1, 2), on uniformly chosen features). Entry x_ij = sqrt(c) z_ib +
/// sqrt(1 - c) e_ij, with z_ib the latent factor of row i and j's block b,
/// e_ij independent, both standard normal, so columns have mean 0, variance
/// 1 and within-block correlation c (across blocks 0). Sparse rows
/// (nonzeros_per_row > 0) hold whole blocks chosen uniformly without
/// replacement, the last one cut short to make exactly nonzeros_per_row
/// entries, which keeps the within-block correlation at c when
/// nonzeros_per_row is a multiple of block_size. y = X b* + noise * e_i.
/// Draws come from std::mt19937_64 with the portable helpers of
/// algorithms/random.hpp (normals by Box-Muller). Throws
/// std::invalid_argument for a spec out of range: more features than
/// libsvm_max_features, or more entries than generator_max_row_entries per
/// row or generator_max_entries in all.
regression_data generate(const generator_spec& spec,
                         std::vector<double>& truth);

/// Writes `d` as a LIBSVM file (`target index:value ...`, 1-based indices,
/// values as %.17g so that load_libsvm_regression reads back the same
/// doubles; give it d.features() to keep trailing empty columns). Throws
/// load_error naming `path` when the file cannot be written.
void write_libsvm(const regression_data& d, const std::string& path);

} // namespace metronome::algorithms::lasso

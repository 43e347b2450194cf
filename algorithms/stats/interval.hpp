#pragma once

#include <cstddef>
#include <vector>

namespace metronome::algorithms {

/// The q-quantile of Student's t distribution with `df` degrees of freedom
/// (df >= 1, 0 < q < 1), to about 1e-10 relative.
double student_t_quantile(double q, double df);

/// A sample's mean with its two-sided confidence interval.
struct mean_interval {
  std::size_t n = 0;
  double mean = 0;
  double low = 0;  ///< NaN when n < 2
  double high = 0; ///< NaN when n < 2
};

/// The mean of `values` and the Student t interval at `confidence` (0.95:
/// mean ± t(0.975, n − 1) × s / √n, s the sample standard deviation).
/// Empty input gives n = 0 and NaN everywhere.
mean_interval t_interval(const std::vector<double>& values,
                         double confidence = 0.95);

} // namespace metronome::algorithms

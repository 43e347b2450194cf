#pragma once

#include "algorithms/data/libsvm_loader.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace metronome::algorithms {

/// Pearson correlation between whole columns of a regression problem,
/// computed per pair on the fly from the sparse columns (a sorted merge,
/// O(nnz_j + nnz_k)) with each column's mean and centred norm cached. Keeps a
/// reference to the data, which must outlive it.
class column_correlation {
public:
  /// Caches the means and centred norms of the columns of `d.x`.
  explicit column_correlation(const regression_data& d);

  /// The correlation of columns `j` and `k`, in [-1, 1]; 0 when either is
  /// constant (every row the same value, zeros included), even for j == k.
  double operator()(std::uint64_t j, std::uint64_t k) const;

  /// The number of columns.
  std::size_t features() const { return mean_.size(); }

private:
  const regression_data& d_;
  std::vector<double> mean_;
  std::vector<double> norm_; ///< sqrt(sum_i (x_ij - mean_j)^2); 0: constant
  /// Pairs computed so far (priority rounds keep meeting the same few
  /// coordinates), bounded by max_cached.
  mutable std::unordered_map<std::uint64_t, double> cache_;
  static constexpr std::size_t max_cached = 1u << 22;
};

/// How a coordinate scheduler chooses the coordinates of a round.
struct schedule_settings {
  /// One of schedule_kinds(): cyclic, random or priority.
  std::string kind = "priority";
  /// The most coordinates in one round.
  std::size_t schedule_size = 32;
  /// priority: kept coordinates correlate below this in absolute value.
  double rho = 0.1;
  /// priority: the uniform part of a weight, as a fraction of the mean
  /// non-zero weight.
  double eta = 0.01;
  /// priority: a coordinate's weight is |its last change|^exponent. 2 (the
  /// STRADS paper's square) took 1.5-2x fewer updates than 1 to reach the
  /// gap at schedule_size 32 on correlated p >> n problems
  /// (ScheduleMeasure in tests/algorithms/schedule).
  double exponent = 2.0;
  /// priority: uniform sweeps over every coordinate before weights count.
  std::size_t warmup_sweeps = 3;
  /// Seeds the scheduler's own generator (std::mt19937_64).
  std::uint64_t seed = 1;
  /// priority: candidates sampled per round, as a multiple of
  /// schedule_size, before the dependency check keeps at most
  /// schedule_size of them.
  std::size_t pool_factor = 2;
};

/// Chooses the coordinates of each round of scheduled coordinate descent
/// (STRADS' `schedule` step) and learns from the changes committed.
class coordinate_scheduler {
public:
  virtual ~coordinate_scheduler() = default;
  /// The coordinates of the next round, at most schedule_size, distinct,
  /// none of `busy` (coordinates of rounds still in flight; priority's
  /// dependency check also keeps the round uncorrelated with them).
  virtual std::vector<std::uint64_t>
  next(const std::vector<std::uint64_t>& busy) = 0;
  /// Changes committed for `keys`.
  virtual void observe(const std::uint64_t* keys, const double* deltas,
                       std::size_t n) = 0;
  /// Candidates the dependency check refused in the last next().
  virtual std::uint64_t rejected() const { return 0; }
};

/// The scheduler kinds make_scheduler knows, in the order error messages
/// list them: cyclic, random, priority.
const std::vector<std::string>& schedule_kinds();

/// A scheduler over coordinates 0..features-1:
/// - `cyclic`: coordinates in order, schedule_size at a time, wrapping;
///   busy ones are skipped until the next pass.
/// - `random` (Shotgun): schedule_size drawn uniformly without replacement,
///   no dependency check.
/// - `priority` (STRADS): `warmup_sweeps` sweeps over uniformly shuffled
///   coordinates, then pool_factor * schedule_size candidates drawn without
///   replacement with probability proportional to |delta_j|^exponent + eta'
///   (eta' = eta * the mean of the non-zero weights; uniform while every
///   weight is 0); candidates, in decreasing weight (ties in draw order;
///   during warm-up in sweep order), are kept only while their absolute
///   correlation with every kept one is below rho, until schedule_size are
///   kept. Warm-up candidates not kept stay in their sweep. `correlation`
///   null means no dependency check.
/// Draws use std::mt19937_64 and the helpers of algorithms/random.hpp, so a
/// seed gives the same rounds on every platform. Throws
/// std::invalid_argument for an unknown kind (naming the valid ones), a
/// schedule_size of 0, no features, a correlation over another number of
/// features, or a priority setting out of range (rho <= 0, eta < 0,
/// exponent <= 0, pool_factor 0).
std::unique_ptr<coordinate_scheduler>
make_scheduler(const schedule_settings& s, std::size_t features,
               const column_correlation* correlation);

} // namespace metronome::algorithms

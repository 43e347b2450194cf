#pragma once

#include "algorithms/sgd/models.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace metronome::algorithms {

/// `sum[i] += g[i]` for `n` floats: the one aggregation step servers and the
/// sequential reference share, so both add in the same order.
void accumulate(float* sum, const float* g, std::size_t n);

/// `w[i] -= lr * (sum[i] / count)` for `n` floats: the plain SGD update with
/// the mean of `count` aggregated gradients.
void apply_sgd(float* w, const float* sum, std::size_t count, float lr,
               std::size_t n);

/// `w[i] += delta[i]` for `n` floats.
void apply_delta(float* w, const float* delta, std::size_t n);

/// Settings of a sequential reference run of data-parallel SGD.
struct sequential_sgd_options {
  std::size_t workers = 1;
  std::size_t batch_size = 32; ///< per worker
  float learning_rate = 0.1f;
  std::uint64_t iterations = 1;
  std::uint64_t seed = 1;
  /// A cutoff run's record: when not empty, iteration t aggregates only the
  /// gradients of the workers in accepted[t] (in rank order) and divides
  /// their sum by their number, or by `workers` with `linear_scaling`.
  std::vector<std::vector<std::size_t>> accepted;
  bool linear_scaling = false;
  /// From iteration `rate_from` on, the step uses `later_rate` (a rate
  /// changed while a job ran).
  std::uint64_t rate_from = UINT64_MAX;
  float later_rate = 0.1f;
  /// When set, called after every iteration with the number of iterations
  /// done and the parameters after it (a benchmark evaluating as it goes).
  std::function<void(std::uint64_t, const std::vector<float>&)> after_iteration;
};

/// Sequential mini-batch SGD that computes, for each iteration t, the
/// gradient of every worker's batch minibatch(data_shard(n, k, r), ..., t) in
/// rank order, accumulates them in rank order, and applies apply_sgd: the
/// exact arithmetic a BSP run with `workers` workers must reproduce.
/// Starts from m.initialize(seed) and returns the final parameters.
std::vector<float> sequential_sgd(const model& m, const dataset& d,
                                  const sequential_sgd_options& opts);

} // namespace metronome::algorithms

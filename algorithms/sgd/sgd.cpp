#include "algorithms/sgd/sgd.hpp"

#include "algorithms/sgd/minibatch.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace metronome::algorithms {

void accumulate(float* sum, const float* g, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    sum[i] += g[i];
}

void apply_sgd(float* w, const float* sum, std::size_t count, float lr,
               std::size_t n) {
  float c = static_cast<float>(count);
  for (std::size_t i = 0; i < n; ++i)
    w[i] -= lr * (sum[i] / c);
}

void apply_delta(float* w, const float* delta, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i)
    w[i] += delta[i];
}

std::vector<float> sequential_sgd(const model& m, const dataset& d,
                                  const sequential_sgd_options& opts) {
  if (opts.workers == 0)
    throw std::invalid_argument("sequential_sgd: workers must be positive");
  std::size_t p = m.num_parameters();
  std::vector<float> w(p);
  m.initialize(w.data(), opts.seed);
  std::vector<float> sum(p);
  std::vector<float> grad(p);
  if (!opts.accepted.empty() && opts.accepted.size() < opts.iterations)
    throw std::invalid_argument("sequential_sgd: fewer accepted sets than "
                                "iterations");
  std::vector<std::size_t> everyone(opts.workers);
  for (std::size_t r = 0; r < opts.workers; ++r)
    everyone[r] = r;
  for (std::uint64_t t = 0; t < opts.iterations; ++t) {
    auto ranks = opts.accepted.empty() ? everyone : opts.accepted[t];
    std::sort(ranks.begin(), ranks.end());
    for (std::size_t i = 0; i < ranks.size(); ++i) {
      if (ranks[i] >= opts.workers)
        throw std::invalid_argument("sequential_sgd: accepted rank " +
                                    std::to_string(ranks[i]) + " out of range");
      shard_range shard = data_shard(d.num_samples(), opts.workers, ranks[i]);
      auto batch = minibatch(shard, opts.batch_size, opts.seed, t);
      float* out = i == 0 ? sum.data() : grad.data();
      m.loss_and_gradient(w.data(), d, batch, out);
      if (i > 0)
        accumulate(sum.data(), grad.data(), p);
    }
    if (!ranks.empty()) {
      auto count = opts.linear_scaling ? opts.workers : ranks.size();
      auto rate = t >= opts.rate_from ? opts.later_rate : opts.learning_rate;
      apply_sgd(w.data(), sum.data(), count, rate, p);
    }
    if (opts.after_iteration)
      opts.after_iteration(t + 1, w);
  }
  return w;
}

} // namespace metronome::algorithms

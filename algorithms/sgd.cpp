#include "algorithms/sgd.hpp"

#include "algorithms/minibatch.hpp"

#include <stdexcept>

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
  for (std::uint64_t t = 0; t < opts.iterations; ++t) {
    for (std::size_t r = 0; r < opts.workers; ++r) {
      shard_range shard = data_shard(d.num_samples(), opts.workers, r);
      auto batch = minibatch(shard, opts.batch_size, opts.seed, t);
      float* out = r == 0 ? sum.data() : grad.data();
      m.loss_and_gradient(w.data(), d, batch, out);
      if (r > 0)
        accumulate(sum.data(), grad.data(), p);
    }
    apply_sgd(w.data(), sum.data(), opts.workers, opts.learning_rate, p);
  }
  return w;
}

} // namespace metronome::algorithms

#include "algorithms/lda/generator.hpp"
#include "algorithms/data/docword_loader.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>

namespace metronome::algorithms::lda {

namespace {

// Portable draws on top of uniform_open: a Box-Muller normal, a
// Marsaglia-Tsang gamma, Dirichlet vectors and a Poisson count.
class draws {
public:
  explicit draws(std::uint64_t seed)
      : normal_(seed)
      , gen_(normal_.engine()) {}

  std::mt19937_64& engine() { return gen_; }

  double normal() { return normal_(); }

  // log Gamma(shape, 1), in logs so tiny shapes do not underflow.
  double log_gamma_variate(double shape) {
    if (shape < 1)
      return log_gamma_variate(shape + 1) +
             std::log(uniform_open(gen_)) / shape;
    double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    for (;;) {
      double x = normal(), v = 1 + c * x;
      if (v <= 0)
        continue;
      v = v * v * v;
      double u = uniform_open(gen_);
      if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v))
        return std::log(d * v);
    }
  }

  std::vector<double> dirichlet(std::size_t n, double concentration) {
    std::vector<double> p(n);
    double top = -HUGE_VAL, sum = 0;
    for (double& x : p)
      top = std::max(top, x = log_gamma_variate(concentration));
    for (double& x : p)
      sum += x = std::exp(x - top);
    for (double& x : p)
      x /= sum;
    return p;
  }

  std::uint64_t poisson(double mean) {
    if (mean <= 0)
      return 0;
    if (mean < 30)
      return knuth(mean);
    return ptrs(mean);
  }

private:
  std::uint64_t knuth(double mean) {
    double limit = std::exp(-mean), p = 1;
    std::uint64_t k = 0;
    while ((p *= uniform_open(gen_)) > limit)
      ++k;
    return k;
  }

  // Hormann's transformed rejection with squeeze (PTRS), for means >= 10.
  std::uint64_t ptrs(double mean) {
    double slam = std::sqrt(mean), loglam = std::log(mean);
    double b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
    double inv_alpha = 1.1239 + 1.1328 / (b - 3.4);
    double vr = 0.9277 - 3.6224 / (b - 2);
    for (;;) {
      double u = uniform_open(gen_) - 0.5, v = uniform_open(gen_);
      double us = 0.5 - std::abs(u);
      double k = std::floor((2 * a / us + b) * u + mean + 0.43);
      if (us >= 0.07 && v <= vr)
        return static_cast<std::uint64_t>(k);
      if (k < 0 || (us < 0.013 && v > us))
        continue;
      if (std::log(v) + std::log(inv_alpha) - std::log(a / (us * us) + b) <=
          -mean + k * loglam - std::lgamma(k + 1))
        return static_cast<std::uint64_t>(k);
    }
  }

  normal_source normal_;
  std::mt19937_64& gen_;
};

void validate(const generator_spec& s) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("lda generator: " + what);
  };
  if (s.topics == 0 || s.topics > 65535)
    fail(fmt::format("topics must be in [1, 65535], got {}", s.topics));
  if (s.vocabulary == 0 || s.vocabulary > (std::size_t{1} << 32))
    fail(fmt::format("vocabulary must be in [1, 2^32], got {}", s.vocabulary));
  if (s.documents == 0)
    fail("documents must be at least 1");
  if (!(s.mean_length >= 1) || !std::isfinite(s.mean_length))
    fail(fmt::format("mean_length must be at least 1, got {}", s.mean_length));
  if (!(s.alpha > 0) || !std::isfinite(s.alpha))
    fail(fmt::format("alpha must be positive and finite, got {}", s.alpha));
  if (!(s.beta > 0) || !std::isfinite(s.beta))
    fail(fmt::format("beta must be positive and finite, got {}", s.beta));
  if (static_cast<double>(s.documents) * s.mean_length >
      static_cast<double>(docword_max_tokens))
    fail(fmt::format("documents x mean_length = {} tokens exceeds 2^28, the "
                     "most a docword file may hold",
                     static_cast<double>(s.documents) * s.mean_length));
}

std::size_t draw_index(const std::vector<double>& cdf, double u) {
  auto i =
      std::upper_bound(cdf.begin(), cdf.end(), u * cdf.back()) - cdf.begin();
  return std::min<std::size_t>(static_cast<std::size_t>(i), cdf.size() - 1);
}

std::vector<double> cumulative(const std::vector<double>& p) {
  std::vector<double> cdf(p.size());
  double sum = 0;
  for (std::size_t i = 0; i < p.size(); ++i)
    cdf[i] = sum += p[i];
  return cdf;
}

} // namespace

corpus generate(const generator_spec& spec,
                std::vector<std::vector<double>>& topics) {
  validate(spec);
  draws rng(spec.seed);
  topics.clear();
  std::vector<std::vector<double>> topic_cdf;
  for (std::size_t k = 0; k < spec.topics; ++k) {
    topics.push_back(rng.dirichlet(spec.vocabulary, spec.beta));
    topic_cdf.push_back(cumulative(topics.back()));
  }
  corpus c;
  for (std::size_t w = 0; w < spec.vocabulary; ++w)
    c.vocabulary.push_back("w" + std::to_string(w));
  c.words.reserve(static_cast<std::size_t>(static_cast<double>(spec.documents) *
                                           spec.mean_length));
  for (std::size_t d = 0; d < spec.documents; ++d) {
    std::vector<double> mix =
        cumulative(rng.dirichlet(spec.topics, spec.alpha));
    std::uint64_t n = 1 + rng.poisson(spec.mean_length - 1);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::size_t k = draw_index(mix, uniform_open(rng.engine()));
      c.words.push_back(static_cast<std::uint32_t>(
          draw_index(topic_cdf[k], uniform_open(rng.engine()))));
    }
    c.offsets.push_back(c.words.size());
  }
  return c;
}

double matched_topic_cosine(const std::vector<std::vector<double>>& estimated,
                            const std::vector<std::vector<double>>& truth) {
  if (truth.empty())
    throw std::invalid_argument("matched_topic_cosine: no true topics");
  std::size_t v = truth.front().size();
  for (const auto* set : {&estimated, &truth})
    for (const std::vector<double>& t : *set)
      if (t.size() != v)
        throw std::invalid_argument(
            "matched_topic_cosine: topics over different vocabularies");
  auto norm = [](const std::vector<double>& a) {
    double s = 0;
    for (double x : a)
      s += x * x;
    return std::sqrt(s);
  };
  std::vector<double> norms_true, norms_est;
  for (const std::vector<double>& t : truth)
    norms_true.push_back(norm(t));
  for (const std::vector<double>& t : estimated)
    norms_est.push_back(norm(t));
  std::vector<std::vector<double>> cos(truth.size(),
                                       std::vector<double>(estimated.size()));
  for (std::size_t i = 0; i < truth.size(); ++i)
    for (std::size_t j = 0; j < estimated.size(); ++j) {
      double dot = 0;
      for (std::size_t w = 0; w < v; ++w)
        dot += truth[i][w] * estimated[j][w];
      double n = norms_true[i] * norms_est[j];
      cos[i][j] = n > 0 ? dot / n : 0;
    }
  std::vector<bool> used_true(truth.size()), used_est(estimated.size());
  double sum = 0;
  for (std::size_t m = 0; m < std::min(truth.size(), estimated.size()); ++m) {
    std::size_t bi = 0, bj = 0;
    double best = -HUGE_VAL;
    for (std::size_t i = 0; i < truth.size(); ++i)
      for (std::size_t j = 0; j < estimated.size(); ++j)
        if (!used_true[i] && !used_est[j] && cos[i][j] > best)
          best = cos[i][j], bi = i, bj = j;
    used_true[bi] = used_est[bj] = true;
    sum += best;
  }
  return sum / static_cast<double>(truth.size());
}

} // namespace metronome::algorithms::lda

#include "tools/bench/cutoffs.hpp"

#include "actors/core/job_records.hpp"
#include "algorithms/cutoff/bdsgd.hpp"
#include "algorithms/cutoff/cutoff.hpp"
#include "algorithms/cutoff/dmm.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <stdexcept>

namespace metronome::tools {

namespace {

using matrix = std::vector<std::vector<double>>;

// The regime scenario's settings, shared by its generator and the informed
// rule.
constexpr std::size_t regime_groups = 4;
constexpr double regime_factor = 4;
constexpr double compute_seconds = 0.02;

// True run-times of `iterations` iterations: 20 ms of compute plus the
// scenario's emulated delay.
matrix synthetic(const cutoff_bench_options& o, std::size_t iterations) {
  algorithms::straggler_spec spec;
  if (o.scenario == "regime") {
    spec.model = "regime";
    spec.groups = regime_groups;
    spec.p_slow = o.p_slow;
    spec.p_recover = o.p_recover;
    spec.factor = regime_factor;
    spec.mu = -5;
    spec.sigma = 0.5;
    spec.own_share = 1;
  } else if (o.scenario == "groups") {
    spec.model = "groups";
    spec.groups = 2;
    spec.mu = -4.5;
    spec.sigma = 0.8;
    spec.own_share = 0.6;
  } else {
    throw std::invalid_argument("unknown scenario '" + o.scenario +
                                "' (valid: regime, groups)");
  }
  auto model = algorithms::make_straggler_model({spec}, o.workers, o.seed);
  matrix out(iterations, std::vector<double>(o.workers));
  for (std::size_t t = 0; t < iterations; ++t)
    for (std::size_t w = 0; w < o.workers; ++w)
      out[t][w] = compute_seconds + model->delay(w, t, compute_seconds);
  return out;
}

matrix recorded(const std::string& path, std::size_t& workers) {
  auto obs = algorithms::observations_from_trace(algorithms::read_trace(path));
  matrix out;
  for (const auto& o : obs) {
    for (auto c : o.censored)
      if (c)
        throw std::invalid_argument(
            path + ": censored run-times; the replay needs the true ones "
                   "(record the trace with rule full)");
    out.push_back(o.seconds);
  }
  workers = out.empty() ? 0 : out.front().size();
  return out;
}

struct row {
  std::string name;
  algorithms::replay_result result;
  double mean_cutoff = 0;
  double decision_seconds = 0;
};

row replay(const std::string& name, algorithms::cutoff_rule& rule,
           const matrix& truth) {
  auto start = std::chrono::steady_clock::now();
  row r{name, algorithms::replay_cutoff(rule, truth)};
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  r.decision_seconds = seconds / static_cast<double>(truth.size());
  for (auto c : r.result.cutoffs)
    r.mean_cutoff += static_cast<double>(c);
  r.mean_cutoff /= static_cast<double>(truth.size());
  return r;
}

// An upper bound for any predictor in the regime scenario: it knows how the
// run-times are made and reads every group's true state from the previous
// iteration's uncensored run-times, then takes the best c over sampled
// next iterations.
class informed_rule : public algorithms::cutoff_rule {
public:
  informed_rule(const matrix& truth, const cutoff_bench_options& o)
      : truth_(truth)
      , p_slow_(o.p_slow)
      , p_recover_(o.p_recover)
      , gen_(o.seed) {}
  std::string name() const override { return "informed"; }
  void observe(const algorithms::runtime_observation&) override { ++t_; }
  algorithms::cutoff_decision decide(std::size_t workers) override {
    if (t_ == 0)
      return {workers, {}};
    const auto& last = truth_[t_ - 1];
    // A slow group's workers take 4x compute; noise is a few ms.
    const double threshold = compute_seconds * (1 + regime_factor) / 2;
    std::vector<std::vector<double>> samples(512);
    std::normal_distribution<double> noise(-5, 0.5);
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& x : samples) {
      std::vector<bool> slow(regime_groups);
      for (std::size_t g = 0; g < regime_groups; ++g) {
        bool was = last[g] > threshold;
        slow[g] = was ? u(gen_) >= p_recover_ : u(gen_) < p_slow_;
      }
      x.resize(workers);
      for (std::size_t w = 0; w < workers; ++w)
        x[w] = compute_seconds +
               (slow[w % regime_groups] ? (regime_factor - 1) * compute_seconds
                                        : 0) +
               std::exp(noise(gen_));
    }
    algorithms::cutoff_decision d;
    d.expected_throughput = algorithms::throughput_from_samples(samples);
    d.cutoff = algorithms::best_cutoff(d.expected_throughput);
    return d;
  }

private:
  const matrix& truth_;
  double p_slow_;
  double p_recover_;
  std::mt19937_64 gen_;
  std::size_t t_ = 0;
};

} // namespace

int run_cutoff_bench(const cutoff_bench_options& options) {
  auto o = options;
  matrix all;
  try {
    all = o.trace.empty() ? synthetic(o, o.train + o.test)
                          : recorded(o.trace, o.workers);
  } catch (const std::exception& e) {
    fmt::print(stderr, "{}\n", e.what());
    return 2;
  }
  if (all.size() < o.train + 20) {
    fmt::print(stderr,
               "{} iterations: too few to train on {} and replay the rest\n",
               all.size(), o.train);
    return 2;
  }
  matrix train(all.begin(), all.begin() + o.train);
  matrix test(all.begin() + o.train,
              all.begin() + std::min(all.size(), o.train + o.test));
  std::vector<algorithms::runtime_observation> observed;
  for (const auto& x : train)
    observed.push_back({x, std::vector<std::uint8_t>(x.size(), 0)});
  auto fit_start = std::chrono::steady_clock::now();
  algorithms::dmm_spec spec;
  algorithms::dmm_train_options train_options;
  train_options.seed = o.seed;
  auto model = std::make_shared<const algorithms::dmm>(
      algorithms::fit_dmm(observed, spec, train_options));
  double fit_seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - fit_start)
                           .count();

  std::vector<row> rows;
  for (std::string rule :
       {"full", "static", "static", "static", "elfving", "ecdf"}) {
    algorithms::cutoff_spec s;
    s.rule = rule;
    static const std::size_t backups[] = {1, 2, 4};
    std::string name = rule;
    if (rule == "static") {
      std::size_t i = 0;
      for (const auto& r : rows)
        i += r.name.rfind("static", 0) == 0;
      s.backups = backups[i];
      name += "(" + std::to_string(s.backups) + ")";
    }
    auto made = algorithms::make_cutoff_rule(s);
    rows.push_back(replay(name, *made, test));
  }
  algorithms::bdsgd_options bo;
  bo.seed = o.seed;
  bo.samples = o.samples;
  bo.lag = o.lag;
  bo.imputation.copies = o.particles;
  algorithms::bdsgd learned(model, bo);
  rows.push_back(replay("bdsgd", learned, test));
  if (o.trace.empty() && o.scenario == "regime") {
    informed_rule informed(test, o);
    rows.push_back(replay("informed", informed, test));
  }

  if (o.json) {
    actors::json items = actors::json::array();
    for (const auto& r : rows)
      items.push_back({{"rule", r.name},
                       {"achieved", r.result.achieved},
                       {"oracle", r.result.oracle},
                       {"fraction", r.result.achieved / r.result.oracle},
                       {"mean_cutoff", r.mean_cutoff},
                       {"decision_us", r.decision_seconds * 1e6}});
    actors::json out = {{"scenario", o.trace.empty() ? o.scenario : o.trace},
                        {"workers", o.workers},
                        {"train", train.size()},
                        {"test", test.size()},
                        {"fit_s", fit_seconds},
                        {"rules", items}};
    // A trace's path need not be UTF-8: invalid bytes are replaced.
    fmt::print("{}\n", out.dump(-1, ' ', false,
                                actors::json::error_handler_t::replace));
    return 0;
  }
  fmt::print("{} workers, {}: model trained on {} iterations in {:.2f} s, "
             "rules replayed on the next {}\n",
             o.workers, o.trace.empty() ? o.scenario : o.trace, train.size(),
             fit_seconds, test.size());
  fmt::print("{:<10} {:>10} {:>10} {:>9} {:>7} {:>12}\n", "rule", "grads/s",
             "oracle", "fraction", "mean_c", "decision_us");
  for (const auto& r : rows)
    fmt::print("{:<10} {:>10.1f} {:>10.1f} {:>9.3f} {:>7.2f} {:>12.1f}\n",
               r.name, r.result.achieved, r.result.oracle,
               r.result.achieved / r.result.oracle, r.mean_cutoff,
               r.decision_seconds * 1e6);
  return 0;
}

} // namespace metronome::tools

#include "algorithms/cutoff/bdsgd.hpp"
#include "algorithms/cutoff/dmm_net.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

namespace metronome::algorithms {
namespace {

using ::testing::HasSubstr;

constexpr std::size_t workers = 8;
constexpr std::size_t slow_from = 6;

/// True run-times of one iteration: workers 0..5 take about 0.1 s, workers
/// 6 and 7 five times as long, all sharing a persistent slowdown.
std::vector<double> slow_group_times(double& shared, std::mt19937_64& gen) {
  shared = 0.9 * shared + 0.1 * dmm_net::normal(gen);
  std::vector<double> s(workers);
  for (std::size_t i = 0; i < workers; ++i)
    s[i] = (i >= slow_from ? 0.5 : 0.1) *
           std::exp(shared + 0.05 * dmm_net::normal(gen));
  return s;
}

/// What a server waiting for the c fastest sees: the rest are censored at
/// the c-th smallest run-time.
runtime_observation censor_at(std::vector<double> s, std::size_t c) {
  std::vector<double> sorted = s;
  std::sort(sorted.begin(), sorted.end());
  double tau = sorted[c - 1];
  runtime_observation o;
  o.censored.assign(s.size(), 0);
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s[i] > tau) {
      s[i] = tau;
      o.censored[i] = 1;
    }
  o.seconds = std::move(s);
  return o;
}

std::vector<runtime_observation> slow_group_trace(std::size_t steps,
                                                  std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  double shared = 0;
  std::vector<runtime_observation> out;
  for (std::size_t t = 0; t < steps; ++t)
    out.push_back(censor_at(slow_group_times(shared, gen), workers));
  return out;
}

dmm_spec spec() {
  dmm_spec s;
  s.workers = workers;
  s.latent = 3;
  s.transition_hidden = 8;
  s.emission_hidden = 8;
  s.rnn_hidden = 8;
  s.lag = 6;
  return s;
}

dmm_train_options training(std::size_t epochs) {
  dmm_train_options o;
  o.epochs = epochs;
  o.learning_rate = 0.01;
  o.kl_anneal_epochs = 3;
  o.seed = 3;
  return o;
}

/// A model trained once for the tests of this file.
std::shared_ptr<const dmm> trained_model() {
  static std::shared_ptr<const dmm> model =
      refit_dmm(slow_group_trace(300, 1), spec(), training(15));
  return model;
}

TEST(Bdsgd, WithoutObservationsWaitsForEveryone) {
  bdsgd rule(trained_model());
  EXPECT_EQ(rule.name(), "bdsgd");
  cutoff_decision d = rule.decide(5);
  EXPECT_EQ(d.cutoff, 5u);
  EXPECT_TRUE(d.expected_throughput.empty());
  EXPECT_THROW(rule.decide(0), std::invalid_argument);
}

TEST(Bdsgd, RejectsBadArguments) {
  EXPECT_THROW(bdsgd(nullptr), std::invalid_argument);
  bdsgd_options o;
  o.samples = 0;
  EXPECT_THROW(bdsgd(trained_model(), o), std::invalid_argument);
  bdsgd rule(trained_model());
  runtime_observation bad;
  bad.seconds = {0.1, 0.2};
  bad.censored = {0};
  try {
    rule.observe(bad);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("censored flags"));
  }
  EXPECT_THROW(rule.swap_model(nullptr), std::invalid_argument);
}

TEST(Bdsgd, DecisionsStayInRangeForAnyWorkerCount) {
  bdsgd rule(trained_model());
  std::vector<runtime_observation> trace = slow_group_trace(12, 2);
  for (std::size_t t = 0; t < trace.size(); ++t) {
    // Fewer observations than the lag at first, and a worker that dies.
    runtime_observation o = trace[t];
    if (t >= 8) {
      o.seconds.pop_back();
      o.censored.pop_back();
    }
    rule.observe(o);
    for (std::size_t w : {1u, 3u, 7u, 8u, 11u}) {
      SCOPED_TRACE(w);
      cutoff_decision d = rule.decide(w);
      EXPECT_GE(d.cutoff, 1u);
      EXPECT_LE(d.cutoff, w);
      ASSERT_EQ(d.expected_throughput.size(), w);
      for (double v : d.expected_throughput)
        EXPECT_TRUE(std::isfinite(v) && v > 0);
    }
  }
}

TEST(Bdsgd, CutsOffAGroupThatIsAlwaysFiveTimesSlower) {
  bdsgd rule(trained_model());
  std::mt19937_64 gen(7);
  double shared = 0;
  std::vector<std::size_t> cutoffs;
  for (int t = 0; t < 30; ++t) {
    std::size_t c = rule.decide(workers).cutoff;
    cutoffs.push_back(c);
    // The server only learns what the cutoff lets it see.
    rule.observe(censor_at(slow_group_times(shared, gen), c));
  }
  EXPECT_EQ(cutoffs.front(), workers);
  std::vector<std::size_t> settled(cutoffs.begin() + 3, cutoffs.end());
  EXPECT_THAT(settled, ::testing::Each(slow_from));
}

TEST(Bdsgd, TheCurvePrefersTheFastWorkers) {
  bdsgd rule(trained_model());
  for (const runtime_observation& o : slow_group_trace(10, 4))
    rule.observe(o);
  cutoff_decision d = rule.decide(workers);
  ASSERT_EQ(d.expected_throughput.size(), workers);
  // About 6 / 0.1 s when waiting for the fast group, 8 / 0.5 s for all.
  EXPECT_GT(d.expected_throughput[slow_from - 1],
            2.5 * d.expected_throughput[workers - 1]);
}

TEST(Bdsgd, DecisionsAreDeterministicGivenTheSeed) {
  bdsgd a(trained_model()), b(trained_model());
  for (const runtime_observation& o : slow_group_trace(8, 5)) {
    a.observe(o);
    b.observe(o);
    cutoff_decision da = a.decide(workers), db = b.decide(workers);
    EXPECT_EQ(da.cutoff, db.cutoff);
    EXPECT_EQ(da.expected_throughput, db.expected_throughput);
  }
}

TEST(Bdsgd, EmpiricalImputationWorksToo) {
  bdsgd_options o;
  o.imputation.method = imputation_method::empirical;
  bdsgd rule(trained_model(), o);
  std::mt19937_64 gen(8);
  double shared = 0;
  std::size_t c = workers;
  for (int t = 0; t < 12; ++t) {
    rule.observe(censor_at(slow_group_times(shared, gen), c));
    c = rule.decide(workers).cutoff;
    EXPECT_GE(c, 1u);
    EXPECT_LE(c, workers);
  }
}

TEST(Bdsgd, KeepsTheRequestedHistory) {
  bdsgd_options o;
  o.history = 20;
  bdsgd rule(trained_model(), o);
  std::vector<runtime_observation> trace = slow_group_trace(50, 6);
  for (const runtime_observation& ob : trace)
    rule.observe(ob);
  std::vector<runtime_observation> kept = rule.recent(100);
  ASSERT_EQ(kept.size(), 20u);
  EXPECT_EQ(kept.front().seconds, trace[30].seconds);
  EXPECT_EQ(kept.back().seconds, trace.back().seconds);
  EXPECT_EQ(rule.recent(3).size(), 3u);
}

TEST(BdsgdThreads, SwapModelWhileDecidingIsSafe) {
  auto first = trained_model();
  dmm other_model(spec(), 99);
  other_model.set_normalisation(first->log_mean(), first->log_std());
  auto second = std::make_shared<const dmm>(other_model);
  bdsgd rule(first);
  for (const runtime_observation& o : slow_group_trace(10, 7))
    rule.observe(o);
  std::atomic<bool> stop{false};
  std::atomic<int> swaps{0};
  std::thread swapper([&] {
    while (!stop.load()) {
      rule.swap_model(swaps.load() % 2 ? first : second);
      std::shared_ptr<const dmm> seen = rule.model();
      EXPECT_TRUE(seen == first || seen == second);
      ++swaps;
    }
  });
  for (int i = 0; i < 200 || swaps.load() < 10; ++i) {
    cutoff_decision d = rule.decide(workers);
    ASSERT_GE(d.cutoff, 1u);
    ASSERT_LE(d.cutoff, workers);
  }
  stop = true;
  swapper.join();
  EXPECT_GE(swaps.load(), 10);
}

TEST(BdsgdThreads, RefitInABackgroundTaskAndSwapIn) {
  bdsgd rule(trained_model());
  std::vector<runtime_observation> trace = slow_group_trace(80, 8);
  for (const runtime_observation& o : trace)
    rule.observe(o);
  std::shared_ptr<const dmm> before = rule.model();
  tbb::task_group background;
  std::vector<runtime_observation> window = rule.recent(60);
  background.run([&rule, window] {
    rule.swap_model(refit_dmm(window, spec(), training(2)));
  });
  for (int i = 0; i < 20; ++i) {
    std::size_t c = rule.decide(workers).cutoff;
    ASSERT_GE(c, 1u);
    ASSERT_LE(c, workers);
  }
  background.wait();
  EXPECT_NE(rule.model(), before);
  EXPECT_EQ(rule.model()->workers(), workers);
  std::size_t c = rule.decide(workers).cutoff;
  EXPECT_GE(c, 1u);
  EXPECT_LE(c, workers);
}

} // namespace
} // namespace metronome::algorithms

#include "algorithms/cutoff/cutoff.hpp"

#include "algorithms/random.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using ::testing::HasSubstr;

constexpr double nan = std::numeric_limits<double>::quiet_NaN();
constexpr double inf = std::numeric_limits<double>::infinity();

/// Standard normal by Box-Muller (portable, unlike std::normal_distribution).
double standard_normal(std::mt19937_64& gen) {
  double u1 = uniform_open(gen);
  double u2 = uniform_open(gen);
  return std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

using matrix = std::vector<std::vector<double>>;

/// `rows` iterations of `n` i.i.d. normal run-times, redrawn while <= 0.
matrix normal_rows(double mu, double sigma, std::size_t n, std::size_t rows,
                   std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  matrix m(rows, std::vector<double>(n));
  for (auto& row : m)
    for (double& x : row)
      do
        x = mu + sigma * standard_normal(gen);
      while (x <= 0);
  return m;
}

/// 1 + Exp(mean 0.5): a shifted exponential, optimum well below n.
matrix shifted_exponential_rows(std::size_t n, std::size_t rows,
                                std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  matrix m(rows, std::vector<double>(n));
  for (auto& row : m)
    for (double& x : row)
      x = 1 - 0.5 * std::log(uniform_open(gen));
  return m;
}

/// Each run-time is 5 times slower with probability 0.1.
matrix bimodal_rows(std::size_t n, std::size_t rows, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  matrix m(rows, std::vector<double>(n));
  for (auto& row : m)
    for (double& x : row) {
      double slow = uniform_open(gen) < 0.1 ? 5 : 1;
      x = slow * (1 + 0.1 * uniform_open(gen));
    }
  return m;
}

runtime_observation uncensored(const std::vector<double>& row) {
  runtime_observation o;
  o.seconds = row;
  o.censored.assign(row.size(), 0);
  return o;
}

/// What a server waiting for the c fastest of `row` sees.
runtime_observation censored_at(const std::vector<double>& row, std::size_t c) {
  std::vector<double> sorted = row;
  std::sort(sorted.begin(), sorted.end());
  double bound = sorted[c - 1];
  runtime_observation o;
  std::size_t kept = 0;
  for (double x : row) {
    bool keep = x < bound || (x == bound && kept < c);
    kept += keep;
    o.seconds.push_back(keep ? x : bound);
    o.censored.push_back(keep ? 0 : 1);
  }
  return o;
}

std::unique_ptr<cutoff_rule> make_rule(const std::string& name,
                                       std::size_t window = 20,
                                       std::size_t backups = 0) {
  cutoff_spec s;
  s.rule = name;
  s.window = window;
  s.backups = backups;
  return make_cutoff_rule(s);
}

std::string spec_error(const cutoff_spec& s) {
  try {
    make_cutoff_rule(s);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "make_cutoff_rule did not throw for rule " << s.rule;
  return "";
}

/// c / x_(c) averaged over the rows of `truth` for a fixed c.
double static_throughput(const matrix& truth, std::size_t c) {
  double sum = 0;
  for (auto row : truth) {
    std::sort(row.begin(), row.end());
    sum += c / row[c - 1];
  }
  return sum / static_cast<double>(truth.size());
}

/// The best fixed cutoff in hindsight: max over c of static_throughput.
double best_static_throughput(const matrix& truth) {
  double best = 0;
  for (std::size_t c = 1; c <= truth.front().size(); ++c)
    best = std::max(best, static_throughput(truth, c));
  return best;
}

TEST(CutoffNormalQuantile, KnownValues) {
  // Reference values from Wichura's AS241 (Python's statistics.NormalDist).
  struct known {
    double p;
    double x;
  };
  for (known k : std::vector<known>{{0.5, 0.0},
                                    {0.975, 1.9599639845400536},
                                    {0.9, 1.2815515655446008},
                                    {0.1, -1.2815515655446008},
                                    {0.3, -0.5244005127080407},
                                    {0.7, 0.5244005127080407},
                                    {0.999, 3.090232306167813},
                                    {0.001, -3.090232306167813},
                                    {0.02425, -1.9729610513118845},
                                    {1e-5, -4.2648907939228256},
                                    {1e-10, -6.361340902404056},
                                    {0.8413447460685429, 1.0},
                                    {1e-300, -37.0470962993612}}) {
    SCOPED_TRACE(k.p);
    EXPECT_NEAR(normal_quantile(k.p), k.x,
                1e-12 * std::max(1.0, std::abs(k.x)));
  }
}

TEST(CutoffNormalQuantile, RoundTripAndEdges) {
  // Phi(x) is exact enough for the lower half and moderate upper values.
  for (double x = -37; x <= 5; x += 0.01) {
    double p = 0.5 * std::erfc(-x / std::sqrt(2.0));
    ASSERT_NEAR(normal_quantile(p), x, 1e-9 * std::max(1.0, std::abs(x))) << x;
  }
  for (double p : {1e-7, 0.01, 0.02425, 0.1, 0.25, 0.4999})
    EXPECT_EQ(normal_quantile(1 - p), -normal_quantile(1 - (1 - p))) << p;
  EXPECT_EQ(normal_quantile(0), -inf);
  EXPECT_EQ(normal_quantile(1), inf);
  EXPECT_TRUE(std::isnan(normal_quantile(nan)));
  // Continuous where the approximation switches regions.
  EXPECT_NEAR(normal_quantile(0.02425 - 1e-12), normal_quantile(0.02425), 1e-9);
}

TEST(ElfvingOrderStatistic, SymmetricAndIncreasing) {
  for (std::size_t n : {1u, 2u, 5u, 16u, 33u}) {
    SCOPED_TRACE(n);
    for (std::size_t k = 1; k <= n; ++k) {
      double low = elfving_order_statistic(3, 0.5, k, n) - 3;
      double high = elfving_order_statistic(3, 0.5, n + 1 - k, n) - 3;
      EXPECT_NEAR(low, -high, 1e-12);
      if (k > 1) {
        EXPECT_GT(elfving_order_statistic(3, 0.5, k, n),
                  elfving_order_statistic(3, 0.5, k - 1, n));
      }
      EXPECT_EQ(elfving_order_statistic(3, 0, k, n), 3);
    }
    if (n % 2 == 1) {
      EXPECT_NEAR(elfving_order_statistic(3, 0.5, (n + 1) / 2, n), 3, 1e-12);
    }
  }
  // Expected order statistics of 10 standard normals (Harter's tables).
  std::vector<double> exact{0.1227, 0.3758, 0.6561, 1.0014, 1.5388};
  for (std::size_t i = 0; i < exact.size(); ++i)
    EXPECT_NEAR(elfving_order_statistic(0, 1, 6 + i, 10), exact[i], 0.03) << i;
  EXPECT_THROW(elfving_order_statistic(0, 1, 0, 4), std::invalid_argument);
  EXPECT_THROW(elfving_order_statistic(0, 1, 5, 4), std::invalid_argument);
}

TEST(BestCutoff, FirstFiniteMaximum) {
  EXPECT_EQ(best_cutoff({}), 1u);
  EXPECT_EQ(best_cutoff({1, 3, 3, 2}), 2u);
  EXPECT_EQ(best_cutoff({nan, -1, 0}), 1u);
  EXPECT_EQ(best_cutoff({nan, 2, inf, 5}), 4u);
  EXPECT_EQ(best_cutoff({0, 0, 0.5}), 3u);
}

TEST(CutoffThroughputFromSamples, HandComputed) {
  std::vector<double> curve = throughput_from_samples({{2, 1}, {4, 4}});
  ASSERT_EQ(curve.size(), 2u);
  EXPECT_DOUBLE_EQ(curve[0], (1.0 / 1 + 1.0 / 4) / 2);
  EXPECT_DOUBLE_EQ(curve[1], (2.0 / 2 + 2.0 / 4) / 2);
  EXPECT_TRUE(throughput_from_samples({}).empty());
  EXPECT_THROW(throughput_from_samples({{1, 2}, {1}}), std::invalid_argument);
}

TEST(CutoffCensoredNormalFit, UncensoredIsSampleMoments) {
  std::vector<double> x{1.5, 2.25, 0.75, 3.0, 2.0};
  double mean = 9.5 / 5;
  double var = 0;
  for (double v : x)
    var += (v - mean) * (v - mean);
  normal_fit fit = fit_censored_normal(x, {});
  EXPECT_NEAR(fit.mu, mean, 1e-9);
  EXPECT_NEAR(fit.sigma, std::sqrt(var / 5), 1e-9);
  fit = fit_censored_normal(x, std::vector<std::uint8_t>(5, 0));
  EXPECT_NEAR(fit.mu, mean, 1e-9);
}

TEST(CutoffCensoredNormalFit, RecoversHeavilyCensoredData) {
  const double mu = 10;
  const double sigma = 2;
  // Type I: everything above 9 s is cut off (about 69% of the values).
  std::mt19937_64 gen(17);
  std::vector<double> seconds;
  std::vector<std::uint8_t> censored;
  for (int i = 0; i < 4000; ++i) {
    double x = mu + sigma * standard_normal(gen);
    seconds.push_back(std::min(x, 9.0));
    censored.push_back(x > 9 ? 1 : 0);
  }
  normal_fit naive = fit_censored_normal(seconds, {});
  EXPECT_LT(naive.mu, mu - 1);
  EXPECT_LT(naive.sigma, 0.5 * sigma);
  normal_fit fit = fit_censored_normal(seconds, censored);
  EXPECT_NEAR(fit.mu, mu, 0.15);
  EXPECT_NEAR(fit.sigma, sigma, 0.15);

  // Type II, as a server sees it: 16 workers, cut off after the 4 fastest.
  seconds.clear();
  censored.clear();
  for (const auto& row : normal_rows(mu, sigma, 16, 500, 18)) {
    runtime_observation o = censored_at(row, 4);
    seconds.insert(seconds.end(), o.seconds.begin(), o.seconds.end());
    censored.insert(censored.end(), o.censored.begin(), o.censored.end());
  }
  naive = fit_censored_normal(seconds, {});
  EXPECT_LT(naive.mu, mu - 1);
  fit = fit_censored_normal(seconds, censored);
  EXPECT_NEAR(fit.mu, mu, 0.15);
  EXPECT_NEAR(fit.sigma, sigma, 0.15);
}

TEST(CutoffCensoredNormalFit, DegenerateData) {
  normal_fit flat = fit_censored_normal({2, 2, 2, 1.5}, {0, 0, 0, 1});
  EXPECT_EQ(flat.mu, 2);
  EXPECT_EQ(flat.sigma, 0);
  // One value and a bound above it: the bound pulls the fit up and out.
  normal_fit one = fit_censored_normal({1, 2}, {0, 1});
  EXPECT_GT(one.mu, 1);
  EXPECT_GT(one.sigma, 0);
  EXPECT_TRUE(std::isfinite(one.mu) && std::isfinite(one.sigma));
  // A bound far out in the tail stays finite (no erfc underflow).
  normal_fit far = fit_censored_normal({1, 1.1, 0.9, 50}, {0, 0, 0, 1});
  EXPECT_TRUE(std::isfinite(far.mu) && std::isfinite(far.sigma));
  EXPECT_GT(far.sigma, 1);
  EXPECT_THROW(fit_censored_normal({1, 2}, {1, 1}), std::invalid_argument);
  EXPECT_THROW(fit_censored_normal({}, {}), std::invalid_argument);
  EXPECT_THROW(fit_censored_normal({1, 2}, {0}), std::invalid_argument);
  EXPECT_THROW(fit_censored_normal({1, nan}, {}), std::invalid_argument);
}

TEST(CutoffRules, FullAndStatic) {
  auto full = make_rule("full");
  auto fixed = make_rule("static", 20, 3);
  auto none = make_rule("static", 20, 0);
  EXPECT_EQ(full->name(), "full");
  EXPECT_EQ(fixed->name(), "static");
  for (const auto& row : bimodal_rows(10, 5, 1)) {
    full->observe(uncensored(row));
    fixed->observe(censored_at(row, 7));
  }
  for (std::size_t n = 1; n <= 40; ++n) {
    EXPECT_EQ(full->decide(n).cutoff, n);
    EXPECT_EQ(fixed->decide(n).cutoff, n > 3 ? n - 3 : 1) << n;
    EXPECT_EQ(none->decide(n).cutoff, n);
  }
  EXPECT_EQ(make_rule("static", 20, 1000)->decide(5).cutoff, 1u);
}

TEST(CutoffRules, NoDataWaitsForEveryone) {
  for (const char* name : {"elfving", "ecdf"}) {
    SCOPED_TRACE(name);
    auto rule = make_rule(name);
    EXPECT_EQ(rule->name(), name);
    EXPECT_EQ(rule->decide(7).cutoff, 7u);
    // Nothing but lower bounds: no estimate, so wait for everyone.
    runtime_observation o;
    o.seconds = {1, 1, 1, 1};
    o.censored = {1, 1, 1, 1};
    rule->observe(o);
    EXPECT_EQ(rule->decide(4).cutoff, 4u);
    // Equal run-times: waiting for more workers costs nothing.
    auto flat = make_rule(name);
    for (int i = 0; i < 5; ++i)
      flat->observe(uncensored({0.5, 0.5, 0.5, 0.5}));
    EXPECT_EQ(flat->decide(4).cutoff, 4u);
    EXPECT_EQ(flat->decide(1).cutoff, 1u);
    EXPECT_EQ(flat->decide(9).cutoff, 9u);
  }
}

TEST(CutoffRules, DecisionAlwaysInRange) {
  std::vector<runtime_observation> odd;
  auto add = [&](std::vector<double> s, std::vector<std::uint8_t> c) {
    odd.push_back({std::move(s), std::move(c)});
  };
  add({1, 2, 3}, {1, 1, 1});
  add({0.25}, {0});
  add({2, 2, 2, 2, 2}, {});
  add({nan, 1, inf, -1, 0}, {0, 0, 0, 0, 0});
  add({}, {});
  add({1e-300, 1e300, 3}, {0, 1, 0});
  add({5, 0.1, 0.1, 0.1}, {1, 0, 0, 0});
  add({1, 1, 1, 1, 1, 1, 1, 1}, {0, 0, 1, 1, 1, 1, 1, 1});
  add({1}, {1});
  for (const char* name : {"full", "static", "elfving", "ecdf"})
    for (std::size_t window : {1u, 4u}) {
      SCOPED_TRACE(std::string(name) + " window " + std::to_string(window));
      auto rule = make_rule(name, window, 2);
      for (const auto& o : odd) {
        rule->observe(o);
        for (std::size_t n : {1u, 2u, 3u, 5u, 8u, 17u}) {
          cutoff_decision d = rule->decide(n);
          ASSERT_GE(d.cutoff, 1u) << n;
          ASSERT_LE(d.cutoff, n);
          ASSERT_TRUE(d.expected_throughput.empty() ||
                      d.expected_throughput.size() == n);
          for (double v : d.expected_throughput)
            ASSERT_TRUE(std::isfinite(v) && v >= 0) << v;
        }
      }
      EXPECT_THROW(rule->decide(0), std::invalid_argument);
      EXPECT_THROW(rule->observe({{1, 2}, {0}}), std::invalid_argument);
    }
}

TEST(CutoffRules, IgnoresBrokenObservations) {
  matrix rows = bimodal_rows(6, 30, 12);
  for (const char* name : {"elfving", "ecdf"}) {
    SCOPED_TRACE(name);
    auto clean = make_rule(name, 10);
    auto noisy = make_rule(name, 10);
    for (std::size_t t = 0; t < rows.size(); ++t) {
      runtime_observation o = censored_at(rows[t], 4);
      clean->observe(o);
      noisy->observe(o);
      o.seconds[t % 6] = std::vector<double>{nan, inf, -1, 0}[t % 4];
      noisy->observe(o);
      noisy->observe({});
      cutoff_decision a = clean->decide(6);
      cutoff_decision b = noisy->decide(6);
      ASSERT_EQ(a.cutoff, b.cutoff) << t;
      ASSERT_EQ(a.expected_throughput, b.expected_throughput) << t;
    }
  }
}

TEST(CutoffRules, BadSpecsNameTheField) {
  cutoff_spec s;
  s.rule = "fastest";
  EXPECT_EQ(spec_error(s), "cutoff: unknown rule 'fastest' (valid: full, "
                           "static, elfving, ecdf)");
  s.rule = "";
  EXPECT_THAT(spec_error(s), HasSubstr("unknown rule ''"));
  for (const char* name : {"elfving", "ecdf"}) {
    s.rule = name;
    s.window = 0;
    EXPECT_EQ(spec_error(s),
              std::string("cutoff (") + name + "): window must be >= 1");
  }
  // Fields a rule does not use are not checked.
  s.rule = "full";
  EXPECT_NO_THROW(make_cutoff_rule(s));
  s.rule = "static";
  s.backups = 1000;
  EXPECT_NO_THROW(make_cutoff_rule(s));
}

TEST(ElfvingCutoff, MatchesMonteCarloOptimum) {
  struct scenario {
    double mu;
    double sigma;
    std::size_t n;
  };
  for (scenario sc : std::vector<scenario>{{1, 0.05, 4},
                                           {1, 0.2, 4},
                                           {1, 0.1, 8},
                                           {2, 0.4, 8},
                                           {2, 0.3, 16},
                                           {1, 0.25, 16},
                                           {1, 0.1, 32},
                                           {5, 1.25, 32}}) {
    SCOPED_TRACE(::testing::Message()
                 << "mu " << sc.mu << " sigma " << sc.sigma << " n " << sc.n);
    std::vector<double> mc =
        throughput_from_samples(normal_rows(sc.mu, sc.sigma, sc.n, 20000, 3));
    std::size_t best = best_cutoff(mc);
    matrix seen = normal_rows(sc.mu, sc.sigma, sc.n, 200, 4);

    auto open = make_rule("elfving", 200);
    for (const auto& row : seen)
      open->observe(uncensored(row));
    cutoff_decision d = open->decide(sc.n);
    EXPECT_LE(std::abs(static_cast<double>(d.cutoff) - best), 1.0)
        << "chose " << d.cutoff << ", Monte Carlo " << best;
    ASSERT_EQ(d.expected_throughput.size(), sc.n);
    EXPECT_NEAR(d.expected_throughput[best - 1], mc[best - 1],
                0.05 * mc[best - 1]);

    // Half of each iteration censored: the fit must see through it.
    auto cut = make_rule("elfving", 200);
    for (const auto& row : seen)
      cut->observe(censored_at(row, sc.n / 2));
    std::size_t c = cut->decide(sc.n).cutoff;
    EXPECT_LE(std::abs(static_cast<double>(c) - best), 1.0)
        << "censored: chose " << c << ", Monte Carlo " << best;
  }
}

TEST(EcdfCutoff, NearMonteCarloOptimumOnIidData) {
  for (std::size_t n : {8u, 16u, 32u}) {
    SCOPED_TRACE(n);
    std::vector<double> mc =
        throughput_from_samples(shifted_exponential_rows(n, 20000, 5));
    std::size_t best = best_cutoff(mc);
    ASSERT_LT(best, n);
    auto rule = make_rule("ecdf", 200);
    for (const auto& row : shifted_exponential_rows(n, 200, 6))
      rule->observe(uncensored(row));
    cutoff_decision d = rule->decide(n);
    EXPECT_LE(std::abs(static_cast<double>(d.cutoff) - best), 2.0)
        << "chose " << d.cutoff << ", Monte Carlo " << best;
    EXPECT_GE(mc[d.cutoff - 1], 0.99 * mc[best - 1]);
    ASSERT_EQ(d.expected_throughput.size(), n);
    EXPECT_NEAR(d.expected_throughput[best - 1], mc[best - 1],
                0.05 * mc[best - 1]);
  }
}

TEST(EcdfCutoff, ClosedLoopNearBestStaticCutoff) {
  for (const matrix& truth :
       {shifted_exponential_rows(16, 1000, 7), bimodal_rows(16, 1000, 8)}) {
    double best = best_static_throughput(truth);
    auto ecdf = make_rule("ecdf");
    replay_result r = replay_cutoff(*ecdf, truth);
    EXPECT_GE(r.achieved, 0.95 * best);
    EXPECT_GT(r.achieved, 1.05 * static_throughput(truth, 16));
  }
}

TEST(EcdfCutoff, RecoversFromSmallCutoffs) {
  const std::size_t n = 8;
  std::mt19937_64 gen(9);
  // Two fast workers, six ten times slower: waiting for 2 is best...
  matrix skewed(100, std::vector<double>(n));
  for (auto& row : skewed)
    for (std::size_t w = 0; w < n; ++w)
      row[w] = (w < 2 ? 1 : 10) * (1 + 0.05 * uniform_open(gen));
  // ... until every worker is fast: then waiting for all 8 is.
  matrix even(100, std::vector<double>(n));
  for (auto& row : even)
    for (double& x : row)
      x = 1 + 0.05 * uniform_open(gen);

  auto rule = make_rule("ecdf", 20);
  replay_result first = replay_cutoff(*rule, skewed);
  // Slow workers are explored about once per window, not more.
  std::size_t two = std::count(first.cutoffs.begin(), first.cutoffs.end(), 2u);
  EXPECT_GE(two, 90u);
  EXPECT_GE(first.achieved, 0.9 * first.oracle);

  replay_result second = replay_cutoff(*rule, even);
  // Old slow run-times have left the window after 20 iterations.
  for (std::size_t t = 22; t < even.size(); ++t)
    EXPECT_EQ(second.cutoffs[t], n) << t;
  EXPECT_GE(second.achieved, 0.8 * second.oracle);

  // A burst of observations favouring c = 2 does not pin the rule there.
  auto burst = make_rule("ecdf", 20);
  for (std::size_t t = 0; t < 20; ++t)
    burst->observe(uncensored(skewed[t]));
  EXPECT_EQ(burst->decide(n).cutoff, 2u);
  replay_result after = replay_cutoff(*burst, even);
  for (std::size_t t = 22; t < even.size(); ++t)
    EXPECT_EQ(after.cutoffs[t], n) << t;
}

/// Records what replay_cutoff shows a rule and decides a fixed cutoff.
class recording_rule : public cutoff_rule {
public:
  explicit recording_rule(std::size_t c)
      : c_(c) {}
  std::string name() const override { return "recording"; }
  void observe(const runtime_observation& o) override { seen.push_back(o); }
  cutoff_decision decide(std::size_t) override { return {c_, {}}; }

  std::vector<runtime_observation> seen;

private:
  std::size_t c_;
};

TEST(ReplayCutoff, HandMadeMatrix) {
  matrix truth{{1, 2, 4}, {3, 1, 2}, {5, 5, 5}};
  auto full = make_rule("full");
  replay_result r = replay_cutoff(*full, truth);
  EXPECT_DOUBLE_EQ(r.achieved, (3.0 / 4 + 3.0 / 3 + 3.0 / 5) / 3);
  EXPECT_DOUBLE_EQ(r.oracle, (1.0 + 1.0 + 0.6) / 3);
  EXPECT_EQ(r.cutoffs, (std::vector<std::size_t>{3, 3, 3}));
  auto fixed = make_rule("static", 20, 1);
  r = replay_cutoff(*fixed, truth);
  EXPECT_DOUBLE_EQ(r.achieved, (2.0 / 2 + 2.0 / 2 + 2.0 / 5) / 3);

  recording_rule rec(2);
  replay_cutoff(rec, truth);
  ASSERT_EQ(rec.seen.size(), 3u);
  EXPECT_EQ(rec.seen[0].seconds, (std::vector<double>{1, 2, 2}));
  EXPECT_EQ(rec.seen[0].censored, (std::vector<std::uint8_t>{0, 0, 1}));
  EXPECT_EQ(rec.seen[1].seconds, (std::vector<double>{2, 1, 2}));
  EXPECT_EQ(rec.seen[1].censored, (std::vector<std::uint8_t>{1, 0, 0}));
  // Ties: exactly c uncensored.
  EXPECT_EQ(rec.seen[2].seconds, (std::vector<double>{5, 5, 5}));
  EXPECT_EQ(rec.seen[2].censored, (std::vector<std::uint8_t>{0, 0, 1}));

  replay_result empty = replay_cutoff(*full, {});
  EXPECT_EQ(empty.achieved, 0);
  EXPECT_EQ(empty.oracle, 0);
  EXPECT_TRUE(empty.cutoffs.empty());
}

TEST(ReplayCutoff, OracleBoundsEveryRule) {
  matrix truth = bimodal_rows(12, 300, 10);
  for (const char* name : {"full", "static", "elfving", "ecdf"}) {
    SCOPED_TRACE(name);
    auto rule = make_rule(name, 20, 3);
    replay_result r = replay_cutoff(*rule, truth);
    EXPECT_GT(r.achieved, 0);
    EXPECT_GE(r.oracle, r.achieved);
    ASSERT_EQ(r.cutoffs.size(), truth.size());
    for (std::size_t c : r.cutoffs)
      ASSERT_TRUE(c >= 1 && c <= 12);
  }
  // A fixed cutoff scores exactly its hindsight throughput.
  for (std::size_t c = 1; c <= 12; ++c) {
    recording_rule rec(c);
    replay_result r = replay_cutoff(rec, truth);
    EXPECT_GE(r.oracle, r.achieved);
    EXPECT_DOUBLE_EQ(r.achieved, static_throughput(truth, c));
  }
}

TEST(ReplayCutoff, BadInput) {
  auto full = make_rule("full");
  EXPECT_THROW(replay_cutoff(*full, {{1, 2}, {}}), std::invalid_argument);
  EXPECT_THROW(replay_cutoff(*full, {{1, -2}}), std::invalid_argument);
  EXPECT_THROW(replay_cutoff(*full, {{1, nan}}), std::invalid_argument);
  EXPECT_THROW(replay_cutoff(*full, {{0, 1}}), std::invalid_argument);
  recording_rule zero(0);
  EXPECT_THROW(replay_cutoff(zero, {{1, 2}}), std::logic_error);
  recording_rule many(3);
  EXPECT_THROW(replay_cutoff(many, {{1, 2}}), std::logic_error);
}

} // namespace
} // namespace metronome::algorithms

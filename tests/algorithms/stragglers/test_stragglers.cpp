#include "algorithms/stragglers/stragglers.hpp"

#include "algorithms/data/dataset.hpp"
#include "algorithms/random.hpp"
#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace metronome::algorithms {
namespace {

using test::temp_dir;
using ::testing::HasSubstr;

straggler_spec spec(const std::string& model,
                    std::vector<std::size_t> workers = {}) {
  straggler_spec s;
  s.model = model;
  s.workers = std::move(workers);
  return s;
}

std::vector<double> series(const straggler_model& m, std::size_t worker,
                           std::uint64_t n, double compute = 0.01) {
  std::vector<double> out;
  for (std::uint64_t t = 0; t < n; ++t)
    out.push_back(m.delay(worker, t, compute));
  return out;
}

double mean(const std::vector<double>& x) {
  double sum = 0;
  for (double v : x)
    sum += v;
  return sum / static_cast<double>(x.size());
}

double correlation(const std::vector<double>& x, const std::vector<double>& y) {
  double mx = mean(x);
  double my = mean(y);
  double sxy = 0;
  double sxx = 0;
  double syy = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  return sxy / std::sqrt(sxx * syy);
}

std::string invalid_message(const std::vector<straggler_spec>& rules,
                            std::size_t workers = 4) {
  try {
    make_straggler_model(rules, workers, 1);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  ADD_FAILURE() << "make_straggler_model did not throw invalid_argument";
  return "";
}

std::string trace_error(const std::string& path) {
  try {
    read_trace(path);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "read_trace did not throw load_error for " << path;
  return "";
}

TEST(StragglerModel, NoRulesNoDelay) {
  auto m = make_straggler_model({}, 3, 7);
  for (std::size_t w = 0; w < 3; ++w)
    for (std::uint64_t t = 0; t < 10; ++t)
      EXPECT_EQ(m->delay(w, t, 0.5), 0.0);
  EXPECT_THROW(m->delay(3, 0, 0.5), std::out_of_range);
}

TEST(StragglerModel, Deterministic) {
  for (const char* model : {"lognormal", "pareto", "groups"}) {
    SCOPED_TRACE(model);
    std::vector<straggler_spec> rules{spec(model)};
    auto a = make_straggler_model(rules, 4, 42);
    auto b = make_straggler_model(rules, 4, 42);
    auto other = make_straggler_model(rules, 4, 43);
    int differ = 0;
    for (std::uint64_t t = 0; t < 200; ++t)
      for (std::size_t w = 0; w < 4; ++w) {
        double first = a->delay(w, t, 0.01);
        EXPECT_GE(first, 0.0);
        EXPECT_EQ(first, a->delay(w, t, 0.01));
        differ += first != other->delay(w, t, 0.01);
      }
    // Queried in another order, a fresh model gives the same values.
    for (std::uint64_t t = 200; t-- > 0;)
      for (std::size_t w = 4; w-- > 0;)
        ASSERT_EQ(a->delay(w, t, 0.01), b->delay(w, t, 0.01));
    EXPECT_GT(differ, 790);
    EXPECT_NE(a->delay(0, 5, 0.01), a->delay(1, 5, 0.01));
    EXPECT_NE(a->delay(0, 5, 0.01), a->delay(0, 6, 0.01));
  }
}

TEST(StragglerModel, ConstantFactor) {
  straggler_spec s = spec("constant");
  s.factor = 2.5;
  auto m = make_straggler_model({s}, 2, 1);
  for (double c : {0.0, 0.001, 0.5, 3.0})
    for (std::uint64_t t : {0u, 1u, 1000u}) {
      EXPECT_DOUBLE_EQ(m->delay(0, t, c), 1.5 * c);
      EXPECT_DOUBLE_EQ(m->delay(1, t, c), 1.5 * c);
    }
  EXPECT_EQ(m->delay(0, 0, -1.0), 0.0);
  s.factor = 1;
  auto unit = make_straggler_model({s}, 2, 1);
  EXPECT_EQ(unit->delay(1, 3, 0.7), 0.0);
}

TEST(StragglerModel, LognormalMoments) {
  straggler_spec s = spec("lognormal");
  s.mu = -4;
  s.sigma = 0.8;
  auto m = make_straggler_model({s}, 4, 2024);
  std::vector<double> all;
  std::vector<double> logs;
  for (std::size_t w = 0; w < 4; ++w)
    for (double d : series(*m, w, 50000)) {
      all.push_back(d);
      logs.push_back(std::log(d));
    }
  double expected = std::exp(s.mu + s.sigma * s.sigma / 2);
  EXPECT_NEAR(mean(all), expected, 0.05 * expected);
  EXPECT_NEAR(mean(logs), s.mu, 0.02);
  double var = 0;
  for (double l : logs)
    var += (l - s.mu) * (l - s.mu);
  EXPECT_NEAR(std::sqrt(var / logs.size()), s.sigma, 0.02);
  // Independent of the compute time.
  EXPECT_EQ(m->delay(2, 9, 0.001), m->delay(2, 9, 10.0));
  s.sigma = 0;
  auto flat = make_straggler_model({s}, 1, 3);
  EXPECT_DOUBLE_EQ(flat->delay(0, 17, 0.1), std::exp(-4.0));
}

TEST(StragglerModel, ParetoTail) {
  straggler_spec s = spec("pareto");
  s.scale = 0.01;
  s.alpha = 1.5;
  auto m = make_straggler_model({s}, 4, 99);
  std::vector<double> all;
  for (std::size_t w = 0; w < 4; ++w)
    for (double d : series(*m, w, 100000))
      all.push_back(d);
  for (double d : all)
    ASSERT_GE(d, 0.0);
  for (double x : {0.01, 0.1, 1.0}) {
    SCOPED_TRACE(x);
    double expected = std::pow(1 + x / s.scale, -s.alpha);
    auto above =
        std::count_if(all.begin(), all.end(), [x](double d) { return d > x; });
    double empirical = static_cast<double>(above) / all.size();
    EXPECT_NEAR(empirical, expected, 0.15 * expected);
  }
  std::vector<double> sorted = all;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted[sorted.size() / 2];
  EXPECT_NEAR(median, s.scale * (std::pow(2.0, 1 / s.alpha) - 1),
              0.05 * s.scale);
  EXPECT_GT(sorted.back(), 1000 * median);
}

TEST(StragglerModel, GroupsCorrelation) {
  straggler_spec s = spec("groups");
  s.mu = -5;
  s.sigma = 1;
  s.groups = 2;
  s.own_share = 0.05;
  auto m = make_straggler_model({s}, 4, 5);
  const std::uint64_t n = 20000;
  std::vector<std::vector<double>> d;
  for (std::size_t w = 0; w < 4; ++w)
    d.push_back(series(*m, w, n));
  // Round-robin: workers 0 and 2 form group 0, workers 1 and 3 group 1.
  EXPECT_GT(correlation(d[0], d[2]), 0.9);
  EXPECT_GT(correlation(d[1], d[3]), 0.9);
  for (auto [a, b] : {std::pair{0, 1}, {0, 3}, {2, 1}, {2, 3}})
    EXPECT_LT(std::abs(correlation(d[a], d[b])), 0.2) << a << " " << b;
  for (std::size_t w = 0; w < 4; ++w)
    EXPECT_NE(d[w][10], d[(w + 2) % 4][10]);
  double expected = (1 + s.own_share) * std::exp(s.mu + s.sigma * s.sigma / 2);
  EXPECT_NEAR(mean(d[0]), expected, 0.1 * expected);
}

TEST(StragglerModel, GroupsShareShock) {
  straggler_spec s = spec("groups", {5, 1, 3, 0});
  s.groups = 2;
  s.own_share = 0;
  auto m = make_straggler_model({s}, 6, 11);
  // Members in the rule's order: 5 and 3 form group 0, 1 and 0 group 1.
  for (std::uint64_t t = 0; t < 50; ++t) {
    EXPECT_EQ(m->delay(5, t, 0.1), m->delay(3, t, 0.1));
    EXPECT_EQ(m->delay(1, t, 0.1), m->delay(0, t, 0.1));
    EXPECT_NE(m->delay(5, t, 0.1), m->delay(1, t, 0.1));
    EXPECT_EQ(m->delay(2, t, 0.1), 0.0);
    EXPECT_EQ(m->delay(4, t, 0.1), 0.0);
  }
  s.groups = 1;
  auto one = make_straggler_model({s}, 6, 11);
  for (std::uint64_t t = 0; t < 20; ++t)
    EXPECT_EQ(one->delay(5, t, 0.1), one->delay(0, t, 0.1));
}

TEST(StragglerModel, PeriodicPattern) {
  straggler_spec s = spec("periodic");
  s.factor = 3;
  s.period = 5;
  s.slow_iterations = 2;
  auto m = make_straggler_model({s}, 2, 1);
  for (std::uint64_t t = 0; t < 23; ++t) {
    double expected = t % 5 < 2 ? 1.0 : 0.0;
    EXPECT_DOUBLE_EQ(m->delay(0, t, 0.5), expected) << t;
    EXPECT_DOUBLE_EQ(m->delay(1, t, 0.5), expected) << t;
  }
  s.slow_iterations = 0;
  auto never = make_straggler_model({s}, 1, 1);
  s.slow_iterations = 5;
  auto always = make_straggler_model({s}, 1, 1);
  for (std::uint64_t t = 0; t < 12; ++t) {
    EXPECT_EQ(never->delay(0, t, 0.5), 0.0);
    EXPECT_DOUBLE_EQ(always->delay(0, t, 0.5), 1.0);
  }
}

TEST(StragglerModel, ReplayFixture) {
  straggler_spec s = spec("replay");
  s.trace = test::data_path("straggler_trace.csv");
  auto m = make_straggler_model({s}, 2, 1);
  double c = 0.3;
  std::vector<double> w0{0.5 - c, 0.0, 0.8 - c};
  std::vector<double> w1{1.0 - c, 2.0 - c, 0.0};
  for (std::uint64_t t = 0; t < 9; ++t) {
    EXPECT_DOUBLE_EQ(m->delay(0, t, c), w0[t % 3]) << t;
    EXPECT_DOUBLE_EQ(m->delay(1, t, c), w1[t % 3]) << t;
  }
  EXPECT_DOUBLE_EQ(m->delay(1, 4, 0.0), 2.0);
  EXPECT_EQ(m->delay(1, 4, 5.0), 0.0);
}

TEST(StragglerModel, ReplayOffsetTrace) {
  temp_dir dir;
  straggler_spec s = spec("replay", {1});
  s.trace = dir.write("t.csv", "10,1,1\n11,1,2\n\n12,7,9\n12,1,3\n");
  auto m = make_straggler_model({s}, 3, 1);
  std::vector<double> expected{1, 2, 3, 1, 2, 3};
  for (std::uint64_t t = 0; t < expected.size(); ++t)
    EXPECT_DOUBLE_EQ(m->delay(1, t, 0.0), expected[t]) << t;
  EXPECT_EQ(m->delay(0, 0, 0.0), 0.0);
}

TEST(StragglerModel, ReplayMissingWorker) {
  straggler_spec s = spec("replay");
  s.trace = test::data_path("straggler_trace.csv");
  EXPECT_THAT(invalid_message({s}, 3),
              HasSubstr("stragglers[0] (replay): trace '" + s.trace +
                        "' has no rows for worker 2"));
  s.workers = {1, 0};
  EXPECT_NO_THROW(make_straggler_model({s}, 3, 1));
}

TEST(StragglerModel, ReplayGap) {
  temp_dir dir;
  straggler_spec s = spec("replay");
  s.trace = dir.write("gap.csv", "0,0,1\n1,0,1\n2,0,1\n0,1,1\n2,1,1\n");
  EXPECT_THAT(invalid_message({s}, 2),
              HasSubstr("has no row for worker 1 in iteration 1"));
  s.workers = {0};
  EXPECT_NO_THROW(make_straggler_model({s}, 2, 1));
}

TEST(StragglerModel, ReplayTraceErrorsPropagate) {
  straggler_spec s = spec("replay", {0});
  s.trace = test::data_path("no-such-trace.csv");
  EXPECT_THROW(make_straggler_model({s}, 1, 1), load_error);
}

TEST(StragglerRules, FirstMatchingRuleWins) {
  straggler_spec a = spec("constant", {1});
  a.factor = 2;
  straggler_spec b = spec("constant", {1, 2});
  b.factor = 3;
  auto m = make_straggler_model({a, b}, 4, 1);
  EXPECT_EQ(m->delay(0, 0, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(m->delay(1, 0, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(m->delay(2, 0, 1.0), 2.0);
  EXPECT_EQ(m->delay(3, 0, 1.0), 0.0);

  straggler_spec none = spec("none", {0});
  straggler_spec everyone = spec("constant");
  everyone.factor = 4;
  auto n = make_straggler_model({none, a, everyone}, 4, 1);
  EXPECT_EQ(n->delay(0, 2, 1.0), 0.0);
  EXPECT_DOUBLE_EQ(n->delay(1, 2, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(n->delay(2, 2, 1.0), 3.0);
  EXPECT_DOUBLE_EQ(n->delay(3, 2, 1.0), 3.0);
}

TEST(StragglerRules, RuleDoesNotAffectOtherWorkers) {
  straggler_spec l = spec("lognormal", {0, 2});
  auto m = make_straggler_model({l}, 3, 8);
  auto all = make_straggler_model({spec("lognormal")}, 3, 8);
  for (std::uint64_t t = 0; t < 20; ++t) {
    EXPECT_GT(m->delay(0, t, 0.1), 0.0);
    EXPECT_EQ(m->delay(1, t, 0.1), 0.0);
    EXPECT_EQ(m->delay(2, t, 0.1), all->delay(2, t, 0.1));
  }
}

TEST(StragglerRules, Validation) {
  struct invalid_case {
    straggler_spec spec;
    std::string message;
  };
  std::vector<invalid_case> cases;
  auto add = [&](straggler_spec s, const std::string& message) {
    cases.push_back({std::move(s), message});
  };
  straggler_spec s = spec("constant");
  s.factor = 0.5;
  add(s, "stragglers[1] (constant): factor must be >= 1");
  s.factor = NAN;
  add(s, "stragglers[1] (constant): factor must be >= 1");
  s.factor = INFINITY;
  add(s, "stragglers[1] (constant): factor must be finite");
  s = spec("periodic");
  s.factor = 0;
  add(s, "stragglers[1] (periodic): factor must be >= 1");
  s = spec("periodic");
  s.period = 0;
  s.slow_iterations = 0;
  add(s, "stragglers[1] (periodic): period must be >= 1");
  s = spec("periodic");
  s.period = 10;
  s.slow_iterations = 11;
  add(s, "stragglers[1] (periodic): slow_iterations must be <= period (10)");
  s = spec("lognormal");
  s.sigma = -0.1;
  add(s, "stragglers[1] (lognormal): sigma must be >= 0");
  s = spec("lognormal");
  s.mu = NAN;
  add(s, "stragglers[1] (lognormal): mu must be finite");
  s = spec("pareto");
  s.scale = 0;
  add(s, "stragglers[1] (pareto): scale must be > 0");
  s = spec("pareto");
  s.alpha = -1;
  add(s, "stragglers[1] (pareto): alpha must be > 0");
  s = spec("groups");
  s.groups = 0;
  add(s, "stragglers[1] (groups): groups must be >= 1");
  s = spec("groups");
  s.own_share = -0.5;
  add(s, "stragglers[1] (groups): own_share must be >= 0");
  s = spec("groups");
  s.sigma = -1;
  add(s, "stragglers[1] (groups): sigma must be >= 0");
  s = spec("replay");
  add(s, "stragglers[1] (replay): trace must name a CSV file");
  s = spec("bursty");
  add(s, "stragglers[1]: unknown model 'bursty' (valid: none, constant, "
         "lognormal, pareto, groups, periodic, replay, regime)");
  s = spec("constant", {1, 4});
  add(s, "stragglers[1] (constant): worker 4 out of range (workers: 4)");
  s = spec("none", {7});
  add(s, "stragglers[1] (none): worker 7 out of range (workers: 4)");
  s = spec("lognormal", {2, 0, 2});
  add(s, "stragglers[1] (lognormal): worker 2 listed twice");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.message);
    EXPECT_EQ(invalid_message({spec("none", {0}), c.spec}), c.message);
  }
}

TEST(StragglerRules, UnusedFieldsNotValidated) {
  straggler_spec s = spec("constant");
  s.factor = 2;
  s.sigma = -1;
  s.alpha = 0;
  s.groups = 0;
  s.period = 0;
  EXPECT_NO_THROW(make_straggler_model({s}, 2, 1));
}

TEST(ReadTrace, Fixture) {
  std::vector<trace_row> rows =
      read_trace(test::data_path("straggler_trace.csv"));
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].iteration, 0u);
  EXPECT_EQ(rows[0].worker, 0u);
  EXPECT_EQ(rows[0].seconds, 0.5);
  EXPECT_EQ(rows[5].iteration, 2u);
  EXPECT_EQ(rows[5].worker, 1u);
  EXPECT_EQ(rows[5].seconds, 0.25);
}

TEST(ReadTrace, LenientFormatting) {
  temp_dir dir;
  std::string path =
      dir.write("t.csv", "\n 3 , 2 , 1e-3 \r\n4,0,+2.5,extra,\"x\"\n\n5,1,0\n");
  std::vector<trace_row> rows = read_trace(path);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].iteration, 3u);
  EXPECT_EQ(rows[0].worker, 2u);
  EXPECT_EQ(rows[0].seconds, 1e-3);
  EXPECT_EQ(rows[1].seconds, 2.5);
  EXPECT_EQ(rows[2].seconds, 0.0);
}

TEST(ReadTrace, CensoredColumnOfACutoffRun) {
  temp_dir dir;
  std::string path = dir.write(
      "t.csv", "iteration,worker,seconds,censored\n0,0,0.5,0\n0,1,0.5,1\n");
  std::vector<trace_row> rows = read_trace(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_FALSE(rows[0].censored);
  EXPECT_TRUE(rows[1].censored);
  std::string bad =
      dir.write("bad.csv", "iteration,worker,seconds,censored\n0,0,0.5,yes\n");
  EXPECT_THAT(trace_error(bad), HasSubstr(bad + ":2: bad censored flag 'yes'"));
  // Without the header the fourth column is any extra column.
  EXPECT_FALSE(read_trace(dir.write("plain.csv", "0,0,0.5,1\n"))[0].censored);
}

TEST(ReadTrace, Errors) {
  temp_dir dir;
  struct bad_case {
    std::string content;
    std::string message;
  };
  std::vector<bad_case> cases{
      {"iteration,worker,seconds\n0,0,1\n0,1,abc\n",
       ":3: bad seconds 'abc' (expected a finite number)"},
      {"0,0,1\n1,0\n", ":2: missing column 'seconds'"},
      {"0,0,1\n\n1\n", ":3: missing column 'worker'"},
      {"0,0,1\n1,0,-0.5\n", ":2: negative seconds -0.5"},
      {"0,0,1\nx,0,1\n", ":2: bad iteration 'x'"},
      {"0,0,1\n-1,0,1\n", ":2: bad iteration '-1'"},
      {"0,0,1\n1,1.5,1\n", ":2: bad worker '1.5'"},
      {"0,0,1\n1,,1\n", ":2: bad worker ''"},
      {"0,0,1\n1,0,nan\n", ":2: bad seconds 'nan'"},
      {"0,0,1\n1,0,1\n0,0,2\n",
       ":3: duplicate row for iteration 0, worker 0 (first on line 1)"},
      {"iteration,worker,seconds\n\n", ":3: no rows in trace"},
      {"iteration,worker,seconds\nsecond,header,line\n",
       ":2: bad iteration 'second'"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE(cases[i].content);
    std::string path =
        dir.write("bad" + std::to_string(i) + ".csv", cases[i].content);
    EXPECT_THAT(trace_error(path), HasSubstr(path + cases[i].message));
  }
  std::string missing = dir.file("missing.csv");
  EXPECT_THAT(trace_error(missing),
              HasSubstr(missing + ": cannot read: it is missing"));
}

TEST(ReadTrace, EveryBadCorpusFileIsRefusedAtItsLine) {
  std::string dir = test::bad_dir("stragglers");
  auto cases = test::expected_messages(dir);
  test::expect_all_listed(dir, "trace-", cases);
  EXPECT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(trace_error(c.path), HasSubstr(c.path + c.expected));
  }
}

TEST(ReadTrace, LimitsAreInclusive) {
  temp_dir dir;
  auto rows = read_trace(dir.write("w.csv", "0,65535,0.5\n"));
  EXPECT_EQ(rows[0].worker, trace_max_worker);
  std::string text;
  for (std::size_t i = 0; i < 512; ++i)
    text += std::to_string(i) + ",65535,0.5\n";
  EXPECT_EQ(read_trace(dir.write("cells.csv", text)).size(), 512u);
}

TEST(ReadTrace, FifoDeviceAndDirectoryAreRefusedAtOnce) {
  test::expect_non_regular_refused(
      [](const std::string& p) { return trace_error(p); });
}

/// A regime rule without noise: delay is 0 or (factor - 1) * compute.
straggler_spec regime(double p_slow, double p_recover, std::size_t groups,
                      std::vector<std::size_t> workers = {}) {
  straggler_spec s = spec("regime", std::move(workers));
  s.p_slow = p_slow;
  s.p_recover = p_recover;
  s.groups = groups;
  s.factor = 3;
  s.own_share = 0;
  return s;
}

/// 1 where worker `worker` is slow (delay 2 * 0.5 s) in iterations [0, n).
std::vector<int> slow_states(const straggler_model& m, std::size_t worker,
                             std::uint64_t n) {
  std::vector<int> out;
  for (std::uint64_t t = 0; t < n; ++t) {
    double d = m.delay(worker, t, 0.5);
    EXPECT_TRUE(d == 0.0 || d == 1.0) << d;
    out.push_back(d == 1.0);
  }
  return out;
}

/// Mean lengths of the runs of 1s and of 0s.
std::pair<double, double> mean_runs(const std::vector<int>& s) {
  double runs[2] = {0, 0};
  double total[2] = {0, 0};
  for (std::size_t i = 0; i < s.size(); ++i) {
    total[s[i]] += 1;
    if (i == 0 || s[i] != s[i - 1])
      runs[s[i]] += 1;
  }
  return {total[1] / runs[1], total[0] / runs[0]};
}

TEST(StragglerRegime, SlowPhasesPersist) {
  struct scenario {
    double p_slow;
    double p_recover;
  };
  for (scenario sc :
       {scenario{0.05, 0.2}, scenario{0.01, 0.05}, scenario{0.3, 0.6}}) {
    SCOPED_TRACE(::testing::Message() << sc.p_slow << " " << sc.p_recover);
    auto m = make_straggler_model({regime(sc.p_slow, sc.p_recover, 1)}, 2, 3);
    std::vector<int> s = slow_states(*m, 1, 300000);
    auto [slow_run, normal_run] = mean_runs(s);
    EXPECT_NEAR(slow_run, 1 / sc.p_recover, 0.06 / sc.p_recover);
    EXPECT_NEAR(normal_run, 1 / sc.p_slow, 0.06 / sc.p_slow);
    double stationary = sc.p_slow / (sc.p_slow + sc.p_recover);
    EXPECT_NEAR(mean(std::vector<double>(s.begin(), s.end())), stationary,
                0.1 * stationary);
  }
  // The default parameters give the same kind of phases.
  straggler_spec d = spec("regime");
  EXPECT_EQ(d.p_slow, 0.05);
  EXPECT_EQ(d.p_recover, 0.2);
}

TEST(StragglerRegime, GroupsShareStateIndependently) {
  // Members 5, 1, 3, 0, 4 in the rule's order: groups {5, 3, 4}, {1, 0}.
  auto m = make_straggler_model({regime(0.05, 0.2, 2, {5, 1, 3, 0, 4})}, 6, 21);
  const std::uint64_t n = 100000;
  std::vector<int> a = slow_states(*m, 5, n);
  std::vector<int> b = slow_states(*m, 1, n);
  EXPECT_EQ(slow_states(*m, 3, n), a);
  EXPECT_EQ(slow_states(*m, 4, n), a);
  EXPECT_EQ(slow_states(*m, 0, n), b);
  for (std::uint64_t t = 0; t < 100; ++t)
    EXPECT_EQ(m->delay(2, t, 0.5), 0.0);
  std::vector<double> x(a.begin(), a.end());
  std::vector<double> y(b.begin(), b.end());
  EXPECT_NEAR(mean(x), 0.2, 0.03);
  EXPECT_NEAR(mean(y), 0.2, 0.03);
  EXPECT_LT(std::abs(correlation(x, y)), 0.05);
  // A slow state persists: lag-1 correlation within a group is 1 - p - q.
  std::vector<double> next(x.begin() + 1, x.end());
  x.pop_back();
  EXPECT_NEAR(correlation(x, next), 0.75, 0.03);
}

TEST(StragglerRegime, DeterministicInAnyOrderAndThread) {
  straggler_spec s = regime(0.1, 0.3, 3);
  s.own_share = 0.5;
  s.mu = -3;
  s.sigma = 0.5;
  const std::size_t workers = 6;
  const std::uint64_t n = 3000;
  auto reference = make_straggler_model({s}, workers, 42);
  std::vector<std::vector<double>> expected(workers);
  for (std::size_t w = 0; w < workers; ++w)
    expected[w] = series(*reference, w, n, 0.5);

  auto backwards = make_straggler_model({s}, workers, 42);
  for (std::uint64_t t = n; t-- > 0;)
    for (std::size_t w = workers; w-- > 0;)
      ASSERT_EQ(backwards->delay(w, t, 0.5), expected[w][t]);

  auto shared = make_straggler_model({s}, workers, 42);
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (std::uint64_t k = 0; k < 4; ++k)
    threads.emplace_back([&, k] {
      std::uint64_t h = k;
      for (int i = 0; i < 20000; ++i) {
        h = splitmix64(h);
        std::uint64_t t = h % n;
        std::size_t w = (h >> 32) % workers;
        mismatches[k] += shared->delay(w, t, 0.5) != expected[w][t];
      }
    });
  for (auto& t : threads)
    t.join();
  for (int miss : mismatches)
    EXPECT_EQ(miss, 0);

  auto other = make_straggler_model({s}, workers, 43);
  int differ = 0;
  for (std::uint64_t t = 0; t < n; ++t)
    differ += (other->delay(0, t, 0.5) > 1) != (expected[0][t] > 1);
  EXPECT_GT(differ, 100);
}

TEST(StragglerRegime, FactorAndNoise) {
  straggler_spec s = regime(0.2, 0.2, 1);
  s.factor = 2.5;
  s.own_share = 0.5;
  s.mu = -3;
  s.sigma = 0.5;
  auto m = make_straggler_model({s}, 2, 8);
  auto quiet = make_straggler_model({regime(0.2, 0.2, 1)}, 2, 8);
  std::vector<double> noise;
  int slow = 0;
  for (std::uint64_t t = 0; t < 40000; ++t) {
    bool is_slow = quiet->delay(0, t, 0.5) > 0;
    slow += is_slow;
    for (std::size_t w = 0; w < 2; ++w) {
      // The chain does not depend on the noise settings.
      double extra = m->delay(w, t, 1.0) - m->delay(w, t, 0.0);
      ASSERT_DOUBLE_EQ(extra, is_slow ? 1.5 : 0.0) << t;
      double own = m->delay(w, t, 0.0);
      ASSERT_GT(own, 0.0);
      noise.push_back(own);
    }
    ASSERT_NE(m->delay(0, t, 0.5), m->delay(1, t, 0.5));
  }
  EXPECT_GT(slow, 15000);
  EXPECT_LT(slow, 25000);
  double expected = s.own_share * std::exp(s.mu + s.sigma * s.sigma / 2);
  EXPECT_NEAR(mean(noise), expected, 0.03 * expected);
  EXPECT_EQ(m->delay(0, 3, -1.0), m->delay(0, 3, 0.0));
}

TEST(StragglerRegime, ExtremeProbabilities) {
  auto never = make_straggler_model({regime(0, 0, 1)}, 1, 1);
  auto always = make_straggler_model({regime(1, 0, 1)}, 1, 1);
  auto flip = make_straggler_model({regime(1, 1, 1)}, 1, 1);
  std::vector<int> f = slow_states(*flip, 0, 100);
  for (std::uint64_t t = 0; t < 100; ++t) {
    EXPECT_EQ(never->delay(0, t, 0.5), 0.0);
    EXPECT_EQ(always->delay(0, t, 0.5), 1.0);
    if (t > 0) {
      EXPECT_NE(f[t], f[t - 1]) << t;
    }
  }
  EXPECT_THROW(never->delay(0, std::uint64_t{1} << 32, 0.5), std::out_of_range);
}

TEST(StragglerRegime, Validation) {
  std::vector<std::pair<straggler_spec, std::string>> cases;
  auto add = [&](auto change, const std::string& message) {
    straggler_spec s = regime(0.05, 0.2, 2);
    change(s);
    cases.emplace_back(s, "stragglers[0] (regime): " + message);
  };
  add([](straggler_spec& s) { s.p_slow = -0.1; }, "p_slow must be in [0, 1]");
  add([](straggler_spec& s) { s.p_slow = 1.5; }, "p_slow must be in [0, 1]");
  add([](straggler_spec& s) { s.p_slow = NAN; }, "p_slow must be in [0, 1]");
  add([](straggler_spec& s) { s.p_recover = 2; },
      "p_recover must be in [0, 1]");
  add([](straggler_spec& s) { s.p_recover = -INFINITY; },
      "p_recover must be in [0, 1]");
  add([](straggler_spec& s) { s.factor = 0.5; }, "factor must be >= 1");
  add([](straggler_spec& s) { s.groups = 0; }, "groups must be >= 1");
  add([](straggler_spec& s) { s.own_share = -1; }, "own_share must be >= 0");
  add([](straggler_spec& s) { s.sigma = -1; }, "sigma must be >= 0");
  add([](straggler_spec& s) { s.mu = NAN; }, "mu must be finite");
  for (const auto& [s, message] : cases) {
    SCOPED_TRACE(message);
    EXPECT_EQ(invalid_message({s}), message);
  }
  straggler_spec unused = spec("constant");
  unused.p_slow = -1;
  unused.p_recover = 7;
  EXPECT_NO_THROW(make_straggler_model({unused}, 2, 1));
}

} // namespace
} // namespace metronome::algorithms

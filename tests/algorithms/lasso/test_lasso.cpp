#include "algorithms/lasso/generator.hpp"
#include "algorithms/lasso/lasso.hpp"
#include "algorithms/schedule/schedule.hpp"
#include "algorithms/sgd/minibatch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace metronome::algorithms::lasso {
namespace {

using sparse = Eigen::SparseMatrix<double, Eigen::ColMajor, std::int64_t>;

regression_data from_dense(const Eigen::MatrixXd& x,
                           const std::vector<double>& y) {
  regression_data d;
  d.x = x.sparseView(0.0, 0.0); // keeps every non-zero
  d.x.makeCompressed();
  d.y = y;
  return d;
}

// Every entry stored, zeros included, so nothing is implicit.
regression_data fully_stored(const Eigen::MatrixXd& x,
                             const std::vector<double>& y) {
  std::vector<Eigen::Triplet<double, std::int64_t>> t;
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    for (Eigen::Index i = 0; i < x.rows(); ++i)
      t.emplace_back(i, j, x(i, j));
  regression_data d;
  d.x.resize(x.rows(), x.cols());
  d.x.setFromTriplets(t.begin(), t.end());
  d.x.makeCompressed();
  d.y = y;
  return d;
}

schedule_settings cyclic(std::size_t size) {
  schedule_settings s;
  s.kind = "cyclic";
  s.schedule_size = size;
  return s;
}

result run(const regression_data& d, const settings& s,
           const schedule_settings& sched, std::size_t blocks = 1,
           const column_correlation* corr = nullptr) {
  auto schedule = make_scheduler(sched, d.features(), corr);
  return scheduled_descent(d, s, *schedule, blocks);
}

double rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double scale = 0, diff = 0;
  for (std::size_t j = 0; j < a.size(); ++j) {
    scale = std::max(scale, std::abs(a[j]));
    diff = std::max(diff, std::abs(a[j] - b[j]));
  }
  return diff / std::max(scale, 1e-300);
}

regression_data small_problem(std::uint64_t seed, double correlation = 0.5,
                              std::size_t nonzeros_per_row = 0) {
  generator_spec g;
  g.samples = 40;
  g.features = 60;
  g.block_size = 5;
  g.correlation = correlation;
  g.true_nonzeros = 6;
  g.nonzeros_per_row = nonzeros_per_row;
  g.noise = 0.3;
  g.seed = seed;
  std::vector<double> truth;
  return generate(g, truth);
}

// Sparse rows with non-zero column means and a non-zero mean target.
regression_data offset_problem(std::uint64_t seed) {
  regression_data d = small_problem(seed, 0.4, 20);
  for (Eigen::Index k = 0; k < d.x.nonZeros(); ++k)
    d.x.valuePtr()[k] += 1.0;
  for (double& y : d.y)
    y += 3.0;
  return d;
}

TEST(LassoBasics, SoftThresholdAndUpdate) {
  EXPECT_EQ(soft_threshold(3.0, 1.0), 2.0);
  EXPECT_EQ(soft_threshold(-3.0, 1.0), -2.0);
  EXPECT_EQ(soft_threshold(0.5, 1.0), 0.0);
  EXPECT_EQ(soft_threshold(-1.0, 1.0), 0.0);
  // a / n = 2, b / n = 4: S(2, 0.5) / 4.
  EXPECT_EQ(coordinate_update(20.0, 40.0, 10, 0.5), 1.5 / 4);
  EXPECT_EQ(coordinate_update(5.0, 0.0, 10, 0.5), 0.0);
  EXPECT_EQ(objective(8.0, 4, 0.5, {1.0, -2.0, 0.0}), 1.0 + 1.5);
  centering c{{1.0, 2.0}, 10.0};
  EXPECT_EQ(intercept(c, {3.0, -1.0}), 10.0 - 1.0);
}

// scikit-learn's test_lasso_toy (sklearn/linear_model/tests/
// test_coordinate_descent.py): X = [[-1], [0], [1]], y = [-1, 0, 1] with
// fit_intercept. Means are 0, so x~ = x, x.y / n = 2/3 and x.x / n = 2/3:
// b = S(2/3, alpha) / (2/3) = max(0, 1 - 1.5 alpha), intercept 0.
TEST(LassoToy, MatchesScikitLearn) {
  regression_data d = from_dense(Eigen::Vector3d(-1, 0, 1), {-1, 0, 1});
  struct toy {
    double alpha, coef;
    std::vector<double> pred; // at T = [[2], [3], [4]]
  };
  const std::vector<toy> cases = {{1e-8, 1.0, {2, 3, 4}},
                                  {0.1, 0.85, {1.7, 2.55, 3.4}},
                                  {0.5, 0.25, {0.5, 0.75, 1.0}},
                                  {1.0, 0.0, {0, 0, 0}}};
  for (const auto& c : cases) {
    settings s;
    s.alpha = c.alpha;
    s.fit_intercept = true;
    s.gap_every = 1;
    result r = run(d, s, cyclic(1));
    ASSERT_EQ(r.beta.size(), 1u);
    double closed = std::max(0.0, 1.0 - 1.5 * c.alpha);
    EXPECT_NEAR(r.beta[0], closed, 1e-15) << c.alpha;
    EXPECT_NEAR(r.beta[0], c.coef, 1e-7) << c.alpha; // sklearn's 7 decimals
    EXPECT_EQ(r.intercept, 0.0);
    for (int t = 0; t < 3; ++t)
      EXPECT_NEAR(r.beta[0] * (t + 2) + r.intercept, c.pred[t], 1e-7);
    EXPECT_NEAR(r.gap, 0.0, 1e-15) << c.alpha;
    EXPECT_TRUE(r.converged);
    EXPECT_EQ(r.rounds, 1u);
    // P(b) = (1/2n) sum (y - b x)^2 + alpha |b| = (1 - b)^2 / 3 + alpha b.
    double p = (1 - closed) * (1 - closed) / 3 + c.alpha * closed;
    EXPECT_NEAR(r.objective, p, 1e-15);
  }
}

// X^T X / n = I (Hadamard columns of mean 0): b_j = S(x_j . y / n, alpha)
// after one sweep, with or without intercept (which is then mean(y)).
TEST(LassoOrthogonal, ClosedFormSoftThreshold) {
  Eigen::MatrixXd h(1, 1);
  h << 1;
  for (int k = 0; k < 3; ++k) {
    Eigen::MatrixXd next(2 * h.rows(), 2 * h.cols());
    next << h, h, h, -h;
    h = next;
  }
  Eigen::MatrixXd x = h.rightCols(7); // drop the all-ones column
  std::vector<double> y = {3, -1, 0.5, 2, -4, 1, 0.25, 6};
  double alpha = 0.4;
  for (bool fit : {false, true}) {
    for (std::size_t blocks : {1, 3}) {
      regression_data d = from_dense(x, y);
      settings s;
      s.alpha = alpha;
      s.fit_intercept = fit;
      s.gap_every = 7;
      s.tol = 1e-12;
      result r = run(d, s, cyclic(1), blocks);
      double y_mean = 0;
      for (double v : y)
        y_mean += v / 8;
      for (int j = 0; j < 7; ++j) {
        double xty = 0;
        for (int i = 0; i < 8; ++i)
          xty += x(i, j) * (y[i] - (fit ? y_mean : 0.0));
        EXPECT_NEAR(r.beta[j], soft_threshold(xty / 8, alpha), 1e-14)
            << "j " << j << " fit " << fit << " blocks " << blocks;
      }
      EXPECT_EQ(r.rounds, 7u);
      EXPECT_TRUE(r.converged);
      EXPECT_NEAR(r.intercept, fit ? y_mean : 0.0, 1e-14);
      // Orthogonal columns: the same in one parallel round of all seven.
      result p = run(d, s, cyclic(7), blocks);
      EXPECT_LT(rel_diff(p.beta, r.beta), 1e-14);
      EXPECT_EQ(p.rounds, 7u) << "gap_every counts rounds";
    }
  }
}

TEST(LassoDescent, AboveAlphaMaxTheSolutionIsZero) {
  regression_data d = offset_problem(3);
  centering c = center_of(d, true);
  settings s;
  s.fit_intercept = true;
  s.alpha = alpha_max(d, c) * 1.0001;
  s.gap_every = 1;
  result r = run(d, s, cyclic(1));
  EXPECT_TRUE(r.converged);
  EXPECT_EQ(r.rounds, 1u);
  EXPECT_TRUE(std::all_of(r.beta.begin(), r.beta.end(),
                          [](double b) { return b == 0; }));
  EXPECT_DOUBLE_EQ(r.intercept, c.y_mean);
  // Just below alpha_max, b = 0 is no longer optimal.
  s.alpha = alpha_max(d, c) * 0.999;
  s.gap_every = d.features();
  r = run(d, s, cyclic(1));
  EXPECT_TRUE(r.converged);
  EXPECT_TRUE(std::any_of(r.beta.begin(), r.beta.end(),
                          [](double b) { return b != 0; }));
}

// Cyclic descent with one coordinate per round, run for k = 1, 2, ...
// rounds (a run is deterministic, so run k extends run k - 1).
std::vector<result> prefixes(const regression_data& d, settings s,
                             std::uint64_t rounds) {
  std::vector<result> out;
  s.tol = 0;
  for (std::uint64_t k = 1; k <= rounds; ++k) {
    s.max_rounds = k;
    out.push_back(run(d, s, cyclic(1)));
  }
  return out;
}

TEST(LassoDescent, CyclicObjectiveDecreasesMonotonically) {
  for (bool fit : {false, true}) {
    regression_data d = fit ? offset_problem(5) : small_problem(5);
    settings s;
    s.fit_intercept = fit;
    s.alpha = 0.1 * alpha_max(d, center_of(d, fit));
    auto runs = prefixes(d, s, 4 * d.features());
    centering c = center_of(d, fit);
    double yy = 0;
    for (std::size_t i = 0; i < d.samples(); ++i)
      yy += (d.y[i] - c.y_mean) * (d.y[i] - c.y_mean);
    double previous = yy / (2.0 * d.samples()); // P(0)
    for (std::size_t k = 0; k < runs.size(); ++k) {
      EXPECT_LE(runs[k].objective, previous * (1 + 1e-13))
          << "round " << k + 1 << " fit " << fit;
      previous = runs[k].objective;
    }
    EXPECT_LT(runs.back().objective, 0.5 * yy / (2.0 * d.samples()));
  }
}

TEST(LassoDescent, GapBoundsTheSuboptimalityAndVanishes) {
  for (bool fit : {false, true}) {
    regression_data d = fit ? offset_problem(7) : small_problem(7);
    settings s;
    s.fit_intercept = fit;
    s.alpha = 0.05 * alpha_max(d, center_of(d, fit));
    s.tol = 0;
    s.gap_every = d.features();
    s.max_rounds = 2000 * d.features();
    result best = run(d, s, cyclic(1));
    double scale = best.objective;
    EXPECT_LT(best.gap, 1e-12 * scale) << fit;
    EXPECT_GE(best.gap, -1e-14 * scale);
    auto runs = prefixes(d, s, 3 * d.features());
    for (std::size_t k = 0; k < runs.size(); ++k) {
      EXPECT_GE(runs[k].gap, -1e-14 * scale) << k;
      // Weak duality: gap >= P(b) - P(b*) >= 0.
      EXPECT_GE(runs[k].gap, runs[k].objective - best.objective - 1e-12 * scale)
          << k;
    }
    EXPECT_LT(runs.back().gap, runs.front().gap);
  }
}

TEST(LassoDescent, BlockCountsAgreeToRounding) {
  struct setup {
    regression_data d;
    bool fit;
    std::size_t schedule_size;
  };
  // Parallel rounds only where columns are uncorrelated, so that they
  // converge.
  std::vector<setup> setups;
  setups.push_back({small_problem(9, 0.0, 25), false, 4});
  setups.push_back({small_problem(9, 0.5), false, 1});
  setups.push_back({offset_problem(9), true, 1});
  for (const auto& [d, fit, size] : setups) {
    settings s;
    s.fit_intercept = fit;
    s.alpha = 0.1 * alpha_max(d, center_of(d, fit));
    s.tol = 0;
    s.max_rounds = 300;
    result one = run(d, s, cyclic(size), 1);
    for (std::size_t blocks : {2, 3, 7}) {
      result r = run(d, s, cyclic(size), blocks);
      // Not bit-equal in general: the residual sums split at other rows.
      EXPECT_LT(rel_diff(r.beta, one.beta), 1e-12)
          << blocks << " blocks, fit " << fit << ", size " << size;
      EXPECT_NEAR(r.objective, one.objective, 1e-12 * one.objective);
      EXPECT_NEAR(r.intercept, one.intercept,
                  1e-12 * std::max(1.0, std::abs(one.intercept)));
    }
    // The same blocks: the same bits.
    result again = run(d, s, cyclic(size), 3);
    result third = run(d, s, cyclic(size), 3);
    EXPECT_EQ(std::memcmp(again.beta.data(), third.beta.data(),
                          again.beta.size() * sizeof(double)),
              0);
  }
}

// What a distributed run does, by hand, in the documented order: it must
// reproduce scheduled_descent bit for bit.
TEST(LassoDescent, HandWrittenRoundsReproduceTheBits) {
  regression_data d = offset_problem(11);
  settings s;
  s.fit_intercept = true;
  s.alpha = 0.08 * alpha_max(d, center_of(d, true));
  s.tol = 0;
  s.gap_every = 5;
  s.max_rounds = 40;
  schedule_settings sched;
  sched.kind = "priority";
  sched.schedule_size = 6;
  sched.warmup_sweeps = 1;
  column_correlation corr(d);
  result reference = run(d, s, sched, 3, &corr);

  centering c = center_of(d, true);
  std::vector<row_block> blocks;
  for (std::size_t b = 0; b < 3; ++b) {
    auto range = data_shard(d.samples(), 3, b);
    blocks.emplace_back(d, range.begin, range.end, c);
  }
  auto schedule = make_scheduler(sched, d.features(), &corr);
  std::vector<double> beta(d.features(), 0.0);
  std::vector<std::uint64_t> last_keys;
  std::vector<double> last_deltas;
  for (std::uint64_t round = 0; round < s.max_rounds; ++round) {
    auto keys = schedule->next({});
    std::vector<double> current;
    for (auto j : keys)
      current.push_back(beta[j]);
    std::vector<double> sums(2 * keys.size(), 0.0);
    for (std::size_t b = 0; b < 3; ++b) {
      blocks[b].apply(last_keys.data(), last_deltas.data(), last_keys.size());
      std::vector<double> part(2 * keys.size());
      blocks[b].partial_sums(keys.data(), current.data(), keys.size(),
                             part.data());
      for (std::size_t i = 0; i < part.size(); ++i)
        sums[i] = b == 0 ? part[i] : sums[i] + part[i];
    }
    last_keys = keys;
    last_deltas.assign(keys.size(), 0.0);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      beta[keys[i]] =
          coordinate_update(sums[2 * i], sums[2 * i + 1], d.samples(), s.alpha);
      last_deltas[i] = beta[keys[i]] - current[i];
    }
    schedule->observe(keys.data(), last_deltas.data(), keys.size());
  }
  gap_terms total;
  for (auto& b : blocks) {
    b.apply(last_keys.data(), last_deltas.data(), last_keys.size());
    total.add(b.gap_partial());
  }
  EXPECT_EQ(std::memcmp(beta.data(), reference.beta.data(),
                        beta.size() * sizeof(double)),
            0);
  EXPECT_EQ(duality_gap(total, d.samples(), s.alpha, beta), reference.gap);
  EXPECT_EQ(objective(total.rr, d.samples(), s.alpha, beta),
            reference.objective);
  EXPECT_EQ(intercept(c, beta), reference.intercept);
}

TEST(LassoRowBlock, PartialSumsMatchDenseFormulas) {
  regression_data d = offset_problem(13);
  centering c = center_of(d, true);
  Eigen::MatrixXd x = Eigen::MatrixXd(d.x);
  Eigen::VectorXd mean =
      Eigen::Map<Eigen::VectorXd>(c.x_mean.data(), c.x_mean.size());
  Eigen::MatrixXd xc = x.rowwise() - mean.transpose();
  Eigen::VectorXd yc(d.samples());
  for (std::size_t i = 0; i < d.samples(); ++i)
    yc[i] = d.y[i] - c.y_mean;
  std::size_t begin = 7, end = 29;
  row_block block(d, begin, end, c);
  EXPECT_EQ(block.rows(), end - begin);
  Eigen::VectorXd beta = Eigen::VectorXd::Zero(d.features());
  std::vector<std::uint64_t> keys = {3, 17, 0, 59, 42};
  std::vector<double> deltas = {0.5, -1.25, 2.0, 0.125, -0.75};
  block.apply(keys.data(), deltas.data(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i)
    beta[keys[i]] += deltas[i];
  auto xb = xc.middleRows(begin, end - begin);
  Eigen::VectorXd r = yc.segment(begin, end - begin) - xb * beta;
  std::vector<double> current;
  for (auto j : keys)
    current.push_back(beta[j]);
  std::vector<double> out(2 * keys.size());
  block.partial_sums(keys.data(), current.data(), keys.size(), out.data());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    auto col = xb.col(keys[i]);
    double sq = col.squaredNorm();
    EXPECT_NEAR(out[2 * i + 1], sq, 1e-12 * sq);
    double a = col.dot(r) + beta[keys[i]] * sq;
    EXPECT_NEAR(out[2 * i], a, 1e-12 * (std::abs(a) + sq));
  }
  gap_terms g = block.gap_partial();
  Eigen::VectorXd xtr = xb.transpose() * r;
  ASSERT_EQ(g.xtr.size(), d.features());
  for (std::size_t j = 0; j < d.features(); ++j)
    EXPECT_NEAR(g.xtr[j], xtr[j], 1e-11 * (1 + xtr.cwiseAbs().maxCoeff()));
  EXPECT_NEAR(g.rr, r.squaredNorm(), 1e-12 * r.squaredNorm());
  auto ys = yc.segment(begin, end - begin);
  EXPECT_NEAR(g.ry, r.dot(ys), 1e-12 * r.squaredNorm());
  EXPECT_NEAR(g.yy, ys.squaredNorm(), 1e-12 * ys.squaredNorm());
}

TEST(LassoIntercept, EqualsCentringADenseCopy) {
  regression_data d = offset_problem(15);
  centering c = center_of(d, true);
  Eigen::MatrixXd x = Eigen::MatrixXd(d.x);
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    x.col(j).array() -= c.x_mean[j];
  std::vector<double> y = d.y;
  for (double& v : y)
    v -= c.y_mean;
  regression_data centred = fully_stored(x, y);
  // A fixed number of rounds, so both follow the same path.
  settings s;
  s.alpha = 0.07 * alpha_max(d, c);
  s.tol = 0;
  s.gap_every = d.features();
  s.max_rounds = 300 * d.features();
  s.fit_intercept = true;
  result implicit = run(d, s, cyclic(1), 2);
  s.fit_intercept = false;
  result dense = run(centred, s, cyclic(1), 2);
  EXPECT_LT(implicit.gap, 1e-9 * implicit.objective);
  EXPECT_LT(rel_diff(implicit.beta, dense.beta), 1e-10);
  EXPECT_NEAR(implicit.objective, dense.objective, 1e-10 * dense.objective);
  EXPECT_NEAR(implicit.intercept, intercept(c, dense.beta),
              1e-10 * std::abs(c.y_mean));
  EXPECT_NE(implicit.intercept, 0.0);
}

TEST(LassoSchedules, EveryScheduleReachesTheCyclicOptimum) {
  generator_spec g;
  g.samples = 80;
  g.features = 160;
  g.block_size = 8;
  g.correlation = 0.3;
  g.true_nonzeros = 10;
  g.seed = 21;
  std::vector<double> truth;
  regression_data d = generate(g, truth);
  column_correlation corr(d);
  settings s;
  s.alpha = 0.05 * alpha_max(d, center_of(d, false));
  s.tol = 1e-12;
  s.gap_every = d.features();
  result reference = run(d, s, cyclic(1));
  ASSERT_TRUE(reference.converged);
  s.tol = 1e-9;
  s.gap_every = 10;
  for (const auto& kind : schedule_kinds()) {
    schedule_settings sched;
    sched.kind = kind;
    sched.schedule_size = kind == "cyclic" ? 1 : 4;
    result r = run(d, s, sched, 2, &corr);
    EXPECT_TRUE(r.converged) << kind;
    EXPECT_NEAR(r.objective, reference.objective, 1e-6 * reference.objective)
        << kind;
  }
}

TEST(LassoDescent, RejectsBadSettings) {
  regression_data d = small_problem(1);
  auto schedule = make_scheduler(cyclic(1), d.features(), nullptr);
  settings s;
  EXPECT_THROW(scheduled_descent(d, s, *schedule, 0), std::invalid_argument);
  EXPECT_THROW(scheduled_descent(d, s, *schedule, d.samples() + 1),
               std::invalid_argument);
  s.alpha = 0;
  EXPECT_THROW(scheduled_descent(d, s, *schedule, 1), std::invalid_argument);
  s.alpha = 1;
  s.tol = -1;
  EXPECT_THROW(scheduled_descent(d, s, *schedule, 1), std::invalid_argument);
  centering wrong{{0.0}, 0.0};
  EXPECT_THROW(row_block(d, 0, 4, wrong), std::invalid_argument);
  EXPECT_THROW(row_block(d, 5, 4, center_of(d, false)), std::out_of_range);
}

} // namespace
} // namespace metronome::algorithms::lasso

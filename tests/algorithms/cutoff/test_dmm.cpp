#include "algorithms/cutoff/dmm.hpp"
#include "algorithms/cutoff/dmm_net.hpp"
#include "algorithms/data/dataset.hpp"
#include "algorithms/random.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

/// Largest |a - n| / max(|a| + |n|, 1e-4) between the analytic gradient of
/// dmm_negative_elbo and central differences of the objective with
/// `fd_kl_weight`, over the entries of one block.
double block_error(const dmm_spec& spec, const Eigen::VectorXd& params,
                   const std::vector<Eigen::MatrixXd>& x,
                   const std::vector<Eigen::MatrixXd>& noise,
                   const Eigen::VectorXd& analytic, double fd_kl_weight,
                   const dmm_block& block,
                   const std::vector<Eigen::MatrixXd>* bounds = nullptr) {
  constexpr double step = 1e-6;
  double worst = 0;
  Eigen::VectorXd w = params;
  for (std::size_t k = 0; k < block.size; ++k) {
    auto i = static_cast<Eigen::Index>(block.offset + k);
    w(i) = params(i) + step;
    double up =
        dmm_negative_elbo(spec, w, x, noise, fd_kl_weight, nullptr, bounds);
    w(i) = params(i) - step;
    double down =
        dmm_negative_elbo(spec, w, x, noise, fd_kl_weight, nullptr, bounds);
    w(i) = params(i);
    double numeric = (up - down) / (2 * step);
    double a = analytic(i);
    double err =
        std::abs(a - numeric) / std::max(std::abs(a) + std::abs(numeric), 1e-4);
    if (!std::isfinite(err))
      return INFINITY;
    worst = std::max(worst, err);
  }
  return worst;
}

struct gradient_case {
  dmm_spec spec;
  Eigen::VectorXd params;
  std::vector<Eigen::MatrixXd> x;
  std::vector<Eigen::MatrixXd> noise;
};

/// A small model with perturbed parameters (so that gates, ReLUs and
/// variances are away from their initial values) and fixed data and noise.
gradient_case make_gradient_case() {
  gradient_case c;
  c.spec.workers = 3;
  c.spec.latent = 2;
  c.spec.transition_hidden = 5;
  c.spec.emission_hidden = 4;
  c.spec.rnn_hidden = 4;
  c.spec.lag = 4;
  dmm m(c.spec, 7);
  std::mt19937_64 gen(11);
  Eigen::MatrixXd jitter(m.parameters().size(), 1);
  dmm_net::fill_normal(jitter, gen);
  c.params = m.parameters() + 0.3 * jitter.col(0);
  for (int t = 0; t < 4; ++t) {
    Eigen::MatrixXd x(3, 3), e(2, 3);
    dmm_net::fill_normal(x, gen);
    dmm_net::fill_normal(e, gen);
    c.x.push_back(x);
    c.noise.push_back(e);
  }
  return c;
}

TEST(DmmGradient, EveryBlockMatchesCentralDifferences) {
  gradient_case c = make_gradient_case();
  constexpr double kl_weight = 0.7;
  Eigen::VectorXd grad;
  double loss =
      dmm_negative_elbo(c.spec, c.params, c.x, c.noise, kl_weight, &grad);
  ASSERT_TRUE(std::isfinite(loss));
  std::vector<dmm_block> blocks = dmm_blocks(c.spec);
  ASSERT_EQ(blocks.size(), 30u);
  for (const dmm_block& b : blocks) {
    SCOPED_TRACE(b.name);
    double norm = grad.segment(static_cast<Eigen::Index>(b.offset),
                               static_cast<Eigen::Index>(b.size))
                      .norm();
    EXPECT_GT(norm, 1e-6) << "block does not affect the objective";
    EXPECT_LT(block_error(c.spec, c.params, c.x, c.noise, grad, kl_weight, b),
              1e-5);
  }
}

TEST(DmmGradient, CensoredLikelihoodMatchesCentralDifferences) {
  // Entries with a bound contribute log P(x > bound | z); -inf bounds
  // contribute nothing.
  gradient_case c = make_gradient_case();
  std::vector<Eigen::MatrixXd> bounds;
  for (std::size_t t = 0; t < c.x.size(); ++t) {
    Eigen::MatrixXd b = Eigen::MatrixXd::Constant(3, 3, NAN);
    b(static_cast<Eigen::Index>(t % 3), 0) = 0.5 * static_cast<double>(t);
    b(2, 1) = -0.3;
    b(0, 2) = -HUGE_VAL;
    bounds.push_back(b);
  }
  Eigen::VectorXd grad;
  double loss =
      dmm_negative_elbo(c.spec, c.params, c.x, c.noise, 0.9, &grad, &bounds);
  ASSERT_TRUE(std::isfinite(loss));
  EXPECT_NE(loss,
            dmm_negative_elbo(c.spec, c.params, c.x, c.noise, 0.9, nullptr));
  for (const dmm_block& b : dmm_blocks(c.spec)) {
    SCOPED_TRACE(b.name);
    EXPECT_LT(
        block_error(c.spec, c.params, c.x, c.noise, grad, 0.9, b, &bounds),
        1e-5);
  }
}

TEST(DmmGradient, CheckDetectsAWrongKlWeight) {
  // The finite differences of an objective with a slightly different KL
  // weight must disagree with the analytic gradient: the check can fail.
  gradient_case c = make_gradient_case();
  Eigen::VectorXd grad;
  dmm_negative_elbo(c.spec, c.params, c.x, c.noise, 0.7, &grad);
  for (const dmm_block& b : dmm_blocks(c.spec))
    if (b.name == "prior_mean" || b.name == "q_var_b") {
      SCOPED_TRACE(b.name);
      EXPECT_GT(block_error(c.spec, c.params, c.x, c.noise, grad, 0.75, b),
                1e-3);
    }
}

TEST(DmmGradient, ObjectiveIsDeterministicGivenNoise) {
  gradient_case c = make_gradient_case();
  double a = dmm_negative_elbo(c.spec, c.params, c.x, c.noise, 1, nullptr);
  double b = dmm_negative_elbo(c.spec, c.params, c.x, c.noise, 1, nullptr);
  EXPECT_EQ(a, b);
  c.noise[1](0, 0) += 0.5;
  EXPECT_NE(a, dmm_negative_elbo(c.spec, c.params, c.x, c.noise, 1, nullptr));
}

TEST(DmmTruncatedNormal, SampleMeansMatchTheTailMean) {
  std::mt19937_64 gen(3);
  for (double a : {-HUGE_VAL, -2.0, 0.0, 0.7, 3.0, 12.0}) {
    SCOPED_TRACE(a);
    constexpr int draws = 20000;
    double sum = 0;
    double low = INFINITY;
    for (int i = 0; i < draws; ++i) {
      double z = dmm_net::standard_normal_tail(a, gen);
      sum += z;
      low = std::min(low, z);
    }
    EXPECT_GT(low, a);
    // The tail's standard deviation is at most 1.
    EXPECT_NEAR(sum / draws, dmm_net::normal_tail_mean(a),
                4.0 / std::sqrt(draws));
  }
  EXPECT_NEAR(dmm_net::normal_tail_mean(0), std::sqrt(2 / M_PI), 1e-12);
}

/// n workers whose log run-times load on a 2-dimensional AR(1) latent:
/// z_t = A z_{t-1} + 0.3 w_t with A = diag(0.95, 0.85), log x_ti = base_i +
/// C_i z_t + noise e_ti. C has a shared positive column (all workers slow
/// down together) and a mixed one.
std::vector<runtime_observation> linear_gaussian_trace(std::size_t steps,
                                                       std::size_t n,
                                                       double noise,
                                                       std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  Eigen::MatrixXd c(static_cast<Eigen::Index>(n), 2);
  Eigen::VectorXd base(static_cast<Eigen::Index>(n));
  for (Eigen::Index i = 0; i < c.rows(); ++i) {
    c(i, 0) = 0.35 + 0.1 * test::uniform(gen, 0, 1);
    c(i, 1) = test::uniform(gen, -0.4f, 0.4f);
    base(i) = std::log(0.1) + 0.05 * static_cast<double>(i);
  }
  Eigen::Vector2d z(0, 0);
  std::vector<runtime_observation> out;
  for (std::size_t t = 0; t < steps + 50; ++t) {
    z(0) = 0.95 * z(0) + 0.3 * dmm_net::normal(gen);
    z(1) = 0.85 * z(1) + 0.3 * dmm_net::normal(gen);
    runtime_observation o;
    for (Eigen::Index i = 0; i < c.rows(); ++i)
      o.seconds.push_back(
          std::exp(base(i) + c.row(i).dot(z) + noise * dmm_net::normal(gen)));
    o.censored.assign(n, 0);
    if (t >= 50)
      out.push_back(std::move(o));
  }
  return out;
}

/// Censors every run-time above the c-th smallest of its iteration at that
/// order statistic (what a server waiting for c gradients sees).
std::vector<runtime_observation>
censor_above(const std::vector<runtime_observation>& truth, std::size_t c) {
  std::vector<runtime_observation> out = truth;
  for (runtime_observation& o : out) {
    std::vector<double> sorted = o.seconds;
    std::sort(sorted.begin(), sorted.end());
    double tau = sorted[c - 1];
    for (std::size_t i = 0; i < o.seconds.size(); ++i)
      if (o.seconds[i] > tau) {
        o.seconds[i] = tau;
        o.censored[i] = 1;
      }
  }
  return out;
}

std::vector<runtime_observation>
slice(const std::vector<runtime_observation>& v, std::size_t begin,
      std::size_t end) {
  return {v.begin() + static_cast<std::ptrdiff_t>(begin),
          v.begin() + static_cast<std::ptrdiff_t>(end)};
}

dmm_spec small_spec(std::size_t workers) {
  dmm_spec s;
  s.workers = workers;
  s.latent = 4;
  s.transition_hidden = 12;
  s.emission_hidden = 12;
  s.rnn_hidden = 12;
  s.lag = 8;
  return s;
}

dmm_train_options quick_training(std::size_t epochs) {
  dmm_train_options o;
  o.epochs = epochs;
  o.batch = 16;
  o.learning_rate = 0.01;
  o.kl_anneal_epochs = 4;
  o.seed = 5;
  return o;
}

TEST(Dmm, BeatsIidGaussianOnHeldOutLinearGaussianTraces) {
  std::vector<runtime_observation> all = linear_gaussian_trace(600, 8, 0.1, 1);
  std::vector<runtime_observation> train = slice(all, 0, 400);
  std::vector<runtime_observation> test = slice(all, 400, 600);
  dmm m = fit_dmm(train, small_spec(8), quick_training(20));
  double model_ll = dmm_predictive_log_likelihood(m, test, 64, 9);
  double iid_ll = iid_gaussian_log_likelihood(train, test, m.spec().lag);
  std::printf("[ held-out ] log-likelihood per iteration: DMM %.3f, "
              "i.i.d. Gaussian %.3f\n",
              model_ll, iid_ll);
  RecordProperty("dmm_log_likelihood", std::to_string(model_ll));
  RecordProperty("iid_log_likelihood", std::to_string(iid_ll));
  EXPECT_GT(model_ll, iid_ll + 1.0);
}

TEST(Dmm, TrainingIsDeterministicAndReportsProgress) {
  std::vector<runtime_observation> train =
      linear_gaussian_trace(120, 4, 0.1, 2);
  dmm_train_options o = quick_training(6);
  std::vector<dmm_progress> seen;
  o.progress = [&seen](const dmm_progress& p) { seen.push_back(p); };
  dmm a = fit_dmm(train, small_spec(4), o);
  ASSERT_EQ(seen.size(), 6u);
  for (std::size_t e = 0; e < seen.size(); ++e) {
    EXPECT_EQ(seen[e].epoch, e + 1);
    EXPECT_EQ(seen[e].epochs, 6u);
    EXPECT_TRUE(std::isfinite(seen[e].elbo));
  }
  EXPECT_GT(seen.back().elbo, seen.front().elbo);
  EXPECT_DOUBLE_EQ(seen.back().kl_weight, 1.0);
  EXPECT_LT(seen.front().kl_weight, 1.0);
  o.progress = nullptr;
  dmm b = fit_dmm(train, small_spec(4), o);
  EXPECT_EQ(a.parameters(), b.parameters());
  EXPECT_EQ(a.log_mean(), b.log_mean());
  o.seed = 6;
  dmm c = fit_dmm(train, small_spec(4), o);
  EXPECT_NE(a.parameters(), c.parameters());
}

TEST(Dmm, CancelStopsTraining) {
  std::vector<runtime_observation> train = linear_gaussian_trace(60, 3, 0.1, 2);
  std::atomic<bool> cancel{true};
  dmm_train_options o = quick_training(50);
  std::size_t epochs = 0;
  o.progress = [&epochs](const dmm_progress&) { ++epochs; };
  o.cancel = &cancel;
  fit_dmm(train, small_spec(3), o);
  EXPECT_EQ(epochs, 1u);
}

TEST(Dmm, SamplesArePositiveWithTheModelsWidth) {
  std::vector<runtime_observation> trace = linear_gaussian_trace(40, 5, 0.1, 3);
  dmm m = fit_dmm(trace, small_spec(5), quick_training(2));
  std::mt19937_64 gen(1);
  for (std::size_t len : {0u, 1u, 3u, 8u, 20u}) {
    SCOPED_TRACE(len);
    Eigen::MatrixXd s = m.sample_next(slice(trace, 0, len), 32, gen);
    ASSERT_EQ(s.rows(), 32);
    ASSERT_EQ(s.cols(), 5);
    EXPECT_TRUE(s.allFinite());
    EXPECT_GT(s.minCoeff(), 0);
  }
  // Short, long, censored and garbage entries are all accepted.
  std::vector<runtime_observation> odd = slice(trace, 0, 4);
  odd[1].seconds.resize(3);
  odd[1].censored.resize(3);
  odd[2].seconds.push_back(1.0);
  odd[2].censored.clear();
  odd[3].seconds[0] = NAN;
  odd[3].seconds[1] = -1;
  odd[3].censored[2] = 1;
  for (auto method : {imputation_method::model, imputation_method::empirical}) {
    imputation_options io;
    io.method = method;
    Eigen::MatrixXd s = m.sample_next(odd, 16, gen, io);
    EXPECT_TRUE(s.allFinite());
    EXPECT_GT(s.minCoeff(), 0);
  }
}

TEST(Dmm, SamplingIsDeterministicGivenTheGenerator) {
  std::vector<runtime_observation> trace = linear_gaussian_trace(30, 3, 0.1, 4);
  dmm m = fit_dmm(trace, small_spec(3), quick_training(1));
  std::vector<runtime_observation> window = censor_above(slice(trace, 0, 8), 2);
  std::mt19937_64 g1(8), g2(8);
  EXPECT_EQ(m.sample_next(window, 16, g1), m.sample_next(window, 16, g2));
}

TEST(Dmm, ImputationKeepsObservedValuesAndRespectsBounds) {
  std::vector<runtime_observation> truth = linear_gaussian_trace(60, 6, 0.1, 5);
  std::vector<runtime_observation> seen = censor_above(truth, 3);
  dmm m = fit_dmm(seen, small_spec(6), quick_training(3));
  std::vector<runtime_observation> window = slice(seen, 50, 60);
  std::mt19937_64 gen(2);
  for (auto method : {imputation_method::model, imputation_method::empirical}) {
    imputation_options io;
    io.method = method;
    io.copies = 3;
    std::vector<Eigen::MatrixXd> filled = m.impute(window, gen, io);
    ASSERT_EQ(filled.size(), 3u);
    for (const Eigen::MatrixXd& f : filled) {
      ASSERT_EQ(f.rows(), 10);
      ASSERT_EQ(f.cols(), 6);
      for (std::size_t t = 0; t < window.size(); ++t)
        for (std::size_t i = 0; i < 6; ++i) {
          double v =
              f(static_cast<Eigen::Index>(t), static_cast<Eigen::Index>(i));
          if (window[t].censored[i])
            EXPECT_GE(v, window[t].seconds[i]);
          else
            EXPECT_EQ(v, window[t].seconds[i]);
        }
    }
  }
}

TEST(Dmm, EmpiricalImputationDrawsFromLargerObservedValues) {
  std::vector<runtime_observation> window(2);
  window[0].seconds = {1, 2, 3, 4};
  window[0].censored = {0, 0, 0, 0};
  window[1].seconds = {1.5, 2.5, 2.5, 9};
  window[1].censored = {0, 0, 1, 1};
  std::mt19937_64 gen(1);
  std::vector<Eigen::MatrixXd> filled = empirical_impute(window, 50, gen);
  bool saw3 = false, saw4 = false;
  for (const Eigen::MatrixXd& f : filled) {
    double v = f(1, 2);
    EXPECT_TRUE(v == 3 || v == 4) << v;
    saw3 |= v == 3;
    saw4 |= v == 4;
    // Nothing observed exceeds 9: the bound itself.
    EXPECT_EQ(f(1, 3), 9);
    EXPECT_EQ(f(0, 0), 1);
  }
  EXPECT_TRUE(saw3 && saw4);
}

TEST(Dmm, ModelImputationIsLessBiasedThanThePapersRule) {
  // A persistent shared slowdown and a server waiting for 3 of 8 workers:
  // in slow phases few earlier run-times exceed the current cutoff, so the
  // paper's rule often falls back to the bound and imputes too short. The
  // model is trained on the censored trace only.
  std::vector<runtime_observation> truth =
      linear_gaussian_trace(560, 8, 0.25, 6);
  std::vector<runtime_observation> seen = censor_above(truth, 3);
  dmm m = fit_dmm(slice(seen, 0, 400), small_spec(8), quick_training(20));
  std::mt19937_64 gen(4);
  imputation_options model_io, paper_io;
  model_io.copies = paper_io.copies = 16;
  paper_io.method = imputation_method::empirical;
  double model_error = 0, paper_error = 0;
  std::size_t count = 0;
  std::size_t lag = m.spec().lag;
  for (std::size_t t = 400; t < seen.size(); ++t) {
    std::vector<runtime_observation> window = slice(seen, t + 1 - lag, t + 1);
    std::vector<Eigen::MatrixXd> a = m.impute(window, gen, model_io);
    std::vector<Eigen::MatrixXd> b = m.impute(window, gen, paper_io);
    auto last = static_cast<Eigen::Index>(lag - 1);
    for (std::size_t i = 0; i < 8; ++i) {
      if (!seen[t].censored[i])
        continue;
      auto col = static_cast<Eigen::Index>(i);
      double truth_log = std::log(truth[t].seconds[i]);
      for (std::size_t k = 0; k < a.size(); ++k) {
        model_error += std::log(a[k](last, col)) - truth_log;
        paper_error += std::log(b[k](last, col)) - truth_log;
      }
      count += a.size();
    }
  }
  ASSERT_GT(count, 0u);
  model_error /= static_cast<double>(count);
  paper_error /= static_cast<double>(count);
  std::printf("[ imputation ] mean error of imputed log run-times: model "
              "%+.4f, paper %+.4f\n",
              model_error, paper_error);
  RecordProperty("model_bias", std::to_string(model_error));
  RecordProperty("paper_bias", std::to_string(paper_error));
  EXPECT_LT(paper_error, 0);
  EXPECT_LT(std::abs(model_error), std::abs(paper_error));
}

TEST(Dmm, IidBaselineIsTheNormalDensityOfTheLogs) {
  std::vector<runtime_observation> train(2), test(1);
  train[0].seconds = {std::exp(1.0)};
  train[1].seconds = {std::exp(3.0)};
  test[0].seconds = {std::exp(2.5)};
  // Mean 2, variance 1.
  double expected = -0.5 * std::log(2 * M_PI) - 0.5 * 0.25;
  EXPECT_NEAR(iid_gaussian_log_likelihood(train, test), expected, 1e-12);
  test[0].censored = {1};
  EXPECT_THROW(iid_gaussian_log_likelihood(train, test), std::invalid_argument);
}

TEST(Dmm, ObservationsFromTraceCensorMissingWorkers) {
  std::vector<trace_row> rows = {
      {5, 0, 0.2}, {5, 1, 0.3}, {5, 2, 0.25}, {7, 1, 0.4}, {7, 0, 0.1}};
  std::vector<runtime_observation> obs = observations_from_trace(rows);
  ASSERT_EQ(obs.size(), 2u);
  EXPECT_EQ(obs[0].seconds, (std::vector<double>{0.2, 0.3, 0.25}));
  EXPECT_EQ(obs[0].censored, (std::vector<std::uint8_t>{0, 0, 0}));
  EXPECT_EQ(obs[1].seconds, (std::vector<double>{0.1, 0.4, 0.4}));
  EXPECT_EQ(obs[1].censored, (std::vector<std::uint8_t>{0, 0, 1}));
  EXPECT_EQ(observations_from_trace(rows, 2)[0].seconds.size(), 2u);
  rows[1].censored = true; // cut off at 0.3 in a cutoff run
  EXPECT_EQ(observations_from_trace(rows)[0].censored,
            (std::vector<std::uint8_t>{0, 1, 0}));
}

TEST(Dmm, RejectsBadSettings) {
  dmm_spec s = small_spec(0);
  EXPECT_THROW(dmm(s, 1), std::invalid_argument);
  s = small_spec(3);
  s.latent = 0;
  try {
    dmm(s, 1);
    FAIL() << "expected an exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("latent"));
  }
  std::vector<runtime_observation> one = linear_gaussian_trace(1, 3, 0.1, 1);
  EXPECT_THROW(fit_dmm(one, small_spec(3)), std::invalid_argument);
  dmm m(small_spec(3), 1);
  EXPECT_THROW(m.set_parameters(Eigen::VectorXd::Zero(3)),
               std::invalid_argument);
  EXPECT_THROW(
      m.set_normalisation(Eigen::VectorXd::Zero(3), Eigen::VectorXd::Zero(3)),
      std::invalid_argument);
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(DmmFile, SaveLoadRoundTrip) {
  std::vector<runtime_observation> trace = linear_gaussian_trace(40, 4, 0.1, 7);
  dmm m = fit_dmm(trace, small_spec(4), quick_training(2));
  test::temp_dir dir;
  std::string path = dir.file("model.dmm");
  save_dmm(m, path);
  dmm back = load_dmm(path);
  EXPECT_EQ(back.spec().workers, 4u);
  EXPECT_EQ(back.spec().lag, m.spec().lag);
  EXPECT_EQ(back.spec().rnn_hidden, m.spec().rnn_hidden);
  EXPECT_EQ(back.parameters(), m.parameters());
  EXPECT_EQ(back.log_mean(), m.log_mean());
  EXPECT_EQ(back.log_std(), m.log_std());
  std::mt19937_64 g1(3), g2(3);
  EXPECT_EQ(m.sample_next(trace, 8, g1), back.sample_next(trace, 8, g2));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
}

TEST(DmmFile, LoadRejectsBadFilesNamingTheProblem) {
  dmm m(small_spec(3), 1);
  test::temp_dir dir;
  std::string good_path = dir.file("good.dmm");
  save_dmm(m, good_path);
  std::string good = read_all(good_path);
  auto expect_error = [&](const std::string& name, const std::string& bytes,
                          const std::string& what) {
    SCOPED_TRACE(name);
    std::string path = dir.write(name, bytes);
    try {
      load_dmm(path);
      FAIL() << "expected load_error";
    } catch (const load_error& e) {
      EXPECT_THAT(e.what(), AllOf(HasSubstr(path), HasSubstr(what)));
    }
  };
  expect_error("magic.dmm", "hello\n" + good.substr(good.find('\n') + 1),
               "not a metronome DMM model file");
  std::string v2 = good;
  v2.replace(v2.find("version 1"), 9, "version 2");
  expect_error("version.dmm", v2, "unsupported format version 2");
  expect_error("truncated.dmm", good.substr(0, good.size() / 2),
               "truncated file");
  expect_error("no_end.dmm", good.substr(0, good.rfind("end")),
               "truncated file");
  expect_error("empty.dmm", "", "truncated file");
  std::string bad_number = good;
  std::size_t params = bad_number.find("parameters");
  std::size_t value = bad_number.find('\n', params) + 1;
  bad_number.replace(value, bad_number.find('\n', value) - value, "1.5x");
  expect_error("number.dmm", bad_number, "bad number '1.5x'");
  std::string workers = good;
  workers.replace(workers.find("workers 3"), 9, "workers 4");
  expect_error("workers.dmm", workers, "'log_mean' has 3 values, expected 4");
  std::string count = good;
  std::size_t at = count.find("parameters ");
  count.replace(at, count.find('\n', at) - at, "parameters 12");
  expect_error("count.dmm", count, "12 parameters declared");
  expect_error("trailing.dmm", good + "junk\n", "unexpected content");
  try {
    load_dmm(dir.file("missing.dmm"));
    FAIL() << "expected load_error";
  } catch (const load_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing.dmm: cannot read: it is "
                                    "missing"));
  }
  EXPECT_NO_THROW(load_dmm(good_path));
}

std::string dmm_error(const std::string& path) {
  try {
    load_dmm(path);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_dmm did not throw load_error for " << path;
  return "";
}

TEST(DmmFile, EveryBadCorpusFileIsRefusedAtItsLine) {
  std::string dir = test::bad_dir("cutoff");
  auto cases = test::expected_messages(dir);
  test::expect_all_listed(dir, "model-", cases);
  EXPECT_GE(cases.size(), 8u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(dmm_error(c.path), HasSubstr(c.path + c.expected));
  }
}

TEST(DmmFile, FifoDeviceAndDirectoryAreRefusedAtOnce) {
  test::expect_non_regular_refused(
      [](const std::string& p) { return dmm_error(p); });
}

TEST(DmmFile, SaveRefusesADirectoryWithItsReason) {
  dmm m(small_spec(3), 1);
  test::temp_dir dir;
  std::string sub = dir.file("sub");
  std::filesystem::create_directory(sub);
  try {
    save_dmm(m, sub);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(sub + ": cannot write model: it is a "
                                          "directory"));
  }
  std::string missing = dir.file("no/such/dir/m.dmm");
  try {
    save_dmm(m, missing);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(missing + ": cannot write model: No "
                                              "such file or directory"));
  }
}

} // namespace
} // namespace metronome::algorithms

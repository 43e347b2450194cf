#include "algorithms/data/libsvm_loader.hpp"
#include "algorithms/sgd/models.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using ::testing::HasSubstr;

constexpr double grad_tolerance = 1e-3;

/// Parameters uniform in [-scale, scale], so that the check does not only
/// see the near-uniform predictions of the initialisation.
std::vector<float> random_parameters(const model& m, float scale,
                                     std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<float> w(m.num_parameters());
  for (float& v : w)
    v = test::uniform(gen, -scale, scale);
  return w;
}

/// Wraps a model and makes the largest gradient entry 1% too large, to
/// show that the gradient check can fail.
class broken_gradient final : public model {
public:
  explicit broken_gradient(std::unique_ptr<model> m)
      : m_(std::move(m)) {}
  std::string name() const override { return m_->name(); }
  std::size_t num_parameters() const override { return m_->num_parameters(); }
  std::vector<parameter_block> blocks() const override { return m_->blocks(); }
  void initialize(float* w, std::uint64_t seed) const override {
    m_->initialize(w, seed);
  }
  double loss_and_gradient(const float* w, const dataset& d,
                           const std::vector<std::size_t>& batch,
                           float* grad) const override {
    double loss = m_->loss_and_gradient(w, d, batch, grad);
    float* end = grad + num_parameters();
    *std::max_element(grad, end, [](float a, float b) {
      return std::abs(a) < std::abs(b);
    }) *= 1.01f;
    return loss;
  }
  evaluation evaluate(const float* w, const dataset& d) const override {
    return m_->evaluate(w, d);
  }

private:
  std::unique_ptr<model> m_;
};

/// Smallest |pre-activation| of the MLP's hidden layer over `batch`. With
/// inputs in [-1, 1] no probe of step `eps` below it crosses a ReLU kink, so
/// the loss is smooth along every probed direction.
double relu_margin(const std::vector<float>& w, const Eigen::MatrixXf& x,
                   Eigen::Index hidden, const std::vector<std::size_t>& batch) {
  Eigen::Map<const Eigen::MatrixXf> w1(w.data(), hidden, x.rows());
  Eigen::Map<const Eigen::VectorXf> b1(w.data() + hidden * x.rows(), hidden);
  double margin = INFINITY;
  for (std::size_t j : batch) {
    Eigen::VectorXf a = w1 * x.col(static_cast<Eigen::Index>(j)) + b1;
    margin = std::min(margin, static_cast<double>(a.cwiseAbs().minCoeff()));
  }
  return margin;
}

TEST(GradientCheck, SoftmaxDense) {
  dataset d = test::random_dense(7, 40, 4, 1);
  auto m = make_softmax_regression(7, 4);
  EXPECT_EQ(m->num_parameters(), 4u * 8u);
  auto w = random_parameters(*m, 0.5f, 2);
  std::vector<std::size_t> batch{3, 17, 0, 25, 25, 39, 8, 11, 30, 2};
  EXPECT_LT(gradient_check(*m, w.data(), d, batch, 1e-2, 1000, 1),
            grad_tolerance);
}

TEST(GradientCheck, SoftmaxSparse) {
  dataset d = test::random_sparse(9, 30, 3, 0.4, 3);
  auto m = make_softmax_regression(9, 3);
  auto w = random_parameters(*m, 0.5f, 4);
  std::vector<std::size_t> batch{1, 4, 9, 16, 25, 29};
  EXPECT_LT(gradient_check(*m, w.data(), d, batch, 1e-2, 1000, 2),
            grad_tolerance);
}

TEST(GradientCheck, MlpDense) {
  dataset d = test::random_dense(6, 30, 3, 5);
  auto m = make_mlp(6, 5, 3);
  EXPECT_EQ(m->num_parameters(), 5u * 7u + 3u * 6u);
  std::vector<float> w(m->num_parameters());
  m->initialize(w.data(), 6);
  // Non-zero biases so that every parameter block is exercised.
  std::mt19937_64 gen(7);
  for (float& v : w)
    v += test::uniform(gen, -0.1f, 0.1f);
  std::vector<std::size_t> batch = test::iota_batch(12);
  const double eps = 1e-2;
  ASSERT_GT(relu_margin(w, d.dense, 5, batch), eps);
  EXPECT_LT(gradient_check(*m, w.data(), d, batch, eps, 1000, 3),
            grad_tolerance);
}

TEST(GradientCheck, MlpSparse) {
  dataset d = test::random_sparse(10, 20, 4, 0.5, 8);
  auto m = make_mlp(10, 6, 4);
  std::vector<float> w(m->num_parameters());
  m->initialize(w.data(), 9);
  std::mt19937_64 gen(10);
  for (float& v : w)
    v += test::uniform(gen, -0.1f, 0.1f);
  std::vector<std::size_t> batch{0, 2, 4, 6, 8, 10, 12, 19};
  const double eps = 1e-2;
  ASSERT_GT(relu_margin(w, d.sparse.toDense(), 6, batch), eps);
  EXPECT_LT(gradient_check(*m, w.data(), d, batch, eps, 1000, 4),
            grad_tolerance);
}

TEST(GradientCheck, LogregSparseAndDense) {
  dataset d = load_libsvm(test::data_path("synthetic.libsvm"));
  auto m = make_logistic_regression(12);
  EXPECT_EQ(m->num_parameters(), 13u);
  auto w = random_parameters(*m, 1.0f, 10);
  std::vector<std::size_t> batch{0, 1, 2, 3, 5, 8, 13, 21, 34};
  EXPECT_LT(gradient_check(*m, w.data(), d, batch, 1e-2, 13, 5),
            grad_tolerance);

  dataset dense = test::random_dense(5, 20, 2, 11);
  auto m5 = make_logistic_regression(5);
  auto w5 = random_parameters(*m5, 1.0f, 12);
  EXPECT_LT(
      gradient_check(*m5, w5.data(), dense, test::iota_batch(20), 1e-2, 100, 6),
      grad_tolerance);
}

TEST(GradientCheck, DetectsAWrongGradient) {
  dataset d = test::random_dense(7, 40, 4, 1);
  auto good = make_softmax_regression(7, 4);
  broken_gradient bad(make_softmax_regression(7, 4));
  auto w = random_parameters(bad, 0.5f, 2);
  std::vector<std::size_t> batch = test::iota_batch(10);
  EXPECT_LT(gradient_check(*good, w.data(), d, batch, 1e-2, 1000, 1),
            grad_tolerance);
  EXPECT_GT(gradient_check(bad, w.data(), d, batch, 1e-2, 1000, 1), 3e-3);
  // A subset of probes is reproducible for a seed.
  EXPECT_EQ(gradient_check(bad, w.data(), d, batch, 1e-2, 5, 9),
            gradient_check(bad, w.data(), d, batch, 1e-2, 5, 9));
}

TEST(Models, ParameterCountsMatchTheModelsAndSaturate) {
  dataset d = test::random_dense(7, 40, 4, 1);
  for (std::string name : {"softmax", "mlp", "logreg"}) {
    if (name == "logreg")
      d = load_libsvm(test::data_path("synthetic.libsvm"));
    auto m = make_model(name, d, 5);
    EXPECT_EQ(parameter_count(name, d.num_features,
                              static_cast<std::uint64_t>(d.num_classes), 5),
              m->num_parameters())
        << name;
  }
  EXPECT_EQ(parameter_count("mlp", 784, 10, ~std::uint64_t{0}),
            ~std::uint64_t{0});
  EXPECT_EQ(parameter_count("lasso", 784, 10, 5), 0u);
}

TEST(Models, AModelOverTheLimitIsRefusedBeforeItIsAllocated) {
  dataset d = test::random_dense(7, 40, 4, 1);
  auto hidden = model_max_parameters / 8; // (7 + 1) x hidden alone is over
  try {
    make_model("mlp", d, hidden);
    FAIL() << "an mlp of " << hidden << " hidden units was made";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("exceed the limit of 2^27 = 134217728"));
  }
}

TEST(Models, LossAtZeroParameters) {
  dataset d = test::random_dense(7, 40, 4, 1);
  auto m = make_softmax_regression(7, 4);
  std::vector<float> w(m->num_parameters(), 0.0f);
  std::vector<float> g(m->num_parameters());
  double loss =
      m->loss_and_gradient(w.data(), d, test::iota_batch(40), g.data());
  EXPECT_NEAR(loss, std::log(4.0), 1e-6);
  evaluation e = m->evaluate(w.data(), d);
  EXPECT_NEAR(e.loss, std::log(4.0), 1e-6);

  dataset s = load_libsvm(test::data_path("synthetic.libsvm"));
  auto lr = make_logistic_regression(12);
  std::vector<float> z(13, 0.0f);
  std::vector<float> gz(13);
  EXPECT_NEAR(lr->loss_and_gradient(z.data(), s, {0, 1, 2}, gz.data()),
              std::log(2.0), 1e-7);
  // Bias gradient = mean(sigmoid(0) - y) over labels 0, 1, 1.
  EXPECT_NEAR(gz[12], -0.5 / 3.0, 1e-7);
}

TEST(Models, LossIsStableForLargeLogits) {
  dataset d = test::random_dense(3, 4, 2, 1);
  d.dense.setConstant(1.0f);
  auto m = make_softmax_regression(3, 2);
  std::vector<float> w{1000, -1000, 1000, -1000, 1000, -1000, 0, 0};
  std::vector<float> g(w.size());
  d.labels = {1, 1, 0, 0};
  double loss = m->loss_and_gradient(w.data(), d, {0, 1, 2, 3}, g.data());
  EXPECT_TRUE(std::isfinite(loss));
  EXPECT_NEAR(loss, 3000.0, 1e-3); // two samples off by 6000 in logit
  for (float v : g)
    EXPECT_TRUE(std::isfinite(v));

  auto lr = make_logistic_regression(3);
  std::vector<float> wl{500, 500, 500, 0};
  std::vector<float> gl(4);
  loss = lr->loss_and_gradient(wl.data(), d, {0, 2}, gl.data());
  EXPECT_NEAR(loss, 750.0, 1e-3);
}

TEST(Models, DeterministicGradients) {
  dataset d = test::random_dense(50, 64, 5, 3);
  for (const char* name : {"softmax", "mlp"}) {
    auto m = make_model(name, d, 16);
    std::vector<float> w(m->num_parameters());
    m->initialize(w.data(), 5);
    std::vector<float> g1(w.size());
    std::vector<float> g2(w.size(), 1.0f);
    std::vector<std::size_t> batch{5, 3, 60, 1, 22, 7, 7, 40};
    double l1 = m->loss_and_gradient(w.data(), d, batch, g1.data());
    double l2 = m->loss_and_gradient(w.data(), d, batch, g2.data());
    EXPECT_EQ(std::memcmp(&l1, &l2, sizeof l1), 0) << name;
    EXPECT_EQ(std::memcmp(g1.data(), g2.data(), g1.size() * sizeof(float)), 0)
        << name;
  }
}

TEST(Models, InitializationIsDeterministicAndScaled) {
  auto m = make_mlp(784, 128, 10);
  std::size_t p = m->num_parameters();
  EXPECT_EQ(p, 128u * 785u + 10u * 129u);
  std::vector<float> a(p), b(p), c(p);
  m->initialize(a.data(), 42);
  m->initialize(b.data(), 42);
  m->initialize(c.data(), 43);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  auto moments = [](const float* v, std::size_t n) {
    double sum = 0, sq = 0;
    for (std::size_t i = 0; i < n; ++i) {
      sum += v[i];
      sq += double(v[i]) * v[i];
    }
    double mean = sum / n;
    return std::pair<double, double>(mean, std::sqrt(sq / n - mean * mean));
  };
  auto [m1, s1] = moments(a.data(), 128 * 784);
  EXPECT_NEAR(m1, 0.0, 0.002);
  EXPECT_NEAR(s1, std::sqrt(2.0 / 784.0), 0.02 * std::sqrt(2.0 / 784.0));
  for (std::size_t i = 128 * 784; i < 128 * 785; ++i)
    EXPECT_EQ(a[i], 0.0f);
  auto [m2, s2] = moments(a.data() + 128 * 785, 10 * 128);
  EXPECT_NEAR(m2, 0.0, 0.01);
  EXPECT_NEAR(s2, std::sqrt(1.0 / 128.0), 0.1 * std::sqrt(1.0 / 128.0));
  for (std::size_t i = p - 10; i < p; ++i)
    EXPECT_EQ(a[i], 0.0f);

  // Values from an independent Python implementation of splitmix64 seeding,
  // mt19937_64 and the Box-Muller transform: a change of the generator
  // would break reproducibility across builds.
  auto s = make_softmax_regression(4, 2);
  std::vector<float> ws(s->num_parameters());
  s->initialize(ws.data(), 1);
  const float expected[] = {0.00877071265f,  -0.00700871786f, -0.0045281481f,
                            -0.00164049759f, 0.00255860761f,  0.0208147801f,
                            -0.00486422656f, -0.0126179028f};
  for (int i = 0; i < 8; ++i)
    EXPECT_FLOAT_EQ(ws[i], expected[i]) << i;
  EXPECT_EQ(ws[8], 0.0f);
  EXPECT_EQ(ws[9], 0.0f);
}

TEST(Models, EvaluateMatchesBatchLossAcrossChunks) {
  dataset d = test::random_dense(20, 2500, 3, 21);
  auto m = make_softmax_regression(20, 3);
  auto w = random_parameters(*m, 0.3f, 22);
  std::vector<float> g(m->num_parameters());
  double batch_loss =
      m->loss_and_gradient(w.data(), d, test::iota_batch(2500), g.data());
  evaluation e = m->evaluate(w.data(), d);
  EXPECT_NEAR(e.loss, batch_loss, 1e-6 * batch_loss);

  Eigen::Map<const Eigen::MatrixXf> wm(w.data(), 3, 20);
  Eigen::Map<const Eigen::VectorXf> b(w.data() + 60, 3);
  std::size_t correct = 0;
  for (Eigen::Index j = 0; j < 2500; ++j) {
    Eigen::VectorXf z = wm * d.dense.col(j) + b;
    Eigen::Index best;
    z.maxCoeff(&best);
    correct += best == static_cast<Eigen::Index>(d.labels[j]);
  }
  EXPECT_DOUBLE_EQ(e.accuracy, correct / 2500.0);
  EXPECT_GT(e.accuracy, 0.0);
}

TEST(Models, EvaluationIsTheSameOnOneThreadAndOnAll) {
  dataset d = test::random_dense(30, 5500, 4, 23);
  auto m = make_mlp(30, 16, 4);
  auto w = random_parameters(*m, 0.3f, 24);
  evaluation all = m->evaluate(w.data(), d);
  evaluation one;
  {
    tbb::global_control serial(tbb::global_control::max_allowed_parallelism, 1);
    one = m->evaluate(w.data(), d);
  }
  EXPECT_EQ(all.loss, one.loss);
  EXPECT_EQ(all.accuracy, one.accuracy);
}

TEST(Models, EvaluationReportsTheFirstBadLabel) {
  dataset d = test::random_dense(10, 5500, 3, 25);
  d.labels[4321] = 7;
  d.labels[1234] = 9;
  auto m = make_softmax_regression(10, 3);
  auto w = random_parameters(*m, 0.3f, 26);
  for (int attempt = 0; attempt < 5; ++attempt) {
    try {
      m->evaluate(w.data(), d);
      FAIL() << "bad labels accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("sample 1234: label 9"));
    }
  }
}

TEST(Models, SparseAndDenseAgree) {
  dataset s = test::random_sparse(15, 1200, 3, 0.3, 31);
  dataset d = s;
  d.dense = s.sparse.toDense();
  d.sparse = {};
  ASSERT_FALSE(d.is_sparse());
  std::vector<std::size_t> batch{0, 7, 1199, 600, 3, 3};
  for (const char* name : {"softmax", "mlp"}) {
    auto m = make_model(name, s, 8);
    auto w = random_parameters(*m, 0.4f, 32);
    std::vector<float> gs(w.size()), gd(w.size());
    double ls = m->loss_and_gradient(w.data(), s, batch, gs.data());
    double ld = m->loss_and_gradient(w.data(), d, batch, gd.data());
    EXPECT_NEAR(ls, ld, 1e-6) << name;
    for (std::size_t i = 0; i < w.size(); ++i)
      ASSERT_NEAR(gs[i], gd[i], 1e-6) << name << " " << i;
    evaluation es = m->evaluate(w.data(), s);
    evaluation ed = m->evaluate(w.data(), d);
    EXPECT_NEAR(es.loss, ed.loss, 1e-6) << name;
    EXPECT_DOUBLE_EQ(es.accuracy, ed.accuracy) << name;
  }
  for (float& y : s.labels)
    y = y > 0 ? 1.0f : 0.0f;
  d.labels = s.labels;
  auto m = make_logistic_regression(15);
  auto w = random_parameters(*m, 0.4f, 33);
  std::vector<float> gs(w.size()), gd(w.size());
  EXPECT_NEAR(m->loss_and_gradient(w.data(), s, batch, gs.data()),
              m->loss_and_gradient(w.data(), d, batch, gd.data()), 1e-6);
  for (std::size_t i = 0; i < w.size(); ++i)
    EXPECT_NEAR(gs[i], gd[i], 1e-6) << i;
  EXPECT_NEAR(m->evaluate(w.data(), s).loss, m->evaluate(w.data(), d).loss,
              1e-6);
}

TEST(Models, MakeModel) {
  dataset d = test::random_dense(5, 10, 3, 1);
  auto s = make_model("softmax", d);
  EXPECT_EQ(s->name(), "softmax");
  EXPECT_EQ(s->num_parameters(), 18u);
  auto m = make_model("mlp", d, 4);
  EXPECT_EQ(m->name(), "mlp");
  EXPECT_EQ(m->num_parameters(), 4u * 6u + 3u * 5u);
  EXPECT_EQ(make_model("mlp", d)->num_parameters(), 128u * 6u + 3u * 129u);
  dataset b = test::random_dense(5, 10, 2, 1);
  auto l = make_model("logreg", b);
  EXPECT_EQ(l->name(), "logreg");
  EXPECT_EQ(l->num_parameters(), 6u);
  try {
    make_model("svm", d);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("'svm'"));
    EXPECT_THAT(e.what(), HasSubstr("softmax, mlp, logreg"));
  }
  EXPECT_THROW(make_model("logreg", d), std::invalid_argument);
}

TEST(Models, BlocksCoverTheParametersInOrder) {
  dataset d = test::random_dense(5, 10, 3, 1);
  dataset b = test::random_dense(5, 10, 2, 1);
  for (const auto& m : {make_model("softmax", d), make_model("mlp", d, 4),
                        make_model("logreg", b)}) {
    auto blocks = m->blocks();
    auto names = block_names(m->name());
    ASSERT_EQ(blocks.size(), names.size()) << m->name();
    std::size_t next = 0;
    for (std::size_t i = 0; i < blocks.size(); ++i) {
      EXPECT_EQ(blocks[i].name, names[i]);
      EXPECT_EQ(blocks[i].offset, next) << m->name() << " " << names[i];
      next += blocks[i].size;
    }
    EXPECT_EQ(next, m->num_parameters()) << m->name();
    // Biases start at zero and end every block: the blocks sit where the
    // model keeps its layers.
    std::vector<float> w(m->num_parameters());
    m->initialize(w.data(), 3);
    const auto& last = blocks.back();
    std::size_t bias = m->name() == "logreg" ? 1 : 3;
    for (std::size_t k = last.offset + last.size - bias;
         k < last.offset + last.size; ++k)
      EXPECT_EQ(w[k], 0.0f) << m->name() << " key " << k;
    EXPECT_NE(w[last.offset + last.size - bias - 1], 0.0f) << m->name();
  }
  EXPECT_TRUE(block_names("svm").empty());
}

TEST(Models, RejectsBadInput) {
  dataset d = test::random_dense(5, 10, 3, 1);
  auto m = make_softmax_regression(5, 3);
  std::vector<float> w(m->num_parameters()), g(w.size());
  EXPECT_THROW(m->loss_and_gradient(w.data(), d, {10}, g.data()),
               std::out_of_range);
  EXPECT_THROW(m->loss_and_gradient(w.data(), d, {}, g.data()),
               std::invalid_argument);
  auto wrong = make_softmax_regression(6, 3);
  std::vector<float> w6(wrong->num_parameters()), g6(w6.size());
  EXPECT_THROW(wrong->loss_and_gradient(w6.data(), d, {0}, g6.data()),
               std::invalid_argument);
  EXPECT_THROW(wrong->evaluate(w6.data(), d), std::invalid_argument);
  d.labels[2] = 3.0f;
  EXPECT_THROW(m->loss_and_gradient(w.data(), d, {2}, g.data()),
               std::invalid_argument);
  d.labels[2] = 0.5f;
  EXPECT_THROW(m->loss_and_gradient(w.data(), d, {2}, g.data()),
               std::invalid_argument);
  auto lr = make_logistic_regression(5);
  std::vector<float> wl(6), gl(6);
  d.labels[2] = 2.0f;
  EXPECT_THROW(lr->loss_and_gradient(wl.data(), d, {2}, gl.data()),
               std::invalid_argument);
  EXPECT_THROW(make_mlp(5, 0, 3), std::invalid_argument);
}

} // namespace
} // namespace metronome::algorithms

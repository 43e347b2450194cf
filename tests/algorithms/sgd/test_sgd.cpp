#include "algorithms/data/idx_loader.hpp"
#include "algorithms/data/libsvm_loader.hpp"
#include "algorithms/sgd/minibatch.hpp"
#include "algorithms/sgd/program.hpp"
#include "algorithms/sgd/sgd.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <vector>

namespace metronome::algorithms {
namespace {

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(Sgd, ElementwiseKernels) {
  std::vector<float> sum{1, 2, 3};
  std::vector<float> g{0.5f, -2, 10};
  accumulate(sum.data(), g.data(), 3);
  EXPECT_EQ(sum, (std::vector<float>{1.5f, 0, 13}));
  std::vector<float> w{1, 1, 1};
  apply_sgd(w.data(), sum.data(), 2, 0.5f, 3);
  EXPECT_EQ(w, (std::vector<float>{1 - 0.5f * 0.75f, 1, 1 - 0.5f * 6.5f}));
  apply_delta(w.data(), g.data(), 2);
  EXPECT_EQ(w, (std::vector<float>{0.625f + 0.5f, -1, -2.25f}));
}

TEST(Sgd, ApplySgdUsesTheDocumentedFloatExpression) {
  std::mt19937_64 gen(5);
  std::vector<float> w(1000), sum(1000);
  for (std::size_t i = 0; i < w.size(); ++i) {
    w[i] = test::uniform(gen, -1, 1);
    sum[i] = test::uniform(gen, -3, 3);
  }
  std::vector<float> expected = w;
  const float lr = 0.037f;
  for (std::size_t i = 0; i < w.size(); ++i) {
    volatile float mean = sum[i] / static_cast<float>(3);
    volatile float step = lr * mean;
    expected[i] = w[i] - step;
  }
  apply_sgd(w.data(), sum.data(), 3, lr, w.size());
  EXPECT_TRUE(same_bits(w, expected));
}

/// The documented algorithm, written out for the test.
std::vector<float> hand_written_sgd(const model& m, const dataset& d,
                                    const sequential_sgd_options& o) {
  std::vector<float> w(m.num_parameters());
  m.initialize(w.data(), o.seed);
  std::vector<float> sum(w.size()), g(w.size());
  for (std::uint64_t t = 0; t < o.iterations; ++t) {
    for (std::size_t r = 0; r < o.workers; ++r) {
      auto batch = minibatch(data_shard(d.num_samples(), o.workers, r),
                             o.batch_size, o.seed, t);
      m.loss_and_gradient(w.data(), d, batch, g.data());
      if (r == 0)
        sum = g;
      else
        for (std::size_t i = 0; i < w.size(); ++i)
          sum[i] += g[i];
    }
    for (std::size_t i = 0; i < w.size(); ++i)
      w[i] -= o.learning_rate * (sum[i] / static_cast<float>(o.workers));
  }
  return w;
}

TEST(SequentialSgd, OneWorkerEqualsHandWrittenLoop) {
  dataset d = test::random_dense(12, 300, 4, 17);
  auto m = make_softmax_regression(12, 4);
  sequential_sgd_options o;
  o.workers = 1;
  o.batch_size = 16;
  o.learning_rate = 0.2f;
  o.iterations = 40; // more than two epochs
  o.seed = 99;
  std::vector<float> w = sequential_sgd(*m, d, o);
  EXPECT_TRUE(same_bits(w, hand_written_sgd(*m, d, o)));
  std::vector<float> w0(m->num_parameters());
  m->initialize(w0.data(), o.seed);
  EXPECT_FALSE(same_bits(w, w0));
  EXPECT_LT(m->evaluate(w.data(), d).loss, m->evaluate(w0.data(), d).loss);

  o.iterations = 0;
  EXPECT_TRUE(same_bits(sequential_sgd(*m, d, o), w0));
}

TEST(SequentialSgd, SeveralWorkersEqualHandWrittenLoop) {
  dataset d = test::random_dense(10, 250, 3, 23);
  auto m = make_mlp(10, 8, 3);
  sequential_sgd_options o;
  o.workers = 3;
  o.batch_size = 8;
  o.learning_rate = 0.1f;
  o.iterations = 25;
  o.seed = 4;
  std::vector<float> w = sequential_sgd(*m, d, o);
  EXPECT_TRUE(same_bits(w, hand_written_sgd(*m, d, o)));
  sequential_sgd_options one = o;
  one.workers = 1;
  EXPECT_FALSE(same_bits(w, sequential_sgd(*m, d, one)));
  EXPECT_TRUE(same_bits(w, sequential_sgd(*m, d, o)));
}

TEST(SgdProgram, AWorkerOnItsShardComputesTheWholeSetsBits) {
  auto whole =
      std::make_shared<const dataset>(test::random_dense(6, 101, 3, 5));
  sgd_settings s{8, 0.1f, 7};
  sgd_program all(whole, nullptr, make_mlp(6, 4, 3), s);
  std::vector<float> w(all.parameters());
  all.initialize(w.data());
  for (std::size_t rank = 0; rank < 3; ++rank) {
    auto range = data_shard(whole->num_samples(), 3, rank);
    auto part =
        std::make_shared<const dataset>(slice(*whole, range.begin, range.end));
    sgd_program mine(part, nullptr, make_mlp(6, 4, 3), s);
    EXPECT_EQ(mine.samples(), 101u);
    for (std::uint64_t it = 0; it < 30; it += 7) {
      std::vector<float> a(w.size()), b(w.size());
      auto sa = all.compute(w.data(), rank, 3, it, a.data());
      auto sb = mine.compute(w.data(), rank, 3, it, b.data());
      EXPECT_TRUE(same_bits(a, b)) << "rank " << rank << " iteration " << it;
      EXPECT_EQ(sa.loss, sb.loss);
      EXPECT_EQ(sa.samples, sb.samples);
    }
    std::vector<float> g(w.size());
    EXPECT_THROW(mine.compute(w.data(), (rank + 1) % 3, 3, 0, g.data()),
                 std::logic_error);
  }
}

TEST(Training, SoftmaxOnFashionMnistSubset) {
  if (!test::have_fashion())
    GTEST_SKIP() << "Fashion-MNIST not installed in " << test::fashion_dir;
  dataset train =
      load_idx(test::fashion_path("train-images-idx3-ubyte.gz"),
               test::fashion_path("train-labels-idx1-ubyte.gz"), 5000);
  dataset test_set =
      load_idx(test::fashion_path("t10k-images-idx3-ubyte.gz"),
               test::fashion_path("t10k-labels-idx1-ubyte.gz"), 2000);
  auto m = make_model("softmax", train);
  sequential_sgd_options o;
  o.workers = 2;
  o.batch_size = 32;
  o.learning_rate = 0.5f;
  o.iterations = 300;
  o.seed = 1;
  std::vector<float> w0(m->num_parameters());
  m->initialize(w0.data(), o.seed);
  evaluation before = m->evaluate(w0.data(), test_set);
  std::vector<float> w = sequential_sgd(*m, train, o);
  evaluation after_train = m->evaluate(w.data(), train);
  evaluation after = m->evaluate(w.data(), test_set);
  std::cout << "softmax on 5000 Fashion-MNIST samples, 300 x 2 x 32: "
            << "test loss " << before.loss << " -> " << after.loss
            << ", test accuracy " << before.accuracy << " -> " << after.accuracy
            << ", train accuracy " << after_train.accuracy << "\n";
  EXPECT_LT(after.loss, 0.8 * before.loss);
  EXPECT_GT(after.accuracy, 0.7);
  EXPECT_GT(after_train.accuracy, 0.7);
}

TEST(Training, MlpOnFashionMnistSubset) {
  if (!test::have_fashion())
    GTEST_SKIP() << "Fashion-MNIST not installed in " << test::fashion_dir;
  dataset train =
      load_idx(test::fashion_path("train-images-idx3-ubyte.gz"),
               test::fashion_path("train-labels-idx1-ubyte.gz"), 5000);
  auto m = make_model("mlp", train, 32);
  sequential_sgd_options o;
  o.workers = 1;
  o.batch_size = 32;
  o.learning_rate = 0.1f;
  o.iterations = 300;
  o.seed = 2;
  std::vector<float> w = sequential_sgd(*m, train, o);
  evaluation e = m->evaluate(w.data(), train);
  std::cout << "mlp 784-32-10 on 5000 Fashion-MNIST samples, 300 x 32: "
            << "train loss " << e.loss << ", train accuracy " << e.accuracy
            << "\n";
  EXPECT_GT(e.accuracy, 0.7);
}

TEST(Training, LogisticRegressionOnLibsvmFile) {
  dataset d = load_libsvm(test::data_path("synthetic.libsvm"));
  auto m = make_model("logreg", d);
  sequential_sgd_options o;
  o.workers = 2;
  o.batch_size = 8;
  o.learning_rate = 1.0f;
  o.iterations = 200;
  o.seed = 3;
  std::vector<float> w0(m->num_parameters());
  m->initialize(w0.data(), o.seed);
  evaluation before = m->evaluate(w0.data(), d);
  std::vector<float> w = sequential_sgd(*m, d, o);
  evaluation after = m->evaluate(w.data(), d);
  std::cout << "logreg on synthetic.libsvm: loss " << before.loss << " -> "
            << after.loss << ", accuracy " << before.accuracy << " -> "
            << after.accuracy << "\n";
  EXPECT_NEAR(before.loss, std::log(2.0), 0.05);
  EXPECT_LT(after.loss, 0.5 * before.loss);
  EXPECT_GE(after.accuracy, 0.9);
}

} // namespace
} // namespace metronome::algorithms

#include "algorithms/lasso/generator.hpp"
#include "algorithms/schedule/schedule.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace metronome::algorithms::lasso {
namespace {

using ::testing::HasSubstr;

bool same_data(const regression_data& a, const regression_data& b) {
  auto same = [](const auto* p, const auto* q, std::size_t n) {
    return n == 0 || std::memcmp(p, q, n * sizeof(*p)) == 0;
  };
  return a.x.rows() == b.x.rows() && a.x.cols() == b.x.cols() &&
         a.x.nonZeros() == b.x.nonZeros() && a.y.size() == b.y.size() &&
         same(a.y.data(), b.y.data(), a.y.size()) &&
         same(a.x.outerIndexPtr(), b.x.outerIndexPtr(), a.x.cols() + 1) &&
         same(a.x.innerIndexPtr(), b.x.innerIndexPtr(), a.x.nonZeros()) &&
         same(a.x.valuePtr(), b.x.valuePtr(), a.x.nonZeros());
}

// Mean correlation of the column pairs of each block, and of pairs in
// different neighbouring blocks.
std::pair<double, double> block_correlations(const regression_data& d,
                                             std::size_t block_size) {
  column_correlation corr(d);
  double within = 0, across = 0;
  std::size_t n_within = 0, n_across = 0;
  for (std::size_t j = 0; j < d.features(); ++j)
    for (std::size_t k = j + 1; k < d.features() && k < j + 2 * block_size;
         ++k) {
      if (j / block_size == k / block_size) {
        within += corr(j, k);
        ++n_within;
      } else {
        across += corr(j, k);
        ++n_across;
      }
    }
  return {within / n_within, across / n_across};
}

TEST(LassoGenerator, DenseRowsHaveTheRequestedCorrelation) {
  generator_spec g;
  g.samples = 4000;
  g.features = 60;
  g.block_size = 6;
  g.correlation = 0.6;
  g.true_nonzeros = 5;
  g.seed = 3;
  std::vector<double> truth;
  regression_data d = generate(g, truth);
  EXPECT_EQ(d.samples(), 4000u);
  EXPECT_EQ(d.features(), 60u);
  EXPECT_EQ(d.x.nonZeros(), 4000 * 60);
  auto [within, across] = block_correlations(d, 6);
  EXPECT_NEAR(within, 0.6, 0.02);
  EXPECT_NEAR(across, 0.0, 0.02);
  ASSERT_EQ(truth.size(), 60u);
  EXPECT_EQ(std::count_if(truth.begin(), truth.end(),
                          [](double b) { return b != 0; }),
            5);
  for (double b : truth)
    EXPECT_TRUE(b == 0 || (std::abs(b) >= 1 && std::abs(b) < 2)) << b;
  // y = X b* + noise: the residual of the truth is the noise.
  Eigen::VectorXd t = Eigen::Map<Eigen::VectorXd>(truth.data(), 60);
  Eigen::VectorXd y = Eigen::Map<const Eigen::VectorXd>(d.y.data(), 4000);
  Eigen::VectorXd noise = y - d.x * t;
  EXPECT_NEAR(std::sqrt(noise.squaredNorm() / 4000), g.noise, 0.01);
  EXPECT_NEAR(noise.mean(), 0.0, 0.01);
}

TEST(LassoGenerator, SparseRowsHoldWholeBlocks) {
  generator_spec g;
  g.samples = 6000;
  g.features = 200;
  g.block_size = 10;
  g.nonzeros_per_row = 30;
  g.correlation = 0.5;
  g.seed = 4;
  std::vector<double> truth;
  regression_data d = generate(g, truth);
  EXPECT_EQ(d.x.nonZeros(), 6000 * 30);
  Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> rows = d.x;
  for (Eigen::Index i = 0; i < rows.outerSize(); ++i) {
    auto begin = rows.outerIndexPtr()[i], end = rows.outerIndexPtr()[i + 1];
    ASSERT_EQ(end - begin, 30);
    for (auto k = begin; k < end; k += 10) // three whole blocks
      EXPECT_EQ(rows.innerIndexPtr()[k] % 10, 0);
  }
  auto [within, across] = block_correlations(d, 10);
  EXPECT_NEAR(within, 0.5, 0.03);
  EXPECT_NEAR(across, 0.0, 0.02);
}

TEST(LassoGenerator, SameSeedSameProblem) {
  generator_spec g;
  g.samples = 50;
  g.features = 300;
  g.nonzeros_per_row = 25; // the last block of each row cut short
  std::vector<double> t1, t2, t3;
  regression_data a = generate(g, t1);
  regression_data b = generate(g, t2);
  EXPECT_TRUE(same_data(a, b));
  EXPECT_EQ(t1, t2);
  EXPECT_EQ(a.x.nonZeros(), 50 * 25);
  g.seed = 2;
  EXPECT_FALSE(same_data(a, generate(g, t3)));
}

TEST(LassoGenerator, WrittenFileReadsBackExactly) {
  test::temp_dir dir;
  for (std::size_t per_row : {0, 7}) {
    generator_spec g;
    g.samples = 120;
    g.features = 45;
    g.block_size = 4;
    g.nonzeros_per_row = per_row;
    g.correlation = 0.3;
    g.noise = 0.5;
    g.seed = 9 + per_row;
    std::vector<double> truth;
    regression_data d = generate(g, truth);
    d.y[3] = -0.0;
    d.y[4] = 1e-310; // subnormal
    d.y[5] = -1.7976931348623157e308;
    std::string path = dir.file("lasso" + std::to_string(per_row) + ".svm");
    write_libsvm(d, path);
    regression_data back = load_libsvm_regression(path, d.features());
    EXPECT_TRUE(same_data(d, back)) << per_row;
    EXPECT_TRUE(std::signbit(back.y[3]));
  }
}

TEST(LassoGenerator, WriteErrorsNameThePath) {
  test::temp_dir dir;
  regression_data d;
  d.x.resize(1, 1);
  d.y = {1.0};
  std::string path = dir.file("no/such/dir/out.svm");
  try {
    write_libsvm(d, path);
    ADD_FAILURE() << "no error for " << path;
  } catch (const load_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + ": cannot open file for writing"));
  }
  if (std::ifstream("/dev/full").good()) {
    try {
      write_libsvm(d, "/dev/full");
      ADD_FAILURE() << "no error for /dev/full";
    } catch (const load_error& e) {
      EXPECT_THAT(e.what(), HasSubstr("/dev/full: cannot write file"));
    }
  }
}

TEST(LassoGenerator, RejectsBadSpecs) {
  std::vector<double> truth;
  auto bad = [&](auto change) {
    generator_spec g;
    g.samples = 10;
    g.features = 20;
    change(g);
    EXPECT_THROW(generate(g, truth), std::invalid_argument);
  };
  bad([](generator_spec& g) { g.samples = 0; });
  bad([](generator_spec& g) { g.block_size = 0; });
  bad([](generator_spec& g) { g.correlation = 1.0; });
  bad([](generator_spec& g) { g.correlation = -0.1; });
  bad([](generator_spec& g) { g.true_nonzeros = 21; });
  bad([](generator_spec& g) { g.nonzeros_per_row = 21; });
  bad([](generator_spec& g) { g.noise = -1; });
}

} // namespace
} // namespace metronome::algorithms::lasso

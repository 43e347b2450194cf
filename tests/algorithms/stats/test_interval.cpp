#include "algorithms/stats/interval.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace metronome::algorithms {
namespace {

TEST(StudentT, QuantilesMatchPublishedTables) {
  // Two-sided 95% critical values (Student's t tables, to 6 digits).
  EXPECT_NEAR(student_t_quantile(0.975, 1), 12.7062, 1e-4);
  EXPECT_NEAR(student_t_quantile(0.975, 2), 4.30265, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 4), 2.77645, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 10), 2.22814, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 30), 2.04227, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.995, 5), 4.03214, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.975, 1e7), 1.95996, 1e-5);
  EXPECT_NEAR(student_t_quantile(0.025, 4), -2.77645, 1e-5);
  EXPECT_DOUBLE_EQ(student_t_quantile(0.5, 3), 0.0);
  EXPECT_TRUE(std::isnan(student_t_quantile(1.0, 3)));
  EXPECT_TRUE(std::isnan(student_t_quantile(0.9, 0.5)));
}

TEST(TInterval, KnownSample) {
  // mean 3, s = sqrt(2.5), half-width t(0.975, 4) * s / sqrt(5) = 1.96324.
  auto ci = t_interval({1, 2, 3, 4, 5});
  EXPECT_EQ(ci.n, 5u);
  EXPECT_DOUBLE_EQ(ci.mean, 3.0);
  EXPECT_NEAR(ci.high - ci.mean, 1.96324, 1e-5);
  EXPECT_NEAR(ci.mean - ci.low, 1.96324, 1e-5);
  // s = sqrt(2), so the half-width is t(0.975, 1) itself.
  auto two = t_interval({10, 12});
  EXPECT_NEAR(two.high - two.mean, 12.7062, 1e-4);
  auto wide = t_interval({1, 2, 3, 4, 5}, 0.99);
  EXPECT_NEAR(wide.high - wide.mean, 4.60409 * std::sqrt(2.5 / 5), 1e-4);
}

TEST(TInterval, SmallSamplesHaveNoInterval) {
  auto one = t_interval({4.5});
  EXPECT_EQ(one.n, 1u);
  EXPECT_DOUBLE_EQ(one.mean, 4.5);
  EXPECT_TRUE(std::isnan(one.low));
  EXPECT_TRUE(std::isnan(one.high));
  auto none = t_interval({});
  EXPECT_EQ(none.n, 0u);
  EXPECT_TRUE(std::isnan(none.mean));
  auto same = t_interval({2, 2, 2});
  EXPECT_DOUBLE_EQ(same.low, 2.0);
  EXPECT_DOUBLE_EQ(same.high, 2.0);
}

} // namespace
} // namespace metronome::algorithms

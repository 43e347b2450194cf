#include "algorithms/lda/generator.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace metronome::algorithms::lda {
namespace {

using ::testing::HasSubstr;

generator_spec small_spec() {
  generator_spec s;
  s.topics = 5;
  s.vocabulary = 200;
  s.documents = 300;
  s.mean_length = 40;
  s.seed = 11;
  return s;
}

TEST(LdaGenerator, SameSeedSameCorpus) {
  std::vector<std::vector<double>> t1, t2, t3;
  corpus a = generate(small_spec(), t1);
  corpus b = generate(small_spec(), t2);
  EXPECT_EQ(a.words, b.words);
  EXPECT_EQ(a.offsets, b.offsets);
  EXPECT_EQ(t1, t2);
  generator_spec other = small_spec();
  other.seed = 12;
  corpus c = generate(other, t3);
  EXPECT_NE(a.words, c.words);
  EXPECT_NE(t1, t3);
}

TEST(LdaGenerator, ShapeOfTheCorpus) {
  std::vector<std::vector<double>> topics;
  generator_spec s = small_spec();
  corpus c = generate(s, topics);
  ASSERT_EQ(c.documents(), s.documents);
  ASSERT_EQ(c.vocabulary.size(), s.vocabulary);
  EXPECT_EQ(c.vocabulary[0], "w0");
  EXPECT_EQ(c.vocabulary[199], "w199");
  EXPECT_EQ(c.offsets.back(), c.tokens());
  for (std::size_t d = 0; d < c.documents(); ++d)
    EXPECT_GE(c.length(d), 1u);
  for (std::uint32_t w : c.words)
    ASSERT_LT(w, s.vocabulary);
  double expected = s.documents * s.mean_length;
  // Sum of 300 Poisson(39) + 300: standard deviation about 108.
  EXPECT_NEAR(static_cast<double>(c.tokens()), expected, 600);
  ASSERT_EQ(topics.size(), s.topics);
  for (const auto& t : topics) {
    ASSERT_EQ(t.size(), s.vocabulary);
    double sum = 0;
    for (double p : t) {
      EXPECT_GE(p, 0);
      sum += p;
    }
    EXPECT_NEAR(sum, 1.0, 1e-12);
  }
}

TEST(LdaGenerator, LengthsArePoissonForSmallAndLargeMeans) {
  for (double mean : {8.0, 250.0}) {
    generator_spec s = small_spec();
    s.documents = 4000;
    s.mean_length = mean;
    s.vocabulary = 10;
    std::vector<std::vector<double>> topics;
    corpus c = generate(s, topics);
    double m = 0, m2 = 0;
    for (std::size_t d = 0; d < c.documents(); ++d) {
      double n = static_cast<double>(c.length(d)) - 1;
      m += n;
      m2 += n * n;
    }
    m /= c.documents();
    double var = m2 / c.documents() - m * m;
    double lambda = mean - 1;
    EXPECT_NEAR(m, lambda, 5 * std::sqrt(lambda / c.documents())) << mean;
    EXPECT_NEAR(var / lambda, 1.0, 0.1) << mean;
  }
}

TEST(LdaGenerator, SparsePriorsGiveConcentratedTopics) {
  generator_spec s = small_spec();
  s.beta = 0.01;
  std::vector<std::vector<double>> topics;
  generate(s, topics);
  for (const auto& t : topics) {
    // With beta 0.01 over 200 words a few words hold most of the mass.
    std::vector<double> sorted = t;
    std::sort(sorted.rbegin(), sorted.rend());
    double top = 0;
    for (std::size_t i = 0; i < 20; ++i)
      top += sorted[i];
    EXPECT_GT(top, 0.9);
  }
}

void expect_rejected(generator_spec s, const std::string& field) {
  std::vector<std::vector<double>> topics;
  try {
    generate(s, topics);
    ADD_FAILURE() << "accepted a bad " << field;
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr(field));
  }
}

TEST(LdaGenerator, RejectsBadSpecsNamingTheField) {
  generator_spec s = small_spec();
  s.topics = 0;
  expect_rejected(s, "topics");
  s = small_spec();
  s.vocabulary = 0;
  expect_rejected(s, "vocabulary");
  s = small_spec();
  s.documents = 0;
  expect_rejected(s, "documents");
  s = small_spec();
  s.mean_length = 0.5;
  expect_rejected(s, "mean_length");
  s.mean_length = std::nan("");
  expect_rejected(s, "mean_length");
  s = small_spec();
  s.alpha = 0;
  expect_rejected(s, "alpha");
  s.alpha = INFINITY;
  expect_rejected(s, "alpha");
  s = small_spec();
  s.beta = -1;
  expect_rejected(s, "beta");
  s = small_spec();
  s.documents = 100000000;
  s.mean_length = 100;
  expect_rejected(s, "2^28");
}

TEST(LdaGenerator, MatchedCosine) {
  std::vector<std::vector<double>> truth{{1, 0, 0}, {0, 1, 0}, {0, 0.5, 0.5}};
  EXPECT_NEAR(matched_topic_cosine(truth, truth), 1.0, 1e-12);
  std::vector<std::vector<double>> permuted{truth[2], truth[0], truth[1]};
  EXPECT_NEAR(matched_topic_cosine(permuted, truth), 1.0, 1e-12);
  // Two estimates of the same topic: only one may be matched to it, the
  // third true topic gets the orthogonal leftover.
  std::vector<std::vector<double>> doubled{truth[0], truth[0], truth[1]};
  EXPECT_NEAR(matched_topic_cosine(doubled, truth), 2.0 / 3, 1e-12);
  std::vector<std::vector<double>> fewer{truth[0]};
  EXPECT_NEAR(matched_topic_cosine(fewer, truth), 1.0 / 3, 1e-12);
  EXPECT_THROW(matched_topic_cosine(truth, {}), std::invalid_argument);
  EXPECT_THROW(matched_topic_cosine({{1, 0}}, truth), std::invalid_argument);
}

} // namespace
} // namespace metronome::algorithms::lda

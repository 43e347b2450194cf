#include "algorithms/lda/data_program.hpp"
#include "algorithms/lda/generator.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <deque>
#include <sstream>

namespace metronome::algorithms::lda {
namespace {

corpus small_corpus() {
  generator_spec g;
  g.topics = 5;
  g.vocabulary = 120;
  g.documents = 80;
  g.mean_length = 30;
  g.seed = 4;
  std::vector<std::vector<double>> truth;
  return generate(g, truth);
}

program_settings settings(sampler_kind kind) {
  program_settings s;
  s.model.topics = 5;
  s.sampler = kind;
  s.parallel = "data";
  s.seed = 3;
  return s;
}

// The first violated invariant of table counts `w`: every count a
// non-negative integer, and each word's counts adding up to its tokens
// that the workers sample (none of them held out).
std::string count_violation(const corpus& c, const std::vector<float>& w,
                            std::size_t topics) {
  auto tokens = word_token_counts(c);
  for (std::size_t v = 0; v < tokens.size(); ++v) {
    double sum = 0;
    for (std::size_t k = 0; k < topics; ++k) {
      float n = w[v * topics + k];
      if (n < 0 || n != std::round(n))
        return "count " + std::to_string(n) + " of word " + std::to_string(v);
      sum += n;
    }
    if (sum != static_cast<double>(tokens[v]))
      return "word " + std::to_string(v) + " has " + std::to_string(sum) +
             " counts for " + std::to_string(tokens[v]) + " tokens";
  }
  return {};
}

void add(std::vector<float>& w, const std::vector<float>& update) {
  for (std::size_t i = 0; i < w.size(); ++i)
    w[i] += update[i];
}

class LdaDataProgram : public ::testing::TestWithParam<sampler_kind> {};

TEST_P(LdaDataProgram, OneWorkerIsTheSerialSamplerBitForBit) {
  auto c = small_corpus();
  auto s = settings(GetParam());
  s.iterations = 4;
  data_program program(c, s, 1);
  ASSERT_EQ(program.parameters(), c.vocabulary.size() * 5);
  std::vector<float> w(program.parameters()), update(w.size());
  program.initialize(w.data());
  for (std::uint64_t i = 0; i < s.iterations; ++i) {
    auto step = program.compute(w.data(), 0, 1, i, update.data());
    EXPECT_EQ(step.samples, c.tokens());
    EXPECT_TRUE(std::isnan(step.loss));
    add(w, update);
  }
  auto h = s.model;
  h.vocabulary = c.vocabulary.size();
  auto serial = run_serial(c, h, s.sampler, s.mh_steps, s.iterations, s.seed);
  for (std::size_t i = 0; i < w.size(); ++i)
    ASSERT_EQ(w[i], static_cast<float>(serial.rows.row(0)[i])) << "key " << i;
  auto e = program.evaluate(w.data());
  EXPECT_TRUE(std::isnan(e.loss) && std::isnan(e.accuracy));
  double word_ll =
      (log_likelihood(serial.rows, h) + log_likelihood(serial.totals, h)) /
      static_cast<double>(c.tokens());
  EXPECT_EQ(e.fields["word_log_likelihood_per_token"].get<double>(), word_ll);
  EXPECT_FALSE(e.fields.contains("heldout_log_likelihood_per_token"));
}

// Workers read counts `lag` iterations old, as under ssp or async, some
// without their own latest changes: every update is still the exact change
// of a worker's counts, so the table stays a valid count of every token.
TEST_P(LdaDataProgram, StaleReadsKeepTheTableAValidCount) {
  auto c = small_corpus();
  auto s = settings(GetParam());
  data_program program(c, s, 2);
  std::vector<float> w(program.parameters()), update(w.size());
  program.initialize(w.data());
  ASSERT_EQ(count_violation(c, w, 5), "");
  std::deque<std::vector<float>> history{w, w};
  for (std::uint64_t i = 0; i < 12; ++i) {
    for (std::size_t rank = 0; rank < 2; ++rank) {
      const auto& read = history[(i + rank) % 2];
      program.compute(read.data(), rank, 2, i, update.data());
      add(w, update);
    }
    ASSERT_EQ(count_violation(c, w, 5), "") << "iteration " << i;
    history.push_back(w);
    history.pop_front();
  }
  auto e = program.evaluate(w.data());
  EXPECT_LT(e.fields["word_log_likelihood_per_token"].get<double>(), 0);
}

INSTANTIATE_TEST_SUITE_P(Samplers, LdaDataProgram,
                         ::testing::Values(sampler_kind::gibbs,
                                           sampler_kind::sparse,
                                           sampler_kind::lightlda),
                         [](const auto& info) {
                           return sampler_names()[static_cast<int>(info.param)];
                         });

TEST(LdaDataProgramEvaluation, HeldOutScoresAndTopicsText) {
  auto c = small_corpus();
  auto s = settings(sampler_kind::sparse);
  s.heldout = 0.2;
  data_program program(c, s, 2);
  std::vector<float> w(program.parameters()), update(w.size());
  program.initialize(w.data());
  auto before = program.evaluate(w.data());
  for (std::uint64_t i = 0; i < 20; ++i)
    for (std::size_t rank = 0; rank < 2; ++rank) {
      program.compute(w.data(), rank, 2, i, update.data());
      add(w, update);
    }
  auto after = program.evaluate(w.data());
  const char* heldout = "heldout_log_likelihood_per_token";
  EXPECT_GT(after.fields[heldout].get<double>(),
            before.fields[heldout].get<double>() + 0.3);
  auto text = program.result_text(w.data());
  ASSERT_TRUE(text);
  std::istringstream lines(*text);
  std::size_t n = 0;
  for (std::string line; std::getline(lines, line); ++n)
    EXPECT_EQ(line.rfind(std::to_string(n) + " w", 0), 0u) << line;
  EXPECT_EQ(n, 5u);
}

TEST(LdaDataProgramEvaluation, RefusesCountsThatAreNoCounts) {
  auto c = small_corpus();
  data_program program(c, settings(sampler_kind::sparse), 1);
  std::vector<float> w(program.parameters()), update(w.size());
  program.initialize(w.data());
  w[7] = -1;
  EXPECT_THROW(program.compute(w.data(), 0, 1, 0, update.data()),
               std::invalid_argument);
  w[7] = std::nanf("");
  EXPECT_THROW(program.evaluate(w.data()), std::invalid_argument);
  EXPECT_THROW(program.compute(w.data(), 0, 2, 0, update.data()),
               std::invalid_argument);
}

} // namespace
} // namespace metronome::algorithms::lda

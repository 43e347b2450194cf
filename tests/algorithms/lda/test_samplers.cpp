#include "algorithms/lda/generator.hpp"
#include "algorithms/lda/lda.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <vector>

namespace metronome::algorithms::lda {
namespace {

const sampler_kind all_kinds[] = {sampler_kind::gibbs, sampler_kind::sparse,
                                  sampler_kind::lightlda};

// ---- chi-square goodness of fit ----

// The regularised lower incomplete gamma P(a, x): its series below a + 1,
// else one minus Lentz's continued fraction for Q.
double gamma_p(double a, double x) {
  if (x <= 0)
    return 0;
  double log_front = a * std::log(x) - x - std::lgamma(a);
  if (x < a + 1) {
    double term = 1 / a, sum = term;
    for (int n = 1; n < 1000 && term > sum * 1e-16; ++n)
      sum += term *= x / (a + n);
    return sum * std::exp(log_front);
  }
  const double tiny = 1e-300;
  double b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (int i = 1; i < 1000; ++i) {
    double an = -i * (i - a);
    b += 2;
    d = an * d + b;
    d = std::abs(d) < tiny ? tiny : d;
    c = b + an / c;
    c = std::abs(c) < tiny ? tiny : c;
    d = 1 / d;
    double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1) < 1e-16)
      break;
  }
  return 1 - std::exp(log_front) * h;
}

double chi_square_p_value(double statistic, std::size_t dof) {
  return 1 - gamma_p(dof / 2.0, statistic / 2.0);
}

double chi_square(const std::vector<std::uint64_t>& observed,
                  const std::vector<double>& p) {
  double n = 0, stat = 0;
  for (auto o : observed)
    n += static_cast<double>(o);
  for (std::size_t k = 0; k < p.size(); ++k) {
    double e = n * p[k], diff = static_cast<double>(observed[k]) - e;
    stat += diff * diff / e;
  }
  return stat;
}

TEST(LdaChiSquare, CdfMatchesKnownQuantiles) {
  // 95% quantiles of chi-square with 1, 10 and 19 degrees of freedom.
  EXPECT_NEAR(chi_square_p_value(3.841459, 1), 0.05, 1e-6);
  EXPECT_NEAR(chi_square_p_value(18.307038, 10), 0.05, 1e-6);
  EXPECT_NEAR(chi_square_p_value(30.143527, 19), 0.05, 1e-6);
  EXPECT_NEAR(chi_square_p_value(2.0, 2), std::exp(-1.0), 1e-12);
  EXPECT_LT(chi_square_p_value(200, 10), 1e-30);
}

// ---- a model split into shards and blocks ----

struct split_model {
  corpus c;
  hyper h;
  std::vector<std::vector<std::size_t>> docs;
  std::vector<std::uint32_t> block_of_word;
  std::vector<document_shard> shards;
  std::vector<word_topic_rows> rows;
  std::vector<std::int64_t> totals;
};

split_model make_model(std::uint64_t seed, std::size_t shards,
                       std::size_t blocks, double alpha, double beta,
                       std::size_t documents = 40, double mean_length = 25) {
  generator_spec spec;
  spec.topics = 8;
  spec.vocabulary = 60;
  spec.documents = documents;
  spec.mean_length = mean_length;
  spec.seed = seed;
  std::vector<std::vector<double>> truth;
  split_model m;
  m.c = generate(spec, truth);
  m.h = hyper{12, alpha, beta, spec.vocabulary};
  m.docs.resize(shards);
  for (std::size_t d = 0; d < m.c.documents(); ++d)
    m.docs[d % shards].push_back(d);
  m.block_of_word = vocabulary_blocks(word_token_counts(m.c), blocks);
  for (std::size_t s = 0; s < shards; ++s)
    m.shards.emplace_back(m.c, m.docs[s], m.block_of_word, blocks, m.h,
                          seed * 10 + s);
  m.totals.assign(m.h.topics, 0);
  for (std::size_t b = 0; b < blocks; ++b) {
    std::vector<std::uint32_t> words;
    for (std::uint32_t w = 0; w < spec.vocabulary; ++w)
      if (m.block_of_word[w] == b)
        words.push_back(w);
    m.rows.emplace_back(words, m.h.topics);
    for (const document_shard& s : m.shards)
      s.add_counts(b, m.rows[b], m.totals);
  }
  return m;
}

void expect_consistent(const split_model& m) {
  std::size_t kk = m.h.topics, tokens = 0;
  std::vector<std::int64_t> n_wk(m.h.vocabulary * kk, 0);
  for (std::size_t s = 0; s < m.shards.size(); ++s) {
    const document_shard& shard = m.shards[s];
    const auto& z = shard.topics_of_tokens();
    std::size_t t = 0;
    for (std::size_t i = 0; i < m.docs[s].size(); ++i) {
      std::size_t d = m.docs[s][i];
      ASSERT_EQ(shard.length(i), m.c.length(d));
      std::vector<std::int32_t> n_dk(kk, 0);
      for (std::size_t j = m.c.offsets[d]; j < m.c.offsets[d + 1]; ++j, ++t) {
        ASSERT_LT(z[t], kk);
        ++n_dk[z[t]];
        ++n_wk[m.c.words[j] * kk + z[t]];
      }
      ASSERT_EQ(std::vector<std::int32_t>(shard.doc_topics(i),
                                          shard.doc_topics(i) + kk),
                n_dk);
    }
    tokens += shard.tokens();
  }
  std::vector<std::int64_t> per_topic(kk, 0);
  std::int64_t sum = 0;
  for (const word_topic_rows& r : m.rows)
    for (std::size_t i = 0; i < r.words().size(); ++i)
      for (std::size_t k = 0; k < kk; ++k) {
        ASSERT_GE(r.row(i)[k], 0);
        ASSERT_EQ(r.row(i)[k], n_wk[r.words()[i] * kk + k]);
        per_topic[k] += r.row(i)[k];
      }
  for (std::size_t k = 0; k < kk; ++k) {
    ASSERT_GE(m.totals[k], 0);
    sum += m.totals[k];
  }
  EXPECT_EQ(per_topic, m.totals);
  EXPECT_EQ(sum, static_cast<std::int64_t>(tokens));
}

TEST(LdaSampler, CountsStayConsistentAcrossShardsAndBlocks) {
  for (sampler_kind kind : all_kinds)
    for (std::uint64_t seed : {1, 2, 3}) {
      SCOPED_TRACE(sampler_names()[static_cast<int>(kind)] + " seed " +
                   std::to_string(seed));
      split_model m = make_model(seed, 2, 3, 0.1, 0.01);
      expect_consistent(m);
      std::vector<std::unique_ptr<sampler>> samplers;
      for (std::size_t s = 0; s < 2; ++s)
        samplers.push_back(make_sampler(kind, m.h, 2, seed + 100 * s));
      std::uint64_t moved = 0;
      for (int it = 0; it < 4; ++it)
        for (std::size_t b = 0; b < 3; ++b)
          for (std::size_t s = 0; s < 2; ++s) {
            sweep_stats st = samplers[s]->sweep(m.shards[s], (b + s) % 3,
                                                m.rows[(b + s) % 3], m.totals);
            EXPECT_EQ(st.tokens, m.shards[s].tokens_in_block((b + s) % 3));
            moved += st.moved;
            expect_consistent(m);
            if (HasFatalFailure())
              return;
          }
      EXPECT_GT(moved, 0u);
    }
}

TEST(LdaSampler, ACountThatWouldGoNegativeThrows) {
  for (sampler_kind kind : all_kinds) {
    split_model m = make_model(5, 1, 1, 0.1, 0.01);
    std::vector<std::int64_t> too_few(m.h.topics, 0);
    auto s = make_sampler(kind, m.h, 1, 1);
    EXPECT_THROW(s->sweep(m.shards[0], 0, m.rows[0], too_few),
                 std::logic_error);
  }
}

TEST(LdaSampler, SweepRejectsMismatchedInputs) {
  split_model m = make_model(5, 1, 2, 0.1, 0.01);
  auto s = make_sampler(sampler_kind::gibbs, m.h, 1, 1);
  std::vector<std::int64_t> short_totals(3, 100);
  EXPECT_THROW(s->sweep(m.shards[0], 0, m.rows[0], short_totals),
               std::invalid_argument);
  EXPECT_THROW(s->sweep(m.shards[0], 2, m.rows[0], m.totals),
               std::invalid_argument);
  EXPECT_THROW(s->sweep(m.shards[0], 1, m.rows[0], m.totals),
               std::invalid_argument); // rows of the other block
}

TEST(LdaSampler, MakeSamplerRejections) {
  hyper h{10, 0.1, 0.01, 100};
  EXPECT_THROW(make_sampler(sampler_kind::lightlda, h, 0, 1),
               std::invalid_argument);
  EXPECT_NO_THROW(make_sampler(sampler_kind::gibbs, h, 0, 1));
  EXPECT_NO_THROW(make_sampler(sampler_kind::sparse, h, 0, 1));
  h.topics = 65536;
  for (sampler_kind kind : all_kinds)
    EXPECT_THROW(make_sampler(kind, h, 1, 1), std::invalid_argument);
  h.topics = 65535;
  EXPECT_NO_THROW(make_sampler(sampler_kind::lightlda, h, 1, 1));
  h.topics = 0;
  EXPECT_THROW(make_sampler(sampler_kind::gibbs, h, 1, 1),
               std::invalid_argument);
  h = hyper{10, 0, 0.01, 100};
  EXPECT_THROW(make_sampler(sampler_kind::gibbs, h, 1, 1),
               std::invalid_argument);
  h = hyper{10, 0.1, -1, 100};
  EXPECT_THROW(make_sampler(sampler_kind::gibbs, h, 1, 1),
               std::invalid_argument);
  h = hyper{10, 0.1, 0.01, 0};
  EXPECT_THROW(make_sampler(sampler_kind::gibbs, h, 1, 1),
               std::invalid_argument);
}

// ---- stationarity ----

// The exact collapsed conditional of token `token` of shard 0 (counts
// without the token) and the index of its document.
std::vector<double> exact_conditional(split_model& m, std::size_t token) {
  const document_shard& shard = m.shards[0];
  std::size_t kk = m.h.topics, i = 0, begin = 0;
  while (begin + shard.length(i) <= token)
    begin += shard.length(i++);
  std::uint16_t own = shard.topics_of_tokens()[token];
  std::uint32_t w = m.c.words[m.c.offsets[m.docs[0][i]] + token - begin];
  const word_topic_rows& r = m.rows[m.block_of_word[w]];
  const std::int32_t* nw = r.row(r.find(w));
  std::vector<double> p(kk);
  double sum = 0;
  for (std::size_t k = 0; k < kk; ++k) {
    double minus = k == own ? 1 : 0;
    sum += p[k] = (shard.doc_topics(i)[k] - minus + m.h.alpha) *
                  (nw[k] - minus + m.h.beta) /
                  (m.totals[k] - minus + m.h.vocabulary * m.h.beta);
  }
  for (double& x : p)
    x /= sum;
  return p;
}

// Priors large enough that every topic has a testable probability, short
// documents so that a token's own weight in the doc proposal matters.
split_model stationarity_model() {
  return make_model(7, 1, 1, 0.5, 0.1, 250, 4);
}

// Tokens of shard 0 whose word occurs once, 2 to 4 times, and most often
// (a stale word proposal matters most for rare words), and one of a
// document of two tokens.
std::vector<std::size_t> test_tokens() {
  split_model m = stationarity_model();
  auto counts = word_token_counts(m.c);
  std::vector<std::size_t> picked(4, m.c.tokens());
  std::uint32_t frequent = static_cast<std::uint32_t>(
      std::max_element(counts.begin(), counts.end()) - counts.begin());
  auto pick = [&](std::size_t slot, std::size_t t) {
    if (picked[slot] == m.c.tokens())
      picked[slot] = t;
  };
  std::size_t t = 0;
  for (std::size_t d : m.docs[0])
    for (std::size_t j = m.c.offsets[d]; j < m.c.offsets[d + 1]; ++j, ++t) {
      std::uint64_t n = counts[m.c.words[j]];
      if (n == 1)
        pick(0, t);
      if (n >= 2 && n <= 4)
        pick(1, t);
      if (m.c.words[j] == frequent)
        pick(2, t);
      if (m.c.length(d) == 2)
        pick(3, t);
    }
  for (std::size_t p : picked)
    EXPECT_LT(p, m.c.tokens());
  return picked;
}

struct fit {
  double statistic, p_value, perturbed_statistic;
};

fit stationary_fit(sampler_kind kind, std::size_t mh_steps, std::size_t token) {
  split_model m = stationarity_model();
  auto warm = make_sampler(sampler_kind::gibbs, m.h, 1, 3);
  for (int it = 0; it < 5; ++it)
    warm->sweep(m.shards[0], 0, m.rows[0], m.totals);
  std::vector<double> p = exact_conditional(m, token);
  std::vector<std::int64_t> totals_before = m.totals;
  // MH states are correlated: keep every 10th so that draws are nearly
  // independent.
  std::size_t thin = kind == sampler_kind::lightlda ? 10 : 1;
  std::vector<std::uint16_t> z =
      detail::resample_token(kind, m.h, mh_steps, 99, m.shards[0], m.rows[0],
                             m.totals, token, 200000 * thin);
  EXPECT_EQ(z.size(), 200000 * thin);
  EXPECT_EQ(exact_conditional(m, token), p); // the others held fixed
  std::int64_t before = 0, after = 0;
  for (std::size_t k = 0; k < m.h.topics; ++k)
    before += totals_before[k], after += m.totals[k];
  EXPECT_EQ(before, after);
  std::vector<std::uint64_t> observed(m.h.topics, 0);
  for (std::size_t r = thin - 1; r < z.size(); r += thin)
    ++observed[z[r]];
  fit f;
  f.statistic = chi_square(observed, p);
  f.p_value = chi_square_p_value(f.statistic, p.size() - 1);
  // The negative control: a target with 1% of the mass moved from the
  // likeliest topic to the least likely one must be rejected.
  std::vector<double> wrong = p;
  auto top = std::max_element(wrong.begin(), wrong.end());
  auto bottom = std::min_element(wrong.begin(), wrong.end());
  *top -= 0.01;
  *bottom += 0.01;
  f.perturbed_statistic = chi_square(observed, wrong);
  return f;
}

class LdaStationarity
    : public ::testing::TestWithParam<std::pair<sampler_kind, std::size_t>> {};

TEST_P(LdaStationarity, TokenTopicFollowsTheCollapsedConditional) {
  auto [kind, steps] = GetParam();
  for (std::size_t token : test_tokens()) {
    fit f = stationary_fit(kind, steps, token);
    EXPECT_GT(f.p_value, 1e-3) << "token " << token << " chi2 " << f.statistic;
    EXPECT_LT(chi_square_p_value(f.perturbed_statistic, 11), 1e-8)
        << "token " << token << " perturbed chi2 " << f.perturbed_statistic;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Samplers, LdaStationarity,
    ::testing::Values(std::pair{sampler_kind::gibbs, std::size_t{1}},
                      std::pair{sampler_kind::sparse, std::size_t{1}},
                      std::pair{sampler_kind::lightlda, std::size_t{1}},
                      std::pair{sampler_kind::lightlda, std::size_t{4}}),
    [](const auto& info) {
      return sampler_names()[static_cast<int>(info.param.first)] +
             std::to_string(info.param.second);
    });

TEST(LdaStationarity, ResampleRejectsATokenOutOfRange) {
  split_model m = stationarity_model();
  EXPECT_THROW(detail::resample_token(sampler_kind::gibbs, m.h, 1, 1,
                                      m.shards[0], m.rows[0], m.totals,
                                      m.shards[0].tokens(), 10),
               std::invalid_argument);
}

} // namespace
} // namespace metronome::algorithms::lda

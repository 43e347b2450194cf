#include "algorithms/lda/lda.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>
#include <stdexcept>

namespace metronome::algorithms::lda {

double log_likelihood(const word_topic_rows& rows, const hyper& h) {
  double sum = 0, lg_beta = std::lgamma(h.beta);
  for (std::size_t i = 0; i < rows.words().size(); ++i) {
    const std::int32_t* r = rows.row(i);
    for (std::size_t k = 0; k < rows.topics(); ++k)
      if (r[k] != 0)
        sum += std::lgamma(r[k] + h.beta) - lg_beta;
  }
  return sum;
}

double log_likelihood(const std::vector<std::int64_t>& totals, const hyper& h) {
  double vb = static_cast<double>(h.vocabulary) * h.beta;
  double sum = 0, lg_vb = std::lgamma(vb);
  for (std::int64_t n : totals)
    sum += lg_vb - std::lgamma(static_cast<double>(n) + vb);
  return sum;
}

namespace {

// phi_kw of the model held fixed, looked up word by word.
class fixed_topics {
public:
  fixed_topics(const std::vector<word_topic_rows>& blocks,
               const std::vector<std::uint32_t>& block_of_word,
               const std::vector<std::int64_t>& totals, const hyper& h)
      : blocks_(blocks)
      , block_of_word_(block_of_word)
      , beta_(h.beta)
      , inv_(totals.size()) {
    if (totals.size() != h.topics)
      throw std::invalid_argument("heldout: totals of wrong size");
    for (const word_topic_rows& r : blocks)
      if (r.topics() != h.topics)
        throw std::invalid_argument("heldout: rows of wrong topic count");
    double vb = static_cast<double>(h.vocabulary) * h.beta;
    for (std::size_t k = 0; k < totals.size(); ++k)
      inv_[k] = 1.0 / (static_cast<double>(totals[k]) + vb);
  }

  // phi[k] = phi_kw for every topic.
  void operator()(std::uint32_t w, double* phi) const {
    if (w >= block_of_word_.size() || block_of_word_[w] >= blocks_.size())
      throw std::invalid_argument(
          fmt::format("heldout: word {} has no block", w));
    const word_topic_rows& r = blocks_[block_of_word_[w]];
    std::size_t i = r.find(w);
    const std::int32_t* row = i == r.words().size() ? nullptr : r.row(i);
    for (std::size_t k = 0; k < inv_.size(); ++k)
      phi[k] = ((row != nullptr ? row[k] : 0) + beta_) * inv_[k];
  }

private:
  const std::vector<word_topic_rows>& blocks_;
  const std::vector<std::uint32_t>& block_of_word_;
  double beta_;
  std::vector<double> inv_;
};

std::size_t draw_from(const std::vector<double>& weights, double u) {
  std::size_t k = 0;
  while (k + 1 < weights.size() && u >= weights[k]) {
    u -= weights[k];
    ++k;
  }
  return k;
}

// theta of one document, averaged over the sweeps of its even tokens.
std::vector<double> estimate_mixture(const std::vector<double>& phi,
                                     std::size_t n, const hyper& h,
                                     std::size_t sweeps, std::mt19937_64& gen) {
  std::size_t kk = h.topics;
  std::vector<std::size_t> z(n);
  std::vector<double> counts(kk, 0), theta(kk, 0), p(kk);
  for (std::size_t i = 0; i < n; ++i)
    counts[z[i] = uniform_below(gen, kk)] += 1;
  for (std::size_t s = 0; s < sweeps; ++s) {
    for (std::size_t i = 0; i < n; ++i) {
      counts[z[i]] -= 1;
      double sum = 0;
      for (std::size_t k = 0; k < kk; ++k)
        sum += p[k] = (counts[k] + h.alpha) * phi[i * kk + k];
      z[i] = draw_from(p, uniform_open(gen) * sum);
      counts[z[i]] += 1;
    }
    for (std::size_t k = 0; k < kk; ++k)
      theta[k] += counts[k] + h.alpha;
  }
  if (sweeps == 0)
    for (std::size_t k = 0; k < kk; ++k)
      theta[k] = counts[k] + h.alpha;
  double sum = 0;
  for (double t : theta)
    sum += t;
  for (double& t : theta)
    t /= sum;
  return theta;
}

} // namespace

heldout_score
heldout_log_likelihood(const corpus& c, const std::vector<std::size_t>& docs,
                       const std::vector<word_topic_rows>& blocks,
                       const std::vector<std::uint32_t>& block_of_word,
                       const std::vector<std::int64_t>& totals, const hyper& h,
                       std::size_t sweeps, std::uint64_t seed) {
  fixed_topics topics(blocks, block_of_word, totals, h);
  std::mt19937_64 gen(splitmix64(seed));
  std::size_t kk = h.topics;
  heldout_score score;
  std::vector<double> even_phi, phi(kk);
  for (std::size_t d : docs) {
    if (d >= c.documents())
      throw std::invalid_argument(
          fmt::format("heldout: document {} of {}", d, c.documents()));
    std::size_t begin = c.offsets[d], n = c.length(d);
    even_phi.resize((n + 1) / 2 * kk);
    for (std::size_t i = 0; 2 * i < n; ++i)
      topics(c.words[begin + 2 * i], even_phi.data() + i * kk);
    std::vector<double> theta =
        estimate_mixture(even_phi, (n + 1) / 2, h, sweeps, gen);
    for (std::size_t t = 1; t < n; t += 2) {
      topics(c.words[begin + t], phi.data());
      double p = 0;
      for (std::size_t k = 0; k < kk; ++k)
        p += theta[k] * phi[k];
      score.log_likelihood += std::log(p);
      ++score.tokens;
    }
  }
  return score;
}

serial_result run_serial(const corpus& c, const hyper& given, sampler_kind kind,
                         std::size_t mh_steps, std::size_t iterations,
                         std::uint64_t seed) {
  hyper h = given;
  if (h.vocabulary == 0)
    h.vocabulary = c.vocabulary.size();
  std::vector<std::uint32_t> block_of_word(c.vocabulary.size(), 0);
  std::vector<std::size_t> docs(c.documents());
  for (std::size_t d = 0; d < docs.size(); ++d)
    docs[d] = d;
  document_shard shard(c, docs, block_of_word, 1, h, seed);
  std::vector<std::uint32_t> words(c.vocabulary.size());
  for (std::size_t w = 0; w < words.size(); ++w)
    words[w] = static_cast<std::uint32_t>(w);
  serial_result out;
  out.rows = word_topic_rows(std::move(words), h.topics);
  out.totals.assign(h.topics, 0);
  shard.add_counts(0, out.rows, out.totals);
  auto s = make_sampler(kind, h, mh_steps, seed + 1);
  double tokens = static_cast<double>(std::max<std::size_t>(1, c.tokens()));
  double sampling = 0;
  for (std::size_t it = 0; it < iterations; ++it) {
    auto begin = std::chrono::steady_clock::now();
    sweep_stats st = s->sweep(shard, 0, out.rows, out.totals);
    sampling +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - begin)
            .count();
    out.sampling_seconds.push_back(sampling);
    out.stats.tokens += st.tokens;
    out.stats.moved += st.moved;
    out.stats.proposals += st.proposals;
    out.stats.accepted += st.accepted;
    double ll = shard.log_likelihood() + log_likelihood(out.rows, h) +
                log_likelihood(out.totals, h);
    out.log_likelihood_per_token.push_back(ll / tokens);
  }
  return out;
}

std::vector<std::vector<double>>
topic_word_probabilities(const word_topic_rows& rows,
                         const std::vector<std::int64_t>& totals,
                         const hyper& h) {
  if (totals.size() != h.topics || rows.topics() != h.topics)
    throw std::invalid_argument(
        "topic_word_probabilities: rows or totals of wrong size");
  double vb = static_cast<double>(h.vocabulary) * h.beta;
  std::vector<std::vector<double>> phi(h.topics);
  for (std::size_t k = 0; k < h.topics; ++k)
    phi[k].assign(h.vocabulary, h.beta / (static_cast<double>(totals[k]) + vb));
  for (std::size_t i = 0; i < rows.words().size(); ++i) {
    std::uint32_t w = rows.words()[i];
    if (w >= h.vocabulary)
      throw std::invalid_argument(fmt::format(
          "topic_word_probabilities: word {} beyond the vocabulary", w));
    for (std::size_t k = 0; k < h.topics; ++k)
      phi[k][w] =
          (rows.row(i)[k] + h.beta) / (static_cast<double>(totals[k]) + vb);
  }
  return phi;
}

std::string topics_text(const std::vector<std::string>& vocabulary,
                        const word_topic_rows& rows,
                        const std::vector<std::int64_t>& totals,
                        const hyper& h) {
  if (totals.size() != h.topics || rows.topics() != h.topics ||
      rows.words().size() != vocabulary.size())
    throw std::invalid_argument("topics_text: rows or totals of wrong size");
  // phi_kw grows with n_wk within a topic, so a topic's most probable words
  // are its largest counts, then (all at beta) the first words without one.
  std::vector<std::vector<std::pair<std::int32_t, std::uint32_t>>> counted(
      h.topics);
  for (std::size_t i = 0; i < rows.words().size(); ++i)
    for (std::size_t k = 0; k < h.topics; ++k)
      if (rows.row(i)[k] > 0)
        counted[k].emplace_back(rows.row(i)[k], rows.words()[i]);
  double vb = static_cast<double>(h.vocabulary) * h.beta;
  auto top = std::min<std::size_t>(20, vocabulary.size());
  std::string text;
  for (std::size_t k = 0; k < h.topics; ++k) {
    auto& list = counted[k];
    auto first = std::min(top, list.size());
    std::partial_sort(list.begin(), list.begin() + first, list.end(),
                      [](const auto& a, const auto& b) {
                        return a.first > b.first ||
                               (a.first == b.first && a.second < b.second);
                      });
    list.resize(first);
    std::vector<bool> listed(vocabulary.size(), false);
    for (const auto& entry : list)
      listed[entry.second] = true;
    for (std::uint32_t w = 0; list.size() < top; ++w)
      if (!listed[w])
        list.emplace_back(0, w);
    text += std::to_string(k);
    double norm = static_cast<double>(totals[k]) + vb;
    for (const auto& [n, w] : list)
      text += fmt::format(" {}:{:.6g}", vocabulary[w], (n + h.beta) / norm);
    text += '\n';
  }
  return text;
}

} // namespace metronome::algorithms::lda

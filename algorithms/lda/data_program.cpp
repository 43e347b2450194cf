#include "algorithms/lda/data_program.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace metronome::algorithms::lda {

struct data_program::rank_state {
  document_shard shard;
  std::unique_ptr<sampler> draws;
  word_topic_rows own;  // this worker's counts
  word_topic_rows view; // the counts it samples with
  std::vector<std::int32_t> before;
};

data_program::data_program(const corpus& c, const program_settings& s,
                           std::size_t workers)
    : corpus_(c)
    , settings_(s)
    , model_(s.model)
    , workers_(workers)
    , split_(split_documents(c, s.heldout, workers, s.seed))
    , words_(c.vocabulary.size())
    , block_of_word_(c.vocabulary.size(), 0)
    , ranks_(workers) {
  model_.vocabulary = c.vocabulary.size();
  std::iota(words_.begin(), words_.end(), 0u);
  for (std::size_t r = 0; r < workers; ++r) {
    std::size_t tokens = 0;
    for (auto d : split_.workers[r])
      tokens += c.length(d);
    if (tokens == 0)
      throw std::invalid_argument(fmt::format(
          "lda: worker {} has no tokens to sample; use fewer workers or a "
          "smaller heldout fraction",
          r));
    training_tokens_ += tokens;
  }
  if (c.tokens() > most_table_tokens)
    throw std::invalid_argument(fmt::format(
        "lda: parallel: data keeps counts in float tables, exact up to {} "
        "tokens; the corpus has {} (use parallel: model)",
        most_table_tokens, c.tokens()));
}

data_program::~data_program() = default;

std::size_t data_program::parameters() const {
  return words_.size() * model_.topics;
}

std::vector<parameter_block> data_program::blocks() const {
  return {{"word_topic", 0, parameters()}};
}

void data_program::initialize(float* w) const {
  word_topic_rows rows(words_, model_.topics);
  std::vector<std::int64_t> totals(model_.topics, 0);
  for (std::size_t r = 0; r < workers_; ++r)
    document_shard(corpus_, split_.workers[r], block_of_word_, 1, model_,
                   shard_seed(settings_.seed, r))
        .add_counts(0, rows, totals);
  const std::int32_t* n = rows.row(0);
  std::copy(n, n + parameters(), w);
}

data_program::rank_state& data_program::state_of(std::size_t rank) const {
  std::lock_guard<std::mutex> guard{ranks_mtx_};
  auto& slot = ranks_.at(rank);
  if (!slot) {
    document_shard shard(corpus_, split_.workers[rank], block_of_word_, 1,
                         model_, shard_seed(settings_.seed, rank));
    word_topic_rows own(words_, model_.topics);
    std::vector<std::int64_t> ignored(model_.topics, 0);
    shard.add_counts(0, own, ignored);
    slot.reset(new rank_state{
        std::move(shard),
        make_sampler(settings_.sampler, model_, settings_.mh_steps,
                     sampler_seed(settings_.seed, rank)),
        std::move(own), word_topic_rows(words_, model_.topics),
        std::vector<std::int32_t>(parameters())});
  }
  return *slot;
}

namespace {

std::int32_t count_of(float v, std::size_t key) {
  if (!(v >= 0 && v <= static_cast<float>(most_table_tokens)))
    throw std::invalid_argument(
        fmt::format("lda: count {} of key {} is not a token count", v, key));
  return static_cast<std::int32_t>(std::lround(v));
}

} // namespace

worker_step data_program::compute(const float* w, std::size_t rank,
                                  std::size_t workers, std::uint64_t iteration,
                                  float* update) const {
  (void)iteration;
  if (workers != workers_)
    throw std::invalid_argument(fmt::format(
        "lda: computed for {} workers, split for {}", workers, workers_));
  auto& st = state_of(rank);
  auto keys = parameters();
  std::int32_t* view = st.view.row(0);
  const std::int32_t* own = st.own.row(0);
  std::vector<std::int64_t> totals(model_.topics, 0);
  for (std::size_t i = 0; i < keys; ++i) {
    view[i] = std::max(count_of(w[i], i), own[i]);
    totals[i % model_.topics] += view[i];
  }
  std::copy(view, view + keys, st.before.begin());
  auto stats = st.draws->sweep(st.shard, 0, st.view, totals);
  std::int32_t* mine = st.own.row(0);
  for (std::size_t i = 0; i < keys; ++i) {
    auto delta = view[i] - st.before[i];
    mine[i] += delta;
    update[i] = static_cast<float>(delta);
  }
  return {std::nan(""), stats.tokens};
}

word_topic_rows data_program::rows_of(const float* w,
                                      std::vector<std::int64_t>& totals) const {
  word_topic_rows rows(words_, model_.topics);
  totals.assign(model_.topics, 0);
  std::int32_t* n = rows.row(0);
  for (std::size_t i = 0; i < parameters(); ++i) {
    n[i] = count_of(w[i], i);
    totals[i % model_.topics] += n[i];
  }
  return rows;
}

evaluation data_program::evaluate(const float* w) const {
  std::vector<std::int64_t> totals;
  auto rows = rows_of(w, totals);
  evaluation e;
  e.loss = e.accuracy = std::nan("");
  e.fields["word_log_likelihood_per_token"] =
      (log_likelihood(rows, model_) + log_likelihood(totals, model_)) /
      static_cast<double>(training_tokens_);
  if (split_.heldout.empty())
    return e;
  std::vector<word_topic_rows> blocks;
  blocks.push_back(std::move(rows));
  auto score = heldout_log_likelihood(corpus_, split_.heldout, blocks,
                                      block_of_word_, totals, model_,
                                      settings_.heldout_sweeps, settings_.seed);
  if (score.tokens > 0)
    e.fields["heldout_log_likelihood_per_token"] =
        score.log_likelihood / static_cast<double>(score.tokens);
  return e;
}

std::optional<std::string> data_program::result_text(const float* w) const {
  std::vector<std::int64_t> totals;
  auto rows = rows_of(w, totals);
  return topics_text(corpus_.vocabulary, rows, totals, model_);
}

} // namespace metronome::algorithms::lda

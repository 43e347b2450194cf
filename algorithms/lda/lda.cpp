#include "algorithms/lda/lda.hpp"
#include "algorithms/lda/state.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <random>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms::lda {

void negative_count() {
  throw std::logic_error("lda: a count would become negative");
}

std::vector<std::string> sampler_names() {
  return {"gibbs", "sparse", "lightlda"};
}

std::optional<sampler_kind> find_sampler(const std::string& name) {
  if (name == "gibbs")
    return sampler_kind::gibbs;
  if (name == "sparse")
    return sampler_kind::sparse;
  if (name == "lightlda")
    return sampler_kind::lightlda;
  return std::nullopt;
}

// Largest word first onto the lightest block (ties: lower index), so no
// block exceeds the mean by more than one word's tokens. Words without
// tokens go round-robin to spread the rows.
std::vector<std::uint32_t>
vocabulary_blocks(const std::vector<std::uint64_t>& word_tokens,
                  std::size_t blocks) {
  if (blocks == 0)
    throw std::invalid_argument("vocabulary_blocks: blocks must be at least 1");
  std::vector<std::uint32_t> order(word_tokens.size());
  for (std::size_t w = 0; w < order.size(); ++w)
    order[w] = static_cast<std::uint32_t>(w);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) {
                     return word_tokens[a] > word_tokens[b];
                   });
  using load = std::pair<std::uint64_t, std::size_t>;
  std::priority_queue<load, std::vector<load>, std::greater<load>> lightest;
  for (std::size_t b = 0; b < blocks; ++b)
    lightest.push({0, b});
  std::vector<std::uint32_t> block_of(word_tokens.size(), 0);
  std::size_t next_empty = 0;
  for (std::uint32_t w : order) {
    if (word_tokens[w] == 0) {
      block_of[w] = static_cast<std::uint32_t>(next_empty++ % blocks);
      continue;
    }
    load l = lightest.top();
    lightest.pop();
    block_of[w] = static_cast<std::uint32_t>(l.second);
    lightest.push({l.first + word_tokens[w], l.second});
  }
  return block_of;
}

std::vector<std::uint64_t> word_token_counts(const corpus& c) {
  std::vector<std::uint64_t> counts(c.vocabulary.size(), 0);
  for (std::uint32_t w : c.words) {
    if (w >= counts.size())
      throw std::invalid_argument(
          fmt::format("lda corpus: word id {} outside the vocabulary of {}", w,
                      counts.size()));
    ++counts[w];
  }
  return counts;
}

// ---- word_topic_rows ----

word_topic_rows::word_topic_rows(std::vector<std::uint32_t> words,
                                 std::size_t topics)
    : words_(std::move(words))
    , topics_(topics)
    , counts_(words_.size() * topics, 0) {
  for (std::size_t i = 1; i < words_.size(); ++i)
    if (words_[i - 1] >= words_[i])
      throw std::invalid_argument("word_topic_rows: words not sorted, unique");
}

std::size_t word_topic_rows::find(std::uint32_t word) const {
  auto it = std::lower_bound(words_.begin(), words_.end(), word);
  if (it == words_.end() || *it != word)
    return words_.size();
  return static_cast<std::size_t>(it - words_.begin());
}

void word_topic_rows::nonzeros(std::vector<std::uint64_t>& keys,
                               std::vector<double>& counts) const {
  keys.clear();
  counts.clear();
  for (std::size_t i = 0; i < words_.size(); ++i) {
    const std::int32_t* r = row(i);
    for (std::size_t k = 0; k < topics_; ++k)
      if (r[k] != 0) {
        keys.push_back(std::uint64_t{words_[i]} * topics_ + k);
        counts.push_back(r[k]);
      }
  }
}

std::size_t word_topic_rows::entry_of(std::uint64_t key) const {
  std::uint64_t word = topics_ == 0 ? 0 : key / topics_;
  std::size_t i = word > std::numeric_limits<std::uint32_t>::max()
                      ? words_.size()
                      : find(static_cast<std::uint32_t>(word));
  if (topics_ == 0 || i == words_.size())
    return counts_.size();
  return i * topics_ + key % topics_;
}

template <class Count>
std::vector<std::size_t>
word_topic_rows::checked_entries(const char* what,
                                 const std::vector<std::uint64_t>& keys,
                                 const std::vector<Count>& counts) const {
  if (keys.size() != counts.size())
    throw std::invalid_argument(
        fmt::format("word_topic_rows::{}: {} keys but {} counts", what,
                    keys.size(), counts.size()));
  std::vector<std::size_t> entries(keys.size());
  for (std::size_t j = 0; j < keys.size(); ++j) {
    entries[j] = entry_of(keys[j]);
    if (entries[j] == counts_.size())
      throw std::invalid_argument(fmt::format(
          "word_topic_rows::{}: key {} is not of a word held", what, keys[j]));
    auto c = static_cast<double>(counts[j]);
    if (!(c >= 0) || c != std::floor(c) || c > 2147483647.0)
      throw std::invalid_argument(fmt::format(
          "word_topic_rows::{}: count {} of key {} is not an int32 count", what,
          c, keys[j]));
  }
  return entries;
}

void word_topic_rows::assign(const std::vector<std::uint64_t>& keys,
                             const std::vector<double>& counts) {
  auto entries = checked_entries("assign", keys, counts);
  std::fill(counts_.begin(), counts_.end(), 0);
  for (std::size_t j = 0; j < keys.size(); ++j)
    counts_[entries[j]] = static_cast<std::int32_t>(counts[j]);
}

void word_topic_rows::set(const std::vector<std::uint64_t>& keys,
                          const std::vector<std::int64_t>& counts) {
  auto entries = checked_entries("set", keys, counts);
  for (std::size_t j = 0; j < keys.size(); ++j)
    counts_[entries[j]] = static_cast<std::int32_t>(counts[j]);
}

void word_topic_rows::take(const std::vector<std::uint64_t>& candidates,
                           std::vector<std::uint64_t>& keys,
                           std::vector<std::int64_t>& counts) {
  keys.clear();
  counts.clear();
  for (auto key : candidates) {
    auto e = entry_of(key);
    if (e == counts_.size())
      throw std::invalid_argument(fmt::format(
          "word_topic_rows::take: key {} is not of a word held", key));
    if (counts_[e] != 0) {
      keys.push_back(key);
      counts.push_back(counts_[e]);
      counts_[e] = 0;
    }
  }
}

// ---- document_shard ----

void check_hyper(const hyper& h) {
  if (h.topics == 0 || h.topics > 65535)
    throw std::invalid_argument(
        fmt::format("lda: topics must be in [1, 65535], got {}", h.topics));
  if (!(h.alpha > 0) || !std::isfinite(h.alpha))
    throw std::invalid_argument(
        fmt::format("lda: alpha must be positive, got {}", h.alpha));
  if (!(h.beta > 0) || !std::isfinite(h.beta))
    throw std::invalid_argument(
        fmt::format("lda: beta must be positive, got {}", h.beta));
  if (h.vocabulary == 0)
    throw std::invalid_argument("lda: vocabulary must be at least 1");
}

namespace {

void copy_documents(document_shard::state& s, const corpus& c,
                    const std::vector<std::size_t>& docs,
                    const std::vector<std::uint32_t>& block_of_word,
                    std::size_t blocks) {
  for (std::size_t d : docs) {
    if (d >= c.documents())
      throw std::invalid_argument(
          fmt::format("document_shard: document {} of {}", d, c.documents()));
    for (std::size_t t = c.offsets[d]; t < c.offsets[d + 1]; ++t) {
      std::uint32_t w = c.words[t];
      if (w >= block_of_word.size() || block_of_word[w] >= blocks)
        throw std::invalid_argument(
            fmt::format("document_shard: word {} has no block", w));
      s.words.push_back(w);
    }
    s.offsets.push_back(s.words.size());
  }
  if (s.words.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("document_shard: more than 2^32 tokens");
}

void group_tokens(document_shard::state& s,
                  const std::vector<std::uint32_t>& block_of_word,
                  std::size_t blocks) {
  std::vector<std::uint32_t> per_word(block_of_word.size(), 0);
  for (std::uint32_t w : s.words)
    ++per_word[w];
  s.blocks.assign(blocks, block_tokens{});
  std::vector<std::uint32_t> slot(block_of_word.size(), 0);
  for (std::uint32_t w = 0; w < per_word.size(); ++w) {
    if (per_word[w] == 0)
      continue;
    block_tokens& b = s.blocks[block_of_word[w]];
    slot[w] = b.starts.back();
    b.words.push_back(w);
    b.starts.push_back(b.starts.back() + per_word[w]);
  }
  for (block_tokens& b : s.blocks)
    b.tokens.resize(b.starts.back());
  for (std::uint32_t d = 0; d + 1 < s.offsets.size(); ++d)
    for (std::size_t t = s.offsets[d]; t < s.offsets[d + 1]; ++t) {
      std::uint32_t w = s.words[t];
      s.blocks[block_of_word[w]].tokens[slot[w]++] = {
          static_cast<std::uint32_t>(t), d};
    }
}

void draw_topics(document_shard::state& s, std::uint64_t seed) {
  std::mt19937_64 gen(splitmix64(seed));
  std::size_t docs = s.offsets.size() - 1, k = s.topics;
  s.z.resize(s.words.size());
  s.n_dk.assign(docs * k, 0);
  s.nz_size.assign(docs, 0);
  for (std::size_t d = 0; d < docs; ++d)
    s.nz_begin.push_back(s.nz_begin.back() +
                         std::min(k, s.offsets[d + 1] - s.offsets[d]));
  s.nz.assign(s.nz_begin.back(), 0);
  for (std::size_t d = 0; d < docs; ++d)
    for (std::size_t t = s.offsets[d]; t < s.offsets[d + 1]; ++t) {
      s.z[t] = static_cast<std::uint16_t>(uniform_below(gen, k));
      s.add(static_cast<std::uint32_t>(d), s.z[t]);
    }
}

} // namespace

document_shard::document_shard(const corpus& c,
                               const std::vector<std::size_t>& docs,
                               const std::vector<std::uint32_t>& block_of_word,
                               std::size_t blocks, const hyper& h,
                               std::uint64_t seed)
    : state_(std::make_unique<state>()) {
  check_hyper(h);
  if (blocks == 0)
    throw std::invalid_argument("document_shard: blocks must be at least 1");
  state_->topics = h.topics;
  state_->alpha = h.alpha;
  copy_documents(*state_, c, docs, block_of_word, blocks);
  group_tokens(*state_, block_of_word, blocks);
  draw_topics(*state_, seed);
}

document_shard::~document_shard() = default;
document_shard::document_shard(document_shard&&) noexcept = default;
document_shard& document_shard::operator=(document_shard&&) noexcept = default;

std::size_t document_shard::documents() const {
  return state_->offsets.size() - 1;
}
std::size_t document_shard::tokens() const {
  return state_->words.size();
}
std::size_t document_shard::blocks() const {
  return state_->blocks.size();
}

std::size_t document_shard::tokens_in_block(std::size_t block) const {
  return state_->blocks.at(block).tokens.size();
}

std::vector<std::uint32_t>
document_shard::block_words(std::size_t block) const {
  return state_->blocks.at(block).words;
}

void document_shard::add_counts(std::size_t block, word_topic_rows& rows,
                                std::vector<std::int64_t>& totals) const {
  const block_tokens& b = state_->blocks.at(block);
  if (totals.size() != state_->topics || rows.topics() != state_->topics)
    throw std::invalid_argument("add_counts: rows or totals of wrong size");
  for (std::size_t j = 0; j < b.words.size(); ++j) {
    std::size_t i = rows.find(b.words[j]);
    if (i == rows.words().size())
      throw std::invalid_argument(
          fmt::format("add_counts: rows lack word {}", b.words[j]));
    std::int32_t* r = rows.row(i);
    for (std::uint32_t t = b.starts[j]; t < b.starts[j + 1]; ++t) {
      std::uint16_t k = state_->z[b.tokens[t].token];
      ++r[k];
      ++totals[k];
    }
  }
}

void document_shard::token_keys(std::size_t block,
                                std::vector<std::uint64_t>& keys) const {
  const block_tokens& b = state_->blocks.at(block);
  for (std::size_t j = 0; j < b.words.size(); ++j) {
    auto first = keys.size();
    for (std::uint32_t t = b.starts[j]; t < b.starts[j + 1]; ++t)
      keys.push_back(std::uint64_t{b.words[j]} * state_->topics +
                     state_->z[b.tokens[t].token]);
    std::sort(keys.begin() + static_cast<std::ptrdiff_t>(first), keys.end());
  }
}

std::size_t document_shard::length(std::size_t i) const {
  return state_->offsets.at(i + 1) - state_->offsets[i];
}

const std::int32_t* document_shard::doc_topics(std::size_t i) const {
  return state_->n_dk.data() + i * state_->topics;
}

const std::vector<std::uint16_t>& document_shard::topics_of_tokens() const {
  return state_->z;
}

double document_shard::log_likelihood() const {
  const state& s = *state_;
  double alpha = s.alpha, ka = alpha * static_cast<double>(s.topics);
  double sum = 0, lg_alpha = std::lgamma(alpha);
  for (std::size_t d = 0; d + 1 < s.offsets.size(); ++d) {
    sum +=
        std::lgamma(ka) -
        std::lgamma(static_cast<double>(s.offsets[d + 1] - s.offsets[d]) + ka);
    const std::int32_t* row = s.n_dk.data() + d * s.topics;
    const std::uint16_t* list = s.doc_nonzeros(d);
    for (std::uint32_t i = 0; i < s.nz_size[d]; ++i)
      sum += std::lgamma(row[list[i]] + alpha) - lg_alpha;
  }
  return sum;
}

} // namespace metronome::algorithms::lda

#pragma once

#include "algorithms/lda/corpus.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

/// Latent Dirichlet allocation by collapsed Gibbs sampling, split the way
/// model-parallel LDA needs it: a worker's documents (their topics and
/// doc-topic counts) in a document_shard, the word-topic counts of one
/// vocabulary block in word_topic_rows, and the topic totals as a vector.
/// A sweep samples every token of a shard whose word is in one block.
namespace metronome::algorithms::lda {

/// The size and priors of a topic model.
struct hyper {
  std::size_t topics = 100;
  double alpha = 0.1; ///< symmetric Dirichlet prior on doc-topic mixtures
  double beta = 0.01; ///< symmetric Dirichlet prior on topic-word mixtures
  std::size_t vocabulary = 0; ///< V, in the normaliser n_k + V beta
};

/// How a sweep draws each token's topic.
enum class sampler_kind {
  gibbs,    ///< the exact conditional, O(K) per token (the reference)
  sparse,   ///< SparseLDA's buckets, exact, O(non-zero topics)
  lightlda, ///< LightLDA's word- and doc-proposal Metropolis-Hastings, O(1)
};

/// The one registry of sampler names (job.lda.sampler): "gibbs", "sparse",
/// "lightlda", in that order.
std::vector<std::string> sampler_names();

/// The sampler named `name`, or nullopt.
std::optional<sampler_kind> find_sampler(const std::string& name);

/// Each word's block among `blocks` blocks of about equal token counts
/// (`word_tokens[w]` tokens of word w in the whole corpus); the same input
/// gives the same blocks everywhere. Throws std::invalid_argument when
/// blocks is 0.
std::vector<std::uint32_t>
vocabulary_blocks(const std::vector<std::uint64_t>& word_tokens,
                  std::size_t blocks);

/// Tokens per word of `c` (size c.vocabulary.size()).
std::vector<std::uint64_t> word_token_counts(const corpus& c);

/// The word-topic counts n_wk of a set of words (a block, or every word),
/// stored as dense rows, moved as their non-zero entries.
class word_topic_rows {
public:
  word_topic_rows() = default;
  /// Zero rows for `words` (sorted, unique) with `topics` topics each.
  word_topic_rows(std::vector<std::uint32_t> words, std::size_t topics);

  const std::vector<std::uint32_t>& words() const { return words_; }
  std::size_t topics() const { return topics_; }
  /// The index of `word` in words(), or words().size() when absent.
  std::size_t find(std::uint32_t word) const;
  /// The row of words()[i]: topics() counts.
  std::int32_t* row(std::size_t i) { return counts_.data() + i * topics_; }
  const std::int32_t* row(std::size_t i) const {
    return counts_.data() + i * topics_;
  }

  /// The non-zero counts as keys word * topics() + topic with their counts,
  /// in key order (cleared first).
  void nonzeros(std::vector<std::uint64_t>& keys,
                std::vector<double>& counts) const;
  /// Sets every count from such keys and counts (absent keys are 0).
  /// Throws std::invalid_argument for a key whose word is not in words(),
  /// a count that is negative, not an integer or above 2^31 - 1, or sizes
  /// that differ.
  void assign(const std::vector<std::uint64_t>& keys,
              const std::vector<double>& counts);
  /// Sets the counts of `keys` to `counts`, leaving the others as they
  /// are: a cost of the entries given, not of words x topics. Checks every
  /// entry first and throws as assign does, changing nothing.
  void set(const std::vector<std::uint64_t>& keys,
           const std::vector<std::int64_t>& counts);
  /// The non-zero counts among `candidates` (keys of words held, sorted,
  /// unique) into `keys` and `counts` (cleared first), then sets every
  /// candidate's count to 0.
  void take(const std::vector<std::uint64_t>& candidates,
            std::vector<std::uint64_t>& keys,
            std::vector<std::int64_t>& counts);

private:
  // The index into counts_ of `key`, or counts_.size() when its word is
  // not held.
  std::size_t entry_of(std::uint64_t key) const;
  // The entries of `keys`, each checked with its count (see assign).
  template <class Count>
  std::vector<std::size_t>
  checked_entries(const char* what, const std::vector<std::uint64_t>& keys,
                  const std::vector<Count>& counts) const;

  std::vector<std::uint32_t> words_;
  std::size_t topics_ = 0;
  std::vector<std::int32_t> counts_;
};

/// A worker's documents: the topic of each of their tokens, the doc-topic
/// counts n_dk, and the tokens grouped by vocabulary block and word so a
/// sweep visits one block's tokens word by word.
class document_shard {
public:
  /// Documents `docs` of `c` (ids into c) with topics drawn uniformly by a
  /// generator seeded with `seed`; `block_of_word` as vocabulary_blocks
  /// returns for `blocks` blocks. Copies what it needs of `c`. Throws
  /// std::invalid_argument for a document or a word without a block, more
  /// than 2^32 tokens, or `h` as make_sampler rejects it.
  document_shard(const corpus& c, const std::vector<std::size_t>& docs,
                 const std::vector<std::uint32_t>& block_of_word,
                 std::size_t blocks, const hyper& h, std::uint64_t seed);
  ~document_shard();
  document_shard(document_shard&&) noexcept;
  document_shard& operator=(document_shard&&) noexcept;

  std::size_t documents() const;
  std::size_t tokens() const;
  std::size_t blocks() const;
  std::size_t tokens_in_block(std::size_t block) const;
  /// The words of `block` that occur in this shard, sorted.
  std::vector<std::uint32_t> block_words(std::size_t block) const;

  /// Adds the shard's counts of `block`'s words to `rows` (which must hold
  /// every word of block_words(block)) and its topic counts of that block
  /// to `totals` (topics long): the initial state of the model.
  void add_counts(std::size_t block, word_topic_rows& rows,
                  std::vector<std::int64_t>& totals) const;

  /// Appends word * topics + topic of every token of `block` to `keys`, in
  /// increasing order: the entries of the block's rows this shard's tokens
  /// count in.
  void token_keys(std::size_t block, std::vector<std::uint64_t>& keys) const;

  /// Local document i: its length and its doc-topic counts (topics long).
  std::size_t length(std::size_t i) const;
  const std::int32_t* doc_topics(std::size_t i) const;
  /// The topic of every token, documents in order, tokens in file order.
  const std::vector<std::uint16_t>& topics_of_tokens() const;

  /// The doc part of log p(z): the sum over its documents of
  /// lgamma(K alpha) - lgamma(n_d + K alpha) + sum_k [lgamma(n_dk + alpha)
  /// - lgamma(alpha)].
  double log_likelihood() const;

  struct state;
  state& internals() { return *state_; } ///< for the samplers only

private:
  std::unique_ptr<state> state_;
};

/// What a sweep did.
struct sweep_stats {
  std::uint64_t tokens = 0;    ///< tokens sampled
  std::uint64_t moved = 0;     ///< of them, tokens whose topic changed
  std::uint64_t proposals = 0; ///< Metropolis-Hastings proposals (lightlda)
  std::uint64_t accepted = 0;  ///< of them, accepted
};

/// Draws new topics for tokens, one block of one shard at a time.
class sampler {
public:
  virtual ~sampler() = default;
  /// Samples every token of `shard` whose word is in `block` once, word by
  /// word, reading and updating the shard, `rows` (holding at least
  /// shard.block_words(block)) and `totals` (the topic totals this worker
  /// sees: topics long, each at least the shard's own tokens of that
  /// topic).
  virtual sweep_stats sweep(document_shard& shard, std::size_t block,
                            word_topic_rows& rows,
                            std::vector<std::int64_t>& totals) = 0;
};

/// A sampler of `kind` for model `h`; lightlda makes `mh_steps` pairs of
/// word- and doc-proposals per token. Its draws come from a generator seeded
/// with `seed`. Throws std::invalid_argument for mh_steps 0 with lightlda,
/// or more than 65535 topics (or none, alpha or beta not positive and
/// finite, vocabulary 0).
std::unique_ptr<sampler> make_sampler(sampler_kind kind, const hyper& h,
                                      std::size_t mh_steps, std::uint64_t seed);

namespace detail {
/// For tests: re-samples token `token` (an index into
/// shard.topics_of_tokens(), its word in `rows`) `repeats` times in a row
/// as a sampler of `kind` would at that word of a sweep (lightlda's alias
/// table built once, before the first), every other token held fixed, and
/// returns its topic after each repeat.
std::vector<std::uint16_t>
resample_token(sampler_kind kind, const hyper& h, std::size_t mh_steps,
               std::uint64_t seed, document_shard& shard, word_topic_rows& rows,
               std::vector<std::int64_t>& totals, std::size_t token,
               std::size_t repeats);
} // namespace detail

/// The word part of log p(w | z) that rows carry: the sum over their
/// non-zero n_wk of lgamma(n_wk + beta) - lgamma(beta).
double log_likelihood(const word_topic_rows& rows, const hyper& h);

/// The part that topic totals carry: the sum over k of lgamma(V beta) -
/// lgamma(n_k + V beta).
double log_likelihood(const std::vector<std::int64_t>& totals, const hyper& h);

/// A held-out log-likelihood: its sum over the tokens evaluated, and their
/// number.
struct heldout_score {
  double log_likelihood = 0;
  std::uint64_t tokens = 0;
};

/// Held-out log-likelihood of documents `docs` of `c` by document
/// completion: with the topics phi_kw = (n_wk + beta) / (n_k + V beta) of
/// the model (`blocks[b]` the rows of block b, `block_of_word` as given by
/// vocabulary_blocks, `totals`) held fixed, `sweeps` Gibbs sweeps over the
/// even-positioned tokens of each document (from uniformly drawn topics)
/// estimate its mixture theta (averaged over the sweeps), and the
/// odd-positioned tokens are scored by log sum_k theta_dk phi_kw. Words
/// absent from their block's rows count as n_wk = 0.
heldout_score
heldout_log_likelihood(const corpus& c, const std::vector<std::size_t>& docs,
                       const std::vector<word_topic_rows>& blocks,
                       const std::vector<std::uint32_t>& block_of_word,
                       const std::vector<std::int64_t>& totals, const hyper& h,
                       std::size_t sweeps, std::uint64_t seed);

/// What a serial run computed.
struct serial_result {
  /// Joint log-likelihood log p(w, z) per token after each iteration.
  std::vector<double> log_likelihood_per_token;
  /// Seconds spent sampling up to the end of each iteration (without the
  /// likelihood computations).
  std::vector<double> sampling_seconds;
  word_topic_rows rows; ///< every word of the vocabulary
  std::vector<std::int64_t> totals;
  sweep_stats stats; ///< over every iteration
};

/// The serial reference: one shard of every document of `c` (seeded with
/// `seed`), one block, a sampler of `kind` seeded with `seed + 1`,
/// `iterations` sweeps. h.vocabulary 0 stands for c.vocabulary.size().
serial_result run_serial(const corpus& c, const hyper& h, sampler_kind kind,
                         std::size_t mh_steps, std::size_t iterations,
                         std::uint64_t seed);

/// The topics phi_kw = (n_wk + beta) / (n_k + V beta) of `rows` (every word
/// of the vocabulary) and `totals`: topics x vocabulary probabilities.
std::vector<std::vector<double>>
topic_word_probabilities(const word_topic_rows& rows,
                         const std::vector<std::int64_t>& totals,
                         const hyper& h);

/// The topics of `rows` (every word of `vocabulary`) and `totals` as text:
/// each topic on a line, its index, then its 20 most probable words as
/// word:probability, most probable first.
std::string topics_text(const std::vector<std::string>& vocabulary,
                        const word_topic_rows& rows,
                        const std::vector<std::int64_t>& totals,
                        const hyper& h);

} // namespace metronome::algorithms::lda

#pragma once

#include "algorithms/lda/program.hpp"

#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

/// LDA as a data-parallel program, the classical parameter-server LDA: the
/// word-topic counts n_wk live in server tables (key w * topics + k), each
/// worker samples all its tokens every iteration with the counts it read,
/// and pushes its change of the counts, which the servers add. The job's
/// consistency model (bsp, ssp, essp, async) says how stale the counts a
/// worker reads may be; the topic totals are the sums of the rows it read.
namespace metronome::algorithms::lda {

/// The most tokens a corpus of a data-parallel job has: float tables hold
/// every count (at most the tokens) exactly up to 2^24.
inline constexpr std::size_t most_table_tokens = std::size_t{1} << 24;

class data_program : public data_parallel_program {
public:
  /// Keeps a reference to `c`, which must outlive the program. Documents
  /// are split as the model-parallel program splits them. Throws
  /// std::invalid_argument when a worker has no tokens or the corpus has
  /// more than most_table_tokens tokens.
  data_program(const corpus& c, const program_settings& s, std::size_t workers);
  ~data_program() override;

  std::size_t parameters() const override;
  std::vector<parameter_block> blocks() const override;
  /// The counts of every worker's initial topics.
  void initialize(float* w) const override;
  /// One "sample" per worker: an iteration samples its whole shard.
  std::size_t samples() const override { return workers_; }
  std::string sample_unit() const override { return "tokens"; }
  bool has_loss() const override { return false; }
  /// Samples worker `rank`'s tokens once with the counts `w` (each at least
  /// the worker's own, which a stale read may lack) and writes the change
  /// of the counts into `update`. Each rank's documents and sampler live
  /// here: a rank must be computed by one caller at a time.
  worker_step compute(const float* w, std::size_t rank, std::size_t workers,
                      std::uint64_t iteration, float* update) const override;
  float learning_rate() const override { return 1; }
  bool adds_updates() const override { return true; }
  /// Fields word_log_likelihood_per_token (log p(w|z)
  /// of the counts per training token) and, with held-out documents,
  /// heldout_log_likelihood_per_token.
  evaluation evaluate(const float* w) const override;
  /// The topics, as the model-parallel program writes them.
  std::optional<std::string> result_text(const float* w) const override;

private:
  struct rank_state;
  rank_state& state_of(std::size_t rank) const;
  // Every word's counts and the topic totals of parameters `w`.
  word_topic_rows rows_of(const float* w,
                          std::vector<std::int64_t>& totals) const;

  const corpus& corpus_;
  program_settings settings_;
  hyper model_;
  std::size_t workers_;
  document_split split_;
  std::vector<std::uint32_t> words_;         // 0 .. V-1
  std::vector<std::uint32_t> block_of_word_; // one block: all zeros
  std::uint64_t training_tokens_ = 0;
  mutable std::vector<std::unique_ptr<rank_state>> ranks_;
  mutable std::mutex ranks_mtx_; // guards the creation of ranks_ entries
};

} // namespace metronome::algorithms::lda

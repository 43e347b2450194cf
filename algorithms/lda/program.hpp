#pragma once

#include "algorithms/lda/lda.hpp"
#include "algorithms/program.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// LDA as a scheduled program, model-parallel: documents are dealt to the
/// workers, the vocabulary is split into blocks, and the planner hands each
/// idle worker a block that no other worker holds, with the block's
/// word-topic rows and the current topic totals. The worker samples its
/// tokens of that block and returns the rows and its change of the totals.
/// An iteration ends when every worker has sampled every block once.
///
/// Topic totals: a worker samples with the totals of its hand-out plus its
/// own moves, so they lack at most the moves of the blocks other workers
/// hold at the time (one block per other worker); committed totals are
/// exact, the sum of every block's rows.
namespace metronome::algorithms::lda {

/// The tasks of an LDA round (round_task::task).
enum task_code : std::uint32_t {
  /// values {block, iteration, last}: sample the worker's tokens of `block`
  /// (`last`: the worker's last block of the iteration, so it reports its
  /// documents' log-likelihood); changes (without keys): the topic totals;
  /// counts: the block's rows (key word * topics + topic).
  sample_task = 0,
};

/// The values of a sample_task's result before the topic-total changes.
enum result_field : std::size_t {
  tokens_field,
  moved_field,
  proposals_field,
  accepted_field,
  doc_log_likelihood_field, ///< NaN unless the task was the last
  result_fields,
};

/// Everything an LDA job is configured with (job.lda).
struct program_settings {
  hyper model; ///< topics, alpha, beta; the vocabulary comes from the data
  sampler_kind sampler = sampler_kind::lightlda;
  std::size_t mh_steps = 2;
  std::string parallel = "model"; ///< model | data
  std::size_t blocks = 0;         ///< 0: two per worker
  double heldout = 0;             ///< the fraction of documents held out
  std::size_t heldout_sweeps = 10;
  std::size_t iterations = 100;
  std::uint64_t seed = 1;
};

/// Which documents are held out and which each worker samples.
struct document_split {
  std::vector<std::size_t> heldout;
  std::vector<std::vector<std::size_t>> workers;
};

/// Holds out each document with probability `heldout` (by a hash of the
/// seed and its index, so the choice does not depend on the workers) and
/// deals the others to `workers` workers in turn (the i-th to worker i mod
/// workers).
document_split split_documents(const corpus& c, double heldout,
                               std::size_t workers, std::uint64_t seed);

/// The seeds of worker `rank`'s initial topics and of its sampler. Worker
/// 0's are `seed` and `seed + 1`, those run_serial uses.
std::uint64_t shard_seed(std::uint64_t seed, std::size_t rank);
std::uint64_t sampler_seed(std::uint64_t seed, std::size_t rank);

/// The number of blocks a job of `workers` workers uses.
std::size_t block_count(const program_settings& s, std::size_t workers);

/// The scheduler side: owns the rows of every block no worker holds.
class planner : public round_planner {
public:
  /// Keeps a reference to `c`, which must outlive the planner. Throws
  /// std::invalid_argument when fewer blocks than workers are asked for or
  /// a worker has no tokens.
  planner(const corpus& c, const program_settings& s, std::size_t workers);

  std::optional<round_task> plan() override;
  nlohmann::ordered_json
  commit(std::uint64_t round, const std::vector<round_result>& parts) override;
  bool done() const override;
  std::uint64_t rounds() const override { return iterations_done_; }
  std::uint64_t max_rounds() const override { return settings_.iterations; }
  std::vector<std::string> progress_keys() const override {
    return {"log_likelihood_per_token", "heldout_log_likelihood_per_token",
            "tokens_per_s"};
  }
  nlohmann::ordered_json summary() const override;
  /// Each topic on a line: its index, then its 20 most probable words as
  /// word:probability, most probable first.
  std::string result_text() const override;

  /// The rows of every block (a held block's as it was handed out), the
  /// committed topic totals, and who holds each block (every_worker: no
  /// one). blocks() makes dense rows of the blocks changed since it was
  /// last called.
  const std::vector<word_topic_rows>& blocks() const;
  const std::vector<std::int64_t>& totals() const { return totals_; }
  const std::vector<std::size_t>& holders() const { return holder_; }

protected:
  /// The block idle worker `w` samples next: a block it has not sampled in
  /// this iteration that nobody holds, or nullopt when there is none.
  virtual std::optional<std::size_t> choose_block(std::size_t w) const;
  /// Whether worker `w` has still to sample `block` in this iteration.
  bool needs(std::size_t w, std::size_t block) const {
    return tally_[w].todo[block];
  }

private:
  struct worker_tally {
    std::vector<bool> todo; // blocks still to sample this iteration
    std::size_t left = 0;
    bool busy = false;
    std::uint64_t tokens = 0;
    double compute_s = 0;
    double doc_log_likelihood = 0;
  };

  void start_iteration();
  void take_part(std::size_t block, std::size_t w, const round_result& part);
  void check_rows(std::size_t block, const round_result& part) const;
  nlohmann::ordered_json end_iteration();

  const corpus& corpus_;
  program_settings settings_;
  hyper model_;
  std::size_t workers_;
  document_split split_;
  std::uint64_t training_tokens_ = 0;
  std::vector<std::uint32_t> block_of_word_;
  // Blocks are kept as their non-zero counts, the form they travel in, so
  // a hand-out or a commit costs the block's non-zeros, not words x topics.
  struct sparse_rows {
    std::vector<std::uint64_t> keys;
    std::vector<std::int64_t> counts;
  };
  std::vector<sparse_rows> sparse_;
  mutable std::vector<word_topic_rows> dense_;
  mutable std::vector<bool> dense_current_;
  std::vector<std::int64_t> totals_;
  std::vector<std::size_t> holder_;
  std::vector<worker_tally> tally_;
  struct sent_task {
    std::uint64_t round;
    std::size_t worker;
    std::size_t block;
  };
  std::vector<sent_task> flight_;
  std::uint64_t next_round_ = 0;
  std::uint64_t iterations_done_ = 0;
  bool iteration_open_ = false;
  std::uint64_t block_waits_ = 0;
  sweep_stats stats_;       // this iteration
  sweep_stats total_stats_; // every iteration
  std::chrono::steady_clock::time_point iteration_start_;
  double sampling_s_ = 0; // wall time of every iteration
  double log_likelihood_per_token_ = 0;
  double word_log_likelihood_per_token_ = 0; // log p(w | z) per token
  std::optional<double> heldout_per_token_;
};

/// The worker side: its documents of split_documents, all block rows it
/// is handed.
class worker : public round_worker {
public:
  worker(const corpus& c, const program_settings& s, std::size_t rank,
         std::size_t workers);

  round_result work(const round_task& task) override;

  /// The worker's documents and their topics.
  const document_shard& shard() const { return shard_; }

private:
  hyper model_;
  std::size_t blocks_;
  std::vector<std::uint32_t> block_of_word_;
  document_shard shard_;
  std::unique_ptr<sampler> sampler_;
  std::vector<word_topic_rows> rows_; // one per block, all its words
};

} // namespace metronome::algorithms::lda

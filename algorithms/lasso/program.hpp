#pragma once

#include "algorithms/lasso/lasso.hpp"
#include "algorithms/program.hpp"
#include "algorithms/schedule/schedule.hpp"

#include <deque>
#include <memory>

/// Lasso as a scheduled program: the planner is STRADS' scheduler and
/// coordinator (choose coordinates, add the workers' partial sums in worker
/// order, soft-threshold), the workers hold row blocks with their residual.
/// With pipeline 0 a run does exactly what lasso::scheduled_descent does
/// with one block per worker, in the same order, so it gets the same bits.
namespace metronome::algorithms::lasso {

/// The tasks of a Lasso round (round_task::task).
enum task_code : std::uint32_t {
  partial_sums_task = 0, ///< keys with their b_j: two sums per key, then r.r
  gap_task = 1,          ///< X~^T r for every feature, then r.r, r.y~, y~.y~
};

/// Everything a Lasso job is configured with.
struct program_settings {
  settings solver;
  schedule_settings schedule;
  /// Rounds that may be in flight beyond the one being committed: the
  /// residuals the workers compute on lag at most this many rounds.
  std::size_t pipeline = 0;
};

/// The scheduler side of a Lasso job over `workers` workers.
class planner : public round_planner {
public:
  /// Keeps a reference to `d` (the whole problem, for its size and the
  /// dependency check), which must outlive the planner.
  planner(const regression_data& d, const program_settings& s,
          std::size_t workers);

  std::optional<round_task> plan() override;
  nlohmann::ordered_json
  commit(std::uint64_t round, const std::vector<round_result>& parts) override;
  bool done() const override { return finished_ && flight_.empty(); }
  std::uint64_t rounds() const override { return rounds_; }
  std::uint64_t max_rounds() const override {
    return settings_.solver.max_rounds;
  }
  std::vector<std::string> progress_keys() const override {
    return {"objective", "gap", "nnz"};
  }
  nlohmann::ordered_json summary() const override;
  /// The coefficients, one per line in feature order, as %.17g (they read
  /// back exactly).
  std::string result_text() const override;

private:
  bool gap_due() const;
  std::optional<round_task> plan_update();
  nlohmann::ordered_json commit_sums(const round_task& t,
                                     const std::vector<round_result>& parts);
  nlohmann::ordered_json commit_gap(const std::vector<round_result>& parts);

  std::size_t n_;
  std::size_t workers_;
  program_settings settings_;
  centering centering_;
  std::unique_ptr<column_correlation> correlation_;
  std::unique_ptr<coordinate_scheduler> schedule_;
  std::vector<double> beta_;
  std::deque<round_task> flight_;
  // Per round in flight: the rounds sent before it and not committed when
  // it was sent (whose changes its residuals lack), and the candidates the
  // dependency check refused for it.
  struct sent_round {
    std::size_t lag = 0;
    std::uint64_t rejected = 0;
  };
  std::deque<sent_round> sent_;
  std::uint64_t round_rejected_ = 0;
  std::int64_t nnz_ = 0;                   // non-zero coefficients
  std::vector<std::uint64_t> change_keys_; // committed, not yet sent
  std::vector<double> changes_;
  std::uint64_t next_round_ = 0;
  std::uint64_t rounds_ = 0;    // partial-sum rounds planned
  std::uint64_t since_gap_ = 0; // of them since the last gap round
  std::uint64_t updates_ = 0;
  std::uint64_t rejected_ = 0;
  double objective_ = 0;
  double gap_ = -1;
  bool converged_ = false;
  bool diverged_ = false; // a non-finite objective: the job stops
  bool finished_ = false;
  bool gap_in_flight_ = false;
};

/// The worker side: rows data_shard(samples, workers, rank) of `d`.
class worker : public round_worker {
public:
  worker(const regression_data& d, bool fit_intercept, std::size_t rank,
         std::size_t workers);

  round_result work(const round_task& task) override;

private:
  std::size_t features_;
  row_block block_;
};

} // namespace metronome::algorithms::lasso

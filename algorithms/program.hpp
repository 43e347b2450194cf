#pragma once

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

/// What a job computes, apart from the actors that run it.
///
/// A program is hosted by the roles: it never knows which actor, node or
/// message carries its data. Data-parallel programs (SGD on a model, LDA
/// on server tables of counts) are
/// paced by clocks or versions through parameter tables; scheduled
/// programs (Lasso) by the rounds a scheduler hands out (STRADS'
/// schedule -> push -> pull): the scheduler side plans a round, every
/// worker computes its part of it on its data shard, and the scheduler
/// side commits the round from the parts, in worker order.
namespace metronome::algorithms {

/// How the workers of a program are paced.
enum class pacing {
  clocked,   ///< clocks under a consistency policy, or versions (cutoff)
  scheduled, ///< rounds handed out by the scheduler
};

/// One entry of the registry of programs.
struct program_info {
  std::string name;    ///< the value of job.algorithm
  pacing paced;        ///< which roles host it
  std::string summary; ///< one line for error messages and docs
  /// Measures the job's iteration or evaluation records report, by field
  /// name, whatever roles host it (what an experiment's targets may name).
  std::vector<std::string> metrics;
};

/// Every program, by job.algorithm name: the one list of valid names.
const std::vector<program_info>& programs();

/// The program named `name`, or nullptr.
const program_info* find_program(const std::string& name);

/// The names of every program, in registry order.
std::vector<std::string> program_names();

/// A named contiguous part of a program's parameter vector (a layer's
/// weights, a bias), which a job may keep in a table of its own.
struct parameter_block {
  std::string name;
  std::size_t offset = 0;
  std::size_t size = 0;
};

/// How a program judges its parameters: mean loss and accuracy over a
/// test set (unless the program has none, see
/// data_parallel_program::has_loss), and measures of its own.
struct evaluation {
  double loss = 0;
  double accuracy = 0;
  /// Named measures (e.g. LDA's held-out log-likelihood per token), added
  /// to the job's evaluation records and final line.
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
};

/// What a worker computed in one iteration of a data-parallel program.
struct worker_step {
  double loss = 0;           ///< mean loss over the samples it used
  std::uint64_t samples = 0; ///< samples it used
};

/// A data-parallel program: parameters kept in server tables, each worker
/// computing an update from the parameters it read, the servers applying
/// the updates under the job's consistency policy or cutoff.
class data_parallel_program {
public:
  virtual ~data_parallel_program() = default;

  /// The number of parameters (keys of the tables together).
  virtual std::size_t parameters() const = 0;

  /// The parameter vector split into its blocks, in order, covering it.
  virtual std::vector<parameter_block> blocks() const = 0;

  /// The parameters the job starts from (parameters() floats).
  virtual void initialize(float* w) const = 0;

  /// Samples of the training data, which the workers split between them.
  virtual std::size_t samples() const = 0;

  /// What worker_step::samples counts, in records (samples, tokens).
  virtual std::string sample_unit() const { return "samples"; }

  /// Whether steps and evaluations have a loss and an accuracy (SGD);
  /// otherwise they are judged by evaluation::fields alone (LDA).
  virtual bool has_loss() const { return true; }

  /// Worker `rank` of `workers`: its update for `iteration` computed at the
  /// parameters `w`, written into `update` (parameters() floats).
  virtual worker_step compute(const float* w, std::size_t rank,
                              std::size_t workers, std::uint64_t iteration,
                              float* update) const = 0;

  /// The learning rate servers apply to the mean of the updates.
  virtual float learning_rate() const = 0;

  /// Whether servers add the updates as they are (counts: w += update)
  /// instead of stepping against their mean (w -= rate * mean).
  virtual bool adds_updates() const { return false; }

  /// The parameters `w` judged on the test set.
  virtual evaluation evaluate(const float* w) const = 0;

  /// The job's result as text, written to options.topics_out, or nullopt
  /// when the result is the raw parameters (options.parameters_out).
  virtual std::optional<std::string> result_text(const float* w) const {
    (void)w;
    return std::nullopt;
  }
};

/// The worker of round_task::worker meaning "every worker".
inline constexpr std::size_t every_worker = static_cast<std::size_t>(-1);

/// A round's work order: for every worker (Lasso's rounds, committed from
/// all their parts), or for one (an LDA block, committed from its part
/// alone while the other workers go on).
struct round_task {
  std::uint64_t round = 0;
  std::size_t worker = every_worker; ///< the one worker it is for
  std::uint32_t task = 0;            ///< what to do; the program's own code
  std::vector<std::uint64_t> keys;   ///< what the round works on
  std::vector<double> values;        ///< program-defined values
  /// Changes committed since the previous round: every worker applies
  /// them before it computes its part.
  std::vector<std::uint64_t> change_keys;
  std::vector<double> changes;
  /// Integer counts by key (an LDA block's word-topic counts).
  std::vector<std::uint64_t> count_keys;
  std::vector<std::int64_t> counts;
};

/// One worker's part of a round.
struct round_result {
  std::vector<double> values;
  std::vector<std::uint64_t> count_keys;
  std::vector<std::int64_t> counts;
  double compute_seconds = 0; ///< how long the worker computed it
};

/// The worker side of a scheduled program, on its shard of the data.
class round_worker {
public:
  virtual ~round_worker() = default;

  /// Applies `task`'s changes, then computes this worker's part of it.
  /// Throws std::invalid_argument for a task that does not fit the data
  /// (a key out of range, sizes that disagree).
  virtual round_result work(const round_task& task) = 0;
};

/// The scheduler side of a scheduled program.
class round_planner {
public:
  virtual ~round_planner() = default;

  /// The next round to hand out, or nullopt while none may start (as many
  /// rounds are in flight as the pipeline allows, a round needs the ones
  /// before it committed, every worker is busy, or the job is done).
  virtual std::optional<round_task> plan() = 0;

  /// Commits round `round` from its parts: every worker's, in worker
  /// order, or the one worker's it was for. Rounds for every worker are
  /// committed in the order they were planned. Returns the record the
  /// commit ends (one JSON object), or null when it ends none (an LDA
  /// block that is not the last of its iteration). Throws
  /// std::invalid_argument when a part does not fit the round.
  virtual nlohmann::ordered_json
  commit(std::uint64_t round, const std::vector<round_result>& parts) = 0;

  /// Whether the job is over (converged or out of rounds) and nothing is in
  /// flight.
  virtual bool done() const = 0;

  /// Rounds committed and the most the job runs, for progress displays.
  virtual std::uint64_t rounds() const = 0;
  virtual std::uint64_t max_rounds() const = 0;

  /// The fields of a round's record worth showing in a progress line.
  virtual std::vector<std::string> progress_keys() const = 0;

  /// The fields of the job's final line.
  virtual nlohmann::ordered_json summary() const = 0;

  /// The job's result as text, written to the job's output file
  /// (options.parameters_out or options.topics_out).
  virtual std::string result_text() const = 0;
};

} // namespace metronome::algorithms

#pragma once

#include "actors/core/live_change.hpp"
#include "actors/core/ps_client.hpp"
#include "actors/core/table.hpp"
#include "actors/node.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <set>

namespace metronome::actors {

/// A parameter-server shard: holds its key range of every table, applies
/// pushes under the job's consistency policy and answers pulls.
caf::behavior server(caf::event_based_actor* self, actor_env env);

/// A data-parallel worker: pull, compute a mini-batch gradient, push, clock.
caf::behavior worker(caf::event_based_actor* self, actor_env env);

/// Starts the job once every actor has said hello, collects metrics,
/// evaluates the model each epoch and stops the job at the end.
caf::behavior coordinator(caf::event_based_actor* self, actor_env env,
                          const messages::transport* local_transport);

/// The scheduler of a scheduled program (lasso): hands out the rounds its
/// program plans and commits each from every worker's part.
caf::behavior scheduler(caf::event_based_actor* self, actor_env env);

/// A worker of a scheduled program: computes its part of every round.
caf::behavior round_worker(caf::event_based_actor* self, actor_env env);

/// The coordinator of a scheduled program: starts the job and writes the
/// records the scheduler sends.
caf::behavior round_coordinator(caf::event_based_actor* self, actor_env env);

/// Makes an exception escaping a handler of `self` stop it with an error
/// that carries the exception's message (CAF's default drops it).
void keep_exception_messages(caf::event_based_actor* self);

/// Stops `self` on a Stop command (normally) or an Abort (as stopped
/// because the job failed elsewhere); returns whether `cmd` was one.
bool stop_on(caf::event_based_actor* self, messages::wire::Command cmd);

/// Logs why `self` cannot start and stops it with that error; returns the
/// empty behavior a role function then returns.
caf::behavior refuse_to_start(caf::event_based_actor* self,
                              const actor_env& env, const std::exception& e);

/// Stops `self` with an error when `dead_node` hosts the coordinator: a job
/// without its coordinator can neither finish nor be stopped.
void stop_if_coordinator_lost(caf::event_based_actor* self,
                              const actor_env& env,
                              const std::string& dead_node);

class sender;

/// The other actors of a job as its coordinator sees them: who must say
/// hello before the job starts, and whom a command goes to.
class job_members {
public:
  /// Every actor of `topo` but `coordinator`.
  job_members(const topology& topo, const std::string& coordinator);

  /// Takes a Hello; true exactly once, when the last expected actor is in.
  bool hello(const messages::inbound& msg);

  /// The actors that have not said hello, comma-separated.
  std::string missing() const;
  /// The actors that have not said hello.
  std::vector<std::string> absent() const;

  /// Sends `cmd` to every actor of the job.
  void command(sender& out, messages::wire::Command cmd,
               const std::string& reason = {}) const;

  /// Ends a failed job: logs `reason`, tells every actor to abort and
  /// stops `self` (the coordinator).
  void abort(caf::event_based_actor* self, sender& out,
             const std::string& reason) const;

  /// Until every actor has said hello, logs who is missing and asks `self`
  /// for another tick_atom in five seconds.
  void remind(caf::event_based_actor* self) const;

private:
  std::set<std::string> expected_;
  std::set<std::string> present_;
  bool complete_ = false;
};

/// The reason an Abort Control message carries, or "no reason".
std::string abort_reason(const messages::inbound& msg);

/// The knob a verified Knob message carries.
knob_setting knob_of(const messages::inbound& msg);

/// Sequence numbers and header filling shared by the role actors.
class sender {
public:
  explicit sender(actor_env env)
      : env_(std::move(env)) {}

  messages::header header(const std::string& destination,
                          std::int64_t clock = 0, std::uint32_t table = 0);
  void post(messages::outbound msg) const {
    env_.status->sent();
    env_.post->post(std::move(msg));
  }

  /// Sends a Control command to `destination`.
  void control(const std::string& destination, messages::wire::Command cmd,
               const std::string& reason = {});

  /// Sends `k` to `destination` with header clock `clock`.
  void knob(const std::string& destination, const knob_setting& k,
            std::int64_t clock = 0);

private:
  actor_env env_;
  std::uint64_t seq_ = 0;
};

} // namespace metronome::actors

namespace metronome::actors {

/// A reader of `parts` whose messages `out` sends (see ps_client).
std::unique_ptr<ps_client> reader_of(sender& out, std::vector<partition> parts,
                                     std::vector<bool> subscribed);

} // namespace metronome::actors

namespace metronome::algorithms {
struct dataset;
struct regression_data;
class model;
class data_parallel_program;
class round_planner;
class round_worker;
} // namespace metronome::algorithms

namespace metronome::actors {

/// Which training samples a process loads: all of them, worker `rank`'s
/// shard of `workers` (algorithms::data_shard), or none, for roles that
/// only size the model and the schedule from the file.
struct data_part {
  std::size_t workers = 1; ///< 0: no sample
  std::size_t rank = 0;

  static data_part whole() { return {1, 0}; }
  static data_part none() { return {0, 0}; }
  static data_part of_worker(std::size_t rank, std::size_t workers) {
    return {workers, rank};
  }
};

/// The job's training (or test, always whole) data, the part `part` of it,
/// loaded once per process and shared. An IDX file is read no further than
/// the part; a LIBSVM file is parsed whole and the part kept.
std::shared_ptr<const algorithms::dataset>
job_data(const data_spec& spec, bool test, data_part part = data_part::whole());

/// The job's regression data (LIBSVM with real targets), loaded once per
/// process and shared.
std::shared_ptr<const algorithms::regression_data>
job_regression_data(const data_spec& spec);

/// The job's LDA corpus (docword or brown), loaded once per process.
std::shared_ptr<const algorithms::lda::corpus>
job_corpus(const data_spec& spec);

/// The scheduler side of the job's scheduled program: the one place where
/// scheduled programs are registered with the roles.
std::unique_ptr<algorithms::round_planner>
make_round_planner(const topology& topo);

/// Worker `rank`'s side of the job's scheduled program.
std::unique_ptr<algorithms::round_worker>
make_round_worker(const topology& topo, std::size_t rank);

/// The job's model for data set `d`.
std::unique_ptr<algorithms::model> job_model(const job_spec& job,
                                             const algorithms::dataset& d);

/// The job's data-parallel program (SGD on its model, with the test set
/// when `evaluates`, or LDA with parallel: data): the one place where
/// data-parallel programs are registered with the roles. SGD loads only the
/// `part` of the training set (a worker's shard; none for servers and the
/// coordinator); LDA loads its whole corpus.
std::shared_ptr<const algorithms::data_parallel_program>
job_program(const topology& topo, bool evaluates, data_part part);

/// The tables of the job whose parameter vector `keys` keys long `program`
/// (nullptr for a plain key store) describes: see job_spec::tables.
std::vector<table_layout>
job_tables(const job_spec& job,
           const algorithms::data_parallel_program* program,
           std::uint64_t keys);

/// The cutoff rule `spec` describes (loading a bdsgd model file); throws
/// std::invalid_argument or algorithms::load_error naming what is wrong.
std::shared_ptr<algorithms::cutoff_rule>
make_job_cutoff_rule(const cutoff_job_spec& spec, std::uint64_t seed);

/// How records and inspect name the rule of `spec`: "full", "static
/// backups=2", "elfving window=20", "ecdf window=20", "bdsgd".
std::string cutoff_rule_label(const algorithms::cutoff_spec& spec);

/// Mini-batches per epoch (of the smallest worker shard), the total
/// number of iterations every worker runs, and how many iterations apart
/// the test set is evaluated (always at the end of an epoch and the job).
struct job_schedule {
  std::uint64_t batches_per_epoch = 1;
  std::uint64_t iterations = 1;
  std::uint64_t eval_every = 1;

  /// Whether the parameters after `iteration` iterations are evaluated.
  bool evaluated_at(std::uint64_t iteration) const {
    return iteration > 0 &&
           (iteration % batches_per_epoch == 0 || iteration % eval_every == 0 ||
            iteration == iterations);
  }

  /// The first iteration after `iteration` that is evaluated, or 0 when
  /// none is left.
  std::uint64_t next_evaluation(std::uint64_t iteration) const {
    if (iteration >= iterations)
      return 0;
    auto next = [iteration](std::uint64_t every) {
      return (iteration / every + 1) * every;
    };
    return std::min({next(batches_per_epoch), next(eval_every), iterations});
  }
};
job_schedule schedule_of(const topology& topo, std::size_t samples);

} // namespace metronome::actors

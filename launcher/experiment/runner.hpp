#pragma once

#include "launcher/experiment/experiment_file.hpp"

#include <string>

namespace metronome::launcher::experiment {

/// How run_trials() runs an experiment's trials.
struct runner_options {
  std::string binary; ///< the metronome executable trials run with
  std::size_t parallel = 1;
  bool force = false; ///< rerun trials that are complete
};

/// What run_trials() did.
struct runner_outcome {
  std::size_t skipped = 0; ///< complete before, not rerun
  std::size_t completed = 0;
  std::size_t failed = 0;
  bool interrupted = false; ///< stopped by SIGINT or SIGTERM
};

/// Whether `t` has a trial.json saying it completed under its hash.
bool trial_complete(const trial& t);

/// Runs every trial of `spec` that is not complete (all with `force`), at
/// most `parallel` at once, each as `BINARY run|launch TRIAL/topology.yaml`
/// with its output in TRIAL/output.txt and TRIAL/log.txt; a trial becomes
/// complete when it exits 0 with a final JSON line, by writing
/// TRIAL/trial.json last, so a trial cut short is never counted. Progress
/// over the sweep (done, running, left, ETA) goes to stderr. SIGINT or
/// SIGTERM stops the running trials and starts no more.
runner_outcome run_trials(const experiment_spec& spec,
                          const runner_options& options);

} // namespace metronome::launcher::experiment

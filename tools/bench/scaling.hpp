#pragma once

#include "actors/core/topology.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace metronome::tools {

/// What `metronome bench scaling` runs.
struct scaling_bench_options {
  std::string config; ///< a data-parallel SGD topology
  std::vector<std::size_t> workers = {1, 2, 4}; ///< worker counts to try
  std::string mode = "run";                     ///< run | launch
  /// "METRIC>=V" or "METRIC<=V" on test_accuracy or test_loss; empty: the
  /// sequential run's final test accuracy minus 0.005.
  std::string target;
  std::string out = "runs/bench-scaling"; ///< the trials' folders
  bool json = false;
};

/// Runs the SGD job of `topo` as sequential SGD in one thread, then, one
/// at a time, as a child `binary run|launch` of a topology with each
/// count of `options.workers` (a head node with the coordinator and the
/// servers, one node per worker), each worker's batch the job's global
/// batch (job.batch_size times its workers) divided by the count, with the
/// sequential run's iterations. Prints a progress line per trial on
/// stderr, then a table (or, with `options.json`, one JSON object with a
/// row per run: wall time, time to the target, speed-up against the
/// sequential run, blocked fraction, bytes per iteration, final accuracy).
/// Returns 2 for a job or options it refuses (not SGD, a count that does
/// not divide the global batch), 1 when a trial fails or did other work
/// than the sequential run, else 0.
int run_scaling_bench(const actors::topology& topo,
                      const scaling_bench_options& options,
                      const std::string& binary);

} // namespace metronome::tools

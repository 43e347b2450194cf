#pragma once

#include "actors/core/topology.hpp"
#include "algorithms/sgd/sgd.hpp"

#include <cstddef>

namespace metronome::tools {

/// The sequential_sgd options of the job of `topo` on a training set of
/// `samples` samples: its workers, batch, rate, seed and iterations.
algorithms::sequential_sgd_options
sequential_options(const actors::topology& topo, std::size_t samples);

/// Runs the job of `topo` as plain sequential mini-batch SGD in one thread
/// (the arithmetic a BSP run reproduces bit for bit) and prints its wall
/// time, samples per second and final test accuracy as one JSON line: the
/// baseline for the distributed run's figures. With `compare`, it first
/// reads the job's own summary.json from its metrics_dir (refusing with
/// exit 2, before training, when that cannot be read or is of another
/// number of iterations than the job's), says both walls in
/// a line and adds `job_wall_s` and `job_speedup` (sequential wall over the
/// job's) to the JSON line. Returns the exit code.
int run_sequential(const actors::topology& topo, bool compare = false);

} // namespace metronome::tools

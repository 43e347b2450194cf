#pragma once

#include "actors/core/topology.hpp"

namespace metronome::tools {

/// Runs the job of `topo` as plain sequential mini-batch SGD in one thread
/// (the arithmetic a BSP run reproduces bit for bit) and prints its wall
/// time, samples per second and final test accuracy as one JSON line: the
/// baseline for the distributed run's figures. Returns the exit code.
int run_sequential(const actors::topology& topo);

} // namespace metronome::tools

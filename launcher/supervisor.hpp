#pragma once

#include "actors/topology.hpp"

#include <string>

namespace metronome::launcher {

/// Starts every node of `topo` as a local child process running
/// `exe node --topology <config> --name <node>`, waits for all of them, and
/// stops the rest (SIGTERM, then SIGKILL after a grace period) as soon as one
/// fails or the launcher gets SIGINT/SIGTERM. Children die with the
/// launcher. Returns 0 when every node exited cleanly, else 1.
int launch_local(const actors::topology& topo, const std::string& config,
                 const std::string& exe);

} // namespace metronome::launcher

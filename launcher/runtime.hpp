#pragma once

#include "actors/core/topology.hpp"

#include <string>

namespace metronome::launcher {

/// The node this process should run: `given` when not empty, else
/// $METRONOME_NODE, else $SLURM_PROCID or $OMPI_COMM_WORLD_RANK as an index
/// into the node list. Returns "" and sets `error` when there is none or it
/// is not in `topo`.
std::string node_identity(const actors::topology& topo,
                          const std::string& given, std::string& error);

/// Runs the whole job of `topo` in this process: every node gets its own
/// transport on inproc:// endpoints. Returns the process exit code.
int run_in_process(const actors::topology& topo);

/// Runs node `name` of `topo` over tcp until its actors finish; SIGINT and
/// SIGTERM stop it cleanly, and so does the end of standard input when
/// `watch_stdin` (how `launch` stops nodes, remote ones too). Returns the
/// process exit code.
int run_node(const actors::topology& topo, const std::string& name,
             bool watch_stdin = false);

} // namespace metronome::launcher

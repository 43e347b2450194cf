#pragma once

#include "actors/core/topology.hpp"

#include <string>
#include <vector>

namespace metronome::launcher {

/// How `launch` behaves.
struct launch_options {
  /// Print the plan (which process, where, with what command) and exit.
  bool dry_run = false;
  /// Progress display: a live bar when stderr is a terminal, plain lines
  /// otherwise; off prints only the nodes' own output.
  bool progress = true;
  /// Seconds a node gets to stop after SIGTERM before it is killed.
  double stop_grace_seconds = 5;
};

/// One process `launch` starts.
struct planned_process {
  std::string node;
  std::string host;
  bool local = true;
  /// The job goes on when this node fails: it hosts only workers and the
  /// job cuts off stragglers (consistency: cutoff).
  bool expendable = false;
  std::vector<std::string> argv;
};

/// The processes that start every node of `topo`: local nodes run
/// `exe node --topology <config> --name <node>` directly, other hosts
/// through options.remote_command with {host} replaced.
std::vector<planned_process> plan(const actors::topology& topo,
                                  const std::string& config,
                                  const std::string& exe);

/// Starts the planned processes, prefixes and collects their output (to
/// options.log_dir as well, when set), shows the coordinator's progress,
/// and supervises them: when one fails it names it with its exit status and
/// last log lines and stops the others (an expendable one is only named);
/// SIGINT or SIGTERM stops all of them (SIGTERM, then SIGKILL after the grace
/// period). Local children die with the launcher. Returns 0 when every node
/// exited cleanly, else 1.
int launch(const actors::topology& topo, const std::string& config,
           const std::string& exe, const launch_options& opts);

} // namespace metronome::launcher

#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace metronome::launcher::experiment {

/// What `metronome experiment` was asked to do.
struct command_options {
  std::string file;
  std::size_t parallel = 1;
  bool force = false;
  bool summary_only = false; ///< summarise the trials on disk, run none
};

/// Adds the `experiment` subcommand to `app`, filling `options`.
CLI::App* add_command(CLI::App& app, command_options& options);

/// Validates the experiment (exit 2 and every problem when it is refused,
/// with no trial started), runs the trials that are not complete, then
/// writes the summary, figures and report and prints the summary table.
/// Exit 0 when every trial is complete, 1 when one failed, 130 when
/// interrupted (after summarising what is complete).
int run_command(const command_options& options, const std::string& binary);

} // namespace metronome::launcher::experiment

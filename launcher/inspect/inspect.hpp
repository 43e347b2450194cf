#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace metronome::launcher {

/// What `metronome inspect` was asked to do.
struct inspect_options {
  std::string target; ///< a topology file, or HOST:PORT of a control endpoint
  std::string exec;   ///< commands separated by ';'
  std::string file;   ///< a file of commands, one per line
  bool json = false;  ///< one JSON object per reply
  double timeout = 3; ///< seconds to wait for the nodes' answers
};

/// Registers the `inspect` subcommand on `app`, filling `o`.
CLI::App* add_inspect(CLI::App& app, inspect_options& o);

/// Runs `metronome inspect`: the commands of --exec or -f, those read from
/// standard input when it is not a terminal, or an interactive session.
/// Returns an exit code of inspect::inspect_exit.
int run_inspect(const inspect_options& o);

} // namespace metronome::launcher

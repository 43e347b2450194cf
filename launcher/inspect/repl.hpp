#pragma once

#include "launcher/inspect/session.hpp"

namespace metronome::launcher::inspect {

/// Runs an interactive, line-edited session on a terminal: history kept in
/// ~/.metronome_inspect_history, tab completion of commands, actors and
/// nodes; ends on "quit", "exit" or end of input. Returns an exit code.
int repl(session& s);

} // namespace metronome::launcher::inspect

#pragma once

#include "launcher/inspect/client.hpp"

#include <string>
#include <vector>

namespace metronome::launcher::inspect {

/// Why `words` (a `set` command, words[0] == "set") is not one inspect can
/// send, or "" when it is fine.
std::string check_set(const std::vector<std::string>& words);

/// The control request for a checked `set` command (without its actor).
json set_request(const std::vector<std::string>& words);

/// The actor that takes the knob of a checked `set` command.
std::string set_target(const std::vector<std::string>& words);

/// Lines for people about `change`, a change the job took (its record).
std::vector<std::string> describe_change(const json& change);

} // namespace metronome::launcher::inspect

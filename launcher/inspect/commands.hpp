#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace metronome::launcher::inspect {

/// The commands inspect knows, with their one-line help.
const std::vector<std::pair<std::string, std::string>>& command_help();

/// Why `words` is not a command inspect knows or has the wrong arguments,
/// or "" when it is fine.
std::string check_command(const std::vector<std::string>& words);

/// `words` separated by ", ".
std::string joined(const std::vector<std::string>& words);

/// Whether `text` is a number of seconds from 0.05 to 3600 (into `out`).
bool positive_seconds(const std::string& text, double& out);

/// `text` read as BEGIN:END, two whole numbers.
bool parse_slice(const std::string& text, std::uint64_t& begin,
                 std::uint64_t& end);

} // namespace metronome::launcher::inspect

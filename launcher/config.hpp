#pragma once

#include "actors/topology.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace metronome::launcher {

/// Every problem found in a topology file, one "file:line:column: what
/// (hint)" line each.
class config_error : public std::runtime_error {
public:
  explicit config_error(std::vector<std::string> problems);
  const std::vector<std::string>& problems() const { return problems_; }

private:
  std::vector<std::string> problems_;
};

/// Reads and validates a YAML topology file; throws config_error listing
/// every problem at once.
actors::topology load_topology(const std::string& path);

} // namespace metronome::launcher

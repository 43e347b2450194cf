#pragma once

#include "launcher/config_reader.hpp"

namespace metronome::launcher::detail {

/// Reads job.lasso (the settings of algorithm lasso) into topo.job.lasso,
/// recording every problem with its position.
void read_lasso(reader& r, const YAML::Node& job, actors::topology& topo);

} // namespace metronome::launcher::detail

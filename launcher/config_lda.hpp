#pragma once

#include "launcher/config_reader.hpp"

namespace metronome::launcher::detail {

/// Reads job.lda (the settings of algorithm lda) into topo.job.lda,
/// recording every problem with its position.
void read_lda(reader& r, const YAML::Node& job, actors::topology& topo);

/// Reads job.data of an lda job (a docword or brown corpus) and loads the
/// whole corpus, so that a bad line is reported before anything starts.
void read_lda_data(reader& r, const YAML::Node& job, const YAML::Mark& job_at,
                   actors::topology& topo);

} // namespace metronome::launcher::detail

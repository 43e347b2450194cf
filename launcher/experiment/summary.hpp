#pragma once

#include "launcher/experiment/experiment_file.hpp"
#include "launcher/experiment/results.hpp"

#include <string>
#include <vector>

namespace metronome::launcher::experiment {

/// Where and with what an experiment ran, recorded beside its results.
struct provenance {
  std::string commit; ///< git commit of the binary's source tree, or "unknown"
  std::string binary; ///< the binary's fingerprint
  std::string host;
  std::string date; ///< UTC, ISO 8601
};

/// The provenance of this process: commit, binary, host and date.
provenance this_run(const std::string& binary_path,
                    const std::string& fingerprint);

/// Writes, in spec.output: trials.csv (one row per trial), summary.csv
/// (per cell: trials, and the mean with its 95% t-interval over seeds of
/// every number of trials.csv; targets counted as reached/trials, their
/// times averaged over the trials that reached them), experiment.json
/// (provenance and the trials' folders), figures/*.svg (PNG too when
/// rsvg-convert is installed) and index.html. Returns the summary as a
/// plain-text table for the terminal, or throws std::runtime_error naming
/// a file that cannot be written.
std::string write_summary(const experiment_spec& spec,
                          const std::vector<trial_result>& results,
                          const provenance& run);

} // namespace metronome::launcher::experiment

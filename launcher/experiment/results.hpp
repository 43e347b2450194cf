#pragma once

#include "actors/core/job_records.hpp"
#include "launcher/experiment/experiment_file.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace metronome::launcher::experiment {

/// One measure over a trial, in record order: the step ("iteration", or
/// "round" for scheduled programs) and wall time of each record with it.
struct metric_trace {
  std::vector<double> step;
  std::vector<double> wall;
  std::vector<double> value;
};

/// When a trial first reached a target.
struct reached_at {
  double wall_s = 0;
  double step = 0;
};

/// What a complete trial's own records say, read back from its folder.
struct trial_result {
  const trial* source = nullptr;
  bool complete = false;
  /// The program's metrics, and "cutoff" under cutoff pacing.
  std::map<std::string, metric_trace> traces;
  actors::json final_line = actors::json::object();
  /// One per target of the experiment; nullopt where it was not reached.
  std::vector<std::optional<reached_at>> reached;
  /// The staleness histogram of summary.json (reads per staleness), or
  /// empty.
  std::vector<double> staleness_histogram;
};

/// `v` in the shortest decimal text that reads back to it at 12 digits.
std::string fmt_number(double v);

/// The column-name form of a target: "loss_le_0.45".
std::string target_id(const target& t);

/// The first record where the mean of the last `window` values (of all of
/// them, when the trace is shorter) meets `t`, or nullopt.
std::optional<reached_at> first_reached(const metric_trace& trace,
                                        const target& t, std::size_t window);

/// Reads trial `t` of `spec` from its folder (output.txt's final line,
/// iterations.jsonl, evaluations.jsonl, summary.json); `complete` is false
/// when trial.json does not say so, and then nothing else is read.
trial_result read_trial(const experiment_spec& spec, const trial& t);

/// The numbers of one trial that trials.csv lists, by column name, in
/// column order: wall time, steps, the last value of each metric, the
/// throughput, staleness and blocked time, every other number of the final
/// line, then the time and step each target was reached (NaN where not).
std::vector<std::pair<std::string, double>>
trial_numbers(const experiment_spec& spec, const trial_result& r);

} // namespace metronome::launcher::experiment

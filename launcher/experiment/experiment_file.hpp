#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace metronome::launcher::experiment {

/// One topology setting: a dotted key ("job.staleness", "job.cutoff.rule",
/// "cluster.workers") and the YAML value it takes.
struct setting {
  std::string key;
  YAML::Node value;
};

/// One value of an axis, with the settings it makes and how it is named in
/// tables and legends.
struct axis_value {
  std::string label;
  std::vector<setting> settings;
  /// A variant's own base topology (absolute), or "" for the experiment's.
  std::string base;
  int line = 0; ///< where it is written in the experiment file
  int column = 0;
};

/// A dimension of the sweep: a dotted topology key with its values, or a
/// named variant axis whose values each set several keys.
struct axis {
  std::string name; ///< the key, or the variant axis' name
  std::vector<axis_value> values;
};

/// A level a metric must reach: "loss <= 0.45", "test_accuracy >= 0.8",
/// "loss <= 0.45 over 20".
struct target {
  std::string metric;
  bool at_most = true; ///< <= (else >=)
  double value = 0;
  std::string text; ///< as written
  /// Judged on the mean of the last `window` values of the metric ("over
  /// N", or the experiment's `smoothing`).
  std::size_t window = 1;
};

/// How trials run: every node in one process, or one process per node.
enum class trial_mode { run, launch };

/// One combination of axis values.
struct cell {
  std::string label;               ///< "consistency=ssp staleness=3"
  std::vector<std::string> values; ///< one label per axis
  std::vector<setting> settings;
  std::string base; ///< the base topology it starts from (absolute)
};

/// One cell on one seed: the resolved topology it runs.
struct trial {
  std::size_t cell = 0;
  std::uint64_t seed = 0;
  /// The validated topology with absolute paths and no output paths; what
  /// the trial's hash covers.
  YAML::Node topology;
  std::string hash; ///< 16 hex digits: topology, data files, binary
  std::filesystem::path dir;
};

/// A validated experiment file with its cells and trials expanded.
struct experiment_spec {
  std::string file;
  std::string name; ///< `name`, or the file's stem
  std::filesystem::path base;
  std::string algorithm; ///< job.algorithm of the base topology
  std::vector<axis> axes;
  /// Settings every cell makes before its axes' (the file's `set`).
  std::vector<setting> fixed;
  std::vector<std::uint64_t> seeds;
  std::vector<target> targets;
  /// The window of a target without "over N".
  std::size_t smoothing = 1;
  trial_mode mode = trial_mode::run;
  std::filesystem::path output;
  double trial_timeout_s = 0; ///< 0: none
  std::vector<cell> cells;
  std::vector<trial> trials;
};

/// The hash a trial's identity starts from: the running binary's bytes.
std::string binary_fingerprint();

/// Reads and validates the experiment file at `path` and every trial it
/// makes: keys, axes (each value applied to the base topology and checked
/// by the topology loader, problems reported at the value's line), seeds
/// and targets (metrics the job's program reports). `binary` is the
/// fingerprint the trial hashes include. Throws config_error listing
/// every problem as "FILE:LINE:COLUMN: what (hint)".
experiment_spec load_experiment(const std::string& path,
                                const std::string& binary);

/// Sets dotted `key` of `tree` to `value`, creating mappings on the way
/// (a numeric segment indexes a list); returns "" or why it cannot.
std::string set_dotted(YAML::Node tree, const std::string& key,
                       const YAML::Node& value);

/// Applies `settings` to the topology `tree`: dotted keys through
/// set_dotted in order, then cluster.workers / cluster.servers (whole
/// numbers; a count not given stays that of `tree`) by replacing
/// cluster.nodes with a node "head" holding every role other than servers
/// and workers, then the servers (and worker/0, when the first node of
/// `tree` holds a worker), on the first node's host and port, and one node
/// "wK" per other worker on the ports after it. Returns "" or why a
/// setting cannot be applied.
std::string apply(YAML::Node tree, const std::vector<setting>& settings);

/// `tree` as YAML text, keys in their order.
std::string emit(const YAML::Node& tree);

} // namespace metronome::launcher::experiment

#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace metronome::algorithms {

/// One straggler rule of a topology: which workers it slows and how.
struct straggler_spec {
  /// none | constant | lognormal | pareto | groups | periodic | replay |
  /// regime
  std::string model = "none";
  /// Worker ranks the rule applies to; empty means every worker.
  std::vector<std::size_t> workers;
  /// constant: an iteration takes `factor` times its real compute time
  /// (periodic, regime: while slow).
  double factor = 1;
  /// lognormal: extra seconds ~ exp(N(mu, sigma^2)).
  double mu = -6;
  double sigma = 1;
  /// pareto: extra seconds ~ scale * (U^(-1/alpha) - 1), heavy-tailed.
  double scale = 0.001;
  double alpha = 1.5;
  /// groups: workers (of this rule) are split round-robin into `groups`
  /// groups; each group shares one log-normal shock exp(N(mu, sigma^2))
  /// per iteration, and each worker adds its own exp(N(mu, sigma^2)) times
  /// `own_share` (0 = fully correlated).
  std::size_t groups = 2;
  double own_share = 0.1;
  /// periodic: iterations t with t % period < slow_iterations run
  /// `factor` times slower.
  std::uint64_t period = 100;
  std::uint64_t slow_iterations = 20;
  /// replay: CSV of "iteration,worker,seconds" (header line allowed); an
  /// iteration lasts at least the recorded seconds (the trace repeats when
  /// the run is longer).
  std::string trace;
  /// regime: workers are split round-robin into `groups` groups; each group
  /// is a two-state Markov chain over iterations that turns from normal to
  /// slow with probability `p_slow` and back with `p_recover` per
  /// iteration, starting from its stationary distribution. Slow iterations
  /// take `factor` times their compute time; every iteration adds the
  /// worker's own exp(N(mu, sigma^2)) times `own_share`. Chains are kept
  /// in memory (one bit per group and iteration, up to 2^32 iterations).
  double p_slow = 0.05;
  double p_recover = 0.2;
};

/// Emulated stragglers: how long a worker additionally waits after an
/// iteration's real computation. Emulated delay is added to the real
/// compute time, never substituted for it.
class straggler_model {
public:
  virtual ~straggler_model() = default;

  /// Extra seconds for worker `worker` in iteration `iteration` that
  /// computed for `compute_seconds`; >= 0, and a deterministic function of
  /// (seed, worker, iteration, compute_seconds) so runs are reproducible.
  virtual double delay(std::size_t worker, std::uint64_t iteration,
                       double compute_seconds) const = 0;
};

/// Builds the model for `workers` workers from `rules`: each worker follows
/// the first rule that lists it (or lists no workers), else none. Throws
/// std::invalid_argument for bad parameters (naming the rule and field) and
/// load_error for unreadable traces (naming file and line).
std::unique_ptr<straggler_model>
make_straggler_model(const std::vector<straggler_spec>& rules,
                     std::size_t workers, std::uint64_t seed);

/// One row of a run-time trace.
struct trace_row {
  std::uint64_t iteration = 0;
  std::size_t worker = 0;
  double seconds = 0;
  /// Only a lower bound: the worker was cut off after `seconds`.
  bool censored = false;
};

/// The largest worker id a trace may name: 2^16 - 1, as many workers as a
/// run-time model describes at most.
constexpr std::size_t trace_max_worker = (std::size_t{1} << 16) - 1;

/// The most run-times a trace may describe (2^25): its distinct iterations
/// times its largest worker id + 1, the matrix its readers lay it out as.
constexpr std::size_t trace_max_cells = std::size_t{1} << 25;

/// Reads a trace CSV ("iteration,worker,seconds", optional header line,
/// extra columns ignored, except a fourth column 0/1 that a header names
/// "censored"; lines of at most 4096 bytes); `path` must be a regular file.
/// Throws load_error with file and line on bad input, a worker id above
/// trace_max_worker or more run-times than trace_max_cells.
std::vector<trace_row> read_trace(const std::string& path);

} // namespace metronome::algorithms

#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace metronome::launcher {

/// Settings of `metronome predictor train`.
struct predictor_train_options {
  std::string trace; ///< run-time trace CSV (a job's metrics_dir/trace.csv)
  std::string out;   ///< model file to write
  std::size_t epochs = 30;
  std::size_t latent = 4;
  std::size_t lag = 10;
  std::uint64_t seed = 1;
  /// Fraction of the trace (its end) held out to report the predictive
  /// log-likelihood against an i.i.d. per-worker Gaussian fit.
  double holdout = 0.2;
};

/// Trains BDSGD's run-time model on a trace, shows progress on stderr,
/// reports the held-out fit and writes the model file. Returns 0, or 2
/// with a message naming the file and problem on bad input.
int run_predictor_train(const predictor_train_options& options);

} // namespace metronome::launcher

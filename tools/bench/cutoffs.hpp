#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace metronome::tools {

/// Settings of `metronome bench cutoffs`.
struct cutoff_bench_options {
  /// regime (groups of workers switch between normal and 4x slow phases
  /// with persistence) or groups (log-normal run-times with two correlated
  /// groups); ignored with `trace`.
  std::string scenario = "regime";
  /// regime: per-iteration probabilities that a group turns slow, and that
  /// a slow group recovers.
  double p_slow = 0.05;
  double p_recover = 0.15;
  /// A recorded uncensored trace (a run with rule full) instead.
  std::string trace;
  std::size_t workers = 16;
  std::size_t train = 600; ///< iterations the bdsgd model is trained on
  std::size_t test = 600;  ///< iterations every rule is replayed on
  std::uint64_t seed = 1;
  std::size_t samples = 64;  ///< bdsgd's joint samples per decision
  std::size_t lag = 5;       ///< bdsgd's window of recent iterations
  std::size_t particles = 8; ///< bdsgd's latent paths per censored window
  bool json = false;
};

/// Replays full, static(1, 2, 4), elfving, ecdf and bdsgd (its model
/// trained on the first `train` iterations) on the true run-times of the
/// next `test` iterations, each rule seeing only what a server would
/// (the first c run-times, the others censored at the cutoff), and prints
/// the gradients per second each achieves as a fraction of the oracle
/// that knows the true run-times, with the mean cutoff and the time per
/// decision. In the regime scenario an "informed" rule is added: it knows
/// how run-times are made and each group's true state in the previous
/// iteration, a bound for any predictor. Returns 0, or 2 on bad input.
int run_cutoff_bench(const cutoff_bench_options& options);

} // namespace metronome::tools

#pragma once

#include <string>

namespace metronome::tools {

/// Settings of `metronome bench pushpull`.
struct pushpull_options {
  bool json = false;
  /// Wall time spent on each measurement.
  double seconds = 1.0;
  /// Alternating metronome / raw ZeroMQ runs; medians are reported.
  int repeat = 3;
  /// Where the metronome server runs (options.server_thread): transport
  /// or scheduler.
  std::string server_thread = "transport";
};

/// Measures dense push+pull of 1M float32, synchronous small push/pull round
/// trips and pipelined small pushes between one server node and one client
/// node over tcp loopback, then the same traffic over raw ZeroMQ in the same
/// run; prints both and their ratio. Every push carries its own clock and
/// adds 1 to each key it names, on both sides' servers; after each phase
/// the client reads the whole table back to count the pushes applied.
/// Returns the process exit code: 1, after naming each phase on stderr,
/// when a server applied other than it was sent, 0 otherwise.
int run_pushpull(const pushpull_options& opts);

} // namespace metronome::tools

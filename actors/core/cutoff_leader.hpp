#pragma once

#include "algorithms/cutoff/cutoff.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace metronome::actors {

/// What the leading server decided for one version under a cutoff.
struct cutoff_record {
  std::int64_t version = 0;
  /// The c the version waited for (the rule's choice, capped by the live
  /// workers).
  std::size_t cutoff = 0;
  /// Workers whose gradients make the version, in arrival order.
  std::vector<std::size_t> accepted;
  /// Seconds from the broadcast of the version to the cutoff.
  double cutoff_seconds = 0;
  /// Per worker: seconds until its gradient arrived, censored at
  /// cutoff_seconds for every worker not accepted (dead ones included).
  algorithms::runtime_observation observation;
  /// Seconds the predictor took for this version's decision (0 when late).
  double decision_seconds = 0;
  /// The decision was not in when the first gradient arrived, so the
  /// previous version's cutoff was used.
  bool decision_late = false;
  std::vector<double> expected_throughput;
  /// The rule whose decision was used (empty before the first one).
  std::string rule;
};

/// The leading server's bookkeeping under a cutoff: when the current
/// version was broadcast and each of its gradients arrived, which cutoff
/// applies, and when it is reached. Free of actors and sockets; times are
/// seconds on any monotonic clock.
class cutoff_leader {
public:
  /// `workers` workers, all alive; versions wait for all of them until a
  /// decision says otherwise.
  explicit cutoff_leader(std::size_t workers);

  /// Version `version` was broadcast at `now`; forgets the arrivals of the
  /// version before.
  void broadcast(std::int64_t version, double now);

  /// The predictor's decision for `version` by rule `rule`, which took
  /// `seconds`. Ignored when it is for another version or came too late to
  /// be used.
  void decision(std::int64_t version, const algorithms::cutoff_decision& d,
                double seconds, const std::string& rule = {});

  /// The gradient of `worker` for the current version arrived at `now`.
  /// Repeated, dead or out-of-range workers are ignored.
  void arrived(std::size_t worker, double now);

  /// `worker` is dead or suspect: no version waits for it or takes its
  /// gradient until found() (one that already arrived counts again then).
  void lost(std::size_t worker);

  /// `worker` is back after lost(): later versions count it again.
  void found(std::size_t worker);

  /// The record of the current version once its cutoff is reached (once
  /// per version), else nothing.
  std::optional<cutoff_record> reached();

  std::int64_t version() const { return version_; }
  std::size_t live() const;
  /// Versions whose decision came too late.
  std::uint64_t late_decisions() const { return late_decisions_; }

private:
  std::size_t workers_;
  std::vector<bool> dead_;
  std::int64_t version_ = -1;
  double broadcast_at_ = 0;
  std::vector<double> arrived_at_; // seconds after the broadcast, or -1
  std::vector<std::size_t> order_; // arrivals, in order
  bool recorded_ = false;
  // The decision for version_ when it came in time, else the last one used.
  std::optional<std::int64_t> decided_for_;
  algorithms::cutoff_decision current_;
  std::string current_rule_;
  double decision_seconds_ = 0;
  bool late_ = false;
  std::uint64_t late_decisions_ = 0;
};

} // namespace metronome::actors

#pragma once

#include "actors/core/job_records.hpp"
#include "messages/metronome_generated.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace metronome::actors {

/// What the reports of a complete version's accepted workers add up to.
struct cutoff_version {
  /// Accepted workers that reported (lost ones may not have).
  std::size_t count = 0;
  /// The sum of their losses.
  double loss = 0;
  std::uint64_t samples = 0;
};

/// The coordinator's bookkeeping under a cutoff: per version, the leading
/// server's decision and the losses and samples the workers reported, when
/// a version is complete, the fields of its record, the lost workers and
/// the totals of the run. Free of actors and sockets.
///
/// Versions are written out in order: close() forgets one, and decisions
/// and reports for it or any before it are refused from then on.
class cutoff_ledger {
public:
  /// A job of `workers` workers, all alive, none of its versions written.
  explicit cutoff_ledger(std::size_t workers);

  /// Records the report of `worker` for `version`. Ignored for a closed
  /// version, a worker out of range or one that already reported it.
  void report(std::uint64_t version, std::size_t worker, double loss,
              std::uint64_t samples);

  /// Records the leading server's decision for `version` and adds it to
  /// the totals. Returns the trace.csv rows of the decision (version,
  /// worker, seconds, censored; none when the version already had one),
  /// or nullopt when it is refused: a closed or negative version, a
  /// missing vector, or run-times or censoring not one per worker.
  std::optional<std::vector<std::string>>
  decide(std::int64_t version, const messages::wire::Cutoff& cut);

  /// The version's figures once its decision and the reports of its
  /// accepted, live workers are in; nothing before. Only the accepted
  /// workers' reports count.
  std::optional<cutoff_version> complete(std::uint64_t version) const;

  /// The fields the decision adds to the version's iterations.jsonl record
  /// (cutoff, cutoff_s, accepted, dropped, runtime_s, censored,
  /// decision_s, decision_late, late_gradients, expected_throughput); an
  /// empty object before the decision.
  const json& fields(std::uint64_t version) const;

  /// Forgets `version` and every version before it, written out.
  void close(std::uint64_t version);

  /// `worker` is on a dead node: no version waits for its report again.
  /// Ignored for a worker out of range.
  void lose(std::size_t worker);

  /// Workers lost so far.
  std::size_t lost() const;
  /// Workers not lost.
  std::size_t live() const { return lost_.size() - lost(); }
  /// Versions closed so far.
  std::uint64_t closed() const { return closed_; }

  /// The run's totals for the final line, over the closed versions and
  /// `wall_seconds` of run: mean_cutoff, mean_cutoff_s, gradients_per_s,
  /// late_gradients (the last decision's count), late_decisions,
  /// decision_mean_s (over decisions in time) and lost_workers.
  json totals(double wall_seconds) const;

private:
  struct entry {
    bool decided = false;
    json fields = json::object();
    std::vector<std::size_t> accepted;
    std::vector<bool> reported;
    std::vector<double> losses;
    std::vector<std::uint64_t> samples;
  };

  entry& at(std::uint64_t version);

  std::size_t workers_;
  std::vector<bool> lost_;
  std::map<std::uint64_t, entry> versions_;
  std::uint64_t closed_ = 0;    // versions below are written out
  std::uint64_t gradients_ = 0; // accepted ones
  std::uint64_t late_gradients_ = 0;
  std::uint64_t late_decisions_ = 0;
  double decision_seconds_ = 0; // sum over decisions in time
  double cutoff_seconds_ = 0;   // sum over versions
};

} // namespace metronome::actors

#pragma once

#include "actors/core/cutoff_leader.hpp"
#include "actors/core/table.hpp"
#include "algorithms/cutoff/cutoff.hpp"
#include "messages/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace metronome::actors {

/// What the leading server asks its predictor: the cutoff of `version`,
/// given the run-times of the version before (plain data; the actor copies
/// it into a predictor_query).
struct cutoff_query {
  /// The version whose cutoff is to be chosen.
  std::int64_t version = 0;
  /// Live workers the version can wait for.
  std::size_t workers = 1;
  /// Run-times of the previous version (empty for the first one).
  algorithms::runtime_observation observation;
};

/// What one call of cutoff_server::advance() did.
struct cutoff_step {
  /// A version was decided and handed to the table: whatever depends on
  /// the table is to be brought up to date, then advance() called again.
  bool decided = false;
  /// Why the table refused the decision (table_shard::accept), or empty.
  std::string error;
};

/// The versioned pacing of one server under `consistency: cutoff`
/// (synchronous SGD with a cutoff) on table 0: every worker reads every
/// version; server/0 leads, deciding from the first c gradients which ones
/// make each version, and tells the other servers and the coordinator.
/// Free of actors and sockets: messages leave through the functions it is
/// given, times are seconds on any monotonic clock.
///
/// The leader, per version v (a version is a commit of table 0):
///
///       start()
///          |  ask the predictor for c of version 0
///          v
///   +-> [applying v-1] --- table 0 commits v (all of v-1's accepted
///   |      |               gradients are in, or their workers are dead)
///   |      | advance(): broadcast v (the actor has pushed it to every
///   |      v            worker)
///   |   [collecting v] <-- arrived(w, v): counted in arrival order;
///   |      |               lost(w): neither waited for nor taken
///   |      | the first c live gradients are in (c: the predictor's answer
///   |      v  for v if in before v's first gradient, else the last c)
///   |   [decided v] --- Cutoff to server/1.. and coordinator/0;
///   |      |            ask the predictor for c of v+1 (unless v is last);
///   |      |            table_shard::accept(v): later gradients dropped
///   +------+
///
/// Any other server: decided(Cutoff for v from server/0) ->
/// table_shard::accept(v) -> table 0 commits v once the accepted gradients
/// (of live workers) are in.
class cutoff_server {
public:
  /// A header for a message to `destination` at `clock` about `table`,
  /// with a fresh sequence number.
  using header_fn = std::function<messages::header(
      const std::string& destination, std::int64_t clock, std::uint32_t table)>;
  using post_fn = std::function<void(messages::outbound)>;
  /// Sends a query to the predictor (whose answer comes back through
  /// answered()).
  using ask_fn = std::function<void(cutoff_query)>;

  /// Server `index` of `servers`, pacing `workers` workers through
  /// `versions` versions of `table` (table 0 of the job under a cutoff
  /// policy, which must outlive this). Only server 0 leads and asks.
  cutoff_server(std::size_t index, std::size_t servers, std::size_t workers,
                std::int64_t versions, table_shard& table, header_fn header,
                post_fn post, ask_fn ask);

  /// Whether this server decides the versions (server/0).
  bool leads() const { return leader_ != nullptr; }
  /// Whether start() was called.
  bool started() const { return started_; }

  /// The readers of every commit of table 0: every worker, by name.
  std::vector<std::string> readers() const;

  /// The job starts: the leader asks for the cutoff of version 0.
  /// Ignored when already started.
  void start();

  /// A push of `worker` for `version` was applied to a table: the leader
  /// counts it when it is for the version being collected.
  void arrived(std::size_t worker, std::int64_t version, double now);

  /// A Cutoff message `msg`: on a server that does not lead, from server/0,
  /// it fixes the gradients of its version (a repeated one is ignored).
  /// Returns why it is refused, or an empty string.
  std::string decided(const messages::inbound& msg);

  /// The predictor's answer for `version` by rule `rule`, which took
  /// `seconds`.
  void answered(std::int64_t version, const algorithms::cutoff_decision& d,
                double seconds, const std::string& rule = {});

  /// `worker` is waited for no more: until found() when only suspect, for
  /// good (table 0 drops it) when `dead`.
  void lost(std::size_t worker, bool dead);

  /// `worker` is back after lost().
  void found(std::size_t worker);

  /// On the started leader, broadcasts a newly committed version and
  /// decides the current one once its cutoff is reached (see the class
  /// comment); does nothing elsewhere. Call it after every change until it
  /// decides nothing.
  cutoff_step advance(double now);

  /// What the leader has decided so far, for inspect's `cutoff`.
  struct totals {
    std::uint64_t versions = 0;
    std::uint64_t censored = 0; ///< run-times known only as lower bounds
    std::uint64_t late_decisions = 0;
    double decision_seconds = 0; ///< summed over the versions
  };

  /// The leader's record of the last version decided, if any.
  const std::optional<cutoff_record>& last() const { return last_; }
  const totals& decided_so_far() const { return totals_; }

private:
  void announce(const cutoff_record& r);

  std::size_t servers_;
  std::size_t workers_;
  std::int64_t versions_;
  table_shard& table_;
  header_fn header_;
  post_fn post_;
  ask_fn ask_;
  std::unique_ptr<cutoff_leader> leader_; // server/0 only
  bool started_ = false;
  std::optional<cutoff_record> last_;
  totals totals_;
};

} // namespace metronome::actors

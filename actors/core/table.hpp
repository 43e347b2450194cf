#pragma once

#include "messages/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace metronome::actors {

/// A half-open range of parameter keys [begin, end).
struct key_range {
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  std::uint64_t size() const { return end - begin; }
  /// Whether [first, first + count) lies inside; safe for any inputs.
  bool contains(std::uint64_t first, std::uint64_t count) const {
    return first >= begin && first <= end && count <= end - first;
  }
};

/// The keys server shard `shard` of `shards` owns in a table of `keys` keys:
/// contiguous ranges, the first `keys % shards` shards one key larger.
key_range shard_keys(std::uint64_t keys, std::size_t shards, std::size_t shard);

/// One table of a running job: a named key range of the parameter vector
/// with its own consistency model.
struct table_layout {
  std::string name;
  key_range keys;
  std::string consistency = "bsp";
  std::int64_t staleness = 0;
};

/// What one server holds of one table.
struct partition {
  std::uint32_t table = 0;
  std::size_t server = 0;
  key_range keys;
};

/// Every non-empty (table, server) partition, table by table: each table's
/// keys are split over the servers as shard_keys() splits a whole key space
/// (a table with fewer keys than servers leaves some servers without it).
std::vector<partition> partitions(const std::vector<table_layout>& tables,
                                  std::size_t servers);

/// Under a cutoff, what the SGD step of a clock divides the sum of its c
/// accepted gradients by.
enum class step_scaling {
  fixed,  ///< c: the mean gradient, whatever c is
  linear, ///< the number of workers: the step grows linearly with c
};

/// What a table shard does with an update its policy admitted.
enum class arrival {
  apply,  ///< now, on its own, as one of the workers' updates of its clock
  buffer, ///< keep it until the policy says its clock is complete
  drop,   ///< never apply it: it came after its clock's cutoff
};

/// A policy's judgement of one update.
struct verdict {
  std::string error; ///< why the update is refused; empty when admitted
  arrival action = arrival::apply;
};

/// Where one worker stands in a table shard, as a policy sees it.
struct worker_clocks {
  std::int64_t committed = 0; ///< every update from clocks below is applied
  std::int64_t finished = 0;  ///< clocks the worker has finished here
};

/// The buffered updates that make one clock, and what divides their sum.
struct clock_commit {
  std::vector<std::size_t> workers; ///< whose updates, in worker order
  std::size_t divisor = 1;
};

/// Decides, on the server, when updates are applied and reads are served.
/// A policy object holds the decisions of one table_shard, which calls
/// attach() once, then asks it about every update and clock.
class consistency_policy {
public:
  virtual ~consistency_policy() = default;

  virtual std::string name() const = 0;

  /// The staleness bound s: a read at clock c must see every update from
  /// clocks <= c - s - 1; negative when unbounded.
  virtual std::int64_t staleness() const = 0;

  /// The bound admit() and plausible reads allow for: staleness(), or
  /// larger while a live change of the bound is taking effect (readers that
  /// went ahead under the larger bound push within it).
  virtual std::int64_t tolerance() const { return staleness(); }

  /// A live change (inspect's `set staleness`): reads are answered under
  /// bound `read` from now on, and updates and reads within `tolerate` (>=
  /// read) are accepted. Returns why the policy cannot change its bound, or
  /// an empty string; only ssp and essp with a bound >= 1 can, to a bound
  /// >= 1 (0 is bsp, which buffers the updates of a clock).
  virtual std::string set_staleness(std::int64_t read, std::int64_t tolerate);

  /// Whether a read by a reader at `reader_clock` may be answered when every
  /// update from clocks < `committed` is applied.
  bool can_read(std::int64_t reader_clock, std::int64_t committed) const {
    return staleness() < 0 || committed >= reader_clock - staleness();
  }

  /// Sizes the policy for a shard of `workers` workers.
  virtual void attach(std::size_t workers) { workers_ = workers; }

  /// Judges an update of `worker` (in range) for `clock` (in range) and,
  /// when it is admitted, takes note of it: an update beyond the bound is
  /// refused, the rest as the policy says.
  verdict admit(std::size_t worker, std::int64_t clock, worker_clocks at);

  /// The buffered updates that make `clock`, the first clock not committed,
  /// once they are all in (and forgets them); nullopt before, and always
  /// for a policy that never buffers.
  virtual std::optional<clock_commit> complete(std::int64_t clock) = 0;

  /// Every update of the worker at `at` from clocks below this is applied.
  virtual std::int64_t applied(worker_clocks at) const = 0;

  /// Cutoff: fixes the workers whose updates make `clock`, which must be
  /// `committed`; returns an error message, or an empty string on success.
  virtual std::string accept(std::int64_t clock, std::int64_t committed,
                             std::vector<std::size_t> workers);

  /// Cutoff: no clock waits for `worker` (in range) any more.
  virtual void forget(std::size_t) {}
  /// Cutoff: clocks wait for `worker` again after forget().
  virtual void revive(std::size_t) {}
  /// Cutoff: how a step scales with the number of accepted updates.
  virtual void set_step_scaling(step_scaling) {}
  /// Cutoff: updates dropped because they came after their clock's cutoff.
  virtual std::uint64_t late_updates() const { return 0; }

protected:
  /// admit() for an update within the staleness bound.
  virtual verdict judge(std::size_t worker, std::int64_t clock,
                        worker_clocks at) = 0;

  std::size_t workers_ = 0;
};

/// The names of the consistency models, in the order error messages list
/// them: bsp, ssp, essp, async, cutoff.
const std::vector<std::string>& consistency_models();

/// Creates the policy named `name`: "bsp", "ssp" or "essp" with bound
/// `staleness` (ssp and essp with 0 are bsp), "async" or "cutoff". Throws
/// std::invalid_argument naming the valid policies otherwise.
std::unique_ptr<consistency_policy> make_policy(const std::string& name,
                                                std::int64_t staleness = 0);

/// How pushed values change a table.
enum class update_rule {
  add, ///< w += delta
  sgd, ///< w -= lr * mean of the gradients of one clock
};

/// One server's shard of a dense parameter table and its clock state.
class table_shard {
public:
  table_shard(key_range keys, std::size_t workers, update_rule rule, float lr,
              std::unique_ptr<consistency_policy> policy,
              std::vector<float> initial);

  /// Records `values` for keys [offset, offset + size) from `worker` at
  /// `clock`; returns an error message, or an empty string on success.
  ///
  /// Under update_rule::sgd, a `rate` > 0 is the learning rate of this
  /// update (a rate changed while the job runs); 0 is the table's.
  std::string push(std::size_t worker, std::int64_t clock, std::uint64_t offset,
                   messages::float_block values, float rate = 0);

  /// Records a sparse update: values[i] for keys[i].
  std::string push_sparse(std::size_t worker, std::int64_t clock,
                          std::vector<std::uint64_t> keys,
                          messages::float_block values, float rate = 0);

  /// Records that `worker` finished `clock` without an update for this shard.
  std::string clock(std::size_t worker, std::int64_t clock);

  /// Cutoff policy: fixes the workers whose updates make clock `clock`, the
  /// one not committed yet; updates of other workers for it are dropped.
  /// Returns an error message, or an empty string on success.
  std::string accept(std::int64_t clock, std::vector<std::size_t> workers);

  /// Cutoff policy: `worker` is dead, so no clock waits for its update
  /// any more (a clock its update is missing from is applied without it,
  /// still divided as the leader's accepted set says).
  void forget(std::size_t worker);

  /// Cutoff policy: `worker` is back after forget().
  void revive(std::size_t worker);

  /// Cutoff policy: how a step scales with the number of accepted updates.
  void set_step_scaling(step_scaling s) { policy_->set_step_scaling(s); }

  /// Cutoff policy: updates dropped because they came after their clock's
  /// cutoff.
  std::uint64_t late_updates() const { return policy_->late_updates(); }

  /// Whether a read at `reader_clock` can be legitimate (by a worker, or
  /// by an evaluation): a clock in range, and for a worker not further
  /// ahead than the bound lets it get. Others are refused, not held.
  bool plausible_read(std::int64_t reader_clock, bool worker) const;

  bool can_read(std::int64_t reader_clock) const {
    return policy_->can_read(reader_clock, committed_);
  }

  /// Whether a read at `reader_clock` by a reader that is not a worker
  /// (an evaluation) may be answered: every update from clocks below it has
  /// been applied, whatever the policy.
  bool settled(std::int64_t reader_clock) const {
    return committed_ >= reader_clock;
  }

  /// Keeps a snapshot of the values as they are when committed() first
  /// reaches `clock`, for snapshot_at(). At most 8 snapshots are held
  /// unread; older ones are dropped. Under ssp and essp with s > 0 the
  /// snapshot may already hold some updates of later clocks.
  void mark(std::int64_t clock);

  /// The snapshot marked at `clock` (and forgets it), or nullptr when none
  /// was marked or it is not taken yet.
  std::shared_ptr<const std::vector<float>> snapshot_at(std::int64_t clock);

  /// Every update from clocks below this has been applied.
  std::int64_t committed() const { return committed_; }
  /// Every update of `worker` from clocks below this has been applied (the
  /// values include the worker's own writes up to there).
  std::int64_t applied(std::size_t worker) const;
  /// Clocks finished by the slowest worker.
  std::int64_t min_clock() const;
  /// Clocks `worker` (in range) has finished here.
  std::int64_t finished(std::size_t worker) const {
    return worker_clock_[worker];
  }
  /// The number of workers that write to this shard.
  std::size_t writers() const { return worker_clock_.size(); }

  key_range keys() const { return keys_; }
  const consistency_policy& policy() const { return *policy_; }

  /// See consistency_policy::set_staleness.
  std::string set_staleness(std::int64_t read, std::int64_t tolerate) {
    return policy_->set_staleness(read, tolerate);
  }

  /// The current values, shared: later updates copy before writing if a
  /// snapshot is still held (e.g. by a reply in flight).
  std::shared_ptr<const std::vector<float>> snapshot() const { return values_; }

private:
  struct update {
    std::uint64_t offset = 0;
    std::vector<std::uint64_t> keys; // sparse when not empty
    messages::float_block values;
    float rate = 0; // the learning rate of an sgd update, 0: the table's
  };

  // Range checks, then the policy's verdict on the update.
  verdict admit(std::size_t worker, std::int64_t clock);
  // Applies, buffers or drops `u` as the policy judged it.
  void record(std::size_t worker, std::int64_t clock, update u, arrival a);
  void note_clock(std::size_t worker, std::int64_t clock);
  void apply(const update& u, std::size_t count);
  void commit_ready();
  void commit(const clock_commit& c);
  bool sum(const clock_commit& c, const std::vector<update>& slot);
  float first_rate(const clock_commit& c,
                   const std::vector<update>& slot) const;
  bool same_rate(const clock_commit& c, const std::vector<update>& slot) const;
  void take_marks();
  std::vector<float>& writable();

  key_range keys_;
  std::size_t workers_;
  update_rule rule_;
  float lr_;
  std::unique_ptr<consistency_policy> policy_;
  std::shared_ptr<std::vector<float>> values_;
  std::vector<std::int64_t> worker_clock_;
  std::int64_t committed_ = 0;
  std::map<std::int64_t, std::vector<update>> pending_;
  std::map<std::int64_t, std::shared_ptr<const std::vector<float>>> marks_;
  std::vector<float> sum_;
};

} // namespace metronome::actors

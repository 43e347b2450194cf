#pragma once

#include "actors/core/table.hpp"
#include "messages/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

namespace metronome::actors {

/// A worker's copy of the parameters under bounded staleness: the values of
/// each server shard with the clock they were read at, plus the worker's
/// own updates the servers may not have applied yet.
///
/// A shard's values at clock k include every update from clocks below k,
/// and the worker's own updates from clocks below a ("applied", >= k when
/// the server applies updates on arrival). A read at clock c may use them
/// while k >= c - s; the worker's own updates from clocks >= a are added on
/// top, so it always sees its own writes, and none twice.
class worker_cache {
public:
  /// `shards` are the key ranges read from servers, `staleness` the bound s
  /// of each (negative: unbounded), and `own_scale` how the server turns one
  /// worker's pushed values into a parameter change (-lr / workers for SGD,
  /// 1 for additive deltas).
  worker_cache(std::vector<key_range> shards,
               std::vector<std::int64_t> staleness, float own_scale);

  /// A cache whose shards all have the bound `staleness`.
  worker_cache(std::vector<key_range> shards, std::int64_t staleness,
               float own_scale)
      : worker_cache(shards,
                     std::vector<std::int64_t>(shards.size(), staleness),
                     own_scale) {}

  /// Whether shard `s` may serve a read at `clock` without a fetch.
  bool fresh(std::size_t s, std::int64_t clock) const;

  /// Stores values read from shard `s`, which include every update from
  /// clocks below `clock` and this worker's own updates from clocks below
  /// `applied`; older values than those held are ignored.
  void store(std::size_t s, std::int64_t clock, std::int64_t applied,
             messages::float_view values);

  /// Own updates recorded from now on change the parameters by `scale`
  /// times their values (a learning rate changed live).
  void set_own_scale(float scale) { own_scale_ = scale; }

  /// Records this worker's own update for `clock` (all keys, as pushed).
  void record_own(std::int64_t clock,
                  std::shared_ptr<const std::vector<float>> update);

  /// The parameters a read sees (all keys): the cached values with the
  /// worker's own newer updates applied. Those are written into `scratch`
  /// when there are any; otherwise (as under BSP, where every read comes
  /// after the servers applied the worker's pushes) the result is the
  /// cache's own values, without a copy, valid until the next store().
  const std::vector<float>& view(std::vector<float>& scratch) const;

  /// Reads of shard `s` are bounded by `staleness` from now on (a live
  /// change; negative: unbounded).
  void set_staleness(std::size_t s, std::int64_t staleness) {
    staleness_[s] = staleness;
  }

  /// Clock of the values held for shard `s` (-1 before the first read).
  std::int64_t clock_of(std::size_t s) const { return clocks_[s]; }

  /// A read at `clock` served now lags this many clocks behind (the largest
  /// over the shards): `clock` minus the clock of the values.
  std::int64_t staleness_at(std::int64_t clock) const;

  std::size_t shards() const { return shards_.size(); }

private:
  struct own_update {
    std::int64_t clock;
    std::shared_ptr<const std::vector<float>> values;
    float scale;
  };

  std::vector<key_range> shards_;
  std::vector<std::int64_t> staleness_;
  float own_scale_;
  std::vector<float> values_;
  std::vector<std::int64_t> clocks_;
  std::vector<std::int64_t> applied_;
  std::deque<own_update> own_;
};

} // namespace metronome::actors

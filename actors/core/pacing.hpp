#pragma once

#include "actors/core/cache.hpp"

#include <cstdint>
#include <memory>

namespace metronome::actors {

/// When a data-parallel worker computes which iteration.
///
/// clocked (bsp, ssp, essp, async): the worker reads at its own clock and
/// a server answers once the table's consistency policy allows; every
/// iteration is pushed.
///
/// versioned (cutoff): every server sends every version of its shard to
/// every worker; the worker computes the newest version all servers have
/// sent, and drops a computation that a newer version overtook (its update
/// would come after that version's cutoff).
///
///   idle --start() >= 0--> computing --done--> idle   (clocked)
///   idle --start() >= 0--> computing --overtaken()--> idle, nothing pushed
class worker_pacing {
public:
  virtual ~worker_pacing() = default;

  /// Whether the worker asks the servers for what it reads (else they send
  /// it every version).
  virtual bool reads() const = 0;

  /// The clock of the iteration an idle worker at `clock` starts now given
  /// what `cache` holds, or -1 while none can start; never at or beyond
  /// `iterations`.
  virtual std::int64_t start(const worker_cache& cache, std::int64_t clock,
                             std::uint64_t iterations) const = 0;

  /// Whether the iteration computed at `clock` was overtaken: its update is
  /// dropped instead of pushed.
  virtual bool overtaken(const worker_cache& cache,
                         std::int64_t clock) const = 0;
};

/// The pacing of a worker of a job whose consistency is `consistency`:
/// versioned for "cutoff", clocked otherwise.
std::unique_ptr<worker_pacing>
make_worker_pacing(const std::string& consistency);

} // namespace metronome::actors

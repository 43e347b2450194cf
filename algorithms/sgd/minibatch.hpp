#pragma once

#include "algorithms/data/dataset.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace metronome::algorithms {

/// Returns the sample indices of mini-batch number `iteration` drawn from
/// `shard`: each epoch walks a fresh permutation of the shard, seeded from
/// (`seed`, epoch), in batches of `batch_size` (the last partial batch of an
/// epoch is skipped). Portable: uses its own Fisher-Yates shuffle on
/// std::mt19937_64, never implementation-defined distributions.
std::vector<std::size_t> minibatch(shard_range shard, std::size_t batch_size,
                                   std::uint64_t seed, std::uint64_t iteration);

/// Number of full batches of `batch_size` in `shard` (at least 1).
std::size_t batches_per_epoch(shard_range shard, std::size_t batch_size);

} // namespace metronome::algorithms

#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace metronome::algorithms {

/// The contiguous range of sample indices that worker `rank` of `workers`
/// owns in a data set of `samples` samples (the remainder goes to the first
/// workers, so sizes differ by at most one).
struct shard_range {
  std::size_t begin = 0;
  std::size_t end = 0;
};
shard_range data_shard(std::size_t samples, std::size_t workers,
                       std::size_t rank);

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

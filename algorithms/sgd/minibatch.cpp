#include "algorithms/sgd/minibatch.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms {

namespace {

std::size_t shard_size(shard_range shard) {
  if (shard.end < shard.begin)
    throw std::invalid_argument(
        fmt::format("invalid shard [{}, {})", shard.begin, shard.end));
  return shard.end - shard.begin;
}

std::ptrdiff_t idx(std::size_t i) {
  return static_cast<std::ptrdiff_t>(i);
}

struct cached_permutation {
  shard_range shard;
  std::uint64_t seed = 0;
  std::uint64_t epoch = 0;
  std::vector<std::size_t> perm;
};

/// The shuffled shard of one epoch. Successive batches of an epoch reuse it
/// from a small per-thread cache (one entry per shard of a sequential run
/// with a few workers) instead of shuffling again.
const std::vector<std::size_t>&
epoch_permutation(shard_range shard, std::uint64_t seed, std::uint64_t epoch) {
  thread_local std::array<cached_permutation, 8> cache;
  thread_local std::size_t next = 0;
  for (cached_permutation& c : cache)
    if (!c.perm.empty() && c.shard.begin == shard.begin &&
        c.shard.end == shard.end && c.seed == seed && c.epoch == epoch)
      return c.perm;
  cached_permutation& c = cache[next];
  next = (next + 1) % cache.size();
  std::size_t n = shard.end - shard.begin;
  c.perm.resize(n);
  std::iota(c.perm.begin(), c.perm.end(), shard.begin);
  std::mt19937_64 gen(splitmix64(splitmix64(seed) ^ epoch));
  for (std::size_t i = 0; i + 1 < n; ++i)
    std::swap(c.perm[i], c.perm[i + uniform_below(gen, n - i)]);
  c.shard = shard;
  c.seed = seed;
  c.epoch = epoch;
  return c.perm;
}

} // namespace

std::size_t batches_per_epoch(shard_range shard, std::size_t batch_size) {
  if (batch_size == 0)
    throw std::invalid_argument("batches_per_epoch: batch size 0");
  return std::max<std::size_t>(1, shard_size(shard) / batch_size);
}

std::vector<std::size_t> minibatch(shard_range shard, std::size_t batch_size,
                                   std::uint64_t seed,
                                   std::uint64_t iteration) {
  std::size_t n = shard_size(shard);
  if (n == 0)
    throw std::invalid_argument("minibatch: empty shard");
  std::size_t per_epoch = batches_per_epoch(shard, batch_size);
  std::uint64_t epoch = iteration / per_epoch;
  std::size_t first = (iteration % per_epoch) * batch_size;
  std::size_t last = std::min(first + batch_size, n);

  const std::vector<std::size_t>& perm = epoch_permutation(shard, seed, epoch);
  return std::vector<std::size_t>(perm.begin() + idx(first),
                                  perm.begin() + idx(last));
}

} // namespace metronome::algorithms

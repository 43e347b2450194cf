#include "actors/core/cache.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace metronome::actors {

worker_cache::worker_cache(std::vector<key_range> shards,
                           std::vector<std::int64_t> staleness, float own_scale)
    : shards_(std::move(shards))
    , staleness_(std::move(staleness))
    , own_scale_(own_scale)
    , clocks_(shards_.size(), -1)
    , applied_(shards_.size(), 0) {
  if (staleness_.size() != shards_.size())
    throw std::invalid_argument("worker_cache: one staleness bound per shard");
  std::uint64_t keys = 0;
  for (const auto& r : shards_)
    keys = std::max(keys, r.end);
  values_.resize(keys);
}

bool worker_cache::fresh(std::size_t s, std::int64_t clock) const {
  if (clocks_[s] < 0)
    return false;
  return staleness_[s] < 0 || clocks_[s] >= clock - staleness_[s];
}

void worker_cache::store(std::size_t s, std::int64_t clock,
                         std::int64_t applied, messages::float_view values) {
  if (clock < clocks_[s] || applied < applied_[s])
    return;
  std::memcpy(values_.data() + shards_[s].begin, values.data,
              values.size * sizeof(float));
  clocks_[s] = clock;
  applied_[s] = applied;
  // Own updates every shard has applied are no longer needed.
  auto oldest = *std::min_element(applied_.begin(), applied_.end());
  while (!own_.empty() && own_.front().clock < oldest)
    own_.pop_front();
}

void worker_cache::record_own(
    std::int64_t clock, std::shared_ptr<const std::vector<float>> update) {
  own_.push_back({clock, std::move(update), own_scale_});
}

const std::vector<float>&
worker_cache::view(std::vector<float>& scratch) const {
  auto pending = [this](const own_update& own) {
    return std::any_of(
        applied_.begin(), applied_.end(),
        [&](std::int64_t applied) { return own.clock >= applied; });
  };
  if (std::none_of(own_.begin(), own_.end(), pending))
    return values_;
  scratch = values_;
  for (const auto& own : own_)
    for (std::size_t s = 0; s < shards_.size(); ++s) {
      if (own.clock < applied_[s])
        continue; // the shard's values include it
      for (auto k = shards_[s].begin; k < shards_[s].end; ++k)
        scratch[k] += own.scale * (*own.values)[k];
    }
  return scratch;
}

std::int64_t worker_cache::staleness_at(std::int64_t clock) const {
  std::int64_t worst = 0;
  for (auto k : clocks_)
    worst = std::max(worst, clock - k);
  return worst;
}

} // namespace metronome::actors

#include "actors/core/pacing.hpp"

#include <algorithm>
#include <limits>

namespace metronome::actors {

namespace {

class clocked_pacing : public worker_pacing {
public:
  bool reads() const override { return true; }

  std::int64_t start(const worker_cache&, std::int64_t clock,
                     std::uint64_t iterations) const override {
    return static_cast<std::uint64_t>(clock) < iterations ? clock : -1;
  }

  bool overtaken(const worker_cache&, std::int64_t) const override {
    return false;
  }
};

class versioned_pacing : public worker_pacing {
public:
  bool reads() const override { return false; }

  // The version every server has sent; none while some server is already
  // further (its part of that version is gone).
  std::int64_t start(const worker_cache& cache, std::int64_t clock,
                     std::uint64_t iterations) const override {
    std::int64_t low = std::numeric_limits<std::int64_t>::max();
    std::int64_t high = -1;
    for (std::size_t s = 0; s < cache.shards(); ++s) {
      low = std::min(low, cache.clock_of(s));
      high = std::max(high, cache.clock_of(s));
    }
    if (low != high || low < clock ||
        static_cast<std::uint64_t>(low) >= iterations)
      return -1;
    return low;
  }

  bool overtaken(const worker_cache& cache, std::int64_t clock) const override {
    for (std::size_t s = 0; s < cache.shards(); ++s)
      if (cache.clock_of(s) > clock)
        return true;
    return false;
  }
};

} // namespace

std::unique_ptr<worker_pacing>
make_worker_pacing(const std::string& consistency) {
  if (consistency == "cutoff")
    return std::make_unique<versioned_pacing>();
  return std::make_unique<clocked_pacing>();
}

} // namespace metronome::actors

#include "actors/core/pacing.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace metronome::actors {
namespace {

// A cache of two shards whose values were read at clocks `a` and `b`.
worker_cache read_at(std::int64_t a, std::int64_t b) {
  worker_cache cache({{0, 2}, {2, 4}}, 0, 1.0f);
  std::vector<float> values(2, 0.5f);
  messages::float_view view{values.data(), values.size()};
  if (a >= 0)
    cache.store(0, a, a, view);
  if (b >= 0)
    cache.store(1, b, b, view);
  return cache;
}

TEST(ClockedPacing, ReadsAtItsOwnClockAndPushesEverything) {
  auto pacing = make_worker_pacing("ssp");
  EXPECT_TRUE(pacing->reads());
  auto cache = read_at(-1, -1);
  EXPECT_EQ(pacing->start(cache, 3, 10), 3);
  EXPECT_EQ(pacing->start(cache, 10, 10), -1) << "no iteration beyond the end";
  EXPECT_FALSE(pacing->overtaken(read_at(9, 9), 3));
}

TEST(VersionedPacing, StartsTheNewestVersionEveryServerSent) {
  auto pacing = make_worker_pacing("cutoff");
  EXPECT_FALSE(pacing->reads());
  EXPECT_EQ(pacing->start(read_at(-1, -1), 0, 10), -1) << "nothing sent yet";
  EXPECT_EQ(pacing->start(read_at(0, -1), 0, 10), -1) << "a shard missing";
  EXPECT_EQ(pacing->start(read_at(4, 4), 2, 10), 4) << "skips to the newest";
  EXPECT_EQ(pacing->start(read_at(5, 4), 2, 10), -1) << "shards disagree";
  EXPECT_EQ(pacing->start(read_at(1, 1), 2, 10), -1) << "an old version";
  EXPECT_EQ(pacing->start(read_at(10, 10), 2, 10), -1) << "beyond the end";
}

TEST(VersionedPacing, ANewerVersionOvertakesTheComputation) {
  auto pacing = make_worker_pacing("cutoff");
  EXPECT_FALSE(pacing->overtaken(read_at(3, 3), 3));
  EXPECT_TRUE(pacing->overtaken(read_at(3, 4), 3));
}

} // namespace
} // namespace metronome::actors

#include "algorithms/sgd/minibatch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace metronome::algorithms {
namespace {

TEST(DataShard, PartitionsTheSamples) {
  for (std::size_t n : {0u, 1u, 7u, 10u, 60000u, 60001u})
    for (std::size_t k : {1u, 2u, 3u, 4u, 7u, 16u}) {
      std::size_t next = 0;
      std::size_t smallest = n;
      std::size_t largest = 0;
      for (std::size_t r = 0; r < k; ++r) {
        shard_range s = data_shard(n, k, r);
        EXPECT_EQ(s.begin, next) << n << " " << k << " " << r;
        ASSERT_LE(s.begin, s.end);
        std::size_t size = s.end - s.begin;
        if (r > 0) {
          EXPECT_LE(size, largest) << "earlier shards must not be smaller";
        }
        smallest = std::min(smallest, size);
        largest = std::max(largest, size);
        next = s.end;
      }
      EXPECT_EQ(next, n) << n << " " << k;
      EXPECT_LE(largest - smallest, 1u) << n << " " << k;
    }
  shard_range s = data_shard(10, 3, 0);
  EXPECT_EQ(s.begin, 0u);
  EXPECT_EQ(s.end, 4u);
  s = data_shard(10, 3, 2);
  EXPECT_EQ(s.begin, 7u);
  EXPECT_EQ(s.end, 10u);
  EXPECT_THROW(data_shard(10, 0, 0), std::invalid_argument);
  EXPECT_THROW(data_shard(10, 3, 3), std::invalid_argument);
}

TEST(Minibatch, BatchesPerEpoch) {
  EXPECT_EQ(batches_per_epoch({0, 100}, 32), 3u);
  EXPECT_EQ(batches_per_epoch({0, 96}, 32), 3u);
  EXPECT_EQ(batches_per_epoch({50, 60}, 32), 1u);
  EXPECT_EQ(batches_per_epoch({0, 0}, 32), 1u);
  EXPECT_THROW(batches_per_epoch({0, 10}, 0), std::invalid_argument);
}

TEST(Minibatch, Deterministic) {
  shard_range s{1000, 5000};
  for (std::uint64_t t : {0u, 5u, 124u, 125u, 1000u}) {
    auto a = minibatch(s, 32, 7, t);
    auto b = minibatch(s, 32, 7, t);
    EXPECT_EQ(a, b);
    ASSERT_EQ(a.size(), 32u);
    for (std::size_t i : a) {
      EXPECT_GE(i, s.begin);
      EXPECT_LT(i, s.end);
    }
  }
  EXPECT_NE(minibatch(s, 32, 7, 0), minibatch(s, 32, 8, 0));
  EXPECT_NE(minibatch(s, 32, 7, 0), minibatch(s, 32, 7, 1));
  // Iteration 125 starts epoch 1: a fresh permutation.
  EXPECT_NE(minibatch(s, 32, 7, 0), minibatch(s, 32, 7, 125));
}

TEST(Minibatch, MatchesIndependentReference) {
  // Values from an independent Python implementation of mt19937_64,
  // splitmix64 seeding and the forward Fisher-Yates shuffle.
  EXPECT_EQ(minibatch({0, 10}, 10, 1, 0),
            (std::vector<std::size_t>{2, 5, 8, 1, 3, 0, 4, 9, 6, 7}));
  EXPECT_EQ(minibatch({100, 150}, 8, 42, 0),
            (std::vector<std::size_t>{106, 101, 135, 131, 129, 143, 102, 145}));
  EXPECT_EQ(minibatch({100, 150}, 8, 42, 7),
            (std::vector<std::size_t>{124, 142, 100, 107, 133, 147, 116, 113}));
}

TEST(Minibatch, IndependentOfCallOrderAndThread) {
  shard_range s{0, 1000};
  std::vector<std::vector<std::size_t>> expected;
  for (std::uint64_t t = 0; t < 70; ++t)
    expected.push_back(minibatch(s, 30, 5, t));
  // Interleave with more shards and seeds than any cache could hold.
  for (std::uint64_t t = 0; t < 70; ++t) {
    for (std::size_t r = 0; r < 12; ++r)
      minibatch(data_shard(1000, 12, r), 30, 5 + r, t);
    EXPECT_EQ(minibatch(s, 30, 5, t), expected[t]) << t;
  }
  std::vector<std::vector<std::size_t>> other(70);
  std::thread worker([&] {
    for (std::uint64_t t = 70; t-- > 0;)
      other[t] = minibatch(s, 30, 5, t);
  });
  worker.join();
  EXPECT_EQ(other, expected);
}

TEST(Minibatch, EpochCoversShardWithoutDuplicates) {
  shard_range s{100, 197}; // 97 samples, 9 batches of 10, 7 left over
  std::size_t per_epoch = batches_per_epoch(s, 10);
  ASSERT_EQ(per_epoch, 9u);
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<std::size_t> seen;
    for (std::size_t b = 0; b < per_epoch; ++b) {
      auto batch = minibatch(s, 10, 3, epoch * per_epoch + b);
      ASSERT_EQ(batch.size(), 10u);
      for (std::size_t i : batch) {
        EXPECT_TRUE(seen.insert(i).second) << "duplicate " << i;
        EXPECT_GE(i, s.begin);
        EXPECT_LT(i, s.end);
      }
    }
    EXPECT_EQ(seen.size(), 90u);
  }

  shard_range exact{0, 64};
  std::set<std::size_t> all;
  for (std::uint64_t t = 0; t < 4; ++t)
    for (std::size_t i : minibatch(exact, 16, 9, t))
      all.insert(i);
  EXPECT_EQ(all.size(), 64u);
}

TEST(Minibatch, BatchLargerThanShard) {
  auto b = minibatch({5, 12}, 32, 1, 3);
  ASSERT_EQ(b.size(), 7u);
  std::sort(b.begin(), b.end());
  EXPECT_EQ(b, (std::vector<std::size_t>{5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(minibatch({5, 6}, 4, 1, 0), (std::vector<std::size_t>{5}));
  EXPECT_THROW(minibatch({5, 5}, 4, 1, 0), std::invalid_argument);
}

} // namespace
} // namespace metronome::algorithms

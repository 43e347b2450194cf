// Bounded staleness, checked on the reading side: simulated workers of
// random speed read through their cache and push one marker update per
// clock; every read must contain every update older than the bound, the
// reader's own updates, and nothing twice.

#include "actors/core/cache.hpp"
#include "actors/core/table.hpp"

#include <gtest/gtest.h>

#include <random>

using namespace metronome;
using actors::key_range;
using actors::table_shard;
using actors::worker_cache;

namespace {

struct run_result {
  std::size_t reads = 0;
  std::size_t violations = 0;
  std::string first_violation;
  std::int64_t max_staleness = 0;
  double mean_staleness = 0;
};

// A live change of the bound to `bound`, begun after `after` reads, in the
// phases of actors::live_change: the servers first, then each worker at a
// random later read of its own, then the servers again.
struct live_bound {
  std::size_t after = 0;
  std::int64_t bound = 0;
};

// Where a simulated live change stands.
struct live_state {
  std::size_t next = 0;       // the change to begin next
  std::vector<bool> taken;    // per worker, of the change in progress
  std::int64_t old_bound = 0; // before it
  bool in_progress = false;
};

// Runs `workers` workers for `clocks` clocks against two shards that apply
// `policy_bound`, and checks every read against `checked_bound`. With
// `eager` (essp) servers push every commit to the caches at once. With
// `changes`, the bound changes live, and each read is checked against the
// bound its worker has taken.
run_result simulate(std::uint64_t seed, std::size_t workers,
                    std::int64_t clocks, std::int64_t policy_bound,
                    std::int64_t checked_bound, bool eager = false,
                    const std::vector<live_bound>& changes = {}) {
  const std::uint64_t keys = workers * clocks;
  auto key = [&](std::size_t w, std::int64_t c) { return w * clocks + c; };
  std::vector<key_range> ranges = {actors::shard_keys(keys, 2, 0),
                                   actors::shard_keys(keys, 2, 1)};
  std::vector<std::unique_ptr<table_shard>> shards;
  for (const auto& r : ranges)
    shards.push_back(
        std::make_unique<table_shard>(r, workers, actors::update_rule::add, 1.f,
                                      actors::make_policy("ssp", policy_bound),
                                      std::vector<float>(r.size(), 0.f)));
  std::vector<worker_cache> caches;
  for (std::size_t w = 0; w < workers; ++w)
    caches.emplace_back(ranges, policy_bound, 1.f);
  std::vector<std::int64_t> clock(workers, 0);
  std::mt19937_64 rng(seed);
  // Emulated delays: each worker gets a speed; one is much slower.
  std::vector<double> speed(workers);
  for (auto& v : speed)
    v = std::uniform_real_distribution<double>(0.5, 2.0)(rng);
  speed[seed % workers] = 0.1;
  run_result result;
  std::vector<float> view, scratch;
  std::vector<std::int64_t> checked(workers, checked_bound);
  live_state live;
  live.old_bound = policy_bound;
  // Takes the live changes one step further before a read.
  auto step_changes = [&] {
    if (!live.in_progress && live.next < changes.size() &&
        result.reads >= changes[live.next].after) {
      auto b = changes[live.next].bound;
      for (auto& shard : shards)
        EXPECT_EQ(shard->set_staleness(std::min(live.old_bound, b),
                                       std::max(live.old_bound, b)),
                  "");
      live.taken.assign(workers, false);
      live.in_progress = true;
    }
    if (!live.in_progress)
      return;
    auto b = changes[live.next].bound;
    for (std::size_t w = 0; w < workers; ++w)
      if (!live.taken[w] && rng() % 4 == 0) {
        live.taken[w] = true;
        checked[w] = b;
        for (std::size_t s = 0; s < shards.size(); ++s)
          caches[w].set_staleness(s, b);
      }
    if (std::count(live.taken.begin(), live.taken.end(), false) > 0)
      return;
    for (auto& shard : shards)
      EXPECT_EQ(shard->set_staleness(b, b), "");
    live.old_bound = b;
    live.in_progress = false;
    ++live.next;
  };
  for (;;) {
    step_changes();
    std::vector<std::size_t> ready;
    std::vector<double> weight;
    for (std::size_t w = 0; w < workers; ++w) {
      if (clock[w] >= clocks)
        continue;
      bool can = true;
      for (std::size_t s = 0; s < shards.size(); ++s)
        can = can &&
              (caches[w].fresh(s, clock[w]) || shards[s]->can_read(clock[w]));
      if (can) {
        ready.push_back(w);
        weight.push_back(speed[w]);
      }
    }
    if (ready.empty())
      break;
    auto w = ready[std::discrete_distribution<std::size_t>(weight.begin(),
                                                           weight.end())(rng)];
    auto c = clock[w];
    for (std::size_t s = 0; s < shards.size(); ++s)
      if (eager || !caches[w].fresh(s, c)) {
        auto snap = shards[s]->snapshot();
        caches[w].store(s, shards[s]->committed(), shards[s]->applied(w),
                        {snap->data(), snap->size()});
      }
    view = caches[w].view(scratch);
    ++result.reads;
    result.max_staleness =
        std::max(result.max_staleness, caches[w].staleness_at(c));
    result.mean_staleness += static_cast<double>(caches[w].staleness_at(c));
    auto violate = [&](const std::string& what) {
      if (result.violations++ == 0)
        result.first_violation = what;
    };
    for (std::size_t other = 0; other < workers; ++other)
      for (std::int64_t old = 0; old < clocks; ++old) {
        float v = view[key(other, old)];
        if (v != 0.f && v != 1.f)
          violate("update applied twice");
        bool required = old <= c - checked[w] - 1 ||
                        (other == w && old < c); // read-my-writes
        if (required && v != 1.f)
          violate("worker " + std::to_string(w) + " reading at clock " +
                  std::to_string(c) + " misses the update of worker " +
                  std::to_string(other) + " at clock " + std::to_string(old));
      }
    auto update = std::make_shared<std::vector<float>>(keys, 0.f);
    (*update)[key(w, c)] = 1.f;
    for (std::size_t s = 0; s < shards.size(); ++s) {
      auto r = ranges[s];
      auto err = shards[s]->push(
          w, c, r.begin, messages::float_block::of(update, r.begin, r.size()));
      EXPECT_EQ(err, "");
    }
    caches[w].record_own(c, update);
    ++clock[w];
  }
  for (std::size_t w = 0; w < workers; ++w)
    EXPECT_EQ(clock[w], clocks) << "worker " << w << " never finished";
  result.mean_staleness /= static_cast<double>(result.reads);
  return result;
}

} // namespace

TEST(BoundedStaleness, NoReadMissesAnUpdateOlderThanTheBound) {
  for (std::int64_t s : {0, 1, 2, 3, 5}) {
    std::int64_t worst = 0;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      auto r = simulate(seed, 5, 20, s, s);
      ASSERT_EQ(r.violations, 0u)
          << "s=" << s << " seed=" << seed << ": " << r.first_violation;
      EXPECT_LE(r.max_staleness, s);
      worst = std::max(worst, r.max_staleness);
    }
    // Random speeds do make reads stale, up to the bound.
    EXPECT_EQ(worst, s) << "s=" << s;
  }
}

TEST(BoundedStaleness, EagerPushesLowerTheStalenessSeen) {
  for (std::int64_t s : {1, 3, 5}) {
    double ssp = 0;
    double essp = 0;
    for (std::uint64_t seed = 1; seed <= 40; ++seed) {
      ssp += simulate(seed, 5, 30, s, s).mean_staleness;
      auto r = simulate(seed, 5, 30, s, s, true);
      ASSERT_EQ(r.violations, 0u) << r.first_violation;
      essp += r.mean_staleness;
    }
    std::printf("s=%lld: mean staleness ssp %.3f, essp %.3f\n",
                static_cast<long long>(s), ssp / 40, essp / 40);
    EXPECT_LT(essp, ssp) << "s=" << s;
  }
}

TEST(BoundedStaleness, ABrokenBoundIsCaught) {
  // Servers that allow s + 2 while readers expect s: the checker must see it.
  std::size_t violations = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed)
    violations += simulate(seed, 5, 20, 3, 1).violations;
  EXPECT_GT(violations, 0u);
}

TEST(BoundedStaleness, ABoundChangedLiveHoldsForEachWorkerOnceTaken) {
  // Lowered, raised and lowered again: no read misses an update older than
  // the bound its worker has taken, no push is refused on the way (the
  // simulation checks both), and the raise lets reads lag further.
  std::vector<live_bound> changes = {{40, 1}, {120, 5}, {260, 2}};
  std::int64_t worst = 0;
  for (std::uint64_t seed = 1; seed <= 40; ++seed) {
    auto r = simulate(seed, 5, 80, 3, 3, false, changes);
    ASSERT_EQ(r.violations, 0u) << "seed " << seed << ": " << r.first_violation;
    auto e = simulate(seed, 5, 80, 3, 3, true, changes);
    ASSERT_EQ(e.violations, 0u)
        << "essp, seed " << seed << ": " << e.first_violation;
    worst = std::max(worst, r.max_staleness);
  }
  EXPECT_EQ(worst, 5);
}

TEST(BoundedStaleness, AChangeOfTheBoundIsRefusedWhereThePolicyHasNone) {
  EXPECT_EQ(actors::make_policy("ssp", 2)->set_staleness(1, 2), "");
  EXPECT_NE(actors::make_policy("ssp", 2)->set_staleness(0, 2), "");
  EXPECT_NE(actors::make_policy("bsp")->set_staleness(1, 1).find(
                "buffers the updates of each clock"),
            std::string::npos);
  EXPECT_NE(actors::make_policy("async")->set_staleness(1, 1).find(
                "async has no staleness bound"),
            std::string::npos);
  EXPECT_NE(actors::make_policy("cutoff")->set_staleness(1, 1), "");
}

TEST(BoundedStaleness, SspZeroIsBsp) {
  auto bsp = actors::make_policy("bsp");
  auto ssp0 = actors::make_policy("ssp", 0);
  EXPECT_EQ(ssp0->name(), "bsp");
  for (std::int64_t committed = 0; committed < 5; ++committed)
    for (std::int64_t c = 0; c < 7; ++c)
      EXPECT_EQ(bsp->can_read(c, committed), ssp0->can_read(c, committed));
}

TEST(WorkerCache, OwnUpdatesShowUntilTheServerHasThem) {
  worker_cache cache({{0, 2}}, 2, -0.5f);
  std::vector<float> server = {10, 20};
  cache.store(0, 3, 3, {server.data(), 2});
  cache.record_own(
      3, std::make_shared<std::vector<float>>(std::vector<float>{2, 4}));
  std::vector<float> view, scratch;
  view = cache.view(scratch);
  EXPECT_EQ(view, (std::vector<float>{9, 18}));
  EXPECT_TRUE(cache.fresh(0, 5));
  EXPECT_FALSE(cache.fresh(0, 6));
  EXPECT_EQ(cache.staleness_at(5), 2);
  std::vector<float> newer = {9, 18};
  cache.store(0, 4, 4, {newer.data(), 2}); // now includes clock 3
  view = cache.view(scratch);
  EXPECT_EQ(view, (std::vector<float>{9, 18}));
  cache.store(0, 2, 2, {server.data(), 2}); // older values are ignored
  view = cache.view(scratch);
  EXPECT_EQ(view, (std::vector<float>{9, 18}));
}

// Under BSP every read follows the servers' applying the worker's pushes:
// the view is then the cache's own values, not a copy.
TEST(WorkerCache, AViewWithNothingOfItsOwnToAddIsNotACopy) {
  worker_cache cache({{0, 2}}, 0, -0.5f);
  std::vector<float> server = {10, 20};
  cache.store(0, 3, 3, {server.data(), 2});
  std::vector<float> scratch;
  const auto& direct = cache.view(scratch);
  EXPECT_EQ(direct, server);
  EXPECT_NE(&direct, &scratch);
  EXPECT_TRUE(scratch.empty());
  cache.record_own(
      3, std::make_shared<std::vector<float>>(std::vector<float>{2, 4}));
  const auto& added = cache.view(scratch);
  EXPECT_EQ(&added, &scratch);
  EXPECT_EQ(added, (std::vector<float>{9, 18}));
  std::vector<float> newer = {9, 18};
  cache.store(0, 4, 4, {newer.data(), 2}); // the server applied clock 3
  EXPECT_NE(&cache.view(scratch), &scratch);
}

TEST(WorkerCache, ValuesAppliedOnArrivalHoldTheReadersPushes) {
  worker_cache cache({{0, 2}, {2, 3}}, 0, -0.5f);
  std::vector<float> server = {10, 20};
  std::vector<float> third = {30};
  cache.store(0, 0, 5, {server.data(), 2});
  cache.store(1, 0, 5, {third.data(), 1});
  cache.record_own(
      5, std::make_shared<std::vector<float>>(std::vector<float>{2, 4, 6}));
  std::vector<float> view, scratch;
  view = cache.view(scratch);
  EXPECT_EQ(view, (std::vector<float>{9, 18, 27})); // not yet re-read
  std::vector<float> after = {9, 18};      // the first server applied it
  cache.store(0, 1, 6, {after.data(), 2}); // min clock still behind
  view = cache.view(scratch);
  EXPECT_EQ(view, (std::vector<float>{9, 18, 27})); // none applied twice
  std::vector<float> stale = {1, 1};
  cache.store(0, 1, 5, {stale.data(), 2}); // holds fewer of our updates
  view = cache.view(scratch);
  EXPECT_EQ(view, (std::vector<float>{9, 18, 27}));
}

TEST(WorkerCache, EachShardHasItsOwnBound) {
  worker_cache cache({{0, 1}, {1, 2}}, {0, 3}, 1.f);
  std::vector<float> v = {1};
  cache.store(0, 4, 4, {v.data(), 1});
  cache.store(1, 4, 4, {v.data(), 1});
  EXPECT_TRUE(cache.fresh(0, 4));
  EXPECT_FALSE(cache.fresh(0, 5)); // bsp: every clock is read anew
  EXPECT_TRUE(cache.fresh(1, 7));  // ssp(3)
  EXPECT_FALSE(cache.fresh(1, 8));
  EXPECT_EQ(cache.staleness_at(7), 3);
  EXPECT_THROW(worker_cache({{0, 1}}, std::vector<std::int64_t>{0, 1}, 1.f),
               std::invalid_argument);
}

TEST(Partitions, SplitEveryTableOverTheServers) {
  std::vector<actors::table_layout> tables = {{"hidden", {0, 10}, "ssp", 2},
                                              {"output", {10, 13}, "bsp", 0},
                                              {"bias", {13, 14}, "bsp", 0}};
  auto parts = actors::partitions(tables, 2);
  ASSERT_EQ(parts.size(), 5u); // the one-key table lives on server 0 only
  std::uint64_t next = 0;
  for (const auto& p : parts) {
    EXPECT_EQ(p.keys.begin, next);
    EXPECT_LT(p.keys.begin, p.keys.end);
    EXPECT_GE(p.keys.begin, tables[p.table].keys.begin);
    EXPECT_LE(p.keys.end, tables[p.table].keys.end);
    next = p.keys.end;
  }
  EXPECT_EQ(next, 14u);
  EXPECT_EQ(parts[4].table, 2u);
  EXPECT_EQ(parts[4].server, 0u);
}

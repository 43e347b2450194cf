#include "actors/core/table.hpp"

#include "algorithms/sgd/sgd.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

using namespace metronome;
using actors::key_range;
using actors::shard_keys;
using actors::table_shard;
using actors::update_rule;

namespace {

messages::float_block block(std::vector<float> v) {
  return messages::float_block::of(
      std::make_shared<const std::vector<float>>(std::move(v)));
}

std::vector<float> values_of(const table_shard& t) {
  return *t.snapshot();
}

} // namespace

TEST(ShardKeys, PartitionEveryKeyExactlyOnce) {
  for (std::uint64_t keys : {0ull, 1ull, 7ull, 100ull, 101853ull}) {
    for (std::size_t shards = 1; shards <= 9; ++shards) {
      std::uint64_t next = 0;
      std::uint64_t smallest = keys, largest = 0;
      for (std::size_t s = 0; s < shards; ++s) {
        auto r = shard_keys(keys, shards, s);
        EXPECT_EQ(r.begin, next) << keys << " keys, shard " << s;
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
      }
      EXPECT_EQ(next, keys);
      EXPECT_LE(largest - smallest, 1u);
    }
  }
}

TEST(ShardKeys, RangeContains) {
  key_range r{10, 20};
  EXPECT_TRUE(r.contains(10, 10));
  EXPECT_TRUE(r.contains(15, 0));
  EXPECT_FALSE(r.contains(9, 2));
  EXPECT_FALSE(r.contains(15, 6));
  EXPECT_FALSE(r.contains(15, ~0ull)); // no overflow
}

TEST(Policy, UnknownNameIsRejected) {
  EXPECT_THROW(actors::make_policy("eventual"), std::invalid_argument);
  EXPECT_THROW(actors::make_policy("ssp", -1), std::invalid_argument);
  try {
    actors::make_policy("bogus");
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("bsp"), std::string::npos);
  }
}

TEST(Policy, NamesAndBounds) {
  EXPECT_EQ(actors::make_policy("bsp")->name(), "bsp");
  EXPECT_EQ(actors::make_policy("essp", 2)->name(), "ssp(2)");
  EXPECT_EQ(actors::make_policy("async")->name(), "async");
  EXPECT_EQ(actors::make_policy("cutoff")->name(), "cutoff");
  EXPECT_EQ(actors::make_policy("ssp", 3)->staleness(), 3);
  EXPECT_LT(actors::make_policy("async")->staleness(), 0);
  EXPECT_EQ(actors::make_policy("cutoff")->staleness(), 0);
}

TEST(Policy, BspBuffersEveryWorkersUpdateOfAClock) {
  auto p = actors::make_policy("bsp");
  p->attach(2);
  EXPECT_EQ(p->admit(1, 0, {0, 0}).action, actors::arrival::buffer);
  EXPECT_NE(p->admit(1, 0, {0, 1}).error.find("second update"),
            std::string::npos);
  EXPECT_NE(p->admit(0, 1, {0, 0}).error.find("not committed yet"),
            std::string::npos);
  EXPECT_FALSE(p->complete(0));
  auto v = p->admit(0, 0, {0, 0});
  EXPECT_EQ(v.error, "");
  EXPECT_EQ(v.action, actors::arrival::buffer);
  auto c = p->complete(0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->workers, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(c->divisor, 2u);
  EXPECT_FALSE(p->complete(0)); // forgotten once complete
  EXPECT_NE(p->admit(0, 0, {1, 1}).error.find("after that clock"),
            std::string::npos);
  EXPECT_EQ(p->applied({3, 5}), 3);
  EXPECT_NE(p->accept(1, 1, {0}), "");
  EXPECT_EQ(p->late_updates(), 0u);
}

TEST(Policy, SspAndAsyncApplyOnArrival) {
  auto p = actors::make_policy("ssp", 2);
  p->attach(2);
  EXPECT_EQ(p->admit(0, 2, {0, 0}).action, actors::arrival::apply);
  EXPECT_NE(p->admit(0, 3, {0, 0}).error, ""); // beyond the bound
  EXPECT_NE(p->admit(0, 1, {0, 3}).error, ""); // behind its own clock
  EXPECT_EQ(p->admit(1, 0, {0, 0}).error, "");
  EXPECT_FALSE(p->complete(0));
  EXPECT_EQ(p->applied({1, 4}), 4);
  auto a = actors::make_policy("async");
  a->attach(1);
  EXPECT_EQ(a->admit(0, 1000, {0, 0}).action, actors::arrival::apply);
  EXPECT_EQ(a->applied({0, 1001}), 1001);
}

TEST(Policy, CutoffMakesAClockOfTheAcceptedLiveWorkers) {
  auto p = actors::make_policy("cutoff");
  p->attach(4);
  EXPECT_EQ(p->admit(3, 0, {0, 0}).action, actors::arrival::buffer);
  EXPECT_EQ(p->admit(2, 0, {0, 0}).action, actors::arrival::buffer);
  EXPECT_FALSE(p->complete(0)); // no decision yet
  EXPECT_EQ(p->accept(0, 0, {2, 0, 1}), "");
  EXPECT_EQ(p->late_updates(), 1u); // worker 3's buffered update
  EXPECT_EQ(p->admit(3, 0, {0, 0}).action, actors::arrival::drop);
  EXPECT_EQ(p->late_updates(), 2u);
  EXPECT_EQ(p->admit(1, 0, {0, 0}).action, actors::arrival::buffer);
  EXPECT_FALSE(p->complete(0)); // worker 0 is not in yet
  p->forget(0);
  auto c = p->complete(0);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->workers, (std::vector<std::size_t>{1, 2})); // worker order
  EXPECT_EQ(c->divisor, 3u);                               // |accepted|
  EXPECT_EQ(p->admit(0, 0, {1, 0}).action, actors::arrival::drop);
  EXPECT_EQ(p->late_updates(), 3u);
  p->set_step_scaling(actors::step_scaling::linear);
  EXPECT_EQ(p->accept(1, 1, {}), "");
  c = p->complete(1);
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->workers.empty());
  EXPECT_EQ(c->divisor, 4u); // the number of workers
  EXPECT_EQ(p->applied({2, 7}), 2);
}

TEST(TableShard, BspWaitsForEveryWorkerThenAppliesMeanGradient) {
  table_shard t({4, 7}, 2, update_rule::sgd, 0.5f, actors::make_policy("bsp"),
                {1, 2, 3});
  EXPECT_TRUE(t.can_read(0));
  EXPECT_FALSE(t.can_read(1));
  EXPECT_EQ(t.push(1, 0, 4, block({2, 2, 2})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{1, 2, 3})); // buffered
  EXPECT_FALSE(t.can_read(1));
  EXPECT_EQ(t.push(0, 0, 4, block({4, 0, 2})), "");
  EXPECT_TRUE(t.can_read(1));
  EXPECT_EQ(t.committed(), 1);
  // w -= 0.5 * (g0 + g1) / 2
  EXPECT_EQ(values_of(t), (std::vector<float>{-0.5f, 1.5f, 2.0f}));
}

TEST(TableShard, BspResultDoesNotDependOnArrivalOrder) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  const std::size_t workers = 5, keys = 64, clocks = 6;
  std::vector<std::vector<std::vector<float>>> grads(clocks);
  for (auto& c : grads)
    for (std::size_t w = 0; w < workers; ++w) {
      std::vector<float> g(keys);
      for (auto& x : g)
        x = u(rng) * 1e3f; // large spread makes addition order visible
      c.push_back(g);
    }
  auto run = [&](bool shuffled) {
    table_shard t({0, keys}, workers, update_rule::sgd, 0.1f,
                  actors::make_policy("bsp"), std::vector<float>(keys, 1.f));
    std::vector<std::size_t> order(workers);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937 shuffle_rng(3);
    for (std::size_t c = 0; c < clocks; ++c) {
      if (shuffled)
        std::shuffle(order.begin(), order.end(), shuffle_rng);
      for (auto w : order)
        EXPECT_EQ(t.push(w, c, 0, block(grads[c][w])), "");
    }
    return values_of(t);
  };
  auto in_order = run(false);
  auto shuffled = run(true);
  EXPECT_EQ(in_order, shuffled);
  // And both equal the sequential rule: sum in rank order, then apply_sgd.
  std::vector<float> w(keys, 1.f);
  for (std::size_t c = 0; c < clocks; ++c) {
    auto sum = grads[c][0];
    for (std::size_t r = 1; r < workers; ++r)
      algorithms::accumulate(sum.data(), grads[c][r].data(), keys);
    algorithms::apply_sgd(w.data(), sum.data(), workers, 0.1f, keys);
  }
  EXPECT_EQ(in_order, w);
}

TEST(TableShard, BspRejectsDuplicateAndLateUpdates) {
  table_shard t({0, 2}, 2, update_rule::add, 1.f, actors::make_policy("bsp"),
                {0, 0});
  EXPECT_EQ(t.push(0, 0, 0, block({1, 1})), "");
  EXPECT_NE(t.push(0, 0, 0, block({1, 1})).find("second update"),
            std::string::npos);
  EXPECT_EQ(t.clock(1, 0), "");
  EXPECT_EQ(t.committed(), 1);
  EXPECT_NE(t.push(1, 0, 0, block({1, 1})).find("after that clock"),
            std::string::npos);
  EXPECT_EQ(values_of(t), (std::vector<float>{1, 1}));
}

TEST(TableShard, RejectsKeysOutsideTheShardAndUnknownWorkers) {
  table_shard t({10, 12}, 1, update_rule::add, 1.f,
                actors::make_policy("async"), {0, 0});
  EXPECT_NE(t.push(0, 0, 11, block({1, 1})), "");
  EXPECT_NE(t.push(0, 0, 9, block({1})), "");
  EXPECT_NE(t.push(3, 0, 10, block({1})), "");
  EXPECT_NE(t.push_sparse(0, 0, {12}, block({1})), "");
  EXPECT_NE(t.push_sparse(0, 0, {10, 11}, block({1})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{0, 0}));
}

TEST(TableShard, AsyncAppliesOnArrivalAndAlwaysServesReads) {
  table_shard t({0, 3}, 2, update_rule::add, 1.f, actors::make_policy("async"),
                {0, 0, 0});
  EXPECT_EQ(t.push(1, 5, 0, block({1, 2, 3})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{1, 2, 3}));
  EXPECT_TRUE(t.can_read(100));
  EXPECT_EQ(t.min_clock(), 0);
  EXPECT_EQ(t.push_sparse(0, 2, {2, 0}, block({10, 20})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{21, 2, 13}));
  EXPECT_EQ(t.min_clock(), 3);
}

TEST(TableShard, SnapshotIsNotChangedByLaterUpdates) {
  table_shard t({0, 2}, 1, update_rule::add, 1.f, actors::make_policy("async"),
                {1, 1});
  auto before = t.snapshot();
  EXPECT_EQ(t.push(0, 0, 0, block({5, 5})), "");
  EXPECT_EQ(*before, (std::vector<float>{1, 1}));
  EXPECT_EQ(values_of(t), (std::vector<float>{6, 6}));
}

TEST(TableShard, MarkedSnapshotHoldsExactlyThatClock) {
  table_shard t({0, 1}, 1, update_rule::add, 1.f, actors::make_policy("bsp"),
                {0});
  t.mark(2);
  for (int c = 0; c < 4; ++c)
    EXPECT_EQ(t.push(0, c, 0, block({1})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{4}));
  auto at2 = t.snapshot_at(2);
  ASSERT_NE(at2, nullptr);
  EXPECT_EQ(*at2, (std::vector<float>{2})); // clocks 0 and 1 only
  EXPECT_EQ(t.snapshot_at(2), nullptr);     // handed out once
  EXPECT_EQ(t.snapshot_at(3), nullptr);     // never marked
}

TEST(TableShard, MarkAtAReachedClockSnapshotsNow) {
  table_shard t({0, 1}, 2, update_rule::add, 1.f, actors::make_policy("async"),
                {0});
  EXPECT_EQ(t.push(0, 0, 0, block({1})), "");
  EXPECT_EQ(t.push(1, 0, 0, block({1})), "");
  EXPECT_TRUE(t.settled(1));
  EXPECT_FALSE(t.settled(2));
  t.mark(1);
  EXPECT_EQ(t.push(0, 1, 0, block({5})), "");
  auto at1 = t.snapshot_at(1);
  ASSERT_NE(at1, nullptr);
  EXPECT_EQ(*at1, (std::vector<float>{2}));
}

TEST(TableShard, HostileClocksAreRejected) {
  table_shard t({0, 1}, 2, update_rule::add, 1.f, actors::make_policy("bsp"),
                {0});
  EXPECT_NE(t.push(0, 5, 0, block({1})).find("not committed yet"),
            std::string::npos);
  EXPECT_NE(t.push(0, -1, 0, block({1})).find("out of range"),
            std::string::npos);
  EXPECT_NE(t.clock(0, INT64_MAX).find("out of range"), std::string::npos);
  table_shard a({0, 1}, 1, update_rule::add, 1.f, actors::make_policy("async"),
                {0});
  EXPECT_NE(a.push(0, INT64_MAX, 0, block({1})).find("out of range"),
            std::string::npos);
  EXPECT_EQ(values_of(t), (std::vector<float>{0}));
  EXPECT_EQ(values_of(a), (std::vector<float>{0}));
}

TEST(TableShard, BoundedStalenessAppliesOnArrival) {
  table_shard t({0, 1}, 2, update_rule::add, 1.f, actors::make_policy("ssp", 2),
                {0});
  EXPECT_EQ(t.push(0, 0, 0, block({1})), "");
  EXPECT_EQ(t.push(0, 1, 0, block({1})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{2})); // before worker 1 pushed
  EXPECT_EQ(t.committed(), 0);
  EXPECT_EQ(t.applied(0), 2);
  EXPECT_EQ(t.applied(1), 0);
  EXPECT_NE(t.push(0, 3, 0, block({1})).find("not committed yet"),
            std::string::npos);
  EXPECT_NE(t.push(0, 1, 0, block({1})).find("after one for clock 1"),
            std::string::npos);
  EXPECT_EQ(t.clock(1, 0), "");
  EXPECT_EQ(t.committed(), 1);
  EXPECT_EQ(values_of(t), (std::vector<float>{2}));
}

TEST(TableShard, BspAppliesOnlyWholeClocks) {
  table_shard t({0, 1}, 2, update_rule::add, 1.f, actors::make_policy("ssp", 0),
                {0});
  EXPECT_EQ(t.push(0, 0, 0, block({1})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{0}));
  EXPECT_EQ(t.applied(0), 0);
  EXPECT_EQ(t.push(1, 0, 0, block({1})), "");
  EXPECT_EQ(values_of(t), (std::vector<float>{2}));
  EXPECT_EQ(t.applied(0), 1);
}

namespace {

table_shard cutoff_table(std::size_t workers) {
  return table_shard({0, 2}, workers, update_rule::sgd, 0.5f,
                     actors::make_policy("cutoff"), {1, 1});
}

} // namespace

TEST(CutoffTable, AppliesExactlyTheAcceptedGradients) {
  for (auto scaling :
       {actors::step_scaling::fixed, actors::step_scaling::linear}) {
    auto t = cutoff_table(4);
    t.set_step_scaling(scaling);
    EXPECT_EQ(t.push(1, 0, 0, block({100, 100})), ""); // arrives, not chosen
    EXPECT_EQ(t.push(2, 0, 0, block({2, 4})), "");
    EXPECT_EQ(t.accept(0, {2, 0}), "");
    EXPECT_EQ(t.late_updates(), 1u); // worker 1 was cut off
    EXPECT_EQ(t.committed(), 0);     // worker 0 is not in yet
    EXPECT_EQ(t.push(3, 0, 0, block({100, 100})), "");
    EXPECT_EQ(t.late_updates(), 2u);
    EXPECT_EQ(t.push(0, 0, 0, block({6, 8})), "");
    EXPECT_EQ(t.committed(), 1);
    // sum (8, 12) over 2 accepted (fixed) or 4 workers (linear), lr 0.5
    if (scaling == actors::step_scaling::fixed)
      EXPECT_EQ(values_of(t), (std::vector<float>{-1, -2}));
    else
      EXPECT_EQ(values_of(t), (std::vector<float>{0, -0.5}));
    // A straggler's gradient for the applied version is never applied.
    EXPECT_EQ(t.push(1, 0, 0, block({100, 100})), "");
    EXPECT_EQ(t.late_updates(), 3u);
    EXPECT_EQ(t.committed(), 1);
  }
}

TEST(CutoffTable, AcceptingEveryWorkerEqualsBsp) {
  auto cut = cutoff_table(3);
  table_shard bsp({0, 2}, 3, update_rule::sgd, 0.5f, actors::make_policy("bsp"),
                  {1, 1});
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1, 1);
  for (std::int64_t c = 0; c < 20; ++c) {
    std::vector<std::size_t> order = {2, 0, 1};
    std::shuffle(order.begin(), order.end(), rng);
    for (auto w : order) {
      auto g = block({u(rng), u(rng)});
      EXPECT_EQ(cut.push(w, c, 0, g), "");
      EXPECT_EQ(bsp.push(w, c, 0, g), "");
    }
    EXPECT_EQ(cut.accept(c, order), "");
  }
  EXPECT_EQ(cut.committed(), 20);
  EXPECT_EQ(values_of(cut), values_of(bsp));
}

TEST(CutoffTable, ADeadAcceptedWorkerIsNotWaitedFor) {
  auto t = cutoff_table(3);
  EXPECT_EQ(t.push(0, 0, 0, block({2, 2})), "");
  EXPECT_EQ(t.accept(0, {0, 1}), "");
  EXPECT_EQ(t.committed(), 0);
  t.forget(1);
  EXPECT_EQ(t.committed(), 1);
  // Divided by the 2 the leader accepted: every shard steps alike.
  EXPECT_EQ(values_of(t), (std::vector<float>{0.5, 0.5}));
  // Dead before the decision names it: not waited for either.
  EXPECT_EQ(t.push(0, 1, 0, block({1, 1})), "");
  EXPECT_EQ(t.accept(1, {0, 1}), "");
  EXPECT_EQ(t.committed(), 2);
  EXPECT_EQ(t.accept(2, {}), ""); // every accepted worker died: no step
  EXPECT_EQ(t.committed(), 3);
  EXPECT_EQ(values_of(t), (std::vector<float>{0.25, 0.25}));
  t.revive(1); // back: waited for again
  EXPECT_EQ(t.push(0, 3, 0, block({1, 1})), "");
  EXPECT_EQ(t.accept(3, {0, 1}), "");
  EXPECT_EQ(t.committed(), 3);
}

TEST(TableShard, ImplausibleReadsAreRefused) {
  table_shard t({0, 1}, 2, update_rule::add, 1.f, actors::make_policy("ssp", 2),
                {0});
  EXPECT_TRUE(t.plausible_read(3, true)); // committed 0 + s 2 + 1
  EXPECT_FALSE(t.plausible_read(4, true));
  EXPECT_TRUE(t.plausible_read(4, false)); // an evaluation waits
  EXPECT_FALSE(t.plausible_read(-1, false));
  EXPECT_FALSE(t.plausible_read(INT64_MIN, true));
  EXPECT_FALSE(t.plausible_read(INT64_MAX, false));
}

TEST(TableShard, UnreadSnapshotsAreBounded) {
  table_shard t({0, 1}, 1, update_rule::add, 1.f, actors::make_policy("bsp"),
                {0});
  for (int c = 1; c <= 20; ++c)
    t.mark(c);
  for (int c = 0; c < 20; ++c)
    EXPECT_EQ(t.push(0, c, 0, block({1})), "");
  EXPECT_EQ(t.snapshot_at(1), nullptr); // dropped
  auto last = t.snapshot_at(20);
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(*last, (std::vector<float>{20}));
  EXPECT_NE(t.snapshot_at(13), nullptr); // one of the 8 newest
}

TEST(CutoffTable, RejectsBadDecisionsAndFuturePushes) {
  auto t = cutoff_table(2);
  EXPECT_NE(t.accept(1, {0}).find("clock 0 is the one being decided"),
            std::string::npos);
  EXPECT_NE(t.accept(0, {0, 0}).find("twice or out of range"),
            std::string::npos);
  EXPECT_NE(t.accept(0, {2}).find("twice or out of range"), std::string::npos);
  EXPECT_NE(t.push(0, 1, 0, block({1, 1})).find("not committed yet"),
            std::string::npos);
  EXPECT_EQ(t.accept(0, {1}), "");
  EXPECT_NE(t.accept(0, {1}).find("second cutoff"), std::string::npos);
  table_shard bsp({0, 1}, 1, update_rule::add, 1.f, actors::make_policy("bsp"),
                  {0});
  EXPECT_NE(bsp.accept(0, {0}), "");
}

TEST(TableShard, AClockOfMixedRatesAppliesEachUpdateAtItsOwnRate) {
  // Two workers under bsp; worker 1 took a live rate of 0.05 for this clock,
  // worker 0 not yet (rate 0: the table's 0.1).
  table_shard shard({0, 3}, 2, update_rule::sgd, 0.1f,
                    actors::make_policy("bsp"), {1.f, 2.f, 3.f});
  std::vector<float> g0 = {0.5f, -1.f, 2.f};
  std::vector<float> g1 = {4.f, 0.25f, -3.f};
  ASSERT_EQ(shard.push(1, 0, 0, block(g1), 0.05f), "");
  ASSERT_EQ(shard.push(0, 0, 0, block(g0)), "");
  ASSERT_EQ(shard.committed(), 1);
  std::vector<float> expected = {1.f, 2.f, 3.f};
  algorithms::apply_sgd(expected.data(), g0.data(), 2, 0.1f, 3);
  algorithms::apply_sgd(expected.data(), g1.data(), 2, 0.05f, 3);
  EXPECT_EQ(*shard.snapshot(), expected);
  // Once both carry the new rate, a clock is summed as before.
  ASSERT_EQ(shard.push(0, 1, 0, block(g0), 0.05f), "");
  ASSERT_EQ(shard.push(1, 1, 0, block(g1), 0.05f), "");
  auto sum = g0;
  algorithms::accumulate(sum.data(), g1.data(), 3);
  algorithms::apply_sgd(expected.data(), sum.data(), 2, 0.05f, 3);
  EXPECT_EQ(*shard.snapshot(), expected);
}

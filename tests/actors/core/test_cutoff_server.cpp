#include "actors/core/cutoff_server.hpp"

#include "tests/messages/message_test_util.hpp"

#include <gtest/gtest.h>

namespace metronome::actors {
namespace {

namespace wire = messages::wire;
using messages::test::verify_outbound;

messages::float_block block(std::vector<float> v) {
  return messages::float_block::of(
      std::make_shared<const std::vector<float>>(std::move(v)));
}

algorithms::cutoff_decision wait_for(std::size_t c) {
  algorithms::cutoff_decision d;
  d.cutoff = c;
  return d;
}

// A Cutoff message from `source` fixing `accepted` for `version`.
std::shared_ptr<messages::inbound>
cutoff_message(const std::string& source, std::int64_t version,
               std::vector<std::uint32_t> accepted) {
  messages::envelope_builder b;
  std::vector<double> seconds(3, 1.0);
  std::vector<std::uint8_t> censored(3, 0);
  std::vector<double> throughput;
  auto body = wire::CreateCutoffDirect(b.fbb(), &accepted, 1.0, &seconds,
                                       &censored, 0, false, 0, &throughput);
  messages::header h;
  h.source = source;
  h.destination = "server/1";
  h.seq = 1;
  h.clock = version;
  auto v = verify_outbound(b.finish(h, wire::Body::Cutoff, body.Union()));
  EXPECT_TRUE(v.msg) << v.error;
  return std::move(v.msg);
}

// One server of a job of 2 servers and 3 workers: its shard of table 0
// (2 keys at 1, lr 0.5) and what its pacing sends.
struct server_under_test {
  explicit server_under_test(std::size_t index, std::int64_t versions = 10)
      : name("server/" + std::to_string(index))
      , table({0, 2}, 3, update_rule::sgd, 0.5f, make_policy("cutoff"), {1, 1})
      , pacing(
            index, 2, 3, versions, table,
            [this](const std::string& to, std::int64_t clock,
                   std::uint32_t id) {
              messages::header h;
              h.source = name;
              h.destination = to;
              h.seq = ++seq;
              h.clock = clock;
              h.table_id = id;
              return h;
            },
            [this](messages::outbound m) { sent.push_back(std::move(m)); },
            [this](cutoff_query q) { asked.push_back(std::move(q)); }) {}

  // `worker` pushes `g` for `version` at `now`, as the server actor does.
  void push(std::size_t worker, std::int64_t version, std::vector<float> g,
            double now) {
    ASSERT_EQ(table.push(worker, version, 0, block(std::move(g))), "");
    pacing.arrived(worker, version, now);
  }

  // Advances until nothing is decided; returns how many versions were.
  int settle(double now) {
    int decided = 0;
    for (;;) {
      auto step = pacing.advance(now);
      EXPECT_EQ(step.error, "");
      if (!step.decided)
        return decided;
      ++decided;
    }
  }

  // The Cutoff message sent to `to`, the last one, as received.
  std::shared_ptr<messages::inbound> sent_to(const std::string& to) const {
    for (auto i = sent.rbegin(); i != sent.rend(); ++i) {
      auto v = verify_outbound(*i);
      if (v.msg && v.msg->destination() == to)
        return std::move(v.msg);
    }
    return nullptr;
  }

  std::vector<float> values() const { return *table.snapshot(); }

  std::string name;
  std::uint64_t seq = 0;
  table_shard table;
  std::vector<messages::outbound> sent;
  std::vector<cutoff_query> asked;
  cutoff_server pacing;
};

std::vector<std::uint32_t> accepted_of(const messages::inbound& msg) {
  const auto* a = msg.envelope().body_as_Cutoff()->accepted();
  return {a->begin(), a->end()};
}

TEST(CutoffServer, OnlyServerZeroLeadsAndEveryWorkerReads) {
  server_under_test leader(0), other(1);
  EXPECT_TRUE(leader.pacing.leads());
  EXPECT_FALSE(other.pacing.leads());
  EXPECT_EQ(other.pacing.readers(),
            (std::vector<std::string>{"worker/0", "worker/1", "worker/2"}));
  other.pacing.start();
  EXPECT_TRUE(other.pacing.started());
  EXPECT_TRUE(other.asked.empty());
  leader.pacing.start();
  leader.pacing.start(); // a repeated start asks nothing more
  ASSERT_EQ(leader.asked.size(), 1u);
  EXPECT_EQ(leader.asked[0].version, 0);
  EXPECT_EQ(leader.asked[0].workers, 3u);
  EXPECT_TRUE(leader.asked[0].observation.seconds.empty());
}

TEST(CutoffServer, DecidesAVersionOnlyAfterTheFirstCGradients) {
  server_under_test leader(0);
  leader.push(2, 0, {9, 9}, 0.5); // before start: not counted
  leader.pacing.start();
  EXPECT_EQ(leader.settle(10.0), 0); // broadcasts version 0 at 10
  leader.pacing.answered(0, wait_for(2), 1e-3);
  leader.push(1, 0, {2, 4}, 11.0);
  EXPECT_EQ(leader.settle(11.0), 0);
  EXPECT_TRUE(leader.sent.empty());
  EXPECT_EQ(leader.table.committed(), 0);
  leader.push(0, 0, {6, 8}, 12.5);
  EXPECT_EQ(leader.settle(12.5), 1);
  // Worker 2's early push is in the table but was cut off.
  EXPECT_EQ(leader.table.committed(), 1);
  EXPECT_EQ(leader.values(), (std::vector<float>{-1, -2}));
  ASSERT_EQ(leader.sent.size(), 2u); // coordinator/0 and server/1
  for (const auto* to : {"coordinator/0", "server/1"}) {
    auto msg = leader.sent_to(to);
    ASSERT_TRUE(msg) << to;
    EXPECT_EQ(msg->header().clock(), 0);
    EXPECT_EQ(accepted_of(*msg), (std::vector<std::uint32_t>{1, 0}));
    const auto* cut = msg->envelope().body_as_Cutoff();
    EXPECT_DOUBLE_EQ(cut->cutoff_seconds(), 2.5);
    EXPECT_DOUBLE_EQ(cut->decision_seconds(), 1e-3);
    EXPECT_FALSE(cut->decision_late());
  }
  ASSERT_EQ(leader.asked.size(), 2u);
  const auto& next = leader.asked[1];
  EXPECT_EQ(next.version, 1);
  EXPECT_EQ(next.observation.seconds, (std::vector<double>{2.5, 1.0, 2.5}));
  EXPECT_EQ(next.observation.censored, (std::vector<std::uint8_t>{0, 0, 1}));
}

TEST(CutoffServer, DropsLateGradientsAndCountsThemInTheNextDecision) {
  server_under_test leader(0);
  leader.pacing.start();
  leader.settle(0);
  leader.pacing.answered(0, wait_for(1), 0);
  leader.push(0, 0, {2, 2}, 1);
  EXPECT_EQ(leader.settle(1), 1);
  auto after = leader.values();
  EXPECT_EQ(after, (std::vector<float>{0, 0}));
  leader.push(2, 0, {100, 100}, 2); // late for version 0
  EXPECT_EQ(leader.table.late_updates(), 1u);
  EXPECT_EQ(leader.values(), after);
  leader.pacing.answered(1, wait_for(1), 0);
  leader.push(1, 1, {2, 2}, 3);
  EXPECT_EQ(leader.settle(3), 1);
  auto msg = leader.sent_to("coordinator/0");
  ASSERT_TRUE(msg);
  EXPECT_EQ(msg->header().clock(), 1);
  EXPECT_EQ(accepted_of(*msg), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(msg->envelope().body_as_Cutoff()->late_gradients(), 1u);
}

TEST(CutoffServer, ANonLeaderAppliesExactlyTheLeadersAcceptedSet) {
  server_under_test leader(0), other(1);
  leader.pacing.start();
  other.pacing.start();
  leader.settle(0);
  leader.pacing.answered(0, wait_for(2), 0);
  // The other server gets every gradient, in another order.
  other.push(0, 0, {6, 8}, 0);
  other.push(1, 0, {100, 100}, 0);
  leader.push(2, 0, {2, 4}, 1);
  leader.push(1, 0, {100, 100}, 2);
  EXPECT_EQ(leader.settle(2), 1);
  EXPECT_EQ(other.table.committed(), 0); // no decision yet
  auto decision = leader.sent_to("server/1");
  ASSERT_TRUE(decision);
  EXPECT_EQ(other.pacing.decided(*decision), "");
  EXPECT_EQ(other.table.committed(), 0); // worker 2 is not in yet
  other.push(2, 0, {2, 4}, 1);
  EXPECT_EQ(other.table.committed(), 1);
  EXPECT_EQ(other.table.late_updates(), 1u); // worker 0 was cut off
  EXPECT_EQ(other.values(), leader.values());
  EXPECT_EQ(other.values(), (std::vector<float>{-24.5, -25}));
  // A repeated decision changes nothing; the other server never advances.
  EXPECT_EQ(other.pacing.decided(*decision), "");
  EXPECT_EQ(other.settle(3), 0);
  EXPECT_EQ(other.table.committed(), 1);
  EXPECT_TRUE(other.sent.empty());
  EXPECT_TRUE(other.asked.empty());
}

TEST(CutoffServer, NeverWaitsForALostWorker) {
  server_under_test leader(0);
  leader.pacing.start();
  leader.settle(0); // no decision: versions wait for every live worker
  leader.push(1, 0, {5, 5}, 1);
  leader.pacing.lost(1, false); // suspect: its gradient is not taken
  leader.push(0, 0, {2, 2}, 2);
  EXPECT_EQ(leader.settle(2), 0);
  leader.push(2, 0, {4, 4}, 3);
  EXPECT_EQ(leader.settle(3), 1);
  auto msg = leader.sent_to("server/1");
  ASSERT_TRUE(msg);
  EXPECT_EQ(accepted_of(*msg), (std::vector<std::uint32_t>{0, 2}));
  EXPECT_EQ(leader.asked.back().workers, 2u);
  EXPECT_EQ(leader.values(), (std::vector<float>{-0.5, -0.5}));
  leader.pacing.found(1); // back: waited for again from the next version
  leader.push(0, 1, {0, 0}, 4);
  leader.push(2, 1, {0, 0}, 5);
  EXPECT_EQ(leader.settle(5), 0);
  leader.push(1, 1, {0, 0}, 6);
  EXPECT_EQ(leader.settle(6), 1);
}

TEST(CutoffServer, ADeadAcceptedWorkerIsNotWaitedForByTheOthers) {
  server_under_test other(1);
  other.pacing.start();
  other.push(0, 0, {2, 2}, 0);
  EXPECT_EQ(other.pacing.decided(*cutoff_message("server/0", 0, {0, 1})), "");
  EXPECT_EQ(other.table.committed(), 0);
  other.pacing.lost(1, false); // suspect only: still waited for
  EXPECT_EQ(other.table.committed(), 0);
  other.pacing.lost(1, true);
  EXPECT_EQ(other.table.committed(), 1);
  EXPECT_EQ(other.values(), (std::vector<float>{0.5, 0.5}));
}

TEST(CutoffServer, RefusesADecisionFromAnyoneButServerZero) {
  server_under_test leader(0), other(1);
  other.push(0, 0, {2, 2}, 0);
  for (const auto* source : {"server/2", "worker/0", "coordinator/0"}) {
    EXPECT_EQ(other.pacing.decided(*cutoff_message(source, 0, {0})),
              "cutoff decisions come from server/0 only");
    EXPECT_EQ(other.table.committed(), 0);
  }
  EXPECT_EQ(leader.pacing.decided(*cutoff_message("server/0", 0, {0})),
            "this server takes no cutoff decisions");
  EXPECT_EQ(other.pacing.decided(*cutoff_message("server/0", 0, {0})), "");
  EXPECT_EQ(other.table.committed(), 1);
}

TEST(CutoffServer, AsksNothingAfterTheLastVersion) {
  server_under_test leader(0, 1);
  leader.pacing.start();
  leader.settle(0);
  leader.pacing.answered(0, wait_for(1), 0);
  leader.push(0, 0, {0, 0}, 1);
  EXPECT_EQ(leader.settle(1), 1);
  EXPECT_EQ(leader.asked.size(), 1u); // version 0's only
  EXPECT_EQ(leader.sent.size(), 2u);
}

TEST(CutoffServer, DecidesNothingBeforeStart) {
  server_under_test leader(0);
  leader.pacing.answered(0, wait_for(1), 0);
  leader.push(0, 0, {0, 0}, 1);
  EXPECT_EQ(leader.settle(1), 0);
  EXPECT_TRUE(leader.sent.empty());
}

} // namespace
} // namespace metronome::actors

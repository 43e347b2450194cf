#include "actors/core/cutoff_leader.hpp"

#include <gtest/gtest.h>

using metronome::actors::cutoff_leader;
using metronome::algorithms::cutoff_decision;

namespace {

cutoff_decision wait_for(std::size_t c) {
  cutoff_decision d;
  d.cutoff = c;
  return d;
}

} // namespace

TEST(CutoffLeader, CutsOffAtTheChosenNumberOfGradients) {
  cutoff_leader leader(4);
  leader.broadcast(0, 10.0);
  leader.decision(0, wait_for(2), 1e-4);
  leader.arrived(3, 10.5);
  EXPECT_FALSE(leader.reached());
  leader.arrived(1, 11.0);
  auto r = leader.reached();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->version, 0);
  EXPECT_EQ(r->cutoff, 2u);
  EXPECT_EQ(r->accepted, (std::vector<std::size_t>{3, 1}));
  EXPECT_DOUBLE_EQ(r->cutoff_seconds, 1.0);
  EXPECT_EQ(r->observation.seconds, (std::vector<double>{1.0, 1.0, 1.0, 0.5}));
  EXPECT_EQ(r->observation.censored, (std::vector<std::uint8_t>{1, 0, 1, 0}));
  EXPECT_FALSE(r->decision_late);
  EXPECT_DOUBLE_EQ(r->decision_seconds, 1e-4);
  leader.arrived(0, 12.0); // after the cutoff: recorded once only
  EXPECT_FALSE(leader.reached());
}

TEST(CutoffLeader, ALateDecisionKeepsThePreviousCutoffAndIsCounted) {
  cutoff_leader leader(3);
  leader.broadcast(0, 0);
  leader.decision(0, wait_for(1), 0);
  leader.arrived(2, 1);
  ASSERT_TRUE(leader.reached());
  leader.broadcast(1, 2);
  leader.arrived(0, 3); // no decision for version 1 yet
  leader.decision(1, wait_for(3), 0.5);
  auto r = leader.reached();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cutoff, 1u);
  EXPECT_TRUE(r->decision_late);
  EXPECT_EQ(leader.late_decisions(), 1u);
  leader.broadcast(2, 4);
  leader.decision(1, wait_for(3), 0); // for another version: ignored
  leader.arrived(1, 5);
  EXPECT_TRUE(leader.reached());
  EXPECT_EQ(leader.late_decisions(), 2u);
}

TEST(CutoffLeader, NeverWaitsForDeadWorkers) {
  cutoff_leader leader(3);
  leader.broadcast(0, 0);
  leader.decision(0, wait_for(3), 0);
  leader.arrived(0, 1);
  leader.arrived(1, 2);
  EXPECT_FALSE(leader.reached());
  leader.lost(2);
  EXPECT_EQ(leader.live(), 2u);
  auto r = leader.reached();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cutoff, 2u);
  EXPECT_EQ(r->observation.censored[2], 1); // dead: slower than the cutoff
  leader.broadcast(1, 3);
  leader.decision(1, wait_for(2), 0);
  leader.arrived(2, 4); // a dead worker's gradient does not count
  leader.arrived(1, 5);
  EXPECT_FALSE(leader.reached());
  leader.lost(1); // one that arrived dies before the cutoff
  EXPECT_FALSE(leader.reached());
  leader.found(1); // only suspect: its gradient counts again
  leader.lost(1);
  leader.arrived(0, 6);
  r = leader.reached();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accepted, (std::vector<std::size_t>{0}));
  leader.lost(0);
  leader.broadcast(2, 7);
  leader.decision(2, wait_for(1), 0);
  EXPECT_FALSE(leader.reached()); // nobody left to wait for
}

TEST(CutoffLeader, IgnoresRepeatedAndUnknownWorkers) {
  cutoff_leader leader(2);
  leader.arrived(0, 1); // before any broadcast
  leader.broadcast(0, 0);
  leader.decision(0, wait_for(2), 0);
  leader.arrived(0, 1);
  leader.arrived(0, 2);
  leader.arrived(7, 2);
  EXPECT_FALSE(leader.reached());
  leader.arrived(1, 3);
  auto r = leader.reached();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accepted, (std::vector<std::size_t>{0, 1}));
  EXPECT_EQ(r->observation.seconds, (std::vector<double>{1, 3}));
}

TEST(CutoffLeader, AWorkerSuspectForAWhileCountsAgain) {
  cutoff_leader leader(2);
  leader.broadcast(0, 0);
  leader.decision(0, wait_for(2), 0);
  leader.arrived(0, 1);
  leader.lost(0); // silent for a second after its gradient arrived
  leader.found(0);
  EXPECT_FALSE(leader.reached());
  leader.arrived(1, 2);
  auto r = leader.reached();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->accepted, (std::vector<std::size_t>{0, 1}));
}

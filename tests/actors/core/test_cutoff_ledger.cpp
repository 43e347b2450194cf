#include "actors/core/cutoff_ledger.hpp"

#include <gtest/gtest.h>

#include <flatbuffers/flatbuffers.h>

using metronome::actors::cutoff_ledger;
namespace wire = metronome::messages::wire;

namespace {

// A Cutoff message as the leading server builds it; vectors left empty
// (with `missing_accepted`) are absent from the message.
struct decision {
  std::vector<std::uint32_t> accepted;
  std::vector<double> runtimes;
  std::vector<std::uint8_t> censored;
  double cutoff_seconds = 0;
  double decision_seconds = 0;
  bool decision_late = false;
  std::uint64_t late_gradients = 0;
  std::vector<double> expected_throughput;
  bool missing_accepted = false;

  flatbuffers::FlatBufferBuilder fbb;

  const wire::Cutoff& message() {
    fbb.Clear();
    fbb.Finish(wire::CreateCutoffDirect(
        fbb, missing_accepted ? nullptr : &accepted, cutoff_seconds, &runtimes,
        &censored, decision_seconds, decision_late, late_gradients,
        &expected_throughput));
    return *flatbuffers::GetRoot<wire::Cutoff>(fbb.GetBufferPointer());
  }
};

// Three workers; `accepted` make the version in `seconds`, the others are
// censored there.
decision of_three(std::vector<std::uint32_t> accepted, double seconds) {
  decision d;
  d.runtimes.assign(3, seconds);
  d.censored.assign(3, 1);
  for (std::size_t i = 0; i < accepted.size(); ++i) {
    d.runtimes[accepted[i]] = seconds * (i + 1) / accepted.size();
    d.censored[accepted[i]] = 0;
  }
  d.accepted = std::move(accepted);
  d.cutoff_seconds = seconds;
  return d;
}

} // namespace

TEST(CutoffLedger, AVersionCompletesWithItsDecisionAndAcceptedReports) {
  cutoff_ledger ledger(3);
  ledger.report(0, 0, 1.0, 10);
  ledger.report(0, 2, 3.0, 30);
  EXPECT_FALSE(ledger.complete(0)); // no decision yet
  auto d = of_three({2, 0}, 1.0);
  auto rows = ledger.decide(0, d.message());
  ASSERT_TRUE(rows);
  auto v = ledger.complete(0);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->count, 2u);
  EXPECT_DOUBLE_EQ(v->loss, 4.0);
  EXPECT_EQ(v->samples, 40u);
  EXPECT_FALSE(ledger.complete(1));
}

TEST(CutoffLedger, WaitsForEveryAcceptedWorkerOnly) {
  cutoff_ledger ledger(3);
  auto d = of_three({1, 2}, 2.0);
  ASSERT_TRUE(ledger.decide(0, d.message()));
  ledger.report(0, 0, 100.0, 1000); // not accepted: never counts
  ledger.report(0, 1, 0.5, 8);
  EXPECT_FALSE(ledger.complete(0)); // worker 2 is still due
  ledger.report(0, 2, 0.25, 8);
  ledger.report(0, 2, 9.0, 99); // repeated: the first report stays
  auto v = ledger.complete(0);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->count, 2u);
  EXPECT_DOUBLE_EQ(v->loss, 0.75);
  EXPECT_EQ(v->samples, 16u);
}

TEST(CutoffLedger, DoesNotWaitForALostWorker) {
  cutoff_ledger ledger(3);
  auto d = of_three({0, 1}, 1.0);
  ASSERT_TRUE(ledger.decide(0, d.message()));
  ASSERT_TRUE(ledger.decide(1, d.message()));
  ledger.report(0, 0, 2.0, 5);
  ledger.report(1, 0, 4.0, 5);
  ledger.report(1, 1, 6.0, 5); // reported before it was lost: counts
  EXPECT_FALSE(ledger.complete(0));
  ledger.lose(1);
  ledger.lose(7); // out of range: ignored
  EXPECT_EQ(ledger.lost(), 1u);
  EXPECT_EQ(ledger.live(), 2u);
  auto v0 = ledger.complete(0);
  ASSERT_TRUE(v0);
  EXPECT_EQ(v0->count, 1u);
  EXPECT_DOUBLE_EQ(v0->loss, 2.0);
  EXPECT_EQ(v0->samples, 5u);
  auto v1 = ledger.complete(1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->count, 2u);
  EXPECT_DOUBLE_EQ(v1->loss, 10.0);
}

TEST(CutoffLedger, AVersionWhoseAcceptedWorkersAreAllLostCompletesEmpty) {
  cutoff_ledger ledger(2);
  decision d;
  d.accepted = {1};
  d.runtimes = {0.5, 0.2};
  d.censored = {1, 0};
  ASSERT_TRUE(ledger.decide(0, d.message()));
  ledger.lose(1);
  auto v = ledger.complete(0);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->count, 0u);
  EXPECT_EQ(v->samples, 0u);
}

TEST(CutoffLedger, RefusesAMalformedDecision) {
  cutoff_ledger ledger(3);
  auto short_runtimes = of_three({0}, 1.0);
  short_runtimes.runtimes.pop_back();
  EXPECT_FALSE(ledger.decide(0, short_runtimes.message()));
  auto long_censored = of_three({0}, 1.0);
  long_censored.censored.push_back(0);
  EXPECT_FALSE(ledger.decide(0, long_censored.message()));
  auto no_accepted = of_three({0}, 1.0);
  no_accepted.missing_accepted = true;
  EXPECT_FALSE(ledger.decide(0, no_accepted.message()));
  auto good = of_three({0}, 1.0);
  EXPECT_FALSE(ledger.decide(-1, good.message()));
  // Nothing of the refused ones was kept.
  ledger.report(0, 0, 1.0, 1);
  EXPECT_FALSE(ledger.complete(0));
  EXPECT_TRUE(ledger.fields(0).empty());
  EXPECT_EQ(ledger.totals(1.0)["mean_cutoff"], 0.0);
  EXPECT_TRUE(ledger.decide(0, good.message()));
  EXPECT_TRUE(ledger.complete(0));
}

TEST(CutoffLedger, GivesTheTraceRowsAndFieldsOfADecision) {
  cutoff_ledger ledger(3);
  auto d = of_three({2, 0}, 0.5);
  d.decision_seconds = 0.001;
  d.late_gradients = 4;
  d.expected_throughput = {1.0, 1.5, 1.25};
  auto rows = ledger.decide(5, d.message());
  ASSERT_TRUE(rows);
  EXPECT_EQ(*rows, (std::vector<std::string>{"5,0,0.500000,0", "5,1,0.500000,1",
                                             "5,2,0.250000,0"}));
  const auto& f = ledger.fields(5);
  EXPECT_EQ(f["cutoff"], 2);
  EXPECT_EQ(f["cutoff_s"], 0.5);
  EXPECT_EQ(f["accepted"], (std::vector<int>{2, 0}));
  EXPECT_EQ(f["dropped"], (std::vector<int>{1}));
  EXPECT_EQ(f["runtime_s"], (std::vector<double>{0.5, 0.5, 0.25}));
  EXPECT_EQ(f["censored"], (std::vector<bool>{false, true, false}));
  EXPECT_EQ(f["decision_s"], 0.001);
  EXPECT_EQ(f["decision_late"], false);
  EXPECT_EQ(f["late_gradients"], 4);
  EXPECT_EQ(f["expected_throughput"], (std::vector<double>{1.0, 1.5, 1.25}));
  EXPECT_TRUE(ledger.fields(4).empty());
}

TEST(CutoffLedger, KeepsTheFirstDecisionOfAVersion) {
  cutoff_ledger ledger(3);
  auto first = of_three({0}, 1.0);
  auto second = of_three({0, 1, 2}, 3.0);
  ASSERT_TRUE(ledger.decide(0, first.message()));
  auto rows = ledger.decide(0, second.message());
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
  EXPECT_EQ(ledger.fields(0)["cutoff"], 1);
  ledger.report(0, 0, 1.0, 1);
  auto v = ledger.complete(0);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->count, 1u);
  ledger.close(0);
  EXPECT_EQ(ledger.totals(1.0)["mean_cutoff"], 1.0);
}

TEST(CutoffLedger, ClosedVersionsAreForgottenAndRefused) {
  cutoff_ledger ledger(2);
  decision d;
  d.accepted = {0, 1};
  d.runtimes = {0.1, 0.2};
  d.censored = {0, 0};
  ASSERT_TRUE(ledger.decide(0, d.message()));
  ledger.close(0);
  EXPECT_EQ(ledger.closed(), 1u);
  EXPECT_TRUE(ledger.fields(0).empty());
  EXPECT_FALSE(ledger.decide(0, d.message()));
  ledger.report(0, 0, 1.0, 1); // ignored
  EXPECT_FALSE(ledger.complete(0));
}

TEST(CutoffLedger, TotalsMatchHandComputedValues) {
  cutoff_ledger ledger(3);
  auto v0 = of_three({1, 2}, 0.4);
  v0.decision_seconds = 0.02;
  v0.late_gradients = 1;
  auto v1 = of_three({0}, 0.6);
  v1.decision_late = true; // the previous cutoff was used
  v1.late_gradients = 3;
  auto v2 = of_three({0, 1, 2}, 0.8);
  v2.decision_seconds = 0.04;
  v2.late_gradients = 5;
  ASSERT_TRUE(ledger.decide(0, v0.message()));
  ASSERT_TRUE(ledger.decide(1, v1.message()));
  ASSERT_TRUE(ledger.decide(2, v2.message()));
  ledger.close(2);
  ledger.lose(2);
  auto t = ledger.totals(4.0);
  EXPECT_DOUBLE_EQ(t["mean_cutoff"].get<double>(), 2.0);     // 6 / 3
  EXPECT_DOUBLE_EQ(t["mean_cutoff_s"].get<double>(), 0.6);   // 1.8 / 3
  EXPECT_DOUBLE_EQ(t["gradients_per_s"].get<double>(), 1.5); // 6 / 4
  EXPECT_EQ(t["late_gradients"], 5);                         // the last
  EXPECT_EQ(t["late_decisions"], 1);
  EXPECT_DOUBLE_EQ(t["decision_mean_s"].get<double>(), 0.03); // 0.06 / 2
  EXPECT_EQ(t["lost_workers"], 1);
  std::vector<std::string> keys;
  for (const auto& [key, value] : t.items())
    keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"mean_cutoff", "mean_cutoff_s",
                                            "gradients_per_s", "late_gradients",
                                            "late_decisions", "decision_mean_s",
                                            "lost_workers"}));
}

TEST(CutoffLedger, TotalsBeforeAnyVersionDoNotDivideByZero) {
  cutoff_ledger ledger(2);
  auto t = ledger.totals(0);
  EXPECT_EQ(t["mean_cutoff"], 0.0);
  EXPECT_EQ(t["gradients_per_s"], 0.0);
  EXPECT_EQ(t["decision_mean_s"], 0.0);
  EXPECT_EQ(t["lost_workers"], 0);
}

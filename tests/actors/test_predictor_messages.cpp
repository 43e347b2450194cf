// The messages between the leading server and predictor/0: what is sent
// comes back the same, and what a job cannot use is refused, named.

#include "actors/predictor.hpp"

#include "tests/messages/message_test_util.hpp"

#include <gtest/gtest.h>

namespace metronome::actors {
namespace {

using messages::test::round_trip;
using messages::test::test_clock;
using messages::test::test_header;
namespace wire = messages::wire;

predictor_query query(std::size_t workers, std::size_t runtimes) {
  predictor_query q;
  q.version = test_clock;
  q.workers = workers;
  q.observation.seconds.assign(runtimes, 0.25);
  q.observation.censored.assign(runtimes, 0);
  if (runtimes > 1)
    q.observation.censored[1] = 1;
  return q;
}

TEST(PredictorMessages, AQueryComesBackTheSame) {
  auto msg = round_trip(predict_message(test_header(), query(3, 3)),
                        wire::Body::Predict);
  ASSERT_NE(msg, nullptr);
  std::string error;
  auto q = query_of(*msg, 3, error);
  ASSERT_TRUE(q) << error;
  EXPECT_EQ(q->version, test_clock);
  EXPECT_EQ(q->workers, 3u);
  EXPECT_EQ(q->observation.seconds, std::vector<double>(3, 0.25));
  EXPECT_EQ(q->observation.censored, (std::vector<std::uint8_t>{0, 1, 0}));
}

TEST(PredictorMessages, RefusesAQueryThatDoesNotFitTheJob) {
  std::string error;
  auto more = round_trip(predict_message(test_header(), query(4, 4)),
                         wire::Body::Predict);
  EXPECT_FALSE(query_of(*more, 3, error));
  EXPECT_EQ(error, "Predict for 4 workers; the job has 3");
  auto q = query(3, 3);
  q.observation.censored.pop_back();
  auto ragged =
      round_trip(predict_message(test_header(), q), wire::Body::Predict);
  EXPECT_FALSE(query_of(*ragged, 3, error));
  EXPECT_EQ(error, "Predict with 3 run-times and 2 censored flags; the job "
                   "has 3 workers");
}

TEST(PredictorMessages, AnAnswerComesBackTheSameAndACutoffOfNoneIsRefused) {
  predictor_answer a;
  a.version = test_clock;
  a.decision = {2, {1.5, 2.5, 3.5}};
  a.seconds = 0.001;
  a.rule = "elfving window=20";
  auto msg =
      round_trip(prediction_message(test_header(), a), wire::Body::Prediction);
  ASSERT_NE(msg, nullptr);
  std::string error;
  auto back = answer_of(*msg, 3, error);
  ASSERT_TRUE(back) << error;
  EXPECT_EQ(back->version, test_clock);
  EXPECT_EQ(back->decision.cutoff, 2u);
  EXPECT_EQ(back->decision.expected_throughput, a.decision.expected_throughput);
  EXPECT_EQ(back->seconds, 0.001);
  EXPECT_EQ(back->rule, "elfving window=20");
  for (std::size_t cutoff : {0, 4}) {
    a.decision.cutoff = cutoff;
    auto bad = round_trip(prediction_message(test_header(), a),
                          wire::Body::Prediction);
    EXPECT_FALSE(answer_of(*bad, 3, error));
    EXPECT_EQ(error, "Prediction of cutoff " + std::to_string(cutoff) +
                         "; the job has 3 workers");
  }
}

TEST(PredictorMessages, ARuleChangeMakesTheRuleOrGoesBackToTheJobsOwn) {
  algorithms::cutoff_spec spec;
  spec.rule = "static";
  spec.backups = 1;
  std::string error;
  auto msg = round_trip(rule_message(test_header(), spec, "static backups=1"),
                        wire::Body::PredictorRule);
  auto next = rule_of(*msg, error);
  ASSERT_NE(next, nullptr) << error;
  ASSERT_NE(next->rule, nullptr);
  EXPECT_EQ(next->rule->decide(4).cutoff, 3u);
  EXPECT_EQ(next->label, "static backups=1");
  auto own = round_trip(rule_message(test_header(), {"", 0, 0}, "bdsgd"),
                        wire::Body::PredictorRule);
  next = rule_of(*own, error);
  ASSERT_NE(next, nullptr) << error;
  EXPECT_EQ(next->rule, nullptr);
  auto unknown = round_trip(rule_message(test_header(), {"lucky", 0, 0}, "x"),
                            wire::Body::PredictorRule);
  EXPECT_EQ(rule_of(*unknown, error), nullptr);
  EXPECT_NE(error.find("lucky"), std::string::npos) << error;
}

} // namespace
} // namespace metronome::actors

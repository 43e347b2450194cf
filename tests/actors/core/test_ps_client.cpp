#include "actors/core/ps_client.hpp"

#include "tests/messages/message_test_util.hpp"

#include <gtest/gtest.h>

namespace metronome::actors {
namespace {

namespace wire = messages::wire;
using messages::test::verify_outbound;

// A reader of two parts of table 0 on two servers, recording what it sends.
class PsClient : public ::testing::Test {
protected:
  PsClient()
      : client_(
            {{0, 0, {0, 4}}, {0, 1, {4, 6}}}, {false, true},
            [this](const std::string& to, std::int64_t clock,
                   std::uint32_t table) {
              messages::header h;
              h.source = "worker/0";
              h.destination = to;
              h.seq = ++seq_;
              h.clock = clock;
              h.table_id = table;
              return h;
            },
            [this](messages::outbound m) { sent_.push_back(std::move(m)); }) {}

  // A PullReply from `server` with `seq` for keys [offset, offset + n).
  std::shared_ptr<messages::inbound> reply(const std::string& server,
                                           std::uint64_t seq,
                                           std::uint64_t offset,
                                           std::size_t n) {
    messages::envelope_builder b;
    auto values = std::make_shared<std::vector<float>>(n, 1.5f);
    auto payload = b.floats(offset, messages::float_block::of(values));
    auto body = wire::CreatePullReply(b.fbb(), payload, 3);
    messages::header h;
    h.source = server;
    h.destination = "worker/0";
    h.seq = seq;
    h.clock = 2;
    auto v = verify_outbound(b.finish(h, wire::Body::PullReply, body.Union()));
    EXPECT_TRUE(v.msg) << v.error;
    return std::move(v.msg);
  }

  std::uint64_t seq_ = 0;
  std::vector<messages::outbound> sent_;
  ps_client client_;
};

TEST_F(PsClient, RequestsCarryThePartsRangeAndSubscription) {
  client_.request_all(7);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(client_.missing(), 2u);
  auto second = verify_outbound(sent_[1]);
  ASSERT_TRUE(second.msg);
  EXPECT_EQ(second.msg->destination(), "server/1");
  EXPECT_EQ(second.msg->header().clock(), 7);
  const auto* pull = second.msg->envelope().body_as_PullRequest();
  EXPECT_EQ(pull->offset(), 4u);
  EXPECT_EQ(pull->count(), 2u);
  EXPECT_TRUE(pull->subscribe());
}

TEST_F(PsClient, AnswersMatchBySequenceAndCompleteTheRead) {
  client_.request_all(7);
  std::string error;
  auto r = client_.match(*reply("server/1", 2, 4, 2), error);
  ASSERT_TRUE(r);
  EXPECT_EQ(error, "");
  EXPECT_EQ(r->part, 1u);
  EXPECT_TRUE(r->answer);
  EXPECT_EQ(r->clock, 2);
  EXPECT_EQ(r->applied, 3);
  EXPECT_EQ(r->values.size, 2u);
  EXPECT_EQ(client_.answered(1), 1u);
  // The same answer again matches nothing outstanding.
  EXPECT_FALSE(client_.match(*reply("server/1", 2, 4, 2), error) &&
               client_.outstanding(1));
  EXPECT_EQ(client_.answered(0), 0u);
}

TEST_F(PsClient, LateAnswersAndUnsubscribedPushesAreIgnored) {
  client_.request_all(7);
  client_.reset();
  std::string error;
  EXPECT_FALSE(client_.match(*reply("server/0", 1, 0, 4), error));
  EXPECT_FALSE(client_.match(*reply("server/0", 0, 0, 4), error));
  EXPECT_EQ(error, "");
  auto pushed = client_.match(*reply("server/1", 0, 4, 2), error);
  ASSERT_TRUE(pushed);
  EXPECT_FALSE(pushed->answer);
  EXPECT_EQ(pushed->part, 1u);
}

TEST_F(PsClient, AnAnswerWithOtherKeysIsAnError) {
  client_.request_all(7);
  std::string error;
  EXPECT_FALSE(client_.match(*reply("server/0", 1, 0, 3), error));
  EXPECT_NE(error.find("server/0 answered a pull of table 0 with keys [0, +3) "
                       "instead of [0, 4)"),
            std::string::npos)
      << error;
  error.clear();
  EXPECT_FALSE(client_.match(*reply("server/1", 1, 0, 4), error));
  EXPECT_NE(error, "");
}

} // namespace
} // namespace metronome::actors

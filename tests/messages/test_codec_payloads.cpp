// Double and integer payloads: the scheduled programs' Round messages.

#include "tests/messages/message_test_util.hpp"

#include <gtest/gtest.h>

namespace metronome::messages::test {
namespace {

TEST(CodecRoundTrip, RoundCarriesDoublesAndIntegersExactly) {
  envelope_builder b;
  std::vector<std::uint64_t> keys = {3, 7, 11};
  std::vector<double> values = {0.1, -2.5e-300, 1e300};
  auto work = b.doubles(keys, values);
  auto changes = b.doubles({}, {}); // an empty payload reads back empty
  auto counts = b.integers({}, {-1, 0, 1LL << 62}, 5);
  auto body = wire::CreateRound(b.fbb(), 9, 1, work, changes, counts);
  auto m = round_trip(b.finish(test_header(), wire::Body::Round, body.Union()),
                      wire::Body::Round);
  ASSERT_NE(m, nullptr);
  const auto* r = m->envelope().body_as_Round();
  EXPECT_EQ(r->round(), 9u);
  EXPECT_EQ(r->task(), 1u);
  auto w = read_doubles(r->work());
  EXPECT_EQ(w.keys, keys);
  EXPECT_EQ(w.values, values);
  auto c = read_doubles(r->changes());
  EXPECT_TRUE(c.keys.empty());
  EXPECT_TRUE(c.values.empty());
  auto n = read_integers(r->counts());
  EXPECT_EQ(n.offset, 5u);
  EXPECT_EQ(n.values, (std::vector<std::int64_t>{-1, 0, 1LL << 62}));
  EXPECT_TRUE(read_doubles(nullptr).values.empty());
}

TEST(CodecRejects, RoundWhoseKeysAndValuesDisagree) {
  envelope_builder b;
  // Built by hand: the builder refuses to write such a payload.
  std::vector<std::uint64_t> keys = {1, 2, 3};
  std::vector<double> values = {0.5, 0.25};
  auto work = wire::CreateDoubles(b.fbb(), 0, b.fbb().CreateVector(keys),
                                  b.fbb().CreateVector(values));
  auto body = wire::CreateRound(b.fbb(), 0, 0, work);
  auto v =
      verify_outbound(b.finish(test_header(), wire::Body::Round, body.Union()));
  EXPECT_EQ(v.msg, nullptr);
  EXPECT_EQ(v.why, rejection::malformed);
  EXPECT_NE(v.error.find("round work has 3 keys but 2 values"),
            std::string::npos)
      << v.error;
}

TEST(CodecBuilder, RefusesKeysWithoutOneValueEach) {
  envelope_builder b;
  EXPECT_THROW(b.doubles({1, 2, 3}, {0.5}), std::invalid_argument);
  EXPECT_THROW(b.doubles({7}, {}), std::invalid_argument);
  EXPECT_THROW(b.integers({1, 2}, {4}), std::invalid_argument);
  EXPECT_NO_THROW(b.doubles({}, {0.5, 0.25}));
  EXPECT_NO_THROW(b.integers({3, 4}, {1, 2}));
}

} // namespace
} // namespace metronome::messages::test

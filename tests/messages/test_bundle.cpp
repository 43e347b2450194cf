// The bundle format: what the writer packs the splitter gives back, and
// every malformed frame is refused with an error naming the bad part.

#include "messages/bundle.hpp"

#include "message_test_util.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace metronome::messages::test {
namespace {

bytes random_bytes(std::mt19937& rng, std::size_t n) {
  bytes b(n);
  for (auto& c : b)
    c = static_cast<std::uint8_t>(rng());
  return b;
}

bytes pack(const std::vector<bytes>& envelopes) {
  bundle::writer w;
  for (const auto& e : envelopes) {
    EXPECT_TRUE(w.fits(e.size()));
    w.add(e.data(), e.size());
  }
  return w.bytes();
}

std::string split_error(const bytes& frame) {
  std::vector<bundle::part> parts;
  std::string error;
  EXPECT_FALSE(bundle::split(frame.data(), frame.size(), parts, error));
  return error;
}

void put_u32(bytes& b, std::size_t at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

TEST(Bundle, SplitGivesBackWhatWasPacked) {
  std::mt19937 rng(7);
  bundle::writer w;
  for (int round = 0; round < 200; ++round) {
    std::size_t count = 2 + rng() % (bundle::max_envelopes - 1);
    std::vector<bytes> envelopes;
    w.clear();
    for (std::size_t i = 0; i < count; ++i) {
      envelopes.push_back(
          random_bytes(rng, 8 + rng() % (bundle::max_envelope_bytes - 7)));
      w.add(envelopes.back().data(), envelopes.back().size());
    }
    const auto& frame = w.bytes();
    ASSERT_TRUE(bundle::is_bundle(frame.data(), frame.size()));
    std::vector<bundle::part> parts;
    std::string error;
    ASSERT_TRUE(bundle::split(frame.data(), frame.size(), parts, error))
        << error;
    ASSERT_EQ(parts.size(), count);
    for (std::size_t i = 0; i < count; ++i)
      ASSERT_EQ(bytes(parts[i].data, parts[i].data + parts[i].size),
                envelopes[i]);
  }
}

TEST(Bundle, WriterTakesOnlySmallEnvelopesUpToItsCount) {
  bundle::writer w;
  EXPECT_FALSE(w.fits(7));
  EXPECT_FALSE(w.fits(bundle::max_envelope_bytes + 1));
  bytes e(8, 1);
  for (std::size_t i = 0; i < bundle::max_envelopes; ++i) {
    ASSERT_TRUE(w.fits(e.size()));
    w.add(e.data(), e.size());
  }
  EXPECT_FALSE(w.fits(e.size()));
  EXPECT_EQ(w.count(), bundle::max_envelopes);
}

TEST(Bundle, AnEnvelopeIsNotABundle) {
  auto env = to_frames(make_push(make_header("worker/0", "server/0", 1, 1, 0),
                                 1, ramp(4, 0)))
                 .envelope;
  EXPECT_FALSE(bundle::is_bundle(env.data(), env.size()));
  auto frame = pack({env, env});
  EXPECT_TRUE(bundle::is_bundle(frame.data(), frame.size()));
  EXPECT_FALSE(bundle::is_bundle(frame.data(), 7));
}

TEST(Bundle, MalformedFramesAreRefusedWithTheirPart) {
  bytes e(16, 5);
  auto good = pack({e, e, e});
  auto count = [&](std::uint32_t n) {
    auto b = good;
    put_u32(b, 0, n);
    return b;
  };
  EXPECT_EQ(split_error(count(1)), "bundle of 1 envelopes (expected 2 to 64)");
  EXPECT_EQ(split_error(count(65)),
            "bundle of 65 envelopes (expected 2 to 64)");
  EXPECT_EQ(split_error(count(4)),
            "bundle part 3 of 4 at byte 80: frame ends before its size");
  EXPECT_EQ(split_error(count(2)),
            "bundle of 2 envelopes has 24 bytes left over");
  auto small = good;
  put_u32(small, 32, 7);
  EXPECT_EQ(split_error(small),
            "bundle part 1 of 3 at byte 32: size 7 outside 8 to 256");
  auto large = good;
  put_u32(large, 8, 257);
  EXPECT_EQ(split_error(large),
            "bundle part 0 of 3 at byte 8: size 257 outside 8 to 256");
  auto past = good;
  put_u32(past, 56, 24);
  EXPECT_EQ(split_error(past),
            "bundle part 2 of 3 at byte 56: 24 bytes run past the frame");
  auto truncated = bytes(good.begin(), good.end() - 1);
  EXPECT_EQ(split_error(truncated),
            "bundle part 2 of 3 at byte 56: 16 bytes run past the frame");
}

} // namespace
} // namespace metronome::messages::test

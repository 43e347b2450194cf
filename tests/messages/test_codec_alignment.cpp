// Vectors of 8-byte values ([uint64], [double], [long]) must be 8-byte
// aligned in an accepted envelope; frames that ZeroMQ hands over at any
// address must still be accepted.

#include "message_test_util.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace metronome::messages::test {
namespace {

const std::vector<std::uint64_t> some_keys{3, 17, 1ull << 40};
const std::vector<double> some_doubles{0.5, -0.25, 1e300};
const std::vector<std::int64_t> some_integers{-1, 2, 1ll << 50};

// The field's vector in `out` really sits at 4 mod 8, so that a refusal is
// about alignment and nothing else.
void expect_refused_as_misaligned(const outbound& out,
                                  const std::string& field) {
  auto v = verify_outbound(out);
  EXPECT_EQ(v.msg, nullptr) << field;
  EXPECT_EQ(v.why, rejection::malformed) << field;
  EXPECT_NE(v.error.find(field + " (a vector of 8-byte values) is misaligned"),
            std::string::npos)
      << v.error;
  EXPECT_NE(v.error.find("not a multiple of 8"), std::string::npos) << v.error;
}

outbound sparse_floats(wire::Body kind, bool misaligned) {
  envelope_builder b;
  auto keys = misaligned ? misaligned_vector(b.fbb(), some_keys)
                         : b.fbb().CreateVector(some_keys);
  auto values = b.fbb().CreateVector(ramp(some_keys.size()));
  auto f = wire::CreateFloats(b.fbb(), 0, keys, values);
  auto body = kind == wire::Body::Push
                  ? wire::CreatePush(b.fbb(), f).Union()
                  : wire::CreatePullReply(b.fbb(), f).Union();
  return b.finish(test_header(), kind, body);
}

TEST(CodecAlignment, PushKeysMisalignedIsRefused) {
  expect_refused_as_misaligned(sparse_floats(wire::Body::Push, true),
                               "Push.payload.keys");
  EXPECT_NE(verify_outbound(sparse_floats(wire::Body::Push, false)).msg,
            nullptr);
}

TEST(CodecAlignment, PullReplyKeysMisalignedIsRefused) {
  expect_refused_as_misaligned(sparse_floats(wire::Body::PullReply, true),
                               "PullReply.payload.keys");
  EXPECT_NE(verify_outbound(sparse_floats(wire::Body::PullReply, false)).msg,
            nullptr);
}

TEST(CodecAlignment, PullRequestKeysMisalignedIsRefused) {
  envelope_builder b;
  auto keys = misaligned_vector(b.fbb(), some_keys);
  auto body = wire::CreatePullRequest(b.fbb(), 0, 0, keys);
  expect_refused_as_misaligned(
      b.finish(test_header(), wire::Body::PullRequest, body.Union()),
      "PullRequest.keys");
}

outbound cutoff(bool runtimes_misaligned, bool throughput_misaligned) {
  envelope_builder b;
  auto& fbb = b.fbb();
  auto accepted = fbb.CreateVector(std::vector<std::uint32_t>{0, 2});
  auto runtimes = runtimes_misaligned ? misaligned_vector(fbb, some_doubles)
                                      : fbb.CreateVector(some_doubles);
  auto censored = fbb.CreateVector(std::vector<std::uint8_t>{0, 1, 0});
  auto throughput = throughput_misaligned ? misaligned_vector(fbb, some_doubles)
                                          : fbb.CreateVector(some_doubles);
  auto body = wire::CreateCutoff(fbb, accepted, 0.5, runtimes, censored, 1e-4,
                                 false, 3, throughput);
  return b.finish(test_header(), wire::Body::Cutoff, body.Union());
}

TEST(CodecAlignment, CutoffRuntimesMisalignedIsRefused) {
  expect_refused_as_misaligned(cutoff(true, false), "Cutoff.runtimes");
}

TEST(CodecAlignment, CutoffExpectedThroughputMisalignedIsRefused) {
  expect_refused_as_misaligned(cutoff(false, true),
                               "Cutoff.expected_throughput");
  auto v = verify_outbound(cutoff(false, false));
  ASSERT_NE(v.msg, nullptr) << v.error;
  const auto* c = v.msg->envelope().body_as_Cutoff();
  EXPECT_EQ(std::vector<double>(c->runtimes()->begin(), c->runtimes()->end()),
            some_doubles);
}

// Which of a Doubles or Integers table's vectors is built misaligned.
enum class bad { none, keys, values };

flatbuffers::Offset<wire::Doubles> doubles(flatbuffers::FlatBufferBuilder& fbb,
                                           bad which) {
  auto keys = which == bad::keys ? misaligned_vector(fbb, some_keys)
                                 : fbb.CreateVector(some_keys);
  auto values = which == bad::values ? misaligned_vector(fbb, some_doubles)
                                     : fbb.CreateVector(some_doubles);
  return wire::CreateDoubles(fbb, 0, keys, values);
}

flatbuffers::Offset<wire::Integers>
integers(flatbuffers::FlatBufferBuilder& fbb, bad which) {
  auto keys = which == bad::keys ? misaligned_vector(fbb, some_keys)
                                 : fbb.CreateVector(some_keys);
  auto values = which == bad::values ? misaligned_vector(fbb, some_integers)
                                     : fbb.CreateVector(some_integers);
  return wire::CreateIntegers(fbb, 0, keys, values);
}

// One message per Doubles or Integers field of the scheduled-program
// messages, with `which` of that field's vectors misaligned.
struct table_field {
  std::string name;
  std::function<outbound(bad)> build;
};

std::vector<table_field> key_value_fields() {
  auto h = test_header();
  auto round = [h](int slot, bad which) {
    envelope_builder b;
    auto& fbb = b.fbb();
    auto work = doubles(fbb, slot == 0 ? which : bad::none);
    auto changes = doubles(fbb, slot == 1 ? which : bad::none);
    auto counts = integers(fbb, slot == 2 ? which : bad::none);
    auto body = wire::CreateRound(fbb, 4, 1, work, changes, counts);
    return b.finish(h, wire::Body::Round, body.Union());
  };
  auto result = [h](int slot, bad which) {
    envelope_builder b;
    auto& fbb = b.fbb();
    auto values = doubles(fbb, slot == 0 ? which : bad::none);
    auto counts = integers(fbb, slot == 1 ? which : bad::none);
    auto body = wire::CreateRoundResult(fbb, 4, values, counts, 0.5);
    return b.finish(h, wire::Body::RoundResult, body.Union());
  };
  auto record = [h](bad which) {
    envelope_builder b;
    auto& fbb = b.fbb();
    auto kind = fbb.CreateString("final");
    auto fields = fbb.CreateString("{}");
    auto parameters = doubles(fbb, which);
    auto body = wire::CreateRecord(fbb, kind, fields, parameters);
    return b.finish(h, wire::Body::Record, body.Union());
  };
  using namespace std::placeholders;
  return {
      {"Round.work", std::bind(round, 0, _1)},
      {"Round.changes", std::bind(round, 1, _1)},
      {"Round.counts", std::bind(round, 2, _1)},
      {"RoundResult.values", std::bind(result, 0, _1)},
      {"RoundResult.counts", std::bind(result, 1, _1)},
      {"Record.parameters", record},
  };
}

TEST(CodecAlignment, KeyValueTablesMisalignedAreRefused) {
  for (const auto& field : key_value_fields()) {
    expect_refused_as_misaligned(field.build(bad::keys), field.name + ".keys");
    expect_refused_as_misaligned(field.build(bad::values),
                                 field.name + ".values");
    auto v = verify_outbound(field.build(bad::none));
    EXPECT_NE(v.msg, nullptr) << field.name << ": " << v.error;
  }
}

// FlatBuffers' builder aligns an empty vector to 4 bytes only (there is
// nothing to read in it), so such a vector is no reason to refuse.
TEST(CodecAlignment, EmptyVectorsAtFourModEightAreAccepted) {
  envelope_builder b;
  auto& fbb = b.fbb();
  auto work = wire::CreateDoubles(
      fbb, 0, misaligned_vector(fbb, std::vector<std::uint64_t>{}),
      misaligned_vector(fbb, std::vector<double>{}));
  auto body = wire::CreateRound(fbb, 1, 0, work);
  auto v =
      verify_outbound(b.finish(test_header(), wire::Body::Round, body.Union()));
  ASSERT_NE(v.msg, nullptr) << v.error;
  auto read = read_doubles(v.msg->envelope().body_as_Round()->work());
  EXPECT_TRUE(read.keys.empty());
  EXPECT_TRUE(read.values.empty());
}

// Verifies `envelope` handed over `shift` bytes past an 8-byte boundary, as
// ZeroMQ may hand a frame over, from `storage`, which must outlive the
// message.
std::shared_ptr<inbound> verify_shifted(const bytes& envelope,
                                        std::size_t shift,
                                        std::vector<std::uint64_t>& storage,
                                        std::string& error) {
  storage.assign(envelope.size() / 8 + 2, 0);
  auto* start = reinterpret_cast<std::uint8_t*>(storage.data()) + shift;
  std::memcpy(start, envelope.data(), envelope.size());
  auto no_free = [](void*, void*) {};
  zmq::message_t frame(start, envelope.size(), no_free);
  rejection why = rejection::none;
  return inbound::verify("peer", std::move(frame), std::nullopt, 1 << 20, why,
                         error);
}

// Every message with 8-byte vectors, handed over at each of the 8 possible
// addresses mod 8 (as ZeroMQ may), is accepted and reads back intact.
TEST(CodecAlignment, FramesAtAnyAddressAreAccepted) {
  std::vector<outbound> all;
  all.push_back(sparse_floats(wire::Body::Push, false));
  all.push_back(sparse_floats(wire::Body::PullReply, false));
  all.push_back(cutoff(false, false));
  for (const auto& field : key_value_fields())
    all.push_back(field.build(bad::none));
  {
    envelope_builder b;
    auto keys = b.fbb().CreateVector(some_keys);
    auto body = wire::CreatePullRequest(b.fbb(), 0, 0, keys);
    all.push_back(
        b.finish(test_header(), wire::Body::PullRequest, body.Union()));
  }
  for (const auto& out : all) {
    auto f = to_frames(out);
    for (std::size_t shift = 0; shift < 8; ++shift) {
      std::vector<std::uint64_t> storage;
      std::string error;
      auto m = verify_shifted(f.envelope, shift, storage, error);
      std::string what =
          std::string(kind_name(out.kind)) + " at +" + std::to_string(shift);
      ASSERT_NE(m, nullptr) << what << ": " << error;
      const auto& env = m->envelope();
      switch (m->kind()) {
      case wire::Body::Push:
      case wire::Body::PullReply: {
        const auto* p = m->kind() == wire::Body::Push
                            ? env.body_as_Push()->payload()
                            : env.body_as_PullReply()->payload();
        EXPECT_EQ(
            std::vector<std::uint64_t>(p->keys()->begin(), p->keys()->end()),
            some_keys)
            << what;
        break;
      }
      case wire::Body::PullRequest: {
        const auto* r = env.body_as_PullRequest();
        EXPECT_EQ(
            std::vector<std::uint64_t>(r->keys()->begin(), r->keys()->end()),
            some_keys)
            << what;
        break;
      }
      case wire::Body::Cutoff: {
        const auto* c = env.body_as_Cutoff();
        EXPECT_EQ(std::vector<double>(c->expected_throughput()->begin(),
                                      c->expected_throughput()->end()),
                  some_doubles)
            << what;
        break;
      }
      case wire::Body::Round: {
        auto work = read_doubles(env.body_as_Round()->work());
        EXPECT_EQ(work.keys, some_keys) << what;
        EXPECT_EQ(work.values, some_doubles) << what;
        auto counts = read_integers(env.body_as_Round()->counts());
        EXPECT_EQ(counts.values, some_integers) << what;
        break;
      }
      default:
        break;
      }
    }
  }
}

// An envelope too large for the copy kept inside a message is copied to the
// heap instead; at every address it reads back the same as the small ones.
TEST(CodecAlignment, LargeFramesAtAnyAddressAreAccepted) {
  auto values = ramp(300);
  auto f = to_frames(make_push(test_header(), 5, values));
  ASSERT_GT(f.envelope.size(), envelope_bytes::inline_capacity);
  for (std::size_t shift = 0; shift < 8; ++shift) {
    std::vector<std::uint64_t> storage;
    std::string error;
    auto m = verify_shifted(f.envelope, shift, storage, error);
    ASSERT_NE(m, nullptr) << "at +" << shift << ": " << error;
    const auto* p = m->envelope().body_as_Push()->payload();
    EXPECT_EQ(p->offset(), 5u);
    EXPECT_EQ(to_vector(m->values(*p)), values) << "at +" << shift;
  }
}

} // namespace
} // namespace metronome::messages::test

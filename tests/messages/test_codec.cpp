// Round trips through envelope_builder and inbound::verify, and what verify
// must reject.

#include "message_test_util.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace metronome::messages::test {
namespace {

TEST(CodecRoundTrip, Hello) {
  envelope_builder b;
  auto node = b.fbb().CreateString("node-a");
  auto actors = b.fbb().CreateVectorOfStrings(
      std::vector<std::string>{"server/0", "worker/0", "worker/1"});
  auto body = wire::CreateHello(b.fbb(), node, actors, 4242);
  auto out = b.finish(test_header(), wire::Body::Hello, body.Union());
  EXPECT_FALSE(out.is_control());
  auto m = round_trip(out, wire::Body::Hello);
  ASSERT_NE(m, nullptr);
  const auto* hello = m->envelope().body_as_Hello();
  ASSERT_NE(hello, nullptr);
  ASSERT_NE(hello->node(), nullptr);
  EXPECT_EQ(hello->node()->str(), "node-a");
  ASSERT_NE(hello->actors(), nullptr);
  ASSERT_EQ(hello->actors()->size(), 3u);
  EXPECT_EQ(hello->actors()->Get(0)->str(), "server/0");
  EXPECT_EQ(hello->actors()->Get(2)->str(), "worker/1");
  EXPECT_EQ(hello->pid(), 4242u);
}

TEST(CodecRoundTrip, PushDenseInline) {
  auto values = ramp(10);
  auto out = make_push(test_header(), 100, values);
  auto m = round_trip(out, wire::Body::Push);
  ASSERT_NE(m, nullptr);
  const auto* f = m->envelope().body_as_Push()->payload();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->offset(), 100u);
  EXPECT_EQ(f->attached(), 0u);
  EXPECT_TRUE(f->keys() == nullptr || f->keys()->size() == 0);
  ASSERT_NE(f->values(), nullptr);
  EXPECT_EQ(to_vector(m->values(*f)), values);
}

// A small envelope is copied into the outbound message; one that outgrows
// the builder's inline storage moves to the heap and is shared instead.
// Both must arrive whole, for every size around the inline capacity.
TEST(CodecRoundTrip, InlineAndSharedEnvelopesDecodeAlike) {
  bool saw_inline = false;
  bool saw_shared = false;
  for (std::size_t n = 1; n <= 120; ++n) {
    auto values = ramp(n);
    auto out = make_push(test_header(), n, values);
    bool inline_bytes = out.envelope.shared() == nullptr;
    EXPECT_EQ(inline_bytes,
              out.envelope.size() <= envelope_bytes::inline_capacity)
        << n << " floats";
    saw_inline = saw_inline || inline_bytes;
    saw_shared = saw_shared || !inline_bytes;
    auto m = round_trip(out, wire::Body::Push);
    ASSERT_NE(m, nullptr) << n << " floats";
    const auto* f = m->envelope().body_as_Push()->payload();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->offset(), n);
    EXPECT_EQ(to_vector(m->values(*f)), values) << n << " floats";
  }
  EXPECT_TRUE(saw_inline);
  EXPECT_TRUE(saw_shared);
}

TEST(CodecRoundTrip, PushDenseLargeTravelsAsAttachedFrame) {
  auto values = std::make_shared<const std::vector<float>>(ramp(5000));
  envelope_builder b;
  // A slice of a shared vector: the attachment must alias it, not copy it.
  auto f_off = b.floats(7, float_block::of(values, 100, 4000));
  auto body = wire::CreatePush(b.fbb(), f_off);
  auto out = b.finish(test_header(), wire::Body::Push, body.Union());
  EXPECT_EQ(out.attachment.data, values->data() + 100);
  EXPECT_EQ(out.attachment.size, 4000u);
  // The envelope must not also carry the values inline.
  EXPECT_LT(out.envelope.size(), 1024u);
  auto m = round_trip(out, wire::Body::Push, true);
  ASSERT_NE(m, nullptr);
  const auto* f = m->envelope().body_as_Push()->payload();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->offset(), 7u);
  EXPECT_EQ(f->attached(), 4000u);
  EXPECT_TRUE(f->values() == nullptr || f->values()->size() == 0);
  std::vector<float> expected(values->begin() + 100, values->begin() + 4100);
  EXPECT_EQ(to_vector(m->values(*f)), expected);
}

TEST(CodecRoundTrip, AttachThresholdBoundary) {
  auto below = make_push(test_header(), 0, ramp(attach_threshold - 1));
  EXPECT_EQ(below.attachment.size, 0u);
  auto at = make_push(test_header(), 0, ramp(attach_threshold));
  EXPECT_EQ(at.attachment.size, attach_threshold);
  for (const auto* out : {&below, &at}) {
    auto m = round_trip(*out, wire::Body::Push, out->attachment.size > 0);
    ASSERT_NE(m, nullptr);
    const auto* f = m->envelope().body_as_Push()->payload();
    EXPECT_EQ(to_vector(m->values(*f)),
              ramp(out == &below ? attach_threshold - 1 : attach_threshold));
  }
}

TEST(CodecRoundTrip, PushSparse) {
  std::vector<std::uint64_t> keys{3, 17, 99, 1ull << 40};
  auto values = ramp(4, -2.0f);
  auto out = make_sparse_push(test_header(), keys, values);
  auto m = round_trip(out, wire::Body::Push);
  ASSERT_NE(m, nullptr);
  const auto* f = m->envelope().body_as_Push()->payload();
  ASSERT_NE(f, nullptr);
  ASSERT_NE(f->keys(), nullptr);
  EXPECT_EQ(std::vector<std::uint64_t>(f->keys()->begin(), f->keys()->end()),
            keys);
  EXPECT_EQ(f->attached(), 0u);
  EXPECT_EQ(to_vector(m->values(*f)), values);
}

TEST(CodecRoundTrip, PushSparseLargeAttachesValuesKeepsKeysInline) {
  std::vector<std::uint64_t> keys(2000);
  for (std::size_t i = 0; i < keys.size(); ++i)
    keys[i] = 3 * i + 1;
  auto values = ramp(2000);
  auto out = make_sparse_push(test_header(), keys, values);
  auto m = round_trip(out, wire::Body::Push, true);
  ASSERT_NE(m, nullptr);
  const auto* f = m->envelope().body_as_Push()->payload();
  ASSERT_NE(f->keys(), nullptr);
  EXPECT_EQ(std::vector<std::uint64_t>(f->keys()->begin(), f->keys()->end()),
            keys);
  EXPECT_EQ(f->attached(), 2000u);
  EXPECT_EQ(to_vector(m->values(*f)), values);
}

TEST(CodecRoundTrip, PullRequest) {
  std::vector<std::uint64_t> keys{5, 6, 1000};
  envelope_builder b;
  auto body = wire::CreatePullRequestDirect(b.fbb(), 64, 128, &keys);
  auto out = b.finish(test_header(), wire::Body::PullRequest, body.Union());
  auto m = round_trip(out, wire::Body::PullRequest);
  ASSERT_NE(m, nullptr);
  const auto* req = m->envelope().body_as_PullRequest();
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->offset(), 64u);
  EXPECT_EQ(req->count(), 128u);
  ASSERT_NE(req->keys(), nullptr);
  EXPECT_EQ(
      std::vector<std::uint64_t>(req->keys()->begin(), req->keys()->end()),
      keys);
}

TEST(CodecRoundTrip, PullReplyInlineAndAttached) {
  for (std::size_t n : {std::size_t{3}, std::size_t{3000}}) {
    auto values = ramp(n, 1.5f);
    envelope_builder b;
    auto f_off = b.floats(11, block_of(values));
    auto body = wire::CreatePullReply(b.fbb(), f_off);
    auto out = b.finish(test_header(), wire::Body::PullReply, body.Union());
    auto m = round_trip(out, wire::Body::PullReply, n >= attach_threshold);
    ASSERT_NE(m, nullptr);
    const auto* f = m->envelope().body_as_PullReply()->payload();
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->offset(), 11u);
    EXPECT_EQ(to_vector(m->values(*f)), values) << n << " values";
  }
}

TEST(CodecRoundTrip, Clock) {
  auto out = make_clock(test_header());
  auto m = round_trip(out, wire::Body::Clock);
  ASSERT_NE(m, nullptr);
  EXPECT_NE(m->envelope().body_as_Clock(), nullptr);
}

TEST(CodecRoundTrip, Heartbeat) {
  envelope_builder b;
  auto body =
      wire::CreateHeartbeatDirect(b.fbb(), "node-b", 1, 2, 3, 4, 1ull << 50);
  auto out = b.finish(test_header(), wire::Body::Heartbeat, body.Union());
  // Addressed to an actor, a heartbeat is ordinary (credit-counted) traffic.
  EXPECT_FALSE(out.is_control());
  auto m = round_trip(out, wire::Body::Heartbeat);
  ASSERT_NE(m, nullptr);
  const auto* hb = m->envelope().body_as_Heartbeat();
  ASSERT_NE(hb, nullptr);
  EXPECT_EQ(hb->node()->str(), "node-b");
  EXPECT_EQ(hb->frames_in(), 1u);
  EXPECT_EQ(hb->frames_out(), 2u);
  EXPECT_EQ(hb->bytes_in(), 3u);
  EXPECT_EQ(hb->bytes_out(), 4u);
  EXPECT_EQ(hb->dropped(), 1ull << 50);

  envelope_builder t;
  auto tbody = wire::CreateHeartbeatDirect(t.fbb(), "node-b");
  auto transport_level = t.finish(make_header("node-b", "", 0),
                                  wire::Body::Heartbeat, tbody.Union());
  EXPECT_TRUE(transport_level.is_control());
  auto v = verify_outbound(transport_level);
  ASSERT_NE(v.msg, nullptr) << v.error;
  EXPECT_TRUE(v.msg->destination().empty());
}

TEST(CodecRoundTrip, Credit) {
  envelope_builder b;
  auto body = wire::CreateCredit(b.fbb(), 17, 1ull << 33);
  auto out = b.finish(test_header(), wire::Body::Credit, body.Union());
  EXPECT_TRUE(out.is_control());
  auto m = round_trip(out, wire::Body::Credit);
  ASSERT_NE(m, nullptr);
  const auto* c = m->envelope().body_as_Credit();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->messages(), 17u);
  EXPECT_EQ(c->bytes(), 1ull << 33);
}

TEST(CodecRoundTrip, Control) {
  for (auto cmd : {wire::Command::Start, wire::Command::Stop,
                   wire::Command::Done, wire::Command::Abort}) {
    envelope_builder b;
    auto body = wire::CreateControlDirect(b.fbb(), cmd, "disk full");
    auto out = b.finish(test_header(), wire::Body::Control, body.Union());
    auto m = round_trip(out, wire::Body::Control);
    ASSERT_NE(m, nullptr);
    const auto* c = m->envelope().body_as_Control();
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->command(), cmd);
    ASSERT_NE(c->reason(), nullptr);
    EXPECT_EQ(c->reason()->str(), "disk full");
  }
}

TEST(CodecRoundTrip, Report) {
  envelope_builder b;
  auto body = wire::CreateReport(b.fbb(), 99, 0.125, 3.5e-3, 60000);
  auto out = b.finish(test_header(), wire::Body::Report, body.Union());
  auto m = round_trip(out, wire::Body::Report);
  ASSERT_NE(m, nullptr);
  const auto* r = m->envelope().body_as_Report();
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->iteration(), 99u);
  EXPECT_EQ(r->loss(), 0.125);
  EXPECT_EQ(r->compute_seconds(), 3.5e-3);
  EXPECT_EQ(r->samples(), 60000u);
}

TEST(CodecRoundTrip, Cutoff) {
  envelope_builder b;
  std::vector<std::uint32_t> accepted{3, 1};
  std::vector<double> runtimes{0.5, 0.25, 0.5, 0.125};
  std::vector<std::uint8_t> censored{1, 0, 1, 0};
  std::vector<double> curve{8, 8, 4, 2};
  auto body = wire::CreateCutoffDirect(b.fbb(), &accepted, 0.25, &runtimes,
                                       &censored, 2e-5, true, 7, &curve);
  auto m = round_trip(b.finish(test_header(), wire::Body::Cutoff, body.Union()),
                      wire::Body::Cutoff);
  ASSERT_NE(m, nullptr);
  const auto* c = m->envelope().body_as_Cutoff();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(
      std::vector<std::uint32_t>(c->accepted()->begin(), c->accepted()->end()),
      accepted);
  EXPECT_EQ(std::vector<double>(c->runtimes()->begin(), c->runtimes()->end()),
            runtimes);
  EXPECT_EQ(
      std::vector<std::uint8_t>(c->censored()->begin(), c->censored()->end()),
      censored);
  EXPECT_EQ(c->cutoff_seconds(), 0.25);
  EXPECT_TRUE(c->decision_late());
  EXPECT_EQ(c->late_gradients(), 7u);
  EXPECT_EQ(c->expected_throughput()->size(), 4u);
}

TEST(CodecRoundTrip, EmptyHeaderStrings) {
  auto out = make_clock(make_header("", "", 0, 0, 0));
  auto v = verify_outbound(out);
  ASSERT_NE(v.msg, nullptr) << v.error;
  EXPECT_EQ(v.msg->source(), "");
  EXPECT_EQ(v.msg->destination(), "");
  EXPECT_EQ(v.msg->header().seq(), 0u);
}

// Frames at odd addresses (as ZeroMQ may hand them over) must be verified
// and read correctly.
TEST(CodecRoundTrip, MisalignedFrames) {
  auto values = ramp(2048);
  auto out = make_push(test_header(), 1, values);
  auto f = to_frames(out);
  ASSERT_TRUE(f.attachment);
  auto no_free = [](void*, void*) {};
  bytes env_buf(f.envelope.size() + 1);
  std::memcpy(env_buf.data() + 1, f.envelope.data(), f.envelope.size());
  bytes att_buf(f.attachment->size() + 3);
  std::memcpy(att_buf.data() + 3, f.attachment->data(), f.attachment->size());
  zmq::message_t env(env_buf.data() + 1, f.envelope.size(), no_free);
  std::optional<zmq::message_t> att;
  att.emplace(att_buf.data() + 3, f.attachment->size(), no_free);
  rejection why = rejection::none;
  std::string error;
  auto m = inbound::verify("peer", std::move(env), std::move(att), 1 << 30, why,
                           error);
  ASSERT_NE(m, nullptr) << error;
  EXPECT_EQ(m->header().seq(), test_seq);
  const auto* p = m->envelope().body_as_Push()->payload();
  EXPECT_EQ(to_vector(m->values(*p)), values);
}

// A peer may attach a frame below the builder's threshold; it is valid.
TEST(CodecRoundTrip, SmallHandBuiltAttachment) {
  envelope_builder b;
  auto f_off = wire::CreateFloats(b.fbb(), 0, 0, 0, 2);
  auto body = wire::CreatePush(b.fbb(), f_off);
  auto out = b.finish(test_header(), wire::Body::Push, body.Union());
  std::vector<float> two{1.0f, -1.0f};
  bytes att(8);
  std::memcpy(att.data(), two.data(), 8);
  auto v = verify_bytes(to_frames(out).envelope, att);
  ASSERT_NE(v.msg, nullptr) << v.error;
  const auto* p = v.msg->envelope().body_as_Push()->payload();
  EXPECT_EQ(to_vector(v.msg->values(*p)), two);
}

TEST(CodecNames, KindNames) {
  EXPECT_STREQ(kind_name(wire::Body::Push), "Push");
  EXPECT_STREQ(kind_name(wire::Body::Report), "Report");
  EXPECT_STREQ(kind_name(wire::Body::NONE), "NONE");
  EXPECT_NE(kind_name(static_cast<wire::Body>(200)), nullptr);
}

TEST(CodecNames, ParseActorName) {
  std::string role;
  int index = -1;
  ASSERT_TRUE(parse_actor_name("worker/12", role, index));
  EXPECT_EQ(role, "worker");
  EXPECT_EQ(index, 12);
  ASSERT_TRUE(parse_actor_name("server/0", role, index));
  EXPECT_EQ(role, "server");
  EXPECT_EQ(index, 0);
  for (const char* bad : {"", "worker", "worker/", "/3", "worker/x",
                          "worker/-1", "worker/3a", "worker/99999999999999"}) {
    role = "unchanged";
    index = -1;
    EXPECT_FALSE(parse_actor_name(bad, role, index)) << bad;
    EXPECT_EQ(role, "unchanged") << bad;
  }
}

// ---------------------------------------------------------------- rejections

void expect_malformed(const verdict& v, const std::string& what) {
  EXPECT_EQ(v.msg, nullptr) << what;
  EXPECT_EQ(v.why, rejection::malformed) << what;
  EXPECT_FALSE(v.error.empty()) << what;
}

// Reads every field of a verified message the way a consumer would, so that
// ASan sees any read outside the frames.
std::uint64_t touch_everything(const inbound& m) {
  std::uint64_t h =
      m.source().size() + m.destination().size() + m.header().seq() +
      static_cast<std::uint64_t>(m.header().clock()) + m.header().table_id();
  for (char c : m.source())
    h = h * 31 + static_cast<unsigned char>(c);
  for (char c : m.destination())
    h = h * 31 + static_cast<unsigned char>(c);
  h += std::string(kind_name(m.kind())).size();
  auto floats = [&](const wire::Floats* f) {
    if (f == nullptr)
      return;
    h += f->offset() + f->attached();
    if (f->keys() != nullptr)
      for (auto k : *f->keys())
        h += k;
    for (float x : m.values(*f)) {
      std::uint32_t bits;
      std::memcpy(&bits, &x, sizeof(bits));
      h += bits;
    }
  };
  const auto& env = m.envelope();
  switch (m.kind()) {
  case wire::Body::Hello: {
    const auto* b = env.body_as_Hello();
    if (b->node() != nullptr)
      h += b->node()->str().size();
    if (b->actors() != nullptr)
      for (const auto* s : *b->actors())
        h += s->str().size();
    h += b->pid();
    break;
  }
  case wire::Body::Push:
    floats(env.body_as_Push()->payload());
    break;
  case wire::Body::PullReply:
    floats(env.body_as_PullReply()->payload());
    break;
  case wire::Body::PullRequest: {
    const auto* b = env.body_as_PullRequest();
    h += b->offset() + b->count();
    if (b->keys() != nullptr)
      for (auto k : *b->keys())
        h += k;
    break;
  }
  case wire::Body::Heartbeat: {
    const auto* b = env.body_as_Heartbeat();
    if (b->node() != nullptr)
      h += b->node()->str().size();
    h += b->frames_in() + b->frames_out() + b->bytes_in() + b->bytes_out() +
         b->dropped();
    break;
  }
  case wire::Body::Credit:
    h += env.body_as_Credit()->messages() + env.body_as_Credit()->bytes();
    break;
  case wire::Body::Control: {
    const auto* b = env.body_as_Control();
    h += static_cast<std::uint64_t>(b->command());
    if (b->reason() != nullptr)
      h += b->reason()->str().size();
    break;
  }
  case wire::Body::Report: {
    const auto* b = env.body_as_Report();
    h += b->iteration() + b->samples() +
         static_cast<std::uint64_t>(b->loss() + b->compute_seconds());
    break;
  }
  case wire::Body::Cutoff: {
    const auto* b = env.body_as_Cutoff();
    if (b->accepted() != nullptr)
      for (auto w : *b->accepted())
        h += w;
    if (b->runtimes() != nullptr)
      for (auto x : *b->runtimes())
        h += static_cast<std::uint64_t>(x * 1000);
    if (b->censored() != nullptr)
      h += b->censored()->size();
    h += b->late_gradients();
    break;
  }
  default:
    break;
  }
  return h;
}

// One message of every kind, with and without attachment.
std::vector<outbound> corpus() {
  std::vector<outbound> all;
  auto h = test_header();
  {
    envelope_builder b;
    auto node = b.fbb().CreateString("node-a");
    auto actors = b.fbb().CreateVectorOfStrings(
        std::vector<std::string>{"server/0", "worker/0"});
    auto body = wire::CreateHello(b.fbb(), node, actors, 7);
    all.push_back(b.finish(h, wire::Body::Hello, body.Union()));
  }
  all.push_back(make_push(h, 3, ramp(9)));
  all.push_back(make_push(h, 3, ramp(1500)));
  all.push_back(make_sparse_push(h, {1, 5, 9}, ramp(3)));
  all.push_back(
      make_sparse_push(h, std::vector<std::uint64_t>(1100, 4), ramp(1100)));
  {
    std::vector<std::uint64_t> keys{1, 2};
    envelope_builder b;
    auto body = wire::CreatePullRequestDirect(b.fbb(), 1, 2, &keys);
    all.push_back(b.finish(h, wire::Body::PullRequest, body.Union()));
  }
  {
    envelope_builder b;
    auto f = b.floats(0, block_of(ramp(6)));
    auto body = wire::CreatePullReply(b.fbb(), f);
    all.push_back(b.finish(h, wire::Body::PullReply, body.Union()));
  }
  all.push_back(make_clock(h));
  {
    envelope_builder b;
    auto body = wire::CreateHeartbeatDirect(b.fbb(), "n", 1, 2, 3, 4, 5);
    all.push_back(b.finish(h, wire::Body::Heartbeat, body.Union()));
  }
  {
    envelope_builder b;
    auto body = wire::CreateCredit(b.fbb(), 1, 2);
    all.push_back(b.finish(h, wire::Body::Credit, body.Union()));
  }
  {
    envelope_builder b;
    auto body = wire::CreateControlDirect(b.fbb(), wire::Command::Abort, "why");
    all.push_back(b.finish(h, wire::Body::Control, body.Union()));
  }
  {
    envelope_builder b;
    auto body = wire::CreateReport(b.fbb(), 1, 2.0, 3.0, 4);
    all.push_back(b.finish(h, wire::Body::Report, body.Union()));
  }
  {
    envelope_builder b;
    std::vector<std::uint32_t> accepted{2, 0};
    std::vector<double> runtimes{0.5, 1.5, 0.25};
    std::vector<std::uint8_t> censored{0, 1, 0};
    auto body = wire::CreateCutoffDirect(b.fbb(), &accepted, 0.5, &runtimes,
                                         &censored, 1e-4, false, 3);
    all.push_back(b.finish(h, wire::Body::Cutoff, body.Union()));
  }
  return all;
}

TEST(CodecReject, RandomGarbage) {
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 600);
  for (int i = 0; i < 2000; ++i) {
    bytes junk(length(rng));
    for (auto& c : junk)
      c = static_cast<std::uint8_t>(byte(rng));
    auto v = verify_bytes(junk, std::nullopt);
    expect_malformed(v, "garbage #" + std::to_string(i));
  }
  // Garbage carrying the right file identifier is still rejected.
  bytes junk(64, 0xFF);
  std::memcpy(junk.data() + 4, "MTRN", 4);
  expect_malformed(verify_bytes(junk, std::nullopt), "garbage with MTRN");
}

TEST(CodecReject, EmptyAndTooShortFrames) {
  for (std::size_t n = 0; n < 8; ++n) {
    auto v = verify_bytes(bytes(n, 0), std::nullopt);
    expect_malformed(v, std::to_string(n) + " bytes");
    EXPECT_NE(v.error.find("too short"), std::string::npos) << v.error;
  }
}

TEST(CodecReject, WrongFileIdentifier) {
  auto f = to_frames(make_clock(test_header()));
  std::memcpy(f.envelope.data() + 4, "XXXX", 4);
  auto v = verify_bytes(f.envelope, std::nullopt);
  expect_malformed(v, "wrong identifier");
  EXPECT_NE(v.error.find("not a valid envelope"), std::string::npos) << v.error;
}

TEST(CodecReject, TruncatedEnvelopes) {
  for (const auto& out : corpus()) {
    auto f = to_frames(out);
    auto original = verify_bytes(f.envelope, f.attachment);
    ASSERT_NE(original.msg, nullptr) << original.error;
    auto expected = touch_everything(*original.msg);
    for (std::size_t len = 0; len < f.envelope.size(); ++len) {
      bytes cut(f.envelope.begin(), f.envelope.begin() + len);
      auto v = verify_bytes(cut, f.attachment);
      std::string what = std::string(kind_name(out.kind)) + " cut to " +
                         std::to_string(len) + " of " +
                         std::to_string(f.envelope.size());
      // Only trailing alignment padding (< 8 bytes) may go unnoticed, and
      // then nothing of the content may be lost.
      if (len + 8 <= f.envelope.size() || v.msg == nullptr) {
        expect_malformed(v, what);
      } else {
        EXPECT_EQ(touch_everything(*v.msg), expected) << what;
      }
    }
  }
}

TEST(CodecReject, FlippedBytesNeverCrash) {
  std::size_t rejected = 0;
  std::size_t accepted = 0;
  volatile std::uint64_t sink = 0;
  for (const auto& out : corpus()) {
    auto f = to_frames(out);
    for (std::size_t pos = 0; pos < f.envelope.size(); ++pos) {
      for (std::uint8_t mask : {0x01, 0x10, 0x80, 0xFF}) {
        bytes mutated = f.envelope;
        mutated[pos] ^= mask;
        auto v = verify_bytes(mutated, f.attachment);
        if (v.msg) {
          ++accepted;
          EXPECT_EQ(v.why, rejection::none);
          sink = sink + touch_everything(*v.msg);
        } else {
          ++rejected;
          EXPECT_EQ(v.why, rejection::malformed);
          EXPECT_FALSE(v.error.empty());
        }
        // The file identifier is always checked.
        if (pos >= 4 && pos < 8) {
          EXPECT_EQ(v.msg, nullptr) << "identifier byte " << pos;
        }
      }
    }
  }
  EXPECT_GT(rejected, 0u);
  EXPECT_GT(accepted, 0u); // flips inside values or strings stay valid
}

TEST(CodecReject, RandomMutationsNeverCrash) {
  std::mt19937 rng(777);
  auto all = corpus();
  volatile std::uint64_t sink = 0;
  for (int i = 0; i < 20000; ++i) {
    const auto& out = all[rng() % all.size()];
    auto f = to_frames(out);
    int flips = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < flips; ++k)
      f.envelope[rng() % f.envelope.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0 && f.attachment && !f.attachment->empty())
      f.attachment->resize(rng() % f.attachment->size());
    auto v = verify_bytes(f.envelope, f.attachment);
    if (v.msg)
      sink = sink + touch_everything(*v.msg);
    else
      EXPECT_FALSE(v.error.empty());
  }
}

TEST(CodecReject, AttachedCountMismatch) {
  auto out = make_push(test_header(), 0, ramp(2000));
  auto f = to_frames(out);
  ASSERT_TRUE(f.attachment);
  for (long delta : {-4L, -1L, 1L, 4L, -8000L + 4}) {
    bytes att = *f.attachment;
    att.resize(static_cast<std::size_t>(static_cast<long>(att.size()) + delta));
    auto v = verify_bytes(f.envelope, att);
    expect_malformed(v, "attachment off by " + std::to_string(delta));
    EXPECT_NE(v.error.find("attached frame has"), std::string::npos) << v.error;
    EXPECT_NE(v.error.find("2000"), std::string::npos) << v.error;
  }
  auto empty = verify_bytes(f.envelope, bytes{});
  expect_malformed(empty, "empty attachment");
}

TEST(CodecReject, AttachmentMissing) {
  auto out = make_push(test_header(), 0, ramp(2000));
  auto v = verify_bytes(to_frames(out).envelope, std::nullopt);
  expect_malformed(v, "missing attachment");
  EXPECT_NE(v.error.find("missing"), std::string::npos) << v.error;
}

TEST(CodecReject, UnexpectedAttachment) {
  std::vector<outbound> outs;
  outs.push_back(make_push(test_header(), 0, ramp(5)));
  outs.push_back(make_clock(test_header()));
  for (const auto& out : outs) {
    bytes att(16, 0);
    auto v = verify_bytes(to_frames(out).envelope, att);
    expect_malformed(v, kind_name(out.kind));
    EXPECT_NE(v.error.find("unexpected"), std::string::npos) << v.error;
    // Even an empty extra frame is an unexpected attachment.
    expect_malformed(verify_bytes(to_frames(out).envelope, bytes{}),
                     kind_name(out.kind));
  }
}

TEST(CodecReject, BothInlineAndAttached) {
  envelope_builder b;
  std::vector<float> inline_values{1, 2, 3, 4};
  auto vals = b.fbb().CreateVector(inline_values);
  auto f_off = wire::CreateFloats(b.fbb(), 0, 0, vals, 4);
  auto body = wire::CreatePush(b.fbb(), f_off);
  auto out = b.finish(test_header(), wire::Body::Push, body.Union());
  auto v = verify_bytes(to_frames(out).envelope, bytes(16, 0));
  expect_malformed(v, "inline and attached");
  EXPECT_NE(v.error.find("both"), std::string::npos) << v.error;
}

TEST(CodecReject, SparseCountMismatch) {
  auto more_keys = make_sparse_push(test_header(), {1, 2, 3}, ramp(2));
  auto v = verify_outbound(more_keys);
  expect_malformed(v, "3 keys, 2 values");
  EXPECT_NE(v.error.find("3 keys"), std::string::npos) << v.error;
  EXPECT_NE(v.error.find("2 values"), std::string::npos) << v.error;

  auto more_values = make_sparse_push(test_header(), {1, 2}, ramp(3));
  expect_malformed(verify_outbound(more_values), "2 keys, 3 values");

  std::vector<std::uint64_t> keys(1500, 9);
  auto attached = make_sparse_push(test_header(), keys, ramp(2000));
  ASSERT_GT(attached.attachment.size, 0u);
  expect_malformed(verify_outbound(attached), "1500 keys, 2000 attached");

  envelope_builder b;
  std::vector<std::uint64_t> no_value_keys{4, 5};
  auto kv = b.fbb().CreateVector(no_value_keys);
  auto f_off = wire::CreateFloats(b.fbb(), 0, kv);
  auto body = wire::CreatePush(b.fbb(), f_off);
  auto out = b.finish(test_header(), wire::Body::Push, body.Union());
  expect_malformed(verify_outbound(out), "keys without values");
}

TEST(CodecReject, MissingHeaderBodyOrPayload) {
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto body = wire::CreateClock(fbb);
    auto env = wire::CreateEnvelope(fbb, 0, wire::Body::Clock, body.Union());
    wire::FinishEnvelopeBuffer(fbb, env);
    bytes buf(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    auto v = verify_bytes(buf, std::nullopt);
    expect_malformed(v, "no header");
    EXPECT_NE(v.error.find("header"), std::string::npos) << v.error;
  }
  {
    envelope_builder b;
    auto out = b.finish(test_header(), wire::Body::NONE, 0);
    auto v = verify_outbound(out);
    expect_malformed(v, "no body");
    EXPECT_NE(v.error.find("body"), std::string::npos) << v.error;
  }
  {
    envelope_builder b;
    auto out = b.finish(test_header(), wire::Body::Push, 0);
    expect_malformed(verify_outbound(out), "Push kind without body");
  }
  for (auto kind : {wire::Body::Push, wire::Body::PullReply}) {
    envelope_builder b;
    flatbuffers::Offset<void> body =
        kind == wire::Body::Push ? wire::CreatePush(b.fbb()).Union()
                                 : wire::CreatePullReply(b.fbb()).Union();
    auto out = b.finish(test_header(), kind, body);
    auto v = verify_outbound(out);
    expect_malformed(v, kind_name(kind));
    EXPECT_NE(v.error.find("payload"), std::string::npos) << v.error;
  }
}

TEST(CodecReject, Oversized) {
  auto small = make_push(test_header(), 0, ramp(10));
  auto size = small.envelope.size();
  auto v = verify_outbound(small, size - 1);
  EXPECT_EQ(v.msg, nullptr);
  EXPECT_EQ(v.why, rejection::oversized);
  EXPECT_NE(v.error.find(std::to_string(size)), std::string::npos) << v.error;
  EXPECT_NE(v.error.find("limit"), std::string::npos) << v.error;
  // Exactly at the limit is fine.
  auto ok = verify_outbound(small, size);
  EXPECT_NE(ok.msg, nullptr) << ok.error;

  // The attached frame counts towards the limit.
  auto large = make_push(test_header(), 0, ramp(4096));
  auto env_size = large.envelope.size();
  auto total = large.wire_bytes();
  auto over = verify_outbound(large, total - 1);
  EXPECT_EQ(over.why, rejection::oversized);
  EXPECT_EQ(over.msg, nullptr);
  EXPECT_EQ(verify_outbound(large, env_size + 100).why, rejection::oversized);
  EXPECT_NE(verify_outbound(large, total).msg, nullptr);

  // Oversized garbage is reported as oversized (checked before parsing).
  auto junk = verify_bytes(bytes(1000, 0xAB), std::nullopt, 999);
  EXPECT_EQ(junk.why, rejection::oversized);
}

// A kind this build does not know (a newer peer's) cannot be verified, so
// it is rejected with a message naming the kind.
TEST(CodecReject, UnknownKindIsRejected) {
  envelope_builder b;
  auto body = wire::CreateClock(b.fbb());
  auto out =
      b.finish(test_header(), static_cast<wire::Body>(200), body.Union());
  auto v = verify_outbound(out);
  EXPECT_EQ(v.msg, nullptr);
  EXPECT_EQ(v.why, rejection::malformed);
  EXPECT_NE(v.error.find("unknown message kind 200"), std::string::npos)
      << v.error;
}

} // namespace
} // namespace metronome::messages::test

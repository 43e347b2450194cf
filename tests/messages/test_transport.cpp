// Two live transports over real sockets: delivery, what a hostile peer can
// send, flow control, liveness and shutdown.

#include "message_test_util.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace metronome::messages::test {
namespace {

using namespace std::chrono_literals;

const std::string actor_b = "server/0";
const std::string actor_a = "worker/0";

// Quiet the expected warnings about dropped messages.
class quiet_logs : public ::testing::Environment {
public:
  void SetUp() override { spdlog::set_level(spdlog::level::err); }
};
[[maybe_unused]] auto* const quiet =
    ::testing::AddGlobalTestEnvironment(new quiet_logs);

/// Runs `fn` and fails (ending the process, since a hung thread cannot be
/// cancelled) when it does not return within the deadline.
void finishes_in_time(const std::function<void()>& fn, const char* what) {
  std::packaged_task<void()> task(fn);
  auto done = task.get_future();
  std::thread worker(std::move(task));
  if (done.wait_for(deadline) != std::future_status::ready) {
    std::cerr << what << " did not finish within " << deadline.count()
              << " s\n";
    std::_Exit(1);
  }
  worker.join();
  done.get();
}

/// A pair of nodes "a" and "b", each declaring the other as a peer.
struct node_pair {
  static inline int intruders = 0;
  zmq::context_t& ctx;
  transport_options a_opts;
  transport_options b_opts;
  recorder a_rec{{actor_a}};
  recorder b_rec{{actor_b}};
  std::unique_ptr<transport> a;
  std::unique_ptr<transport> b;

  node_pair(zmq::context_t& c, const std::string& a_ep, const std::string& b_ep)
      : ctx(c) {
    a_opts.node = "a";
    a_opts.bind = {a_ep};
    b_opts.node = "b";
    b_opts.bind = {b_ep};
  }

  static std::unique_ptr<node_pair> tcp(zmq::context_t& c) {
    auto ports = free_tcp_ports(2);
    return std::make_unique<node_pair>(c, tcp_endpoint(ports[0]),
                                       tcp_endpoint(ports[1]));
  }

  void create() {
    a = std::make_unique<transport>(ctx, a_opts);
    b = std::make_unique<transport>(ctx, b_opts);
    a->add_peer("b", b_opts.bind.front());
    b->add_peer("a", a_opts.bind.front());
    // A declared node that misbehaves: hostile-frame tests send as it.
    b->add_peer("intruder", "inproc://metronome-test-intruder-" +
                                std::to_string(++intruders));
  }

  void start(transport::peer_fn a_peer = {}, transport::peer_fn b_peer = {}) {
    create();
    a->start(a_rec.callback(), std::move(a_peer));
    b->start(b_rec.callback(), std::move(b_peer));
  }

  ~node_pair() {
    if (a)
      a->stop(0ms);
    if (b)
      b->stop(0ms);
  }
};

/// A DEALER that connects to `endpoint` as the declared node "intruder".
zmq::socket_t connect_intruder(zmq::context_t& ctx,
                               const std::string& endpoint) {
  zmq::socket_t intruder(ctx, zmq::socket_type::dealer);
  intruder.set(zmq::sockopt::linger, 0);
  intruder.set(zmq::sockopt::routing_id, "intruder");
  intruder.connect(endpoint);
  return intruder;
}

outbound push_to(const std::string& dest, std::uint64_t seq, std::size_t n = 4,
                 const std::string& source = actor_a) {
  return make_push(make_header(source, dest, seq, 1, 2), seq,
                   ramp(n, static_cast<float>(seq)));
}

/// Waits for `n` pushes sent as push_to(actor_b, i, 1 + i % 8) and checks
/// that they arrived whole and in order.
void expect_ramp_of_pushes(recorder& rec, std::size_t n) {
  ASSERT_TRUE(rec.wait_for_count(n))
      << "received " << rec.count() << " of " << n;
  auto got = rec.messages();
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i) {
    ASSERT_EQ(got[i].seq, i);
    ASSERT_EQ(got[i].values.size(), 1 + i % 8);
  }
}

TEST(TransportLive, DeliversOverTcp) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  p->a->send("b", push_to(actor_b, 1));
  p->b->send("a", push_to(actor_a, 2, 3, actor_b));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  ASSERT_TRUE(p->a_rec.wait_for_count(1));
  auto at_b = p->b_rec.messages().front();
  EXPECT_EQ(at_b.sender, "a");
  EXPECT_EQ(at_b.source, actor_a);
  EXPECT_EQ(at_b.destination, actor_b);
  EXPECT_EQ(at_b.seq, 1u);
  EXPECT_EQ(at_b.clock, 1);
  EXPECT_EQ(at_b.table_id, 2u);
  EXPECT_EQ(at_b.kind, wire::Body::Push);
  EXPECT_EQ(at_b.offset, 1u);
  EXPECT_EQ(at_b.values, ramp(4, 1.0f));
  auto at_a = p->a_rec.messages().front();
  EXPECT_EQ(at_a.sender, "b");
  EXPECT_EQ(at_a.values, ramp(3, 2.0f));
  EXPECT_GE(p->a->counters().frames_out.load(), 1u);
  EXPECT_GE(p->b->counters().frames_in.load(), 1u);
  EXPECT_EQ(p->b->counters().dropped(), 0u);
}

TEST(TransportLive, LargeAndSparseMessagesArriveIntact) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  auto big = ramp(100000, -3.0f);
  p->a->send("b", make_push(make_header(actor_a, actor_b, 1), 5, big));
  std::vector<std::uint64_t> keys{2, 4, 8, 16};
  p->a->send("b",
             make_sparse_push(make_header(actor_a, actor_b, 2), keys, ramp(4)));
  ASSERT_TRUE(p->b_rec.wait_for_count(2));
  auto got = p->b_rec.messages();
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[0].offset, 5u);
  EXPECT_EQ(got[0].values, big);
  EXPECT_EQ(got[1].keys, keys);
  EXPECT_EQ(got[1].values, ramp(4));
}

TEST(TransportLive, ManyMessagesArriveInOrder) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->a_opts.window_messages = 16;
  p->b_opts.window_messages = 16;
  p->start();
  constexpr std::size_t n = 2000;
  std::thread sender([&] {
    for (std::size_t i = 0; i < n; ++i)
      p->a->send("b", push_to(actor_b, i, 1 + i % 8));
  });
  sender.join();
  expect_ramp_of_pushes(p->b_rec, n);
}

// A node started before its peer queues what it sends until the peer comes.
TEST(TransportLive, SendBeforePeerStarts) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->create();
  p->a->start(p->a_rec.callback());
  for (std::uint64_t i = 0; i < 5; ++i)
    p->a->send("b", push_to(actor_b, i));
  std::this_thread::sleep_for(50ms);
  p->b->start(p->b_rec.callback());
  ASSERT_TRUE(p->b_rec.wait_for_count(5));
  auto got = p->b_rec.messages();
  for (std::uint64_t i = 0; i < 5; ++i)
    EXPECT_EQ(got[i].seq, i);
}

struct counter_snapshot {
  std::uint64_t malformed, oversized, misaddressed, unroutable;
  explicit counter_snapshot(const transport& t)
      : malformed(t.counters().dropped_malformed)
      , oversized(t.counters().dropped_oversized)
      , misaddressed(t.counters().dropped_misaddressed)
      , unroutable(t.counters().dropped_unroutable) {}
};

TEST(TransportLive, HostilePeerIsCountedAndNodeKeepsServing) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->b_opts.max_message_bytes = 64 * 1024;
  p->start();
  // The pair works before the intruder shows up.
  p->a->send("b", push_to(actor_b, 0));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  counter_snapshot before(*p->b);
  auto frames_before = p->b->counters().frames_in.load();

  auto intruder = connect_intruder(ctx, p->b_opts.bind.front());

  std::mt19937 rng(99);
  std::size_t malformed = 0;
  for (int i = 0; i < 5; ++i) { // garbage
    bytes junk(1 + rng() % 300);
    for (auto& c : junk)
      c = static_cast<std::uint8_t>(rng());
    send_frames(intruder, {junk});
    ++malformed;
  }
  auto valid = to_frames(push_to(actor_b, 1, 16, "intruder/0")).envelope;
  for (std::size_t len : {std::size_t{0}, std::size_t{7}, valid.size() / 2,
                          valid.size() - 9}) { // truncated envelopes
    send_frames(intruder, {bytes(valid.begin(), valid.begin() + len)});
    ++malformed;
  }
  send_frames(intruder, {valid, bytes(8), bytes(8), bytes(8)}); // 4 frames
  ++malformed;
  send_frames(intruder, {valid, bytes(12)}); // unexpected attachment
  ++malformed;
  auto large = push_to(actor_b, 2, 2000, "intruder/0");
  auto large_parts = wire_parts(large);
  ASSERT_EQ(large_parts.size(), 2u);
  send_frames(intruder, {large_parts[0]}); // attachment missing
  ++malformed;
  // Each frame within b's 64 KiB limit (the attachment exactly at it), the
  // message over it: received, then dropped as oversized.
  auto huge = wire_parts(push_to(actor_b, 3, 16384, "intruder/0"));
  ASSERT_EQ(huge.size(), 2u);
  send_frames(intruder, huge);
  // Valid, but for an actor b does not host, and an actor message without
  // destination.
  send_frames(intruder, wire_parts(push_to("ghost/7", 4, 4, "intruder/0")));
  send_frames(intruder, wire_parts(push_to("", 5, 4, "intruder/0")));
  // Finally a valid message: once it is delivered, everything sent before it
  // on this connection has been handled.
  send_frames(intruder, wire_parts(push_to(actor_b, 6, 4, "intruder/0")));

  ASSERT_TRUE(p->b_rec.wait_for_count(2))
      << "b stopped delivering after the intruder's messages";
  auto sentinel = p->b_rec.messages().back();
  EXPECT_EQ(sentinel.sender, "intruder");
  EXPECT_EQ(sentinel.seq, 6u);

  const auto& c = p->b->counters();
  EXPECT_EQ(c.dropped_malformed - before.malformed, malformed);
  EXPECT_EQ(c.dropped_oversized - before.oversized, 1u);
  EXPECT_EQ(c.dropped_misaddressed - before.misaddressed, 2u);
  EXPECT_EQ(c.dropped_unroutable - before.unroutable, 0u);
  // a's heartbeats and credits arrive meanwhile, so at least.
  EXPECT_GE(c.frames_in - frames_before, malformed + 4);

  // b keeps serving its real peer, in both directions.
  for (std::uint64_t i = 10; i < 20; ++i)
    p->a->send("b", push_to(actor_b, i));
  ASSERT_TRUE(p->b_rec.wait_for_count(12));
  auto got = p->b_rec.messages();
  for (std::uint64_t i = 10; i < 20; ++i)
    EXPECT_EQ(got[i - 8].seq, i);
  p->b->send("a", push_to(actor_a, 77, 4, actor_b));
  ASSERT_TRUE(p->a_rec.wait_for_count(1));
  EXPECT_EQ(p->a_rec.messages().front().seq, 77u);
  EXPECT_EQ(p->a->counters().dropped(), 0u);
}

// Messages queued behind a full window leave as bundles once credit
// returns: fewer frames than messages, every message in order.
TEST(TransportFlow, QueuedSmallMessagesTravelInBundles) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->a_opts.window_messages = 64;
  p->b_opts.window_messages = 64;
  p->b_rec.hold(true);
  p->start();
  constexpr std::size_t n = 1000;
  for (std::size_t i = 0; i < n; ++i)
    p->a->send("b", push_to(actor_b, i, 1 + i % 8));
  ASSERT_TRUE(p->b_rec.wait_for_count(64));
  auto frames_before = p->b->counters().frames_in.load();
  p->b_rec.hold(false);
  p->b_rec.release();
  expect_ramp_of_pushes(p->b_rec, n);
  // Credit, heartbeats and the pushes, over the pushes' count: bundled.
  EXPECT_LT(p->b->counters().frames_in - frames_before, (n - 64) / 2);
}

// A peer's bundle is split and each envelope in it checked on its own: the
// bad one is dropped and counted, its neighbours delivered.
TEST(TransportLive, BundledEnvelopesAreCheckedOneByOne) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  auto intruder = connect_intruder(ctx, p->b_opts.bind.front());
  auto env = [](std::uint64_t seq) {
    return to_frames(push_to(actor_b, seq, 4, "intruder/0")).envelope;
  };
  bytes garbage(40, 0xab);
  bundle::writer w;
  for (const auto& e : {env(1), garbage, env(2)})
    w.add(e.data(), e.size());
  send_frames(intruder, {w.bytes()});
  auto broken = w.bytes();
  broken.pop_back();
  send_frames(intruder, {broken});
  send_frames(intruder, wire_parts(push_to(actor_b, 3, 4, "intruder/0")));
  ASSERT_TRUE(p->b_rec.wait_for_count(3));
  auto got = p->b_rec.messages();
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[1].seq, 2u);
  EXPECT_EQ(got[2].seq, 3u);
  EXPECT_EQ(p->b->counters().dropped_malformed.load(), 2u);
}

// A frame over the limit is refused by ZeroMQ itself (it drops the
// connection); the node must go on serving its peers.
TEST(TransportLive, FrameFarOverLimitDoesNotStopNode) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->b_opts.max_message_bytes = 64 * 1024;
  p->start();
  auto intruder = connect_intruder(ctx, p->b_opts.bind.front());
  send_frames(intruder, {bytes(512 * 1024, 0x5A)});
  send_frames(intruder, wire_parts(push_to(actor_b, 1, 4, "intruder/0")));
  for (std::uint64_t i = 2; i < 12; ++i)
    p->a->send("b", push_to(actor_b, i));
  ASSERT_TRUE(wait_until([&] {
    auto got = p->b_rec.messages();
    return std::count_if(got.begin(), got.end(), [](const received& r) {
             return r.sender == "a";
           }) == 10;
  }));
  EXPECT_EQ(p->b->counters().dropped_malformed.load(), 0u);
  EXPECT_EQ(p->a->counters().dropped(), 0u);
}

// Frames from a routing id no topology declares are dropped before anything
// reads them.
TEST(TransportLive, UndeclaredSenderIsDroppedAndCounted) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  zmq::socket_t stranger(ctx, zmq::socket_type::dealer);
  stranger.set(zmq::sockopt::linger, 0);
  stranger.set(zmq::sockopt::routing_id, "stranger");
  stranger.connect(p->b_opts.bind.front());
  send_frames(stranger, wire_parts(push_to(actor_b, 1, 4, "stranger/0")));
  send_frames(stranger, {bytes(64, 0x11)});
  ASSERT_TRUE(wait_until(
      [&] { return p->b->counters().dropped_unknown_sender.load() == 2; }));
  p->a->send("b", push_to(actor_b, 2));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  EXPECT_EQ(p->b_rec.messages().front().sender, "a");
  EXPECT_EQ(p->b->counters().dropped_malformed.load(), 0u);
}

TEST(TransportLive, MisaddressedFromPeerIsCounted) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  p->a->send("b", push_to("ghost/1", 1));
  p->a->send("b", push_to(actor_b, 2));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  EXPECT_EQ(p->b->counters().dropped_misaddressed.load(), 1u);
  EXPECT_EQ(p->b_rec.messages().front().seq, 2u);
}

TEST(TransportLive, UnknownPeerIsUnroutable) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  p->a->send("nobody", push_to(actor_b, 1));
  p->a->send("nobody", push_to(actor_b, 2));
  ASSERT_TRUE(wait_until(
      [&] { return p->a->counters().dropped_unroutable.load() == 2; }));
  p->a->send("b", push_to(actor_b, 3));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  EXPECT_EQ(p->b_rec.messages().front().seq, 3u);
  EXPECT_EQ(p->a->counters().dropped_unroutable.load(), 2u);
}

TEST(TransportInproc, DeliversOnSharedContext) {
  zmq::context_t ctx;
  node_pair p(ctx, "inproc://metronome-test-a", "inproc://metronome-test-b");
  p.start();
  for (std::uint64_t i = 0; i < 50; ++i)
    p.a->send("b", push_to(actor_b, i, 1 + i));
  p.b->send("a", push_to(actor_a, 1000, 2000, actor_b));
  ASSERT_TRUE(p.b_rec.wait_for_count(50));
  ASSERT_TRUE(p.a_rec.wait_for_count(1));
  auto got = p.b_rec.messages();
  for (std::uint64_t i = 0; i < 50; ++i) {
    EXPECT_EQ(got[i].seq, i);
    EXPECT_EQ(got[i].values, ramp(1 + i, static_cast<float>(i)));
  }
  EXPECT_EQ(p.a_rec.messages().front().values, ramp(2000, 1000.0f));
}

TEST(TransportInproc, BindFailureThrowsWithEndpoint) {
  zmq::context_t ctx;
  transport_options o1;
  o1.node = "one";
  o1.bind = {"inproc://metronome-test-taken"};
  transport first(ctx, o1);
  first.start([](inbound_ptr) { return transport::delivery::unknown_actor; });
  transport_options o2 = o1;
  o2.node = "two";
  transport second(ctx, o2);
  try {
    second.start(
        [](inbound_ptr) { return transport::delivery::unknown_actor; });
    ADD_FAILURE() << "binding a taken endpoint did not throw";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("inproc://metronome-test-taken"),
              std::string::npos)
        << e.what();
  }
  finishes_in_time([&] { second.stop(0ms); }, "stop after failed start");
}

// Sends `n` messages a->b while b's actors hold on to every message; the
// sender may have at most its window in flight.
TEST(TransportFlow, MessageWindowLimitsUnconsumedMessages) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->a_opts.window_messages = 8;
  p->a_opts.heartbeat_interval = 20ms;
  p->b_opts.heartbeat_interval = 20ms;
  p->b_rec.hold(true);
  p->start();
  constexpr std::size_t n = 100;
  for (std::size_t i = 0; i < n; ++i)
    p->a->send("b", push_to(actor_b, i));
  ASSERT_TRUE(p->b_rec.wait_for_count(8));
  // Give a plenty of heartbeat rounds to (wrongly) send more; the count
  // only grows, so stop looking once it is over.
  wait_until([&] { return p->b_rec.count() > 8; }, 500ms);
  EXPECT_EQ(p->b_rec.count(), 8u)
      << "more than window_messages were delivered while none was consumed";
  EXPECT_GT(p->a->counters().credit_stalls.load(), 0u);

  p->b_rec.hold(false);
  p->b_rec.release();
  ASSERT_TRUE(p->b_rec.wait_for_count(n))
      << "received " << p->b_rec.count() << " of " << n;
  auto got = p->b_rec.messages();
  ASSERT_EQ(got.size(), n);
  for (std::size_t i = 0; i < n; ++i)
    EXPECT_EQ(got[i].seq, i);
}

TEST(TransportFlow, ByteWindowLimitsUnconsumedBytes) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->a_opts.window_bytes = 64 * 1024; // one 40 KB message at a time
  p->a_opts.heartbeat_interval = 20ms;
  p->b_opts.heartbeat_interval = 20ms;
  p->b_rec.hold(true);
  p->start();
  for (std::uint64_t i = 0; i < 10; ++i)
    p->a->send("b", push_to(actor_b, i, 10000));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  wait_until([&] { return p->b_rec.count() > 1; }, 500ms);
  EXPECT_EQ(p->b_rec.count(), 1u)
      << "more than window_bytes were delivered while none was consumed";
  p->b_rec.hold(false);
  p->b_rec.release();
  ASSERT_TRUE(p->b_rec.wait_for_count(10));
  auto got = p->b_rec.messages();
  for (std::uint64_t i = 0; i < 10; ++i)
    EXPECT_EQ(got[i].seq, i);
}

// A message larger than the byte window still goes out when nothing is in
// flight, so flow control cannot deadlock.
TEST(TransportFlow, MessageLargerThanWindowIsNotStuck) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->a_opts.window_bytes = 1024;
  p->a_opts.heartbeat_interval = 20ms;
  p->b_opts.heartbeat_interval = 20ms;
  p->start();
  for (std::uint64_t i = 0; i < 5; ++i)
    p->a->send("b", push_to(actor_b, i, 10000));
  ASSERT_TRUE(p->b_rec.wait_for_count(5));
  auto got = p->b_rec.messages();
  for (std::uint64_t i = 0; i < 5; ++i)
    EXPECT_EQ(got[i].seq, i);
}

TEST(TransportPeers, HeartbeatsTrackLiveness) {
  zmq::context_t ctx;
  // Declared before the nodes: a's thread reports into them until it stops.
  std::mutex mtx;
  std::vector<peer_state> seen; // a's view of b, in order
  auto p = node_pair::tcp(ctx);
  for (auto* o : {&p->a_opts, &p->b_opts}) {
    o->heartbeat_interval = 20ms;
    o->suspect_after = 5;
    o->dead_after = 25;
  }
  p->create();
  EXPECT_EQ(p->a->peer_states().at("b"), peer_state::waiting);
  p->a->start(p->a_rec.callback(), [&](const std::string& name, peer_state s) {
    std::lock_guard<std::mutex> guard{mtx};
    if (name == "b")
      seen.push_back(s);
  });
  p->b->start(p->b_rec.callback());
  ASSERT_TRUE(wait_until(
      [&] { return p->a->peer_states().at("b") == peer_state::alive; }));
  ASSERT_TRUE(wait_until(
      [&] { return p->b->peer_states().at("a") == peer_state::alive; }));
  // b's heartbeats carry its traffic counters; later ones count earlier
  // frames b sent.
  ASSERT_TRUE(wait_until([&] {
    auto reports = p->a->peer_traffic_reports();
    auto i = reports.find("b");
    return i != reports.end() && i->second.frames_out > 0 &&
           i->second.frames_in > 0;
  }));
  EXPECT_EQ(p->a->peer_traffic_reports().count("a"), 0u);

  std::size_t mark;
  {
    std::lock_guard<std::mutex> guard{mtx};
    mark = seen.size();
  }
  p->b->stop(0ms);
  ASSERT_TRUE(wait_until(
      [&] { return p->a->peer_states().at("b") == peer_state::dead; }));
  std::lock_guard<std::mutex> guard{mtx};
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front(), peer_state::alive);
  std::vector<peer_state> after(seen.begin() + mark, seen.end());
  auto suspect = std::find(after.begin(), after.end(), peer_state::suspect);
  ASSERT_NE(suspect, after.end()) << "b was never reported suspect";
  EXPECT_NE(std::find(suspect, after.end(), peer_state::dead), after.end());
  EXPECT_EQ(seen.back(), peer_state::dead);
}

// Traffic for a peer declared dead is dropped and counted; when the peer
// comes back (same name and endpoint) it is alive and served again.
TEST(TransportPeers, DeadPeerTrafficIsDroppedUntilItReturns) {
  zmq::context_t ctx;
  recorder again{{actor_b}}; // the returning b's; outlives the nodes
  auto p = node_pair::tcp(ctx);
  for (auto* o : {&p->a_opts, &p->b_opts}) {
    o->heartbeat_interval = 20ms;
    o->suspect_after = 5;
    o->dead_after = 10;
  }
  p->start();
  ASSERT_TRUE(wait_until(
      [&] { return p->a->peer_states().at("b") == peer_state::alive; }));
  p->b->stop(0ms);
  p->b.reset();
  ASSERT_TRUE(wait_until(
      [&] { return p->a->peer_states().at("b") == peer_state::dead; }));
  auto before = p->a->counters().dropped_unroutable.load();
  p->a->send("b", push_to(actor_b, 1));
  p->a->send("b", push_to(actor_b, 2));
  EXPECT_TRUE(wait_until([&] {
    return p->a->counters().dropped_unroutable.load() == before + 2;
  })) << "dropped_unroutable went from "
      << before << " to " << p->a->counters().dropped_unroutable.load();

  p->b = std::make_unique<transport>(ctx, p->b_opts);
  p->b->add_peer("a", p->a_opts.bind.front());
  p->b->start(again.callback());
  ASSERT_TRUE(wait_until(
      [&] { return p->a->peer_states().at("b") == peer_state::alive; }));
  p->a->send("b", push_to(actor_b, 3));
  ASSERT_TRUE(again.wait_for_count(1));
  auto got = again.messages();
  EXPECT_EQ(got.back().seq, 3u);
  for (const auto& r : got)
    EXPECT_NE(r.seq, 1u) << "a message sent while b was dead was delivered";
  p->b->stop(0ms);
}

TEST(TransportPeers, StateNames) {
  EXPECT_STREQ(to_string(peer_state::waiting), "waiting");
  EXPECT_STREQ(to_string(peer_state::alive), "alive");
  EXPECT_STREQ(to_string(peer_state::suspect), "suspect");
  EXPECT_STREQ(to_string(peer_state::dead), "dead");
}

TEST(TransportStop, StopIsIdempotent) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  p->a->send("b", push_to(actor_b, 1));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  finishes_in_time(
      [&] {
        p->a->stop(100ms);
        p->a->stop(100ms);
        p->a->stop(0ms);
      },
      "repeated stop()");
  // Sending to a stopped transport neither crashes nor blocks.
  p->a->send("b", push_to(actor_b, 2));
  finishes_in_time([&] { p->a.reset(); }, "destroying a stopped transport");
  // Destroying a running transport stops it.
  finishes_in_time([&] { p->b.reset(); }, "destroying a running transport");
}

TEST(TransportStop, NeverStartedTransport) {
  zmq::context_t ctx;
  finishes_in_time(
      [&] {
        transport_options o;
        o.node = "idle";
        o.bind = {tcp_endpoint(free_tcp_ports(1)[0])};
        transport t(ctx, o);
        t.add_peer("other", "tcp://127.0.0.1:1");
        EXPECT_EQ(t.peer_states().at("other"), peer_state::waiting);
        t.send("other", push_to(actor_b, 1));
      },
      "destroying a never-started transport");
  finishes_in_time(
      [&] {
        transport_options o;
        o.node = "idle2";
        transport t(ctx, o);
        t.stop();
        t.stop(0ms);
      },
      "stop() on a never-started transport");
}

TEST(TransportStop, StopDeliversQueuedMessages) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->start();
  for (std::uint64_t i = 0; i < 20; ++i)
    p->a->send("b", push_to(actor_b, i, 3000));
  p->a->stop(5s);
  ASSERT_TRUE(p->b_rec.wait_for_count(20))
      << "received " << p->b_rec.count() << " of 20";
}

// A message held by an actor may outlive its transport.
TEST(TransportStop, MessageOutlivesTransport) {
  zmq::context_t ctx;
  auto p = node_pair::tcp(ctx);
  p->b_rec.hold(true);
  p->start();
  p->a->send("b", push_to(actor_b, 1, 2000));
  ASSERT_TRUE(p->b_rec.wait_for_count(1));
  auto kept = p->b_rec.take_last_held();
  ASSERT_NE(kept, nullptr);
  p->a.reset();
  p->b.reset();
  const auto* f = kept->envelope().body_as_Push()->payload();
  EXPECT_EQ(to_vector(kept->values(*f)), ramp(2000, 1.0f));
  kept.reset(); // returns credit to a consumption record, must not crash
}

} // namespace
} // namespace metronome::messages::test

// What a node binds, how large a frame ZeroMQ reads for it, and how many
// inbound connections it keeps: over real tcp sockets.

#include "message_test_util.hpp"
#include "tests/messages/log_capture.hpp"
#include "tests/support.hpp"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>
#include <zmq_addon.hpp>

#include <sys/time.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace metronome::messages::test {
namespace {

using namespace std::chrono_literals;
using metronome::test::log_capture;

const std::string actor_b = "server/0";
const std::string actor_a = "worker/0";

// A plain tcp client socket; closed on destruction.
struct raw_client {
  int fd = -1;
  int error = 0; ///< errno of connect, 0 when connected

  raw_client(const std::string& address, std::uint16_t port) {
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
      throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    // A safety net only: a read that waits this long fails the test.
    timeval tv{static_cast<time_t>(deadline.count()), 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
      error = errno;
  }
  ~raw_client() {
    if (fd >= 0)
      ::close(fd);
  }
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;

  /// Reads until the server ends the connection: true when it did (end of
  /// stream or reset), false when the read timed out.
  bool closed_by_server() const {
    char buf[256];
    for (;;) {
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n == 0 || (n < 0 && errno == ECONNRESET))
        return true;
      if (n < 0 && errno != EINTR)
        return false;
    }
  }
};

outbound push_to(const std::string& dest, std::uint64_t seq,
                 const std::string& source = actor_a, std::size_t n = 4) {
  return make_push(make_header(source, dest, seq, 1, 2), seq,
                   ramp(n, static_cast<float>(seq)));
}

// Sends valid pushes from `s` (as node `as`) until `rec` got one: a
// reconnecting DEALER may lose what it wrote into the closed connection.
bool reaches(zmq::socket_t& s, recorder& rec, const std::string& as) {
  std::uint64_t seq = 1000;
  auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    send_frames(s, wire_parts(push_to(actor_b, ++seq, as + "/0")));
    if (wait_until(
            [&] {
              for (const auto& r : rec.messages())
                if (r.sender == as)
                  return true;
              return false;
            },
            200ms))
      return true;
  }
  return false;
}

TEST(TransportBind, LoopbackHostsBindTheLoopbackAddress) {
  EXPECT_EQ(bind_address("localhost"), "127.0.0.1");
  EXPECT_EQ(bind_address("127.1"), "127.0.0.1");
  EXPECT_EQ(bind_address("127.0.0.1"), "127.0.0.1");
  EXPECT_EQ(bind_address("127.0.1.1"), "127.0.1.1");
  EXPECT_EQ(bind_address("10.1.2.3"), "10.1.2.3");
  EXPECT_EQ(bind_address("0.0.0.0"), "0.0.0.0");
  EXPECT_EQ(bind_address("::1"), "[::1]");
  EXPECT_EQ(bind_address("no-such-host.invalid"), "*");
  EXPECT_EQ(tcp_bind_endpoint("localhost", 7000), "tcp://127.0.0.1:7000");
  EXPECT_EQ(tcp_bind_endpoint("127.1", 7001), "tcp://127.0.0.1:7001");
}

// A node on localhost or 127.1 listens on 127.0.0.1 only, says so in one
// line, and its port is closed on the machine's other addresses.
TEST(TransportBind, LoopbackNodeListensOnLoopbackOnly) {
  zmq::context_t ctx;
  auto other = metronome::test::own_address();
  for (const std::string host : {"localhost", "127.1"}) {
    SCOPED_TRACE(host);
    auto port = free_tcp_ports(1)[0];
    auto expected = "tcp://127.0.0.1:" + std::to_string(port);
    transport_options o;
    o.node = "n";
    o.bind = {tcp_bind_endpoint(host, port)};
    transport t(ctx, o);
    {
      log_capture logs;
      t.start([](inbound_ptr) { return transport::delivery::unknown_actor; });
      EXPECT_EQ(logs.matching("binds").size(), 1u);
      EXPECT_EQ(logs.matching("n: binds " + expected).size(), 1u);
    }
    EXPECT_EQ(t.bound_endpoints(), std::vector<std::string>{expected});
    raw_client local("127.0.0.1", port);
    EXPECT_EQ(local.error, 0) << std::strerror(local.error);
    if (other.empty()) {
      std::cout << "no non-loopback IPv4 address here; not probing one\n";
    } else {
      raw_client outside(other, port);
      EXPECT_EQ(outside.error, ECONNREFUSED)
          << other << ":" << port << ": " << std::strerror(outside.error);
    }
    t.stop(0ms);
  }
}

struct pair_of_nodes {
  zmq::context_t& ctx;
  transport_options a_opts;
  transport_options b_opts;
  recorder a_rec{{actor_a}};
  recorder b_rec{{actor_b}};
  std::unique_ptr<transport> a;
  std::unique_ptr<transport> b;

  explicit pair_of_nodes(zmq::context_t& c)
      : ctx(c) {
    auto ports = free_tcp_ports(2);
    a_opts.node = "a";
    a_opts.bind = {tcp_endpoint(ports[0])};
    b_opts.node = "b";
    b_opts.bind = {tcp_endpoint(ports[1])};
  }

  void start() {
    a = std::make_unique<transport>(ctx, a_opts);
    b = std::make_unique<transport>(ctx, b_opts);
    a->add_peer("b", b_opts.bind.front());
    b->add_peer("a", a_opts.bind.front());
    b->add_peer("intruder", "inproc://metronome-limits-intruder");
    a->start(a_rec.callback());
    b->start(b_rec.callback());
  }

  std::uint16_t b_port() const {
    return static_cast<std::uint16_t>(std::stoi(
        b_opts.bind.front().substr(b_opts.bind.front().rfind(':') + 1)));
  }

  ~pair_of_nodes() {
    if (a)
      a->stop(0ms);
    if (b)
      b->stop(0ms);
  }
};

// ZMQ_MAXMSGSIZE is the message limit: ZeroMQ refuses a frame one byte over
// it before reading it (it closes that connection), the node keeps serving,
// and the peer's next messages, after it reconnected, arrive.
TEST(TransportLimits, FrameOverLimitClosesOnlyThatConnection) {
  zmq::context_t ctx;
  pair_of_nodes p(ctx);
  p.b_opts.max_message_bytes = 64 * 1024;
  p.start();
  p.a->send("b", push_to(actor_b, 1));
  ASSERT_TRUE(p.b_rec.wait_for_count(1));

  zmq::socket_t intruder(ctx, zmq::socket_type::dealer);
  intruder.set(zmq::sockopt::linger, 0);
  intruder.set(zmq::sockopt::routing_id, "intruder");
  intruder.connect(p.b_opts.bind.front());
  ASSERT_TRUE(reaches(intruder, p.b_rec, "intruder"));
  const auto& c = p.b->counters();
  auto closed = c.connections_closed.load();
  auto bytes_in = c.bytes_in.load();

  send_frames(intruder, {bytes(64 * 1024 + 1, 0x5A)});
  ASSERT_TRUE(wait_until([&] { return c.connections_closed > closed; }))
      << "ZeroMQ did not close the connection of the oversized frame";
  // Nothing of it was received: not counted as a frame, no bytes, no drop.
  EXPECT_LT(c.bytes_in - bytes_in, 64u * 1024);
  EXPECT_EQ(c.dropped_oversized.load(), 0u);
  EXPECT_EQ(c.dropped_malformed.load(), 0u);

  auto got_before = p.b_rec.count();
  EXPECT_TRUE(reaches(intruder, p.b_rec, "intruder"));
  for (std::uint64_t i = 2; i < 12; ++i)
    p.a->send("b", push_to(actor_b, i));
  ASSERT_TRUE(p.b_rec.wait_for_count(got_before + 10));
  EXPECT_EQ(p.a->counters().dropped(), 0u);
}

// Accepted connections beyond max_connections are closed by the node at
// once (one log line); older connections, and new ones once the count is
// down again, are served.
TEST(TransportLimits, ConnectionsOverTheCapAreRefused) {
  log_capture logs; // outlives the transports, which may log until stopped
  zmq::context_t ctx;
  pair_of_nodes p(ctx);
  p.b_opts.max_connections = 3;
  p.start();
  p.a->send("b", push_to(actor_b, 1));
  ASSERT_TRUE(p.b_rec.wait_for_count(1));
  const auto& c = p.b->counters();
  ASSERT_EQ(c.connections_accepted.load(), 1u); // a's

  std::vector<std::unique_ptr<raw_client>> clients;
  for (std::uint64_t i = 0; i < 6; ++i) {
    clients.push_back(std::make_unique<raw_client>("127.0.0.1", p.b_port()));
    ASSERT_EQ(clients.back()->error, 0);
    // One at a time, so b accepts them in this order.
    ASSERT_TRUE(wait_until([&] { return c.connections_accepted == 2 + i; }));
  }
  ASSERT_TRUE(wait_until([&] { return c.connections_refused == 4; }))
      << c.connections_refused.load() << " refused";
  for (std::size_t i = 2; i < clients.size(); ++i)
    EXPECT_TRUE(clients[i]->closed_by_server()) << "client " << i;
  auto lines = logs.matching("refused");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("b: inbound connection from 127.0.0.1:"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find("more than 3 connections are open"),
            std::string::npos)
      << lines[0];

  // a's connection is older than the cap's victims: still served.
  for (std::uint64_t i = 2; i < 7; ++i)
    p.a->send("b", push_to(actor_b, i));
  ASSERT_TRUE(p.b_rec.wait_for_count(6));

  clients.clear();
  ASSERT_TRUE(wait_until([&] { return c.connections_closed == 6; }))
      << c.connections_closed.load() << " closed";
  zmq::socket_t intruder(ctx, zmq::socket_type::dealer);
  intruder.set(zmq::sockopt::linger, 0);
  intruder.set(zmq::sockopt::routing_id, "intruder");
  intruder.connect(p.b_opts.bind.front());
  EXPECT_TRUE(reaches(intruder, p.b_rec, "intruder"));
  EXPECT_EQ(c.connections_refused.load(), 4u);
}

// Frames ZeroMQ hands over at any address, with 8-byte vectors inside,
// arrive intact over tcp; an envelope whose 8-byte vector is misaligned
// inside is dropped as malformed.
TEST(TransportLimits, AlignmentOverTcp) {
  zmq::context_t ctx;
  pair_of_nodes p(ctx);
  p.start();
  std::vector<std::uint64_t> keys{1, 1ull << 40, 7};
  for (std::uint64_t i = 0; i < 40; ++i) {
    // Varying sizes move the frames around in ZeroMQ's receive buffer.
    std::vector<std::uint64_t> k(keys.begin(), keys.end());
    k.resize(1 + i % 13, i);
    p.a->send("b", make_sparse_push(make_header(actor_a, actor_b, i, 1, 2), k,
                                    ramp(k.size())));
  }
  ASSERT_TRUE(p.b_rec.wait_for_count(40));
  for (const auto& r : p.b_rec.messages())
    EXPECT_EQ(r.keys.size(), 1 + r.seq % 13) << r.seq;
  EXPECT_EQ(p.b->counters().dropped(), 0u);

  zmq::socket_t intruder(ctx, zmq::socket_type::dealer);
  intruder.set(zmq::sockopt::linger, 0);
  intruder.set(zmq::sockopt::routing_id, "intruder");
  intruder.connect(p.b_opts.bind.front());
  envelope_builder b;
  auto bad = misaligned_vector(b.fbb(), keys);
  auto f = wire::CreateFloats(b.fbb(), 0, bad, b.fbb().CreateVector(ramp(3)));
  auto body = wire::CreatePush(b.fbb(), f);
  send_frames(intruder,
              wire_parts(b.finish(make_header("intruder/0", actor_b, 1),
                                  wire::Body::Push, body.Union())));
  ASSERT_TRUE(reaches(intruder, p.b_rec, "intruder"));
  EXPECT_EQ(p.b->counters().dropped_malformed.load(), 1u);
}

} // namespace
} // namespace metronome::messages::test

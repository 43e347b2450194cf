// A live node under attack from a peer that the topology declares: crafted
// ranges, forged sources and garbage must be refused while the node keeps
// serving that peer's valid requests.

#include "tests/integration/jobs_support.hpp"

#include "messages/codec.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <zmq_addon.hpp>

using namespace metronome;

namespace {

void send(zmq::socket_t& s, const messages::outbound& msg) {
  const auto& env = msg.envelope;
  bool attached = msg.attachment.size > 0;
  s.send(zmq::buffer(env.data(), env.size()),
         attached ? zmq::send_flags::sndmore : zmq::send_flags::none);
  if (attached)
    s.send(
        zmq::buffer(msg.attachment.data, msg.attachment.size * sizeof(float)));
}

messages::outbound push(const std::string& source, std::uint64_t offset,
                        std::size_t count) {
  messages::envelope_builder b;
  auto payload =
      b.floats(offset, messages::float_block::of(
                           std::make_shared<std::vector<float>>(count, 1.0f)));
  auto body = messages::wire::CreatePush(b.fbb(), payload);
  messages::header h;
  h.source = source;
  h.destination = "server/0";
  return b.finish(h, messages::wire::Body::Push, body.Union());
}

messages::outbound pull(const std::string& source, std::uint64_t offset,
                        std::uint64_t count, std::uint64_t seq) {
  messages::envelope_builder b;
  auto body = messages::wire::CreatePullRequest(b.fbb(), offset, count);
  messages::header h;
  h.source = source;
  h.destination = "server/0";
  h.seq = seq;
  return b.finish(h, messages::wire::Body::PullRequest, body.Union());
}

} // namespace

TEST(HostilePeer, NodeRefusesCraftedMessagesAndKeepsServing) {
  if (!std::filesystem::exists(
          test::fashion_mnist("train-images-idx3-ubyte.gz")))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  test::temp_dir dir;
  test::job_settings s;
  s.servers = 1;
  s.workers = 2;
  s.epochs = 1;
  auto cfg = (dir / "job.yaml").string();
  auto text = test::topology(s, dir);
  test::write_file(cfg, text);
  auto port_of = [&](const std::string& node) {
    auto at = text.find("name: " + node + "\n");
    at = text.find("port: ", at) + 6;
    return text.substr(at, text.find('\n', at) - at);
  };
  // The attacker poses as node w0 and listens where w0 would, to get the
  // answers s0 sends to w0.
  zmq::context_t ctx;
  zmq::socket_t inbox(ctx, zmq::socket_type::router);
  inbox.set(zmq::sockopt::linger, 0);
  inbox.bind("tcp://127.0.0.1:" + port_of("w0"));
  auto log = dir / "s0.log";
  auto rc = dir / "s0.rc";
  test::run("(timeout -s KILL 30 " + test::binary() + " node -t " + cfg +
            " --name s0 > " + log.string() + " 2>&1; echo $? > " + rc.string() +
            ") < /dev/null > /dev/null 2>&1 &");
  zmq::socket_t attacker(ctx, zmq::socket_type::dealer);
  attacker.set(zmq::sockopt::linger, 0);
  attacker.set(zmq::sockopt::routing_id, "w0");
  attacker.connect("tcp://127.0.0.1:" + port_of("s0"));

  // Ranges that wrap around 2^64, a source w0 does not host, garbage.
  send(attacker,
       push("worker/0", ~std::uint64_t{0} - (1u << 20) + 1, (1u << 20) + 10));
  send(attacker, push("worker/0", ~std::uint64_t{0}, 2));
  send(attacker, pull("worker/0", ~std::uint64_t{0} - 3, 1u << 30, 1));
  send(attacker, push("worker/1", 0, 16));
  send(attacker, pull("coordinator/0", 0, 16, 2));
  attacker.send(zmq::str_buffer("not a flatbuffer at all"));
  // Then a valid read: it must be answered.
  send(attacker, pull("worker/0", 0, 16, 3));
  bool answered = false;
  zmq::pollitem_t item{inbox.handle(), 0, ZMQ_POLLIN, 0};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!answered && std::chrono::steady_clock::now() < deadline) {
    zmq::poll(&item, 1, std::chrono::milliseconds(100));
    if (!(item.revents & ZMQ_POLLIN))
      continue;
    std::vector<zmq::message_t> parts;
    (void)zmq::recv_multipart(inbox, std::back_inserter(parts));
    if (parts.size() < 2)
      continue;
    // Frames need not be aligned; copy as the transport does.
    std::vector<std::uint64_t> aligned((parts[1].size() + 7) / 8);
    std::memcpy(aligned.data(), parts[1].data(), parts[1].size());
    flatbuffers::Verifier v(
        reinterpret_cast<const std::uint8_t*>(aligned.data()), parts[1].size());
    if (!messages::wire::VerifyEnvelopeBuffer(v))
      continue;
    auto* env = messages::wire::GetEnvelope(aligned.data());
    answered = env->body_type() == messages::wire::Body::PullReply &&
               env->header()->seq() == 3;
    EXPECT_FALSE(env->body_type() == messages::wire::Body::PullReply &&
                 env->header()->seq() != 3)
        << "a crafted read was answered";
  }
  EXPECT_TRUE(answered) << "the node stopped serving its peer";
  // Anchored, so only the node is signalled, not the shell around it.
  test::run("pkill -TERM -f -- '^" + test::binary() + " node -t " + cfg +
            " --name s0'");
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc); }));
  std::ifstream in(rc);
  int code = -1;
  in >> code;
  EXPECT_EQ(code, 3) << "the node did not stop cleanly on SIGTERM";
  EXPECT_TRUE(test::file_has(log, "outside shard")) << "no rejection logged";
  EXPECT_TRUE(test::file_has(log, "forged source")) << "forgery not logged";
  EXPECT_TRUE(test::file_has(log, "malformed message dropped"));
}

namespace {

class HostileDisk : public test::needs_fashion_mnist {};

// A small tmpfs mounted for the length of a test.
struct small_disk {
  std::filesystem::path at;
  bool mounted = false;

  small_disk(const std::filesystem::path& path, const std::string& size)
      : at(path) {
    std::filesystem::create_directories(at);
    mounted =
        test::run("mount -t tmpfs -o size=" + size + " tmpfs " + at.string())
            .exit_code == 0;
  }
  ~small_disk() {
    if (mounted)
      test::run("umount " + at.string());
  }
};

} // namespace

// The metrics file system fills while the job runs: the job ends non-zero
// naming the file and the OS error, and every record file holds whole
// lines, those written before the disk filled included.
TEST_F(HostileDisk, AFullMetricsDiskEndsTheJobWithWholeLines) {
  test::temp_dir dir;
  small_disk disk(dir / "small", "64k");
  if (!disk.mounted)
    GTEST_SKIP() << "cannot mount a tmpfs here (needs root with "
                    "CAP_SYS_ADMIN)";
  test::job_settings s;
  s.iterations = 3000;
  auto text = test::topology(s, dir);
  auto metrics = (disk.at / "metrics").string();
  auto at = text.find("  metrics_dir: ");
  text.replace(at, text.find('\n', at) - at, "  metrics_dir: " + metrics);
  auto cfg = (dir / "job.yaml").string();
  test::write_file(cfg, text);
  auto r = test::run(test::binary() + " launch --no-progress " + cfg);
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("cannot write " + metrics + "/"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("No space left on device"), std::string::npos)
      << r.output;
  std::size_t lines = 0;
  for (const auto& entry : std::filesystem::directory_iterator(metrics)) {
    std::ifstream in(entry.path());
    std::string content((std::istreambuf_iterator<char>(in)), {});
    auto name = entry.path().filename().string();
    if (content.empty())
      continue;
    EXPECT_EQ(content.back(), '\n') << name << " ends mid-line";
    std::istringstream records(content);
    for (std::string line; std::getline(records, line); ++lines) {
      if (name == "trace.csv")
        EXPECT_EQ(std::count(line.begin(), line.end(), ','), 4) << line;
      else
        EXPECT_TRUE(actors::parse_record(line)) << name << ": " << line;
    }
  }
  EXPECT_GT(lines, 100u) << "the records written before the disk filled";
  EXPECT_EQ(test::processes_mentioning(cfg), "");
}

// Writes the seed corpus of fuzz_envelope: one input per message kind, as
// the project's builders encode them, in the target's input format (see
// fuzz_envelope.cpp). Built with the fuzz targets; run it by hand after a
// schema change:
//   build-fuzz/bin/make_envelope_seeds tests/fuzz/corpus/envelope

#include "messages/bundle.hpp"
#include "messages/codec.hpp"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace metronome::messages;

namespace {

std::string dir;

void save(const std::string& name, const std::vector<std::uint8_t>& bytes) {
  std::string path = dir + "/" + name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    std::perror(path.c_str());
    std::exit(1);
  }
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

void write(const std::string& name, const outbound& out,
           std::uint8_t flags = 0) {
  std::vector<std::uint8_t> bytes;
  bool attached = out.attachment.size > 0;
  flags = static_cast<std::uint8_t>(flags | (attached ? 1 : 0));
  bytes.push_back(flags);
  std::size_t n = out.envelope.size();
  if (attached) {
    bytes.push_back(static_cast<std::uint8_t>(n & 0xff));
    bytes.push_back(static_cast<std::uint8_t>(n >> 8));
  }
  const auto* e = out.envelope.data();
  bytes.insert(bytes.end(), e, e + n);
  if (attached) {
    const auto* a = reinterpret_cast<const std::uint8_t*>(out.attachment.data);
    bytes.insert(bytes.end(), a, a + out.attachment.size * sizeof(float));
  }
  save(name, bytes);
}

// A bundle of `parts` behind flag bit 4.
void write_bundle(const std::string& name,
                  const std::vector<const outbound*>& parts) {
  bundle::writer w;
  for (const auto* p : parts)
    w.add(p->envelope.data(), p->envelope.size());
  std::vector<std::uint8_t> bytes{16};
  bytes.insert(bytes.end(), w.bytes().begin(), w.bytes().end());
  save(name, bytes);
}

header head(const char* source, const char* destination) {
  header h;
  h.source = source;
  h.destination = destination;
  h.seq = 7;
  h.clock = 3;
  h.table_id = 1;
  return h;
}

std::vector<float> ramp(std::size_t n) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = 0.5f + 0.25f * static_cast<float>(i);
  return v;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  dir = argv[1];
  {
    envelope_builder b;
    auto actors = b.fbb().CreateVectorOfStrings({"server/0", "worker/1"});
    auto body =
        wire::CreateHello(b.fbb(), b.fbb().CreateString("n0"), actors, 42);
    write("hello", b.finish(head("node/0", "coordinator/0"), wire::Body::Hello,
                            body.Union()));
  }
  {
    envelope_builder b;
    auto v = ramp(6);
    auto f = b.floats(10, float_block::copy(v.data(), v.size()));
    auto body = wire::CreatePush(b.fbb(), f);
    write("push-dense", b.finish(head("worker/0", "server/0"), wire::Body::Push,
                                 body.Union()));
  }
  {
    envelope_builder b;
    auto v = ramp(3);
    auto f = b.floats({1, 5, 9}, float_block::copy(v.data(), v.size()));
    auto body = wire::CreatePush(b.fbb(), f);
    auto push =
        b.finish(head("worker/1", "server/0"), wire::Body::Push, body.Union());
    write("push-sparse", push);
    write_bundle("bundle-pushes", {&push, &push, &push});
  }
  {
    envelope_builder b;
    auto v = ramp(attach_threshold);
    auto big = b.floats(0, float_block::copy(v.data(), v.size()));
    auto body = wire::CreatePullReply(b.fbb(), big, 2);
    write("pullreply-attached",
          b.finish(head("server/0", "worker/0"), wire::Body::PullReply,
                   body.Union()),
          4);
  }
  {
    envelope_builder b;
    auto keys = b.fbb().CreateVector(std::vector<std::uint64_t>{2, 4, 8});
    auto body = wire::CreatePullRequest(b.fbb(), 0, 0, keys, true);
    write("pullrequest",
          b.finish(head("worker/0", "server/1"), wire::Body::PullRequest,
                   body.Union()),
          2);
  }
  {
    envelope_builder b;
    auto body = wire::CreateClock(b.fbb());
    write("clock", b.finish(head("worker/0", "coordinator/0"),
                            wire::Body::Clock, body.Union()));
  }
  {
    envelope_builder b;
    auto body = wire::CreateHeartbeat(b.fbb(), b.fbb().CreateString("n1"), 1, 2,
                                      3, 4, 5);
    write("heartbeat",
          b.finish(head("", ""), wire::Body::Heartbeat, body.Union()));
  }
  {
    envelope_builder b;
    auto body = wire::CreateCredit(b.fbb(), 3, 4096);
    write("credit", b.finish(head("", ""), wire::Body::Credit, body.Union()));
  }
  {
    envelope_builder b;
    auto body = wire::CreateControl(b.fbb(), wire::Command::Abort,
                                    b.fbb().CreateString("worker/2 died"));
    write("control", b.finish(head("coordinator/0", "worker/2"),
                              wire::Body::Control, body.Union()));
  }
  {
    envelope_builder b;
    auto body =
        wire::CreateReport(b.fbb(), 12, 0.25, 0.01, 64, 1, 0.002, 0.003);
    write("report", b.finish(head("worker/0", "coordinator/0"),
                             wire::Body::Report, body.Union()));
  }
  {
    std::vector<std::uint32_t> accepted{1, 0};
    std::vector<double> runtimes{0.5, 0.7, 0.9};
    std::vector<std::uint8_t> censored{0, 0, 1};
    std::vector<double> throughput{2, 2.5, 2.2};
    envelope_builder b;
    auto cut =
        wire::CreateCutoffDirect(b.fbb(), &accepted, 0.8, &runtimes, &censored,
                                 0.001, false, 3, &throughput);
    write("cutoff", b.finish(head("server/0", "coordinator/0"),
                             wire::Body::Cutoff, cut.Union()));
  }
  {
    envelope_builder b;
    auto work = b.doubles({3, 7}, {0.5, -0.25});
    auto changes = b.doubles({}, {1, 2, 3}, 4);
    auto counts = b.integers({1, 2}, {5, 6});
    auto body = wire::CreateRound(b.fbb(), 9, 1, work, changes, counts);
    write("round", b.finish(head("scheduler/0", "worker/0"), wire::Body::Round,
                            body.Union()));
  }
  {
    envelope_builder b;
    auto values = b.doubles({3, 7}, {0.5, -0.25});
    auto counts = b.integers({}, {1, 2, 3}, 2);
    auto body = wire::CreateRoundResult(b.fbb(), 9, values, counts, 0.01);
    write("roundresult", b.finish(head("worker/0", "scheduler/0"),
                                  wire::Body::RoundResult, body.Union()));
  }
  {
    envelope_builder b;
    auto params = b.doubles({}, {0.1, 0.2});
    auto body =
        wire::CreateRecord(b.fbb(), b.fbb().CreateString("final"),
                           b.fbb().CreateString("{\"loss\":0.5}"), params);
    write("record", b.finish(head("coordinator/0", "coordinator/0"),
                             wire::Body::Record, body.Union()));
  }
  return 0;
}

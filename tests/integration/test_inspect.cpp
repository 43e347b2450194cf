// `metronome inspect` against real jobs: every actor and clock listed, a
// stopped worker named by `why`, a killed node named dead, bad commands
// and unreachable endpoints, and clients the control endpoint refuses.

#include "tests/integration/inspect_support.hpp"

#include "launcher/inspect/session.hpp"

#include <gtest/gtest.h>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <netinet/in.h>
#include <signal.h>

#include <cstring>
#include <fstream>
#include <sstream>

using namespace metronome;
using namespace metronome::test;

TEST_F(Inspect, ListsEveryActorAndAClockForEachWorker) {
  launch(slow_job(3000));
  auto r = test::run(inspect(cfg_, "actors; clocks; nodes"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto replies = json_lines(r.output);
  ASSERT_EQ(replies.size(), 3u) << r.output;
  std::set<std::string> names;
  for (const auto& a : replies[0]["actors"])
    names.insert(a.value("name", ""));
  std::set<std::string> expected = {"coordinator/0", "server/0", "server/1",
                                    "worker/0",      "worker/1", "worker/2"};
  EXPECT_EQ(names, expected) << r.output;
  for (std::string w : {"worker/0", "worker/1", "worker/2"})
    EXPECT_TRUE(replies[1]["workers"][w].is_number_integer()) << w << "\n"
                                                              << r.output;
  EXPECT_FALSE(replies[1]["tables"].empty()) << r.output;
  for (const auto& n : replies[2]["nodes"])
    EXPECT_EQ(n.value("state", ""), "alive") << r.output;

  // Text output, and an endpoint as the target: the same job.
  auto head = "127.0.0.1:" + control_port(yaml_, "head");
  r = test::run(inspect(head, "actors worker", "--timeout 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (std::string w : {"worker/0", "worker/1", "worker/2"})
    EXPECT_NE(r.output.find(w), std::string::npos) << r.output;
  EXPECT_EQ(("\n" + r.output).find("\nserver/"), std::string::npos) << r.output;

  r = test::run(inspect(cfg_, "actor worker/9", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("no actor 'worker/9' in this job"), std::string::npos)
      << r.output;

  // The endpoints of this job are read-only (the default).
  r = test::run(inspect(cfg_, "pause worker/1", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "pause: this job's control endpoints are read-only "
                      "(options.inspect: read); pause and resume need "
                      "options.inspect: write in the topology\n");
}

TEST_F(Inspect, CompletesCommandsKnobsActorsNodesAndTables) {
  auto s = slow_job(3000);
  s.algorithm = "mlp";
  s.job_extra += "  tables:\n    hidden: {consistency: ssp, staleness: 1}\n";
  launch(s);
  launcher::inspect::session session(2, true);
  ASSERT_EQ(session.attach(cfg_), launcher::inspect::inspect_ok);
  auto words = session.words();
  for (const auto& w : {"staleness", "cutoff", "set", "learning_rate",
                        "worker/2", "server/1", "w1", "hidden", "output"})
    EXPECT_NE(std::find(words.begin(), words.end(), w), words.end()) << w;
}

TEST_F(Inspect, StalenessListsEveryWorkerAgainstTheBound) {
  auto s = slow_job(3000);
  s.consistency = "ssp";
  s.job_extra += "  staleness: 2\n";
  launch(s);
  const std::vector<std::string> workers = {"worker/0", "worker/1", "worker/2"};
  actors::json reply;
  // Until every worker has reported a read.
  ASSERT_TRUE(test::wait_for(
      [&] {
        auto r = test::run(inspect(cfg_, "staleness"));
        auto replies = json_lines(r.output);
        if (r.exit_code != 0 || replies.size() != 1)
          return false;
        reply = replies[0];
        const auto& stats = reply["workers"];
        for (const auto& w : workers)
          if (!stats.contains(w) || !stats[w].is_object() ||
              stats[w].value("reads", 0) < 1)
            return false;
        return true;
      },
      30))
      << reply.dump();
  EXPECT_EQ(reply.value("bound", -1), 2) << reply.dump();
  EXPECT_EQ(reply["workers"].size(), workers.size()) << reply.dump();
  for (const auto& w : workers) {
    const auto& stats = reply["workers"][w];
    EXPECT_GE(stats.value("mean", -1.0), 0.0) << reply.dump();
    EXPECT_LE(stats.value("mean", 99.0), 2.0) << reply.dump();
    EXPECT_LE(stats.value("max", 99), 2) << reply.dump();
    EXPECT_GE(stats.value("blocked_s", -1.0), 0.0) << reply.dump();
    EXPECT_TRUE(stats.value("within_bound", false)) << reply.dump();
  }
  auto text = test::run(inspect(cfg_, "staleness", "--timeout 2"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  for (const auto& w : workers)
    EXPECT_NE(text.output.find("\n" + w + " "), std::string::npos)
        << text.output;
  EXPECT_NE(text.output.find("bound: table all (ssp, s=2)"), std::string::npos)
      << text.output;
}

TEST_F(Inspect, PauseAndResumeAWorkerUnderBsp) {
  launch(slow_job(300), "  inspect: write\n");
  auto r = test::run(inspect(cfg_, "pause worker/1", "--timeout 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "worker/1 pausing (node w1)\n");
  ASSERT_TRUE(test::wait_for([&] {
    auto a = json_lines(test::run(inspect(cfg_, "actor worker/1")).output);
    return a.size() == 1 && a[0].value("ok", false) &&
           a[0]["actor"].value("phase", "") == "paused";
  })) << "worker/1 never published the phase paused";
  // Pausing again is harmless; the others are refused with one line.
  r = test::run(inspect(cfg_, "pause worker/1", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "worker/1 paused (node w1)\n");
  r = test::run(inspect(cfg_, "pause server/0", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output,
            "pause: only workers can be paused; server/0 is a server\n");
  r = test::run(inspect(cfg_, "pause worker/9", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  EXPECT_NE(r.output.find("no actor 'worker/9' in this job"), std::string::npos)
      << r.output;
  r = test::run(inspect(cfg_, "resume worker/2", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "resume: worker/2 is not paused\n");

  // Everyone else waits for it, and it is not taken for dead (once their
  // waits are longer than the two looks of `why` apart).
  actors::json why;
  ASSERT_TRUE(test::wait_for(
      [&] {
        auto w = test::run(inspect(cfg_, "why"));
        auto replies = json_lines(w.output);
        if (w.exit_code != 0 || replies.size() != 1)
          return false;
        why = replies[0];
        return why["causes"].is_array() && !why["causes"].empty();
      },
      30))
      << why.dump();
  const auto& causes = why["causes"];
  ASSERT_EQ(causes.size(), 1u) << why.dump();
  EXPECT_EQ(causes[0].value("actor", ""), "worker/1") << why.dump();
  EXPECT_EQ(causes[0].value("state", ""), "paused") << why.dump();
  std::set<std::string> waiting;
  for (const auto& w : causes[0]["waited_by"])
    waiting.insert(w.get<std::string>());
  EXPECT_TRUE(waiting.count("worker/0") && waiting.count("worker/2"))
      << why.dump();
  auto text = test::run(inspect(cfg_, "why", "--timeout 2"));
  EXPECT_NE(text.output.find("=> worker/1 is paused (paused by inspect"),
            std::string::npos)
      << text.output;

  r = test::run(inspect(cfg_, "resume worker/1", "--timeout 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, "worker/1 resumed (node w1)\n");
  ASSERT_TRUE(test::wait_for([&] {
    auto a = json_lines(test::run(inspect(cfg_, "actor worker/1")).output);
    return a.size() == 1 &&
           a[0].value(actors::json::json_pointer("/actor/blocked_s/paused"),
                      0.0) > 0.0;
  })) << "worker/1 never published its time paused";
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc_); }, 90));
  auto log = test::run("cat " + (dir_ / "launch.log").string()).output;
  EXPECT_EQ(exit_code(rc_), 0) << log;
  auto events = json_file(dir_ / "metrics" / "events.jsonl");
  ASSERT_EQ(events.size(), 2u) << log;
  EXPECT_EQ(events[0].value("event", ""), "pause") << events[0].dump();
  EXPECT_EQ(events[1].value("event", ""), "resume") << events[1].dump();
  for (const auto& e : events) {
    EXPECT_EQ(e.value("actor", ""), "worker/1") << e.dump();
    EXPECT_EQ(e.value("by", ""), "inspect") << e.dump();
    EXPECT_GE(e.value("iteration", -1), 0) << e.dump();
    EXPECT_GE(e.value("wall_s", -1.0), 0.0) << e.dump();
  }
  // Paused, worker/1 ran no iteration: it resumed where it stopped.
  EXPECT_EQ(events[0]["iteration"], events[1]["iteration"]);
  EXPECT_GE(events[1].value("wall_s", 0.0), events[0].value("wall_s", 1e9));
  EXPECT_GT(events[1].value("paused_s", 0.0), 0.0) << events[1].dump();
  auto summary = test::read_record(dir_ / "metrics" / "summary.json");
  EXPECT_EQ(summary["events"].size(), 2u) << summary.dump();
  EXPECT_NE(log.find("worker/1 paused by inspect before iteration"),
            std::string::npos)
      << log;
}

TEST_F(Inspect, WhyNamesTheStoppedWorkerEveryoneWaitsFor) {
  launch(slow_job(300));
  auto pid = node_pid(cfg_, "w1");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  // Peers call a node suspect after 1 s of silence, dead after 10 s.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto r = test::run(inspect(cfg_, "why", "--json --timeout 1"));
  auto text = test::run(inspect(cfg_, "why", "--timeout 1"));
  ::kill(pid, SIGCONT);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto replies = json_lines(r.output);
  ASSERT_EQ(replies.size(), 1u) << r.output;
  const auto& causes = replies[0]["causes"];
  ASSERT_EQ(causes.size(), 1u) << r.output;
  EXPECT_EQ(causes[0].value("actor", ""), "worker/1") << r.output;
  EXPECT_EQ(causes[0].value("node", ""), "w1") << r.output;
  std::set<std::string> waiting;
  for (const auto& w : causes[0]["waited_by"])
    waiting.insert(w.get<std::string>());
  EXPECT_TRUE(waiting.count("worker/0") && waiting.count("worker/2"))
      << r.output;
  EXPECT_NE(text.output.find("=> worker/1 is "), std::string::npos)
      << text.output;
  // Continued in time, the job finishes as if nothing happened.
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc_); }, 90));
  EXPECT_EQ(exit_code(rc_), 0)
      << test::run("cat " + (dir_ / "launch.log").string()).output;
}

TEST_F(Inspect, AKilledNodeIsNamedDeadWhateverArrivesUnderItsName) {
  // Nodes started one by one: `launch` would stop the job at once.
  cfg_ = (dir_ / "job.yaml").string();
  yaml_ = test::topology(slow_job(3000), dir_);
  test::write_file(cfg_, yaml_);
  for (std::string node : {"head", "s0", "s1", "w0", "w1", "w2"})
    background(test::binary() + " node --topology " + cfg_ + " --name " + node,
               dir_, node);
  ASSERT_TRUE(test::wait_for(
      [&] { return test::file_has(dir_ / "head.log", "job started"); }));
  auto pid = node_pid(cfg_, "w1");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Someone sends frames under the dead node's routing id to every other
  // node: only heartbeats say a node is alive, so they do not revive it.
  zmq::context_t ctx;
  std::vector<zmq::socket_t> fakes;
  for (std::string node : {"head", "s0", "s1", "w0", "w2"}) {
    auto at = yaml_.find("- name: " + node + "\n");
    auto p = yaml_.find("\n      port: ", at) + 13;
    fakes.emplace_back(ctx, zmq::socket_type::dealer);
    fakes.back().set(zmq::sockopt::routing_id, "w1");
    fakes.back().set(zmq::sockopt::linger, 0);
    fakes.back().connect("tcp://127.0.0.1:" +
                         yaml_.substr(p, yaml_.find('\n', p) - p));
  }
  for (int i = 0; i < 75; ++i) {
    for (auto& f : fakes)
      f.send(zmq::str_buffer("not a message"), zmq::send_flags::dontwait);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto r = test::run(inspect(cfg_, "nodes", "--json --timeout 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto replies = json_lines(r.output);
  ASSERT_EQ(replies.size(), 1u) << r.output;
  for (const auto& n : replies[0]["nodes"])
    EXPECT_EQ(n.value("state", ""), n["node"] == "w1" ? "dead" : "alive")
        << r.output;
}

TEST_F(Inspect, ControlEndpointRefusesBadRequestsAndStrangers) {
  launch(slow_job(3000));
  zmq::context_t ctx;
  auto port = control_port(yaml_, "s0");
  auto local = "tcp://127.0.0.1:" + port;
  auto reply = ask_raw(ctx, local, R"({"v": 1, "op": "status"})");
  EXPECT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
  reply = ask_raw(ctx, local, "{not json");
  EXPECT_NE(reply.find("the request is not JSON"), std::string::npos) << reply;
  reply = ask_raw(ctx, local, R"({"v": 1, "op": "status", "x": 1})");
  EXPECT_NE(reply.find("unknown field 'x' in the request"), std::string::npos)
      << reply;
  reply = ask_raw(ctx, local, R"({"v": 7, "op": "status"})");
  EXPECT_NE(reply.find("protocol version 7 is not served here"),
            std::string::npos)
      << reply;
  reply = ask_raw(ctx, local, R"({"v": 1, "op": "grow"})");
  EXPECT_NE(reply.find("unknown operation 'grow'"), std::string::npos) << reply;
  reply = ask_raw(ctx, local, R"({"v": 1, "op": "set", "actor": "server/0"})");
  EXPECT_NE(reply.find("set needs \\\"knob\\\""), std::string::npos) << reply;
  reply = ask_raw(ctx, local,
                  R"({"v": 1, "op": "set", "actor": "server/0", )"
                  R"("knob": "cutoff", "value": {"rule": "full"}})");
  EXPECT_NE(reply.find("set needs options.inspect: write"), std::string::npos)
      << reply;
  reply = ask_raw(ctx, local, R"({"v": 1, "op": "pause"})");
  EXPECT_NE(reply.find("pause needs \\\"actor\\\""), std::string::npos)
      << reply;
  reply =
      ask_raw(ctx, local, R"({"v": 1, "op": "pause", "actor": "worker/0"})");
  EXPECT_NE(reply.find("read-only"), std::string::npos) << reply;
  reply = ask_raw(ctx, local, std::string(100000, ' '));
  EXPECT_NE(reply.find("request of 100000 bytes"), std::string::npos) << reply;
  // Still serving after all that.
  reply = ask_raw(ctx, local, R"({"v": 1, "op": "status"})");
  EXPECT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;

  auto address = own_address();
  if (address.empty())
    GTEST_SKIP() << "this machine has no address but loopback to connect from";
  // From a non-loopback address of this machine to the loopback endpoint.
  auto stranger = "tcp://" + address + ":0;127.0.0.1:" + port;
  EXPECT_EQ(ask_raw(ctx, stranger, R"({"v": 1, "op": "status"})"), "");
  EXPECT_TRUE(test::file_has(dir_ / "launch.log", "control client refused"));
}

TEST_F(Inspect, TableSliceOfAPausedWorkerEqualsSequentialSgd) {
  // One worker: paused before clock N, the servers hold exactly what a job
  // of N iterations writes to parameters_out (sequential SGD, bit for bit).
  auto s = slow_job(3000);
  s.workers = 1;
  launch(s, "  inspect: write\n");
  // A few iterations in, so that the slice is not the initial values.
  ASSERT_TRUE(test::wait_for([&] {
    auto a = json_lines(test::run(inspect(cfg_, "actor worker/0")).output);
    return a.size() == 1 && a[0].value("ok", false) &&
           a[0]["actor"].value("clock", std::int64_t{-1}) >= 3;
  }));
  auto r = test::run(inspect(cfg_, "pause worker/0", "--timeout 2"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::int64_t clock = -1;
  ASSERT_TRUE(test::wait_for([&] {
    auto a = json_lines(test::run(inspect(cfg_, "actor worker/0")).output);
    if (a.size() != 1 || !a[0].value("ok", false) ||
        a[0]["actor"].value("phase", "") != "paused")
      return false;
    clock = a[0]["actor"].value("clock", std::int64_t{-1});
    return true;
  }));
  ASSERT_GT(clock, 0);
  auto clocks = json_lines(test::run(inspect(cfg_, "clocks")).output);
  ASSERT_EQ(clocks.size(), 1u);
  std::uint64_t boundary = 0, keys = 0;
  for (const auto& t : clocks[0]["tables"]) {
    auto end =
        t.value("keys", actors::json::array()).at(1).get<std::uint64_t>();
    if (t.value("server", "") == "server/0")
      boundary = end;
    keys = std::max(keys, end);
  }
  ASSERT_GT(boundary, 8u);
  ASSERT_GT(keys, boundary + 16);
  auto reference = s;
  reference.iterations = static_cast<std::size_t>(clock);
  auto expected = test::sequential_reference(reference);
  ASSERT_EQ(expected.size(), keys);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> slices = {
      {0, 16}, {boundary - 8, boundary + 8}, {keys - 16, keys}};
  for (auto [begin, end] : slices) {
    auto command =
        "table all " + std::to_string(begin) + ":" + std::to_string(end);
    actors::json reply;
    // Until the servers have applied the last push (it may be on its way).
    ASSERT_TRUE(test::wait_for(
        [&] {
          auto got = json_lines(test::run(inspect(cfg_, command)).output);
          if (got.size() != 1 || !got[0].value("ok", false))
            return false;
          reply = got[0];
          for (const auto& [server, at] : reply["clocks"].items())
            if (at != clock)
              return false;
          return true;
        },
        20))
        << command << ": " << reply.dump();
    const auto& values = reply["values"];
    ASSERT_EQ(values.size(), end - begin) << reply.dump();
    std::size_t differing = 0;
    for (std::size_t i = 0; i < values.size(); ++i) {
      auto got = values[i].get<float>();
      differing += std::memcmp(&got, &expected[begin + i], sizeof got) != 0;
    }
    EXPECT_EQ(differing, 0u) << command << ": " << reply.dump();
  }
  auto text = test::run(inspect(cfg_, "table all 0:16", "--timeout 2"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_TRUE(begins(text.output, "table all 0:16 (server/0 at clock "));

  auto outside = std::to_string(keys - 4) + ":" + std::to_string(keys + 1);
  r = test::run(inspect(cfg_, "table all " + outside, "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "table: slice " + outside +
                          " is outside table all, whose servers hold keys 0:" +
                          std::to_string(keys) + "\n");
  r = test::run(inspect(cfg_, "table hidden 0:4", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "table: no table 'hidden' in this job (tables: all)\n");
  r = test::run(inspect(cfg_, "table all 8:4", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("table 8:4: an empty slice"), std::string::npos)
      << r.output;
  r = test::run(inspect(cfg_, "table all 0:5000", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("5000 values; at most 4096 are read at once"),
            std::string::npos)
      << r.output;
  r = test::run(inspect(cfg_, "table all zero:4", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("usage: table NAME BEGIN:END"), std::string::npos)
      << r.output;
}

TEST(InspectInput, BadCommandsAndUnreachableEndpoints) {
  temp_dir dir;
  auto port = test::free_tcp_ports(1)[0];
  auto target = "127.0.0.1:" + std::to_string(port);
  auto r = test::run(inspect(target, "nodes", "--timeout 1"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "no node answers at " + target + "\n");

  r = test::run(inspect(target, "nodes; frobnicate", "--timeout 1"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--exec, command 2: unknown command 'frobnicate'"),
            std::string::npos)
      << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;

  r = test::run(inspect(target, "actor", "--timeout 1"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("usage: actor NAME"), std::string::npos) << r.output;
  r = test::run(inspect(target, "pause", "--timeout 1"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("usage: pause NAME"), std::string::npos) << r.output;
  r = test::run(inspect(target, "watch resume worker/1", "--timeout 1"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("watch repeats a question"), std::string::npos)
      << r.output;

  r = test::run(inspect("no-such-host-or-file", "nodes"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("neither a topology file nor HOST:PORT"),
            std::string::npos)
      << r.output;

  auto fifo = dir / "commands.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  r = test::run(test::binary() + " inspect " + target + " -f " + fifo.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("cannot read commands from '" + fifo.string() +
                          "': it is a FIFO"),
            std::string::npos)
      << r.output;

  auto script = dir / "commands.txt";
  test::write_file(script, "# a comment\nnodes\nwhy please\n");
  r = test::run(test::binary() + " inspect " + target + " -f " +
                script.string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(script.string() + ":3: why takes no arguments"),
            std::string::npos)
      << r.output;

  // Commands from a pipe: no prompt, same answers.
  r = test::run("echo nodes | " + test::binary() + " inspect " + target +
                " --timeout 1");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "no node answers at " + target + "\n");
}

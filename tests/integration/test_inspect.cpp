// `metronome inspect` against real jobs: every actor and clock listed, a
// stopped worker named by `why`, a killed node named dead, bad commands
// and unreachable endpoints, and clients the control endpoint refuses.

#include "tests/integration/jobs_support.hpp"

#include "algorithms/lasso/generator.hpp"
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
using test::background;
using test::exit_code;
using test::job_settings;
using test::own_address;
using test::temp_dir;

namespace {

// A job long enough to look at: every iteration waits about 18 ms more.
job_settings slow_job(std::size_t iterations) {
  job_settings s;
  s.iterations = iterations;
  s.job_extra = "  stragglers:\n    - model: lognormal\n      mu: -4\n"
                "      sigma: 0.1\n";
  return s;
}

// The pid of the process running node `node` of topology `cfg`, or 0.
pid_t node_pid(const std::string& cfg, const std::string& node) {
  // The node itself, not the shell that started it in the background.
  auto r = test::run("pgrep -f -- '^[^ ]*metronome node --topology " + cfg +
                     " --name " + node + "( |$)'");
  std::istringstream in(r.output);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

// Every JSON object printed on its own line of `output`.
std::vector<actors::json> json_lines(const std::string& output) {
  std::vector<actors::json> out;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] == '{')
      out.push_back(actors::json::parse(line, nullptr, false));
  return out;
}

std::string inspect(const std::string& target, const std::string& commands,
                    const std::string& flags = "--json --timeout 2") {
  return test::binary() + " inspect " + target + " " + flags + " --exec '" +
         commands + "'";
}

// The control port of node `name` in topology text `yaml`.
std::string control_port(const std::string& yaml, const std::string& name) {
  auto at = yaml.find("- name: " + name + "\n");
  auto p = yaml.find("control_port: ", at) + 14;
  return yaml.substr(p, yaml.find('\n', p) - p);
}

// Sends `request` to a control endpoint as a REQ-style DEALER and returns
// the reply, or "" when none comes within two seconds.
std::string ask_raw(zmq::context_t& ctx, const std::string& endpoint,
                    const std::string& request) {
  zmq::socket_t s(ctx, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  s.connect(endpoint);
  s.send(zmq::message_t(), zmq::send_flags::sndmore);
  s.send(zmq::buffer(request));
  std::vector<zmq::pollitem_t> items = {{s.handle(), 0, ZMQ_POLLIN, 0}};
  zmq::poll(items, std::chrono::milliseconds(2000));
  if (!(items[0].revents & ZMQ_POLLIN))
    return {};
  std::vector<zmq::message_t> parts;
  if (!zmq::recv_multipart(s, std::back_inserter(parts)) || parts.empty())
    return {};
  return parts.back().to_string();
}

// Whether `text` begins with `prefix` (both shown when not).
::testing::AssertionResult begins(const std::string& text,
                                  const std::string& prefix) {
  if (text.compare(0, prefix.size(), prefix) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "'" << text << "' does not begin with '" << prefix << "'";
}

// The lines of file `path` that are JSON objects.
std::vector<actors::json> json_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return json_lines(std::string((std::istreambuf_iterator<char>(in)), {}));
}

class Inspect : public test::needs_fashion_mnist {
protected:
  // Launches `s` (with `options`, more lines of the options section) and
  // waits until the job has started.
  void launch(const job_settings& s, const std::string& options = "") {
    cfg_ = (dir_ / "job.yaml").string();
    yaml_ = test::topology(s, dir_) + options;
    test::write_file(cfg_, yaml_);
    rc_ = background(test::binary() + " launch --no-progress " + cfg_, dir_,
                     "launch");
    ASSERT_TRUE(test::wait_for([&] {
      return test::file_has(dir_ / "launch.log", "job started");
    })) << "the job did not start";
  }

  void TearDown() override {
    if (cfg_.empty())
      return;
    for (const auto& node : {"head", "s0", "s1", "w0", "w1", "w2"})
      if (auto pid = node_pid(cfg_, node); pid > 0) {
        ::kill(pid, SIGCONT);
        ::kill(pid, SIGTERM);
      }
    test::wait_for([&] { return test::processes_mentioning(cfg_).empty(); },
                   20);
  }

  temp_dir dir_;
  std::string cfg_;
  std::string yaml_;
  std::filesystem::path rc_;
};

} // namespace

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
           a[0]["actor"]["blocked_s"].value("paused", 0.0) > 0.0;
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

namespace {

// The iterations the coordinator has completed, as `actor coordinator/0`
// shows it (-1 when it does not answer).
std::int64_t coordinator_clock(const std::string& cfg) {
  auto a = json_lines(test::run(inspect(cfg, "actor coordinator/0")).output);
  if (a.size() != 1 || !a[0].value("ok", false))
    return -1;
  return a[0]["actor"].value("clock", std::int64_t{-1});
}

// The bound worker `w` read under at clock `c`: the bound of the last
// applied change that `w` took at or before `c`, else `initial`.
std::int64_t bound_at(const std::vector<actors::json>& applied,
                      const std::string& w, std::int64_t c,
                      std::int64_t initial) {
  auto bound = initial;
  for (const auto& e : applied)
    if (e["clocks"].value(w, std::int64_t{1} << 62) <= c)
      bound = e.value("to", bound);
  return bound;
}

} // namespace

TEST_F(Inspect, AStalenessBoundChangedLiveHoldsFromTheReadEachWorkerTookIt) {
  // worker/0 is slower, so the others run ahead to whatever bound holds.
  auto s = slow_job(240);
  s.consistency = "ssp";
  s.job_extra =
      "  staleness: 3\n  stragglers:\n"
      "    - {model: lognormal, mu: -4, sigma: 0.1, workers: [1, 2]}\n"
      "    - {model: lognormal, mu: -3.2, sigma: 0.1, workers: [0]}\n";
  launch(s, "  inspect: write\n");
  ASSERT_TRUE(
      test::wait_for([&] { return coordinator_clock(cfg_) >= 30; }, 60));
  auto r = test::run(inspect(cfg_, "set staleness all 1", "--timeout 5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(begins(r.output, "staleness of table all: 3 -> 1, asked at "
                               "iteration "));
  EXPECT_NE(r.output.find("in force from clock"), std::string::npos)
      << r.output;
  // Refused with the reason, nothing changed.
  r = test::run(inspect(cfg_, "set staleness all 1", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_EQ(r.output, "set: table all already has bound 1\n");
  r = test::run(inspect(cfg_, "set staleness all 0", "--timeout 2"));
  EXPECT_EQ(r.output,
            "set: a staleness bound is a whole number from 1 to 1000000\n");
  r = test::run(inspect(cfg_, "set staleness hidden 2", "--timeout 2"));
  EXPECT_EQ(r.output, "set: no table 'hidden' in this job (tables: all)\n");
  r = test::run(inspect(cfg_, "set cutoff static backups=1", "--timeout 2"));
  EXPECT_EQ(r.output, "set: this job runs under ssp; a cutoff rule applies "
                      "only to consistency cutoff\n");
  auto lowered = coordinator_clock(cfg_);
  ASSERT_TRUE(test::wait_for(
      [&] { return coordinator_clock(cfg_) >= lowered + 50; }, 60));
  r = test::run(inspect(cfg_, "set staleness all 6", "--timeout 5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // The faster workers wait for the slow one: blocked by the bound, and not
  // paused or by a cutoff.
  auto view = json_lines(test::run(inspect(cfg_, "staleness")).output);
  ASSERT_EQ(view.size(), 1u);
  for (const auto& w : {"worker/1", "worker/2"}) {
    const auto& by = view[0]["workers"][w]["blocked_by"];
    EXPECT_GT(by.value("bound", 0.0), 0.0) << view[0].dump();
    EXPECT_GE(by.value("reply", -1.0), 0.0) << view[0].dump();
    EXPECT_EQ(by.value("cutoff", -1.0), 0.0) << view[0].dump();
    EXPECT_EQ(by.value("paused", -1.0), 0.0) << view[0].dump();
  }
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc_); }, 90));
  auto log = test::run("cat " + (dir_ / "launch.log").string()).output;
  ASSERT_EQ(exit_code(rc_), 0) << log;

  std::vector<actors::json> applied;
  for (const auto& e : json_file(dir_ / "metrics" / "events.jsonl"))
    if (e.value("event", "") == "set" && e.value("state", "") == "applied")
      applied.push_back(e);
  ASSERT_EQ(applied.size(), 2u) << log;
  const std::vector<std::string> workers = {"worker/0", "worker/1", "worker/2"};
  for (const auto& e : applied) {
    EXPECT_EQ(e["clocks"].size(), workers.size()) << e.dump();
    std::int64_t latest = 0;
    for (const auto& w : workers)
      latest = std::max(latest, e["clocks"].value(w, std::int64_t{-1}));
    EXPECT_EQ(e.value("clock", -1), latest) << e.dump();
  }
  // The SSP property on the records, for the bound each read was under.
  std::size_t under_one = 0;
  std::int64_t worst_after_raise = 0;
  for (const auto& it : json_file(dir_ / "metrics" / "iterations.jsonl")) {
    auto c = it.value("iteration", std::int64_t{-1});
    for (std::size_t w = 0; w < workers.size(); ++w) {
      auto bound = bound_at(applied, workers[w], c, 3);
      auto lag = it["staleness"][w].get<std::int64_t>();
      EXPECT_LE(lag, bound) << workers[w] << " at clock " << c;
      under_one += bound == 1;
      if (bound == 6)
        worst_after_raise = std::max(worst_after_raise, lag);
    }
  }
  EXPECT_GE(under_one, 3u * 40) << "too few reads under the lowered bound";
  EXPECT_GT(worst_after_raise, 1) << "the raised bound was never used";
  EXPECT_NE(log.find("staleness of table all: 3 -> 1 from clock"),
            std::string::npos)
      << log;
}

TEST_F(Inspect, ACutoffRuleChangedLiveIsRecordedAndUsedFromTheNextVersion) {
  auto s = slow_job(300);
  s.consistency = "cutoff";
  s.job_extra = "  cutoff: {rule: full}\n"
                "  stragglers: [{model: lognormal, mu: -4, sigma: 0.3}]\n";
  launch(s, "  inspect: write\n");
  actors::json view;
  ASSERT_TRUE(test::wait_for(
      [&] {
        auto v = json_lines(test::run(inspect(cfg_, "cutoff")).output);
        if (v.size() != 1 || !v[0]["cutoff"].is_object())
          return false;
        view = v[0]["cutoff"];
        return view.value("version", 0) >= 20;
      },
      60))
      << view.dump();
  EXPECT_EQ(view.value("rule", ""), "full") << view.dump();
  EXPECT_EQ(view.value("cutoff", 0), 3) << view.dump();
  ASSERT_EQ(view["order_statistics"].size(), 3u) << view.dump();
  for (const auto& row : view["order_statistics"])
    EXPECT_TRUE(row["realised_s"].is_number()) << view.dump();
  EXPECT_EQ(view.value("censored", -1), 0) << view.dump();

  auto r = test::run(
      inspect(cfg_, "set cutoff static backups=1", "--json --timeout 5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto asked = json_lines(r.output);
  ASSERT_EQ(asked.size(), 1u) << r.output;
  EXPECT_EQ(asked[0]["change"].value("from", ""), "full");
  EXPECT_EQ(asked[0]["change"].value("to", ""), "static backups=1");
  for (const auto& [command, expected] :
       std::vector<std::pair<std::string, std::string>>{
           {"set cutoff static backups=1",
            "the rule is static backups=1 already"},
           {"set cutoff static backups=3",
            "static backups=3 would wait for no gradient: the job has 3 "
            "workers"},
           {"set cutoff elfving backups=1",
            "'backups' does not apply to rule elfving"},
           {"set cutoff bdsgd", "bdsgd needs a run-time model, and this job "
                                "was started with full; start it with rule "
                                "bdsgd"},
           {"set cutoff lucky", "unknown cutoff rule 'lucky'"},
           {"set staleness all 2",
            "under consistency cutoff there is no staleness bound; its rule "
            "sets the pace (set cutoff RULE)"}}) {
    r = test::run(inspect(cfg_, command, "--timeout 2"));
    EXPECT_EQ(r.exit_code, 1) << command << ": " << r.output;
    EXPECT_EQ(r.output, "set: " + expected + "\n") << command;
  }
  ASSERT_TRUE(test::wait_for(
      [&] {
        auto v = json_lines(test::run(inspect(cfg_, "cutoff")).output);
        if (v.size() != 1 || !v[0]["cutoff"].is_object())
          return false;
        view = v[0]["cutoff"];
        return view.value("decided_by", "") == "static backups=1";
      },
      60))
      << view.dump();
  EXPECT_EQ(view.value("cutoff", 0), 2) << view.dump();
  EXPECT_TRUE(view["order_statistics"][2]["realised_s"].is_null())
      << view.dump();
  EXPECT_GT(view.value("censored", 0), 0) << view.dump();

  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc_); }, 90));
  auto log = test::run("cat " + (dir_ / "launch.log").string()).output;
  ASSERT_EQ(exit_code(rc_), 0) << log;
  std::vector<actors::json> applied;
  for (const auto& e : json_file(dir_ / "metrics" / "events.jsonl"))
    if (e.value("knob", "") == "cutoff")
      applied.push_back(e);
  ASSERT_EQ(applied.size(), 1u) << log;
  EXPECT_EQ(applied[0].value("from", ""), "full");
  EXPECT_EQ(applied[0].value("to", ""), "static backups=1");
  auto first = applied[0].value("version", std::int64_t{-1});
  // Asked while version v was collected: the new rule decides v + 1 (or v,
  // when its query was not answered yet), later only when its answer came
  // too late to be used.
  auto collected = asked[0]["change"].value("version", std::int64_t{-1});
  EXPECT_GE(first, collected);
  EXPECT_LE(first, collected + 3);
  std::size_t after = 0;
  for (const auto& it : json_file(dir_ / "metrics" / "iterations.jsonl")) {
    auto v = it.value("iteration", std::int64_t{-1});
    auto rule = it.value("cutoff_rule", "");
    if (v < first) {
      EXPECT_TRUE(rule == "full" || rule.empty()) << it.dump();
      EXPECT_EQ(it.value("cutoff", 0), 3) << it.dump();
    } else {
      ++after;
      EXPECT_EQ(rule, "static backups=1") << it.dump();
      EXPECT_EQ(it.value("cutoff", 0), 2) << it.dump();
    }
  }
  EXPECT_GT(after, 100u);
  EXPECT_NE(log.find("cutoff rule full -> static backups=1 from version"),
            std::string::npos)
      << log;
}

TEST_F(Inspect, ALearningRateChangedLiveEqualsSequentialSgdWithThatChange) {
  auto s = slow_job(300);
  s.workers = 1;
  launch(s, "  inspect: write\n");
  ASSERT_TRUE(
      test::wait_for([&] { return coordinator_clock(cfg_) >= 20; }, 60));
  auto r = test::run(inspect(cfg_, "set learning_rate 0.05", "--timeout 5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(
      begins(r.output, "learning_rate: 0.1 -> 0.05, asked at iteration "));
  r = test::run(inspect(cfg_, "set learning_rate 0.05", "--timeout 2"));
  EXPECT_EQ(r.output, "set: the learning rate is 0.05 already\n");
  r = test::run(inspect(cfg_, "set learning_rate -1", "--timeout 2"));
  EXPECT_EQ(r.output,
            "set: a learning rate is a number above 0 and at most 1000\n");
  r = test::run(inspect(cfg_, "set learning_rate fast", "--timeout 2"));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc_); }, 90));
  auto log = test::run("cat " + (dir_ / "launch.log").string()).output;
  ASSERT_EQ(exit_code(rc_), 0) << log;
  std::vector<actors::json> applied;
  for (const auto& e : json_file(dir_ / "metrics" / "events.jsonl"))
    if (e.value("knob", "") == "learning_rate" &&
        e.value("state", "") == "applied")
      applied.push_back(e);
  ASSERT_EQ(applied.size(), 1u) << log;
  auto from = applied[0].value("clock", std::int64_t{-1});
  EXPECT_EQ(applied[0]["clocks"].value("worker/0", std::int64_t{-2}), from);
  ASSERT_GT(from, 20);
  ASSERT_LT(from, 300);
  auto expected = test::sequential_reference(
      s, {}, false, static_cast<std::uint64_t>(from), 0.05f);
  test::expect_bitwise_equal(test::read_floats(dir_ / "params.bin"), expected);
  // The change mattered: without it the parameters differ.
  EXPECT_NE(test::sequential_reference(s), expected);
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

TEST_F(Inspect, AScheduledJobShowsItsRoundsAndWhyNamesAStoppedWorker) {
  algorithms::lasso::generator_spec spec;
  spec.samples = 120;
  spec.features = 60;
  spec.true_nonzeros = 8;
  std::vector<double> truth;
  auto data = algorithms::lasso::generate(spec, truth);
  algorithms::lasso::write_libsvm(data, (dir_ / "lasso.libsvm").string());
  auto ports = test::free_tcp_ports(6);
  std::string nodes;
  auto node = [&](const std::string& name, const std::string& roles, int i) {
    nodes += "    - name: " + name + "\n      host: 127.0.0.1\n      port: " +
             std::to_string(ports[i]) +
             "\n      control_port: " + std::to_string(ports[3 + i]) +
             "\n      roles: [" + roles + "]\n";
  };
  node("head", "coordinator/0, scheduler/0", 0);
  node("w0", "worker/0", 1);
  node("w1", "worker/1", 2);
  // A tolerance no run reaches: the job runs its 10^6 rounds.
  auto yaml = "cluster:\n  nodes:\n" + nodes +
              "job:\n  algorithm: lasso\n  data:\n    format: libsvm\n"
              "    train: " +
              (dir_ / "lasso.libsvm").string() +
              "\n  lasso: {alpha: 0.05, tol: 1e-300, max_rounds: 1000000}\n"
              "options:\n  metrics_dir: " +
              (dir_ / "metrics").string() + "\n  inspect: write\n";
  cfg_ = (dir_ / "lasso.yaml").string();
  test::write_file(cfg_, yaml);
  rc_ = background(test::binary() + " launch --no-progress " + cfg_, dir_,
                   "launch");
  actors::json scheduler;
  ASSERT_TRUE(test::wait_for(
      [&] {
        auto a =
            json_lines(test::run(inspect(cfg_, "actor scheduler/0")).output);
        if (a.size() != 1 || !a[0].value("ok", false))
          return false;
        scheduler = a[0]["actor"];
        return scheduler["rounds"].value("committed", 0) >= 10;
      },
      60))
      << scheduler.dump();
  EXPECT_EQ(scheduler.value("phase", ""), "scheduling") << scheduler.dump();
  EXPECT_EQ(scheduler["rounds"].value("max", 0), 1000000) << scheduler.dump();
  auto r = test::run(inspect(cfg_, "set staleness all 2", "--timeout 2"));
  EXPECT_EQ(r.output,
            "set: a scheduled program's rounds have no staleness to change\n");

  // Between its result and the next round a worker waits for the scheduler.
  ASSERT_TRUE(test::wait_for([&] {
    auto w = json_lines(test::run(inspect(cfg_, "actor worker/0")).output);
    return w.size() == 1 &&
           w[0]["actor"]["blocked_s"].value("scheduler", 0.0) > 0.0;
  })) << "worker/0 never published its time waiting for rounds";

  auto pid = node_pid(cfg_, "w1");
  ASSERT_GT(pid, 0);
  ASSERT_EQ(::kill(pid, SIGSTOP), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto why = test::run(inspect(cfg_, "why", "--json --timeout 1"));
  auto a = json_lines(test::run(inspect(cfg_, "actor scheduler/0")).output);
  ::kill(pid, SIGCONT);
  auto replies = json_lines(why.output);
  ASSERT_EQ(replies.size(), 1u) << why.output;
  const auto& causes = replies[0]["causes"];
  ASSERT_EQ(causes.size(), 1u) << why.output;
  EXPECT_EQ(causes[0].value("actor", ""), "worker/1") << why.output;
  std::set<std::string> waiting;
  for (const auto& w : causes[0]["waited_by"])
    waiting.insert(w.get<std::string>());
  EXPECT_TRUE(waiting.count("scheduler/0")) << why.output;
  ASSERT_EQ(a.size(), 1u);
  const auto& flight = a[0]["actor"]["rounds"]["in_flight"];
  ASSERT_FALSE(flight.empty()) << a[0].dump();
  for (const auto& f : flight)
    EXPECT_EQ(f["missing"], actors::json::parse(R"(["worker/1"])"))
        << a[0].dump();
}

TEST_F(Inspect, AKilledNodeIsNamedDead) {
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
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
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

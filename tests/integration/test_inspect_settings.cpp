// Live settings through `metronome inspect` on real jobs: a staleness
// bound lowered and raised, a learning rate and a cutoff rule changed while
// the job runs, each checked on the job's records; and a scheduled job's
// rounds.

#include "tests/integration/inspect_support.hpp"

#include "algorithms/lasso/generator.hpp"

#include <thread>

using namespace metronome;
using namespace metronome::test;

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

namespace {

// Asks `cutoff` of the job of `cfg` until `done` holds for its view (left
// in `view`), for up to a minute.
template <class Done>
bool wait_for_cutoff(const std::string& cfg, actors::json& view, Done done) {
  return test::wait_for(
      [&] {
        auto v = json_lines(test::run(inspect(cfg, "cutoff")).output);
        if (v.size() != 1 || !v[0]["cutoff"].is_object())
          return false;
        view = v[0]["cutoff"];
        return done(view);
      },
      60);
}

} // namespace

TEST_F(Inspect, ACutoffRuleChangedLiveIsRecordedAndUsedFromTheNextVersion) {
  auto s = slow_job(300);
  s.consistency = "cutoff";
  s.job_extra = "  cutoff: {rule: full}\n"
                "  stragglers: [{model: lognormal, mu: -4, sigma: 0.3}]\n";
  launch(s, "  inspect: write\n");
  actors::json view;
  ASSERT_TRUE(wait_for_cutoff(cfg_, view, [](const actors::json& v) {
    return v.value("version", 0) >= 20;
  })) << view.dump();
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
  ASSERT_TRUE(wait_for_cutoff(cfg_, view, [](const actors::json& v) {
    return v.value("decided_by", "") == "static backups=1";
  })) << view.dump();
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

// With predictor/0 in a process of its own, the leading server passes the
// rule on to it, and its decisions follow the new rule.
TEST_F(Inspect, ACutoffRuleChangedLiveReachesAPredictorProcess) {
  auto s = slow_job(300);
  s.consistency = "cutoff";
  s.predictor_node = true;
  s.job_extra = "  cutoff: {rule: full}\n"
                "  stragglers: [{model: lognormal, mu: -4, sigma: 0.3}]\n";
  launch(s, "  inspect: write\n");
  actors::json view;
  ASSERT_TRUE(wait_for_cutoff(cfg_, view, [](const actors::json& v) {
    return v.value("version", 0) >= 10;
  })) << view.dump();
  EXPECT_EQ(view.value("decided_by", ""), "full") << view.dump();
  auto r =
      test::run(inspect(cfg_, "set cutoff static backups=1", "--timeout 5"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  ASSERT_TRUE(wait_for_cutoff(cfg_, view, [](const actors::json& v) {
    return v.value("decided_by", "") == "static backups=1";
  })) << view.dump();
  EXPECT_EQ(view.value("cutoff", 0), 2) << view.dump();
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc_); }, 90));
  auto log = test::run("cat " + (dir_ / "launch.log").string()).output;
  ASSERT_EQ(exit_code(rc_), 0) << log;
  EXPECT_NE(log.find("predictor/0: cutoff rule -> static backups=1"),
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
        // Until its first round the scheduler publishes no rounds.
        return scheduler.value(actors::json::json_pointer("/rounds/committed"),
                               0) >= 10;
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
           w[0].value(actors::json::json_pointer("/actor/blocked_s/scheduler"),
                      0.0) > 0.0;
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

// Synchronous SGD with a cutoff, end to end through the real binary.

#include "tests/integration/jobs_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace metronome;
using test::expect_bitwise_equal;
using test::final_accuracy;
using test::job_settings;
using test::read_floats;
using test::sequential_reference;
using test::temp_dir;
using test::topology;

namespace {

class Cutoff : public test::needs_fashion_mnist {};

std::string cutoff_job(const std::string& rule, const std::string& more = "") {
  return "  cutoff: {rule: " + rule + more +
         "}\n"
         "  stragglers: [{model: lognormal, mu: -6, sigma: 1}]\n";
}

// An MLP job of 4 workers under static(2) for 40 versions.
job_settings two_of_four() {
  job_settings s;
  s.algorithm = "mlp";
  s.workers = 4;
  s.iterations = 40;
  s.consistency = "cutoff";
  s.job_extra = cutoff_job("static", ", backups: 2");
  return s;
}

// The records of a JSON-lines file (iterations.jsonl), one per line that
// is a JSON object.
std::vector<actors::json> records(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<actors::json> out;
  std::string line;
  while (std::getline(in, line))
    if (auto record = actors::parse_record(line))
      out.push_back(std::move(*record));
  return out;
}

// The "accepted" list of every line of iterations.jsonl.
std::vector<std::vector<std::size_t>>
accepted_sets(const std::filesystem::path& metrics) {
  std::vector<std::vector<std::size_t>> out;
  for (const auto& record : records(metrics)) {
    auto it = record.find("accepted");
    if (it != record.end() && it->is_array())
      out.push_back(it->get<std::vector<std::size_t>>());
  }
  return out;
}

} // namespace

TEST_F(Cutoff, FullEqualsBspBitForBit) {
  for (std::string scaling : {"fixed", "linear"}) {
    SCOPED_TRACE(scaling);
    temp_dir dir;
    job_settings s;
    s.algorithm = "mlp";
    s.iterations = 20;
    s.consistency = "cutoff";
    s.job_extra = cutoff_job("full", ", scaling: " + scaling);
    auto r = test::run_job(s, dir);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(test::json_number(r.output, "mean_cutoff"), 3) << r.output;
    expect_bitwise_equal(read_floats(dir / "params.bin"),
                         sequential_reference(s));
  }
}

// static(2) of 4: every version is made of exactly two gradients, those the
// record names, computed on the version before; nothing else is applied.
TEST_F(Cutoff, StaticAppliesExactlyTheRecordedGradients) {
  temp_dir dir;
  auto s = two_of_four();
  auto r = test::run_job(s, dir, "launch --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto sets = accepted_sets(dir / "metrics" / "iterations.jsonl");
  ASSERT_EQ(sets.size(), 40u);
  for (const auto& set : sets)
    EXPECT_EQ(set.size(), 2u);
  EXPECT_EQ(test::json_number(r.output, "mean_cutoff"), 2) << r.output;
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s, sets));
  // The trace holds every worker of every version, censored or not.
  std::ifstream trace(dir / "metrics" / "trace.csv");
  std::string line;
  std::getline(trace, line);
  EXPECT_EQ(line, "iteration,worker,seconds,censored");
  std::size_t rows = 0, censored = 0;
  while (std::getline(trace, line)) {
    ++rows;
    censored += line.back() == '1';
  }
  EXPECT_EQ(rows, 40u * 4);
  EXPECT_EQ(censored, 40u * 2);
}

// predictor/0 in a process of its own chooses every cutoff: the leading
// server has no rule of its own then, and static(2) of 4 still makes every
// version of exactly the two gradients the record names.
TEST_F(Cutoff, APredictorInItsOwnProcessChoosesEveryCutoff) {
  temp_dir dir;
  auto s = two_of_four();
  s.predictor_node = true;
  auto r = test::run_job(s, dir, "launch --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("8 local node processes"), std::string::npos)
      << r.output;
  auto metrics = dir / "metrics" / "iterations.jsonl";
  auto sets = accepted_sets(metrics);
  ASSERT_EQ(sets.size(), 40u);
  // A decision that came too late leaves the version at the cutoff before
  // (all four for the first one); every other version has two gradients.
  std::size_t decided = 0;
  for (const auto& record : records(metrics)) {
    if (record.value("decision_late", true))
      continue;
    ++decided;
    EXPECT_EQ(record["accepted"].size(), 2u) << record.dump();
  }
  EXPECT_GT(decided, 0u) << "no decision of predictor/0 was in time";
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s, sets));
}

TEST_F(Cutoff, LinearScalingDividesByEveryWorker) {
  temp_dir dir;
  job_settings s;
  s.algorithm = "softmax";
  s.workers = 3;
  s.iterations = 30;
  s.consistency = "cutoff";
  s.job_extra = cutoff_job("static", ", backups: 1, scaling: linear");
  auto r = test::run_job(s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto sets = accepted_sets(dir / "metrics" / "iterations.jsonl");
  ASSERT_EQ(sets.size(), 30u);
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s, sets, true));
}

// A worker node killed mid-run: the job goes on with the others and
// finishes, whatever the rule.
TEST_F(Cutoff, KillingAWorkerDoesNotStallTheJob) {
  for (std::string rule : {"static", "elfving"}) {
    SCOPED_TRACE(rule);
    temp_dir dir;
    job_settings s;
    s.workers = 4;
    s.servers = 1;
    s.train_limit = 12000;
    s.iterations = 400;
    s.consistency = "cutoff";
    s.job_extra = cutoff_job(rule, rule == "static" ? ", backups: 1" : "");
    test::write_file(dir / "job.yaml", topology(s, dir));
    auto cfg = (dir / "job.yaml").string();
    auto log = (dir / "launch.log").string();
    auto rc = (dir / "rc").string();
    test::run("(" + test::binary() + " launch --no-progress " + cfg + " > " +
              log + " 2>&1; echo $? > " + rc +
              ") < /dev/null > /dev/null 2>&1 &");
    auto metrics = dir / "metrics" / "iterations.jsonl";
    ASSERT_TRUE(test::wait_for([&] {
      return std::filesystem::exists(metrics) &&
             std::filesystem::file_size(metrics) > 20000;
    }));
    test::run("pkill -KILL -f -- '" + cfg + " --name w2 '");
    ASSERT_TRUE(test::wait_for([&] {
      return std::filesystem::exists(rc) && std::filesystem::file_size(rc) > 0;
    }));
    std::ifstream in(rc);
    int code = -1;
    in >> code;
    std::ifstream text(log);
    std::string output((std::istreambuf_iterator<char>(text)), {});
    EXPECT_EQ(code, 0) << output;
    EXPECT_NE(output.find("node w2 on 127.0.0.1 failed"), std::string::npos)
        << output;
    EXPECT_EQ(test::json_number(output, "iterations"), 400) << output;
    // The dead worker's gradients stop being part of versions.
    auto sets = accepted_sets(metrics);
    ASSERT_EQ(sets.size(), 400u);
    for (std::size_t t = 300; t < 400; ++t)
      EXPECT_EQ(std::count(sets[t].begin(), sets[t].end(), 2u), 0) << t;
    EXPECT_EQ(test::processes_mentioning(cfg), "");
  }
}

namespace {

// A trace of `iterations` iterations of 3 workers, worker 2 three times
// slower in every other block of 5 iterations.
std::string write_trace(const temp_dir& dir, std::size_t iterations) {
  std::string text = "iteration,worker,seconds,censored\n";
  for (std::size_t t = 0; t < iterations; ++t)
    for (std::size_t w = 0; w < 3; ++w) {
      double slow = (w == 2 && (t / 5) % 2 == 1) ? 3.0 : 1.0;
      text += std::to_string(t) + "," + std::to_string(w) + "," +
              std::to_string(0.01 * slow * (1 + 0.1 * ((t * 7 + w) % 5))) +
              ",0\n";
    }
  auto path = (dir / "trace.csv").string();
  test::write_file(path, text);
  return path;
}

} // namespace

TEST_F(Cutoff, BdsgdRunsWithATrainedModel) {
  temp_dir dir;
  auto trace = write_trace(dir, 80);
  auto model = (dir / "dmm.model").string();
  auto trained = test::run(test::binary() + " predictor train --trace " +
                           trace + " --out " + model + " --epochs 5");
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  EXPECT_EQ(test::json_number(trained.output, "workers"), 3) << trained.output;
  EXPECT_NE(trained.output.find("epoch 5/5"), std::string::npos);
  EXPECT_TRUE(test::file_has(model, "metronome-dmm"));

  job_settings s;
  s.iterations = 40;
  s.consistency = "cutoff";
  s.job_extra = "  cutoff: {rule: bdsgd, model: " + model +
                ", refit_every: 15, history: 30}\n"
                "  stragglers: [{model: constant, factor: 4, workers: [2]}]\n";
  auto r = test::run_job(s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::json_number(r.output, "iterations"), 40) << r.output;
  EXPECT_GT(test::json_number(r.output, "decision_mean_s"), 0) << r.output;
  auto sets = accepted_sets(dir / "metrics" / "iterations.jsonl");
  ASSERT_EQ(sets.size(), 40u);
  // Decisions carry the model's expected-throughput curve.
  auto iterations = records(dir / "metrics" / "iterations.jsonl");
  EXPECT_TRUE(std::any_of(iterations.begin(), iterations.end(),
                          [](const actors::json& record) {
                            auto it = record.find("expected_throughput");
                            return it != record.end() && it->is_array() &&
                                   !it->empty() && it->front().is_number();
                          }));

  s.workers = 4; // the model describes 3
  test::write_file(dir / "job4.yaml", topology(s, dir));
  auto wrong =
      test::run(test::binary() + " run " + (dir / "job4.yaml").string());
  EXPECT_EQ(wrong.exit_code, 2);
  EXPECT_NE(wrong.output.find("describes 3 workers; the job has 4"),
            std::string::npos)
      << wrong.output;
}

TEST(PredictorTrain, BadTracesAreNamedWithTheirLine) {
  temp_dir dir;
  test::write_file(dir / "bad.csv", "iteration,worker,seconds\n0,0,1\nx,0,1\n");
  auto r =
      test::run(test::binary() + " predictor train --trace " +
                (dir / "bad.csv").string() + " --out " + (dir / "m").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("bad.csv:3: bad iteration 'x'"), std::string::npos)
      << r.output;
  test::write_file(dir / "short.csv", "0,0,1\n1,0,1\n");
  r = test::run(test::binary() + " predictor train --trace " +
                (dir / "short.csv").string() + " --out " +
                (dir / "m").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("too few to train"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "m"));
}

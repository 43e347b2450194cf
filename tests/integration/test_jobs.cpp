// End-to-end jobs through the real metronome binary: in one process over
// inproc://, and as separate node processes over tcp loopback.

#include "tests/integration/jobs_support.hpp"

#include "algorithms/data/idx_loader.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/sgd/sgd.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>

using namespace metronome;
using test::expect_bitwise_equal;
using test::final_accuracy;
using test::job_settings;
using test::processes_mentioning;
using test::read_floats;
using test::sequential_reference;
using test::temp_dir;
using test::topology;

namespace {

class Jobs : public test::needs_fashion_mnist {};

} // namespace

TEST_F(Jobs, BspInProcessEqualsSequentialSgdBitForBit) {
  for (std::string algorithm : {"softmax", "mlp"}) {
    temp_dir dir;
    job_settings s;
    s.algorithm = algorithm;
    s.iterations = 25;
    auto r = test::run_job(s, dir);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_bitwise_equal(read_floats(dir / "params.bin"),
                         sequential_reference(s));
  }
}

// Servers and workers on their nodes' transport threads (the default) or
// on CAF's scheduler: the same answers either way.
TEST_F(Jobs, BspAcrossProcessesOverTcpEqualsSequentialSgd) {
  for (std::string thread : {"transport", "scheduler"}) {
    SCOPED_TRACE(thread);
    temp_dir dir;
    job_settings s;
    s.algorithm = "mlp";
    s.iterations = 20;
    s.options_extra =
        "  server_thread: " + thread + "\n  worker_thread: " + thread + "\n";
    auto r = test::run_job(s, dir, "launch");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("launched 6 node processes"), std::string::npos);
    expect_bitwise_equal(read_floats(dir / "params.bin"),
                         sequential_reference(s));
  }
}

// A worker beside the servers runs on their node's transport thread under
// BSP: the servers answer first, and the job stays sequential SGD.
TEST_F(Jobs, BspWithAWorkerBesideTheServersEqualsSequentialSgd) {
  temp_dir dir;
  job_settings s;
  s.algorithm = "mlp";
  s.iterations = 20;
  s.head_with_worker = true;
  auto r = test::run_job(s, dir, "launch");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("launched 3 node processes"), std::string::npos);
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s));
}

// 69 processes on one machine: each worker loads only its 100 samples, and
// the job still is sequential SGD bit for bit; launch says what the nodes
// cost.
TEST_F(Jobs, SixtyFourWorkersAndFourServersAsProcessesEqualSequentialSgd) {
  temp_dir dir;
  job_settings s;
  s.algorithm = "mlp";
  s.workers = 64;
  s.servers = 4;
  s.train_limit = 6400;
  s.test_limit = 200;
  s.batch = 2;
  s.iterations = 6;
  auto r = test::run_job(s, dir, "launch --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("launched 69 node processes"), std::string::npos);
  EXPECT_NE(r.output.find("69 local node processes peaked at "),
            std::string::npos)
      << r.output;
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s));
}

// make run's second command: the job's own wall time beside one thread's.
TEST_F(Jobs, BenchSequentialComparesWithTheJobsLastRun) {
  temp_dir dir;
  job_settings s;
  s.iterations = 20;
  test::write_file(dir / "job.yaml", topology(s, dir));
  auto compare = test::binary() + " bench sequential --compare " +
                 (dir / "job.yaml").string();
  auto before = test::run(compare);
  EXPECT_EQ(before.exit_code, 2) << before.output;
  EXPECT_NE(before.output.find((dir / "metrics" / "summary.json").string() +
                               ": cannot read: it is missing"),
            std::string::npos)
      << before.output;
  EXPECT_EQ(before.output.find("sequential_wall_s"), std::string::npos);

  auto job = test::run(test::binary() + " run " + (dir / "job.yaml").string());
  ASSERT_EQ(job.exit_code, 0) << job.output;
  auto r = test::run(compare);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto line = test::final_line(r.output);
  auto summary = test::read_record(dir / "metrics" / "summary.json");
  ASSERT_TRUE(summary.contains("wall_s")) << summary.dump();
  EXPECT_EQ(line.value("job_wall_s", -1.0), summary["wall_s"].get<double>());
  EXPECT_DOUBLE_EQ(line.value("job_speedup", -1.0),
                   line.value("sequential_wall_s", 0.0) /
                       summary["wall_s"].get<double>());
  EXPECT_EQ(line.value("final_test_accuracy", -1.0),
            summary.value("final_test_accuracy", -2.0));
  EXPECT_NE(r.output.find("times one thread's speed"), std::string::npos);

  // A summary of other work is refused before anything is trained.
  s.iterations = 30;
  test::write_file(dir / "job.yaml", topology(s, dir));
  auto other = test::run(compare);
  EXPECT_EQ(other.exit_code, 2) << other.output;
  EXPECT_NE(other.output.find("is of 20 iterations, but the job of "),
            std::string::npos)
      << other.output;
  EXPECT_EQ(other.output.find("sequential_wall_s"), std::string::npos);
}

// The accuracy printed after epoch 1 is that of the parameters after
// exactly one epoch, although workers run on while it is computed.
TEST_F(Jobs, EpochEvaluationSeesExactlyThatEpoch) {
  temp_dir dir;
  job_settings s;
  s.epochs = 3;
  s.train_limit = 2400;
  s.test_limit = 2000;
  auto r = test::run_job(s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto train = algorithms::load_idx(
      test::fashion_mnist("train-images-idx3-ubyte.gz"),
      test::fashion_mnist("train-labels-idx1-ubyte.gz"), s.train_limit);
  auto test_set = algorithms::load_idx(
      test::fashion_mnist("t10k-images-idx3-ubyte.gz"),
      test::fashion_mnist("t10k-labels-idx1-ubyte.gz"), s.test_limit);
  s.iterations = 2400 / 3 / 16; // one epoch of the smallest shard
  auto model = algorithms::make_model(s.algorithm, train, s.hidden);
  auto w = sequential_reference(s);
  auto eval = model->evaluate(w.data(), test_set);
  char expected[64];
  std::snprintf(expected, sizeof(expected), "iteration %zu ", s.iterations);
  auto line_at = r.output.find(std::string("epoch 1/3  ") + expected);
  ASSERT_NE(line_at, std::string::npos) << r.output;
  auto line = r.output.substr(line_at, r.output.find('\n', line_at) - line_at);
  std::snprintf(expected, sizeof(expected), "test_accuracy %.4f",
                eval.accuracy);
  EXPECT_NE(line.find(expected), std::string::npos)
      << line << "\nexpected " << expected;
}

// Evaluating the whole test set takes longer than 5 iterations, so the
// coordinator falls behind: each evaluation must still see the parameters
// of exactly its iteration (kept for it by the servers).
TEST_F(Jobs, EvaluationsBetweenEpochsSeeExactlyTheirIteration) {
  temp_dir dir;
  job_settings s;
  s.iterations = 25;
  s.test_limit = 10000;
  s.job_extra = "  eval_every: 5\n";
  auto r = test::run_job(s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("eval  iteration 5 "), std::string::npos) << r.output;
  std::ifstream evals(dir / "metrics" / "evaluations.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(evals, line);)
    lines.push_back(line);
  ASSERT_EQ(lines.size(), 5u); // 5, 10, 15, 20 and the end (25)
  auto test_set = algorithms::load_idx(
      test::fashion_mnist("t10k-images-idx3-ubyte.gz"),
      test::fashion_mnist("t10k-labels-idx1-ubyte.gz"), s.test_limit);
  auto train = algorithms::load_idx(
      test::fashion_mnist("train-images-idx3-ubyte.gz"),
      test::fashion_mnist("train-labels-idx1-ubyte.gz"), s.train_limit);
  auto model = algorithms::make_model(s.algorithm, train, s.hidden);
  for (std::size_t i = 0; i < 4; ++i) {
    s.iterations = 5 * (i + 1);
    auto w = sequential_reference(s);
    auto record = actors::parse_record(lines[i]);
    ASSERT_TRUE(record) << lines[i];
    EXPECT_EQ((*record)["iteration"], s.iterations) << lines[i];
    EXPECT_EQ((*record)["test_accuracy"].get<double>(),
              model->evaluate(w.data(), test_set).accuracy)
        << lines[i];
  }
}

TEST_F(Jobs, AsyncConverges) {
  temp_dir dir;
  job_settings s;
  s.consistency = "async";
  s.workers = 4;
  s.train_limit = 12000;
  s.epochs = 2;
  s.batch = 32;
  auto r = test::run_job(s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.72) << r.output;
  // How far an asynchronous read lags is not bounded: it is the reader's
  // clock less the slowest worker's, and on two busy cores one worker may
  // run all its iterations before another starts (a lag of every clock,
  // seen in about half the runs of one machine).
  EXPECT_GE(test::json_number(r.output, "staleness_max"), 0) << r.output;
}

TEST_F(Jobs, SspZeroEqualsBspBitForBit) {
  temp_dir bsp_dir, ssp_dir;
  job_settings s;
  s.iterations = 30;
  test::write_file(bsp_dir / "job.yaml", topology(s, bsp_dir));
  auto ssp = topology(s, ssp_dir);
  auto at = ssp.find("  consistency: bsp");
  ssp.replace(at, 18, "  consistency: ssp\n  staleness: 0");
  test::write_file(ssp_dir / "job.yaml", ssp);
  for (const auto* dir : {&bsp_dir, &ssp_dir}) {
    auto r = test::run(test::binary() + " run " + (*dir / "job.yaml").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
  }
  expect_bitwise_equal(read_floats(ssp_dir / "params.bin"),
                       read_floats(bsp_dir / "params.bin"));
}

TEST_F(Jobs, SspAndEsspStayWithinTheirBoundAndRecordStaleness) {
  for (std::string model : {"ssp", "essp"}) {
    SCOPED_TRACE(model);
    temp_dir dir;
    job_settings s;
    s.workers = 4;
    s.train_limit = 12000;
    s.batch = 32;
    auto text = topology(s, dir);
    auto at = text.find("  consistency: bsp");
    text.replace(at, 18, "  consistency: " + model + "\n  staleness: 2");
    test::write_file(dir / "job.yaml", text);
    auto r = test::run(test::binary() + " launch --no-progress " +
                       (dir / "job.yaml").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_GE(final_accuracy(r.output), 0.6) << r.output;
    EXPECT_LE(test::json_number(r.output, "staleness_max"), 2) << r.output;
    auto summary = test::read_record(dir / "metrics" / "summary.json");
    for (std::string w : {"worker/0", "worker/1", "worker/2", "worker/3"})
      EXPECT_EQ(summary["workers"][w]["reads"], 93) << summary.dump();
    EXPECT_EQ(summary["staleness"]["histogram"].size(), 17u);
    auto first = test::read_record(dir / "metrics" / "iterations.jsonl");
    EXPECT_EQ(first["staleness"], actors::json::parse("[0,0,0,0]"))
        << first.dump();
  }
}

// Each layer in a table of its own, both bsp: every key must still get
// exactly the updates sequential SGD gives it.
TEST_F(Jobs, OneTablePerLayerUnderBspEqualsSequentialSgd) {
  temp_dir dir;
  job_settings s;
  s.algorithm = "mlp";
  s.iterations = 20;
  s.servers = 3;
  s.job_extra = "  tables:\n    hidden: {consistency: bsp}\n";
  auto r = test::run_job(s, dir);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::final_line(r.output)["tables"][0]["name"], "hidden")
      << r.output;
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s));
}

TEST_F(Jobs, TablesKeepTheirOwnConsistencyModels) {
  temp_dir dir;
  job_settings s;
  s.algorithm = "mlp";
  s.workers = 4;
  s.train_limit = 12000;
  s.batch = 32;
  s.job_extra = "  tables:\n"
                "    hidden: {consistency: essp, staleness: 2}\n"
                "    output: {consistency: async}\n"
                "  stragglers: [{model: constant, factor: 3, workers: [0]}]\n";
  auto r = test::run_job(s, dir, "launch --no-progress");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.6) << r.output;
  auto tables = test::final_line(r.output)["tables"];
  EXPECT_EQ(tables,
            actors::json::parse(
                R"([{"name":"hidden","keys":12560,"consistency":"essp",)"
                R"("staleness":2},{"name":"output","keys":170,)"
                R"("consistency":"async","staleness":0}])"))
      << r.output;
}

TEST_F(Jobs, MultiProcessJobReachesAccuracyAndLeavesNoProcess) {
  temp_dir dir;
  job_settings s;
  s.workers = 4;
  s.train_limit = 20000;
  s.batch = 32;
  s.lr = 0.2;
  auto r = test::run_job(s, dir, "launch");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.75) << r.output;
  EXPECT_NE(r.output.find("epoch 1/1"), std::string::npos) << r.output;
  // Per-iteration metrics: one JSON line per iteration with every node.
  std::ifstream metrics(dir / "metrics" / "iterations.jsonl");
  std::string line;
  std::size_t lines = 0;
  while (std::getline(metrics, line)) {
    ++lines;
    auto record = actors::parse_record(line);
    ASSERT_TRUE(record) << line;
    EXPECT_EQ((*record)["compute_s"].size(), 4u) << line;
    EXPECT_TRUE((*record)["nodes"]["head"].contains("bytes_in")) << line;
  }
  EXPECT_EQ(lines, 20000u / 4 / 32);
  EXPECT_EQ(processes_mentioning((dir / "job.yaml").string()), "");
}

TEST_F(Jobs, KilledNodeStopsTheJobAndIsNamed) {
  temp_dir dir;
  job_settings s;
  s.workers = 2;
  s.servers = 1;
  s.train_limit = 60000;
  s.epochs = 50;
  test::write_file(dir / "job.yaml", topology(s, dir));
  auto cfg = (dir / "job.yaml").string();
  auto log = (dir / "launch.log").string();
  auto rc = (dir / "rc").string();
  test::run("(" + test::binary() + " launch " + cfg + " > " + log +
            " 2>&1; echo $? > " + rc + ") < /dev/null > /dev/null 2>&1 &");
  auto log_has = [&](const std::string& text) {
    return test::file_has(log, text);
  };
  ASSERT_TRUE(test::wait_for([&] { return log_has("job started"); }));
  test::run("pkill -KILL -f -- '" + cfg + " --name w1'");
  ASSERT_TRUE(test::wait_for([&] { return std::filesystem::exists(rc); }));
  ASSERT_TRUE(
      test::wait_for([&] { return std::filesystem::file_size(rc) > 0; }));
  std::ifstream in(rc);
  int code = 0;
  in >> code;
  EXPECT_NE(code, 0);
  EXPECT_TRUE(log_has("node w1 on 127.0.0.1 failed"))
      << "launch log lacks the node name";
  EXPECT_EQ(processes_mentioning(cfg), "");
}

TEST(LibsvmJob, LogisticRegressionLearnsTheSyntheticProblem) {
  auto cfg = std::string(METRONOME_SOURCE_DIR) + "/configs/logreg-libsvm.yaml";
  auto r = test::run("cd / && " + test::binary() + " run " + cfg);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.95) << r.output;
}

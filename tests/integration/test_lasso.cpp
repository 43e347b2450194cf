// Model-parallel Lasso through the real binary: the scheduler, workers and
// coordinator as actors, over inproc in one process and over tcp between
// processes, checked against the serial reference of algorithms/lasso.

#include "tests/integration/jobs_support.hpp"

#include "algorithms/lasso/generator.hpp"
#include "algorithms/lasso/lasso.hpp"
#include "algorithms/schedule/schedule.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>

namespace metronome::test {
namespace {

namespace lasso = algorithms::lasso;

struct lasso_job {
  std::size_t workers = 2;
  std::string schedule = "cyclic";
  std::size_t schedule_size = 1;
  std::size_t pipeline = 0;
  double alpha = 0.05;
  double tol = 1e-8;
  std::uint64_t gap_every = 50;
  std::uint64_t max_rounds = 200000;
  bool fit_intercept = false;
  bool one_node_per_actor = false;
};

class Lasso : public ::testing::Test {
protected:
  void SetUp() override {
    lasso::generator_spec spec;
    spec.samples = 120;
    spec.features = 60;
    spec.block_size = 4;
    spec.correlation = 0.6;
    spec.true_nonzeros = 8;
    spec.noise = 0.1;
    spec.seed = 11;
    std::vector<double> truth;
    data_ = lasso::generate(spec, truth);
    data_path_ = (dir_ / "problem.libsvm").string();
    lasso::write_libsvm(data_, data_path_);
  }

  std::string topology_of(const lasso_job& j) {
    auto ports = free_tcp_ports(2 * (1 + j.workers));
    std::string nodes;
    std::size_t next = 0;
    auto node = [&](const std::string& name, const std::string& roles,
                    std::uint16_t port) {
      nodes += "    - name: " + name +
               "\n      host: 127.0.0.1\n      port: " + std::to_string(port) +
               "\n      control_port: " +
               std::to_string(ports[1 + j.workers + next++]) +
               "\n      roles: [" + roles + "]\n";
    };
    std::string head = "coordinator/0, scheduler/0";
    for (std::size_t w = 0; w < j.workers; ++w) {
      auto name = "worker/" + std::to_string(w);
      if (j.one_node_per_actor)
        node("w" + std::to_string(w), name, ports[1 + w]);
      else
        head += ", " + name;
    }
    node("head", head, ports[0]);
    return "cluster:\n  nodes:\n" + nodes +
           "job:\n  algorithm: lasso\n  data:\n    format: libsvm\n"
           "    train: " +
           data_path_ + "\n  lasso:\n    alpha: " + std::to_string(j.alpha) +
           "\n    tol: " + fmt::format("{}", j.tol) +
           "\n    schedule: " + j.schedule +
           "\n    schedule_size: " + std::to_string(j.schedule_size) +
           "\n    pipeline: " + std::to_string(j.pipeline) +
           "\n    gap_every: " + std::to_string(j.gap_every) +
           "\n    max_rounds: " + std::to_string(j.max_rounds) +
           "\n    fit_intercept: " + (j.fit_intercept ? "true" : "false") +
           "\noptions:\n  metrics_dir: " + (dir_ / "metrics").string() +
           "\n  parameters_out: " + (dir_ / "beta.txt").string() + "\n";
  }

  command_result run_lasso(const lasso_job& j, const std::string& command) {
    write_file(dir_ / "lasso.yaml", topology_of(j));
    return run(binary() + " " + command + " " + (dir_ / "lasso.yaml").string());
  }

  std::vector<double> coefficients() {
    std::ifstream in(dir_ / "beta.txt");
    std::vector<double> beta;
    for (std::string line; std::getline(in, line);)
      beta.push_back(std::stod(line));
    return beta;
  }

  lasso::result serial(const lasso_job& j, std::size_t blocks,
                       const std::string& schedule = "cyclic",
                       std::size_t size = 1) {
    lasso::settings s;
    s.alpha = j.alpha;
    s.tol = j.tol;
    s.gap_every = j.gap_every;
    s.max_rounds = j.max_rounds;
    s.fit_intercept = j.fit_intercept;
    algorithms::schedule_settings sched;
    sched.kind = schedule;
    sched.schedule_size = size;
    sched.seed = 1;
    algorithms::column_correlation corr(data_);
    auto scheduler = algorithms::make_scheduler(sched, data_.features(), &corr);
    return lasso::scheduled_descent(data_, s, *scheduler, blocks);
  }

  temp_dir dir_;
  std::string data_path_;
  algorithms::regression_data data_;
};

void expect_same_bits(const std::vector<double>& a,
                      const std::vector<double>& b) {
  ASSERT_EQ(a.size(), b.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    differing += std::memcmp(&a[i], &b[i], sizeof(double)) != 0;
  EXPECT_EQ(differing, 0u) << "of " << a.size() << " coefficients";
}

TEST_F(Lasso, CyclicOverTcpEqualsSerialDescentBitForBit) {
  lasso_job j;
  j.one_node_per_actor = true;
  for (bool intercept : {false, true}) {
    j.fit_intercept = intercept;
    auto r = run_lasso(j, "launch --no-progress");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto reference = serial(j, j.workers);
    ASSERT_TRUE(reference.converged);
    expect_same_bits(coefficients(), reference.beta);
    auto line = final_line(r.output);
    EXPECT_EQ(line["rounds"], reference.rounds) << r.output;
    EXPECT_EQ(line["objective"].get<double>(), reference.objective);
    EXPECT_TRUE(line["converged"].get<bool>());
  }
}

TEST_F(Lasso, EveryScheduleReachesTheSerialOptimum) {
  lasso_job j;
  auto optimum = serial(j, 1).objective;
  // Cyclic rounds of several coordinates, or one coordinate pipelined,
  // update neighbouring correlated columns from the same residual, which
  // diverges (the case the dependency check exists for): cyclic runs one
  // coordinate a round, unpipelined.
  for (std::string schedule : {"cyclic", "random", "priority"}) {
    for (std::size_t pipeline : {0, 2}) {
      if (schedule == "cyclic" && pipeline > 0)
        continue;
      j.schedule = schedule;
      j.schedule_size = schedule == "cyclic" ? 1 : 6;
      j.pipeline = pipeline;
      auto r = run_lasso(j, "run");
      ASSERT_EQ(r.exit_code, 0) << r.output;
      auto line = final_line(r.output);
      ASSERT_TRUE(line["converged"].get<bool>()) << r.output;
      EXPECT_NEAR(line["objective"].get<double>(), optimum, 1e-6 * optimum)
          << schedule << " pipeline " << pipeline;
    }
  }
}

// Every schedule over tcp, pipelined: the optimum, a record per round, and
// no round computed on residuals more than `pipeline` rounds behind.
TEST_F(Lasso, EveryScheduleOverTcpStaysWithinItsPipelineBound) {
  lasso_job j;
  j.one_node_per_actor = true;
  auto optimum = serial(j, 1).objective;
  for (std::string schedule : {"cyclic", "random", "priority"}) {
    j.schedule = schedule;
    // Without a dependency check, pipelined rounds add their neighbours'
    // correlated updates: random stays small.
    j.schedule_size = schedule == "priority" ? 8 : schedule == "random" ? 3 : 1;
    j.pipeline = schedule == "priority" ? 2 : schedule == "random" ? 1 : 0;
    auto r = run_lasso(j, "launch --no-progress");
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto line = final_line(r.output);
    EXPECT_NEAR(line["objective"].get<double>(), optimum, 1e-6 * optimum)
        << schedule;
    std::ifstream records(dir_ / "metrics" / "iterations.jsonl");
    std::uint64_t rounds = 0, updates = 0, gaps = 0, max_lag = 0;
    std::uint64_t rejected = 0, last_nnz = 0;
    for (std::string text; std::getline(records, text);) {
      auto record = actors::parse_record(text);
      ASSERT_TRUE(record) << text;
      max_lag = std::max(max_lag, (*record)["lag"].get<std::uint64_t>());
      if ((*record)["task"] == "gap") {
        ++gaps;
        EXPECT_GE((*record)["gap"].get<double>(), -1e-12);
        EXPECT_EQ((*record)["lag"], 0) << "a gap needs every change applied";
        continue;
      }
      ++rounds;
      updates += (*record)["coordinates"].get<std::uint64_t>();
      rejected += (*record)["rejected"].get<std::uint64_t>();
      last_nnz = (*record)["nnz"].get<std::uint64_t>();
      EXPECT_GE((*record)["blocked_s"].get<double>(), 0);
      EXPECT_LE((*record)["coordinates"].get<std::size_t>(), j.schedule_size);
    }
    EXPECT_EQ(rounds, line["rounds"].get<std::uint64_t>()) << schedule;
    EXPECT_EQ(updates, line["updates"].get<std::uint64_t>()) << schedule;
    EXPECT_EQ(rejected, line["rejected"].get<std::uint64_t>()) << schedule;
    EXPECT_EQ(last_nnz, line["nnz"].get<std::uint64_t>()) << schedule;
    EXPECT_GE(gaps, 1u);
    EXPECT_EQ(max_lag, j.pipeline) << schedule << ": the bound, and reached";
  }
}

TEST_F(Lasso, KilledWorkerIsNamedAndNothingIsLeft) {
  lasso_job j;
  j.one_node_per_actor = true;
  j.tol = 0;
  j.gap_every = 0;
  j.max_rounds = 1000000000;
  write_file(dir_ / "lasso.yaml", topology_of(j));
  expect_killed_node_named((dir_ / "lasso.yaml").string(), "w1",
                           dir_ / "launch.log");
}

} // namespace
} // namespace metronome::test

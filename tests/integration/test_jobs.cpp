// End-to-end jobs through the real metronome binary: in one process over
// inproc://, and as separate node processes over tcp loopback.

#include "tests/support.hpp"

#include "algorithms/idx_loader.hpp"
#include "algorithms/models.hpp"
#include "algorithms/sgd.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <regex>
#include <thread>

using namespace metronome;
using test::temp_dir;

namespace {

struct job_settings {
  std::string algorithm = "softmax";
  std::string consistency = "bsp";
  std::size_t servers = 2;
  std::size_t workers = 3;
  std::size_t train_limit = 3000;
  std::size_t test_limit = 1000;
  std::size_t iterations = 0;
  std::size_t epochs = 1;
  std::size_t batch = 16;
  double lr = 0.1;
  std::size_t hidden = 16;
  bool one_node_per_actor = true;
};

// A topology: node "head" hosts the coordinator, then one node per server
// and per worker (or everything on "head").
std::string topology(const job_settings& s, const temp_dir& dir) {
  std::string nodes;
  auto ports = test::free_tcp_ports(1 + s.servers + s.workers);
  std::size_t next_port = 0;
  auto node = [&](const std::string& name, const std::string& roles) {
    nodes += "    - name: " + name + "\n      host: 127.0.0.1\n      port: " +
             std::to_string(ports[next_port++]) + "\n      roles: [" + roles +
             "]\n";
  };
  if (s.one_node_per_actor) {
    node("head", "coordinator/0");
    for (std::size_t i = 0; i < s.servers; ++i)
      node("s" + std::to_string(i), "server/" + std::to_string(i));
    for (std::size_t i = 0; i < s.workers; ++i)
      node("w" + std::to_string(i), "worker/" + std::to_string(i));
  } else {
    std::string roles = "coordinator/0";
    for (std::size_t i = 0; i < s.servers; ++i)
      roles += ", server/" + std::to_string(i);
    for (std::size_t i = 0; i < s.workers; ++i)
      roles += ", worker/" + std::to_string(i);
    node("head", roles);
  }
  return "cluster:\n  nodes:\n" + nodes + "job:\n  algorithm: " + s.algorithm +
         "\n  hidden: " + std::to_string(s.hidden) +
         "\n  data:\n    format: idx\n    train_images: " +
         test::fashion_mnist("train-images-idx3-ubyte.gz") +
         "\n    train_labels: " +
         test::fashion_mnist("train-labels-idx1-ubyte.gz") +
         "\n    test_images: " +
         test::fashion_mnist("t10k-images-idx3-ubyte.gz") +
         "\n    test_labels: " +
         test::fashion_mnist("t10k-labels-idx1-ubyte.gz") +
         "\n    train_limit: " + std::to_string(s.train_limit) +
         "\n    test_limit: " + std::to_string(s.test_limit) +
         "\n  consistency: " + s.consistency +
         "\n  epochs: " + std::to_string(s.epochs) +
         "\n  iterations: " + std::to_string(s.iterations) +
         "\n  batch_size: " + std::to_string(s.batch) +
         "\n  learning_rate: " + std::to_string(s.lr) +
         "\n  seed: 7\noptions:\n  metrics_dir: " + (dir / "metrics").string() +
         "\n  parameters_out: " + (dir / "params.bin").string() + "\n";
}

std::vector<float> read_floats(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

double final_accuracy(const std::string& output) {
  std::smatch m;
  static const std::regex re("\"final_test_accuracy\":([0-9.]+)");
  if (!std::regex_search(output, m, re))
    return -1;
  return std::stod(m[1]);
}

std::vector<float> sequential_reference(const job_settings& s) {
  auto data = algorithms::load_idx(
      test::fashion_mnist("train-images-idx3-ubyte.gz"),
      test::fashion_mnist("train-labels-idx1-ubyte.gz"), s.train_limit);
  auto model = algorithms::make_model(s.algorithm, data, s.hidden);
  algorithms::sequential_sgd_options o;
  o.workers = s.workers;
  o.batch_size = s.batch;
  o.learning_rate = static_cast<float>(s.lr);
  o.iterations = s.iterations;
  o.seed = 7;
  return algorithms::sequential_sgd(*model, data, o);
}

// Processes whose command line mentions `needle` (our node processes).
std::string processes_mentioning(const std::string& needle) {
  auto r = test::run("pgrep -af -- '" + needle + "' | grep -v pgrep || true");
  return r.output;
}

void expect_bitwise_equal(const std::vector<float>& a,
                          const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
      ++differing;
  EXPECT_EQ(differing, 0u) << "of " << a.size() << " parameters";
}

class Jobs : public ::testing::Test {
protected:
  void SetUp() override {
    if (!std::filesystem::exists(
            test::fashion_mnist("train-images-idx3-ubyte.gz")))
      GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

} // namespace

TEST_F(Jobs, BspInProcessEqualsSequentialSgdBitForBit) {
  for (std::string algorithm : {"softmax", "mlp"}) {
    temp_dir dir;
    job_settings s;
    s.algorithm = algorithm;
    s.iterations = 25;
    test::write_file(dir / "job.yaml", topology(s, dir));
    auto r = test::run(test::binary() + " run " + (dir / "job.yaml").string());
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_bitwise_equal(read_floats(dir / "params.bin"),
                         sequential_reference(s));
  }
}

TEST_F(Jobs, BspAcrossProcessesOverTcpEqualsSequentialSgd) {
  temp_dir dir;
  job_settings s;
  s.algorithm = "mlp";
  s.iterations = 20;
  test::write_file(dir / "job.yaml", topology(s, dir));
  auto r = test::run(test::binary() + " launch " + (dir / "job.yaml").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("launched 6 node processes"), std::string::npos);
  expect_bitwise_equal(read_floats(dir / "params.bin"),
                       sequential_reference(s));
}

TEST_F(Jobs, AsyncConverges) {
  temp_dir dir;
  job_settings s;
  s.consistency = "async";
  s.workers = 4;
  s.train_limit = 12000;
  s.epochs = 2;
  s.batch = 32;
  test::write_file(dir / "job.yaml", topology(s, dir));
  auto r = test::run(test::binary() + " run " + (dir / "job.yaml").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.72) << r.output;
}

TEST_F(Jobs, MultiProcessJobReachesAccuracyAndLeavesNoProcess) {
  temp_dir dir;
  job_settings s;
  s.workers = 4;
  s.train_limit = 20000;
  s.batch = 32;
  s.lr = 0.2;
  test::write_file(dir / "job.yaml", topology(s, dir));
  auto r = test::run(test::binary() + " launch " + (dir / "job.yaml").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.75) << r.output;
  EXPECT_NE(r.output.find("epoch 1/1"), std::string::npos) << r.output;
  // Per-iteration metrics: one JSON line per iteration with every node.
  std::ifstream metrics(dir / "metrics" / "iterations.jsonl");
  std::string line;
  std::size_t lines = 0;
  while (std::getline(metrics, line)) {
    ++lines;
    EXPECT_NE(line.find("\"compute_s\":["), std::string::npos) << line;
    EXPECT_NE(line.find("\"bytes_in\""), std::string::npos) << line;
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
  auto wait_for = [](auto condition) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!condition() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return condition();
  };
  auto log_has = [&](const std::string& text) {
    std::ifstream in(log);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.find(text) != std::string::npos;
  };
  ASSERT_TRUE(wait_for([&] { return log_has("job started"); }));
  test::run("pkill -KILL -f -- '" + cfg + " --name w1'");
  ASSERT_TRUE(wait_for([&] { return std::filesystem::exists(rc); }));
  ASSERT_TRUE(wait_for([&] { return std::filesystem::file_size(rc) > 0; }));
  std::ifstream in(rc);
  int code = 0;
  in >> code;
  EXPECT_NE(code, 0);
  EXPECT_TRUE(log_has("node w1 failed")) << "launch log lacks the node name";
  EXPECT_EQ(processes_mentioning(cfg), "");
}

TEST(LibsvmJob, LogisticRegressionLearnsTheSyntheticProblem) {
  auto cfg = std::string(METRONOME_SOURCE_DIR) + "/configs/logreg-libsvm.yaml";
  auto r = test::run("cd / && " + test::binary() + " run " + cfg);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_GE(final_accuracy(r.output), 0.95) << r.output;
}

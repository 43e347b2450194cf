#pragma once

// Topologies and process helpers shared by the end-to-end tests.

#include "tests/support.hpp"

#include "actors/core/job_records.hpp"

#include "algorithms/data/idx_loader.hpp"
#include "algorithms/sgd/models.hpp"
#include "algorithms/sgd/sgd.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace metronome::test {

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
  /// Instead: "head" hosts the coordinator, every server and worker/0, and
  /// every other worker has a node of its own.
  bool head_with_worker = false;
  /// With one_node_per_actor: predictor/0 on a node "pred" of its own.
  bool predictor_node = false;
  /// More lines of the job section, indented by two spaces.
  std::string job_extra;
  /// More lines of the options section, indented by two spaces.
  std::string options_extra;
};

// The job and options part of a topology for `s`, writing into `dir`.
inline std::string job_yaml(const job_settings& s, const temp_dir& dir);

// A topology: node "head" hosts the coordinator, then one node per server
// and per worker (or everything on "head").
inline std::string topology(const job_settings& s, const temp_dir& dir) {
  std::string nodes;
  // Control ports too: the default, port + 10000, may be another's port.
  auto count = 1 + s.servers + s.workers + (s.predictor_node ? 1 : 0);
  auto ports = free_tcp_ports(2 * count);
  std::size_t next_port = 0;
  auto node = [&](const std::string& name, const std::string& roles) {
    nodes += "    - name: " + name + "\n      host: 127.0.0.1\n      port: " +
             std::to_string(ports[next_port]) + "\n      control_port: " +
             std::to_string(ports[count + next_port]) + "\n      roles: [" +
             roles + "]\n";
    ++next_port;
  };
  if (s.head_with_worker) {
    std::string roles = "coordinator/0";
    for (std::size_t i = 0; i < s.servers; ++i)
      roles += ", server/" + std::to_string(i);
    node("head", roles + ", worker/0");
    for (std::size_t i = 1; i < s.workers; ++i)
      node("w" + std::to_string(i), "worker/" + std::to_string(i));
  } else if (s.one_node_per_actor) {
    node("head", "coordinator/0");
    for (std::size_t i = 0; i < s.servers; ++i)
      node("s" + std::to_string(i), "server/" + std::to_string(i));
    if (s.predictor_node)
      node("pred", "predictor/0");
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
  return "cluster:\n  nodes:\n" + nodes + job_yaml(s, dir);
}

inline std::string job_yaml(const job_settings& s, const temp_dir& dir) {
  return "job:\n  algorithm: " + s.algorithm +
         "\n  hidden: " + std::to_string(s.hidden) +
         "\n  data:\n    format: idx\n    train_images: " +
         fashion_mnist("train-images-idx3-ubyte.gz") +
         "\n    train_labels: " + fashion_mnist("train-labels-idx1-ubyte.gz") +
         "\n    test_images: " + fashion_mnist("t10k-images-idx3-ubyte.gz") +
         "\n    test_labels: " + fashion_mnist("t10k-labels-idx1-ubyte.gz") +
         "\n    train_limit: " + std::to_string(s.train_limit) +
         "\n    test_limit: " + std::to_string(s.test_limit) +
         "\n  consistency: " + s.consistency + "\n" + s.job_extra +
         "  epochs: " + std::to_string(s.epochs) +
         "\n  iterations: " + std::to_string(s.iterations) +
         "\n  batch_size: " + std::to_string(s.batch) +
         "\n  learning_rate: " + std::to_string(s.lr) +
         "\n  seed: 7\noptions:\n  metrics_dir: " + (dir / "metrics").string() +
         "\n  parameters_out: " + (dir / "params.bin").string() + "\n" +
         s.options_extra;
}

/// The job's final JSON line (the last line of `output` that is a JSON
/// object), or an empty object.
inline actors::json final_line(const std::string& output) {
  auto record = actors::final_record(output);
  return record ? *record : actors::json::object();
}

/// The number `key` of the final line, or -1.
inline double json_number(const std::string& output, const std::string& key) {
  auto line = final_line(output);
  auto it = line.find(key);
  return it != line.end() && it->is_number() ? it->get<double>() : -1;
}

/// The JSON object on the first line of the file at `path` (a record
/// file), or an empty object.
inline actors::json read_record(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  auto record = actors::parse_record(line);
  return record ? *record : actors::json::object();
}

inline double final_accuracy(const std::string& output) {
  return json_number(output, "final_test_accuracy");
}

// Processes whose command line mentions `needle` (our node processes).
inline std::string processes_mentioning(const std::string& needle) {
  auto r = run("pgrep -af -- '" + needle + "' | grep -v pgrep || true");
  return r.output;
}

/// A test that needs the Fashion-MNIST files; skipped, saying why, when the
/// Debian package dataset-fashion-mnist is missing.
class needs_fashion_mnist : public ::testing::Test {
protected:
  void SetUp() override {
    if (!std::filesystem::exists(fashion_mnist("train-images-idx3-ubyte.gz")))
      GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  }
};

/// Polls `condition` every 50 ms for up to `seconds`; returns its last value.
template <class F>
bool wait_for(F condition, double seconds = 60) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  while (!condition() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return condition();
}

/// The first JSON object among the lines of `output`; null when there is
/// none.
inline actors::json json_line(const std::string& output) {
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line))
    if (auto record = actors::parse_record(line))
      return *record;
  return nullptr;
}

/// The text of the file at `path` ("" if it cannot be read).
inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

/// Whether the file at `path` contains `text`.
inline bool file_has(const std::filesystem::path& path,
                     const std::string& text) {
  return read_file(path).find(text) != std::string::npos;
}

/// Starts `metronome launch` on `config` in the background, kills node
/// `node` with SIGKILL once the job has started, and returns launch's exit
/// status; its output is in `log`. -1 when the job never started or
/// launch never ended.
inline int launch_and_kill(const std::string& config, const std::string& node,
                           const std::filesystem::path& log) {
  auto rc = log.string() + ".rc";
  run("(" + binary() + " launch --no-progress " + config + " > " +
      log.string() + " 2>&1; echo $? > " + rc +
      ") < /dev/null > /dev/null 2>&1 &");
  if (!wait_for([&] { return file_has(log, "job started"); }))
    return -1;
  run("pkill -KILL -f -- '" + config + " --name " + node + "'");
  if (!wait_for([&] {
        return std::filesystem::exists(rc) &&
               std::filesystem::file_size(rc) > 0;
      }))
    return -1;
  std::ifstream in(rc);
  int code = -1;
  in >> code;
  return code;
}

/// Kills node `node` of the job of `config` mid-run (launch_and_kill) and
/// expects launch to fail naming it, leaving no process behind.
inline void expect_killed_node_named(const std::string& config,
                                     const std::string& node,
                                     const std::filesystem::path& log) {
  auto code = launch_and_kill(config, node, log);
  EXPECT_NE(code, -1) << "the job did not start or launch did not end";
  EXPECT_NE(code, 0);
  EXPECT_TRUE(file_has(log, "node " + node + " on 127.0.0.1 failed"))
      << "launch log lacks the node name";
  EXPECT_EQ(processes_mentioning(config), "");
}

// Writes the topology of `s` to dir/job.yaml and runs `metronome COMMAND`
// (run, launch --no-progress, ...) on it.
inline command_result run_job(const job_settings& s, const temp_dir& dir,
                              const std::string& command = "run") {
  write_file(dir / "job.yaml", topology(s, dir));
  return run(binary() + " " + command + " " + (dir / "job.yaml").string());
}

inline std::vector<float> read_floats(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
  std::vector<float> v(bytes.size() / sizeof(float));
  std::memcpy(v.data(), bytes.data(), v.size() * sizeof(float));
  return v;
}

// Sequential SGD with the settings of `s`; with `accepted`, only those
// workers' gradients per iteration (a cutoff run's record).
inline std::vector<float> sequential_reference(
    const job_settings& s, std::vector<std::vector<std::size_t>> accepted = {},
    bool linear_scaling = false, std::uint64_t rate_from = UINT64_MAX,
    float later_rate = 0) {
  auto data = algorithms::load_idx(fashion_mnist("train-images-idx3-ubyte.gz"),
                                   fashion_mnist("train-labels-idx1-ubyte.gz"),
                                   s.train_limit);
  auto model = algorithms::make_model(s.algorithm, data, s.hidden);
  algorithms::sequential_sgd_options o;
  o.workers = s.workers;
  o.batch_size = s.batch;
  o.learning_rate = static_cast<float>(s.lr);
  o.iterations = s.iterations;
  o.seed = 7;
  o.accepted = std::move(accepted);
  o.linear_scaling = linear_scaling;
  o.rate_from = rate_from;
  o.later_rate = later_rate;
  return algorithms::sequential_sgd(*model, data, o);
}

inline void expect_bitwise_equal(const std::vector<float>& a,
                                 const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0)
      ++differing;
  EXPECT_EQ(differing, 0u) << "of " << a.size() << " parameters";
}

} // namespace metronome::test

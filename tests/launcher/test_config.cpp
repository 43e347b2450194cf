// Malformed topology files: every problem is reported with file:line:column
// and a hint, the exit code is 2, and nothing is started.

#include "tests/support.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace metronome;

namespace {

const char* valid_nodes = R"(cluster:
  nodes:
    - name: head
      host: 127.0.0.1
      port: 47990
      roles: [coordinator/0, server/0, worker/0]
)";

std::string valid_job() {
  return "job:\n  algorithm: softmax\n  data:\n    format: idx\n"
         "    train_images: " +
         test::fashion_mnist("train-images-idx3-ubyte.gz") +
         "\n    train_labels: " +
         test::fashion_mnist("train-labels-idx1-ubyte.gz") +
         "\n    test_images: " +
         test::fashion_mnist("t10k-images-idx3-ubyte.gz") +
         "\n    test_labels: " +
         test::fashion_mnist("t10k-labels-idx1-ubyte.gz") + "\n";
}

// "topology.yaml:N:" for the line of `text` that starts with `needle`.
std::string at_line(const std::string& text, const std::string& needle) {
  auto pos = text.find("\n" + needle);
  auto line = std::count(text.begin(), text.begin() + pos + 1, '\n') + 1;
  return "topology.yaml:" + std::to_string(line) + ":";
}

std::string with_job(const std::string& extra) {
  return std::string(valid_nodes) + valid_job() + extra;
}

struct bad_case {
  const char* name;
  std::string text;
  std::vector<std::string> expected; // substrings of the output
};

} // namespace

class BadTopology : public ::testing::TestWithParam<bad_case> {};

TEST_P(BadTopology, IsRejectedWithLocationAndHint) {
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path, GetParam().text);
  for (std::string command : {"run", "launch"}) {
    auto r = test::run(test::binary() + " " + command + " " + path.string());
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find("nothing was started"), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("launched"), std::string::npos) << r.output;
    for (const auto& text : GetParam().expected)
      EXPECT_NE(r.output.find(text), std::string::npos)
          << "expected '" << text << "' in:\n"
          << r.output;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Launcher, BadTopology,
    ::testing::Values(
        bad_case{"yaml_syntax",
                 "cluster:\n  nodes: [\n" + valid_job(),
                 {"topology.yaml:", "YAML syntax error"}},
        bad_case{"unknown_key_did_you_mean",
                 with_job("  epochz: 3\n"),
                 {at_line(with_job("  epochz: 3\n"), "  epochz") +
                      "3: unknown key 'epochz' in job",
                  "did you mean 'epochs'?"}},
        bad_case{"duplicate_key",
                 with_job("  algorithm: mlp\n"),
                 {at_line(with_job("  algorithm: mlp\n"), "  algorithm: mlp"),
                  "duplicate key 'algorithm' in job", "first at line 8"}},
        bad_case{"duplicate_node",
                 std::string(valid_nodes) +
                     "    - name: head\n      port: 47991\n      roles: "
                     "[server/1]\n" +
                     valid_job(),
                 {"topology.yaml:7:", "duplicate node name 'head'",
                  "first defined at line 3"}},
        bad_case{"port_clash",
                 std::string(valid_nodes) +
                     "    - name: other\n      host: 127.0.0.1\n      port: "
                     "47990\n      roles: [server/1]\n" +
                     valid_job(),
                 {"topology.yaml:9:", "port clash: 127.0.0.1:47990"}},
        bad_case{
            "bad_role",
            "cluster:\n  nodes:\n    - name: a\n      port: 47992\n"
            "      roles: [coordinator/0, server/0, worker/0, wroker/1]\n" +
                valid_job(),
            {"topology.yaml:5:", "bad role 'wroker/1'", "role/index"}},
        bad_case{
            "missing_index",
            "cluster:\n  nodes:\n    - name: a\n      port: 47993\n"
            "      roles: [coordinator/0, server/0, worker/0, worker/2]\n" +
                valid_job(),
            {"worker/1 is missing"}},
        bad_case{"no_server",
                 "cluster:\n  nodes:\n    - name: a\n      port: 47994\n"
                 "      roles: [coordinator/0, worker/0]\n" +
                     valid_job(),
                 {"the cluster has no server", "add server/0"}},
        bad_case{
            "negative_learning_rate",
            with_job("  learning_rate: -0.1\n"),
            {at_line(with_job("  learning_rate: -0.1\n"), "  learning_rate"),
             "'learning_rate' must be positive"}},
        bad_case{"wrong_type",
                 with_job("  epochs: many\n"),
                 {at_line(with_job("  epochs: many\n"), "  epochs"),
                  "'epochs' must be a positive number"}},
        bad_case{
            "missing_data_file",
            std::string(valid_nodes) +
                "job:\n  data:\n    format: libsvm\n    train: "
                "/nonexistent/train.svm\n    test: /nonexistent/test.svm\n",
            {"topology.yaml:10:", "cannot read data file "
                                  "'/nonexistent/train.svm'"}},
        bad_case{"unknown_consistency",
                 std::string(valid_nodes) + valid_job() +
                     "  consistency: ssp\n",
                 {"unknown consistency model 'ssp'", "valid: bsp, async"}},
        bad_case{"unknown_algorithm",
                 "cluster:\n  nodes:\n    - name: a\n      port: 47995\n"
                 "      roles: [coordinator/0, server/0, worker/0]\n"
                 "job:\n  algorithm: svm\n  data:\n    format: libsvm\n"
                 "    train: /etc/hostname\n    test: /etc/hostname\n",
                 {"topology.yaml:7:14: unknown algorithm 'svm'",
                  "valid: softmax, mlp, logreg"}},
        bad_case{"several_problems_at_once",
                 "cluster:\n  nodes:\n    - name: a\n      port: 0\n"
                 "      roles: [coordinator/0, server/0, worker/0]\n" +
                     valid_job() + "  consistency: ssp\n  batch_size: 0\n",
                 {"needs a 'port' in 1..65535", "unknown consistency model",
                  "'batch_size' must be positive", "3 problems"}},
        bad_case{"not_a_mapping", "- just\n- a list\n", {"must be a mapping"}}),
    [](const auto& info) { return info.param.name; });

TEST(Launcher, MissingFileIsAClearError) {
  auto r = test::run(test::binary() + " run /nonexistent/topology.yaml");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("/nonexistent/topology.yaml"), std::string::npos)
      << r.output;
}

TEST(Launcher, UnknownNodeNameIsRejected) {
  test::temp_dir dir;
  auto path = dir / "topology.yaml";
  test::write_file(path, std::string(valid_nodes) + valid_job());
  auto r = test::run(test::binary() + " node --topology " + path.string() +
                     " --name nosuch");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("no node named 'nosuch'"), std::string::npos)
      << r.output;
}

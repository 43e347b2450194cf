// `metronome bench scaling` through the real binary: one row per run, the
// trials doing the sequential run's work, bad jobs and counts refused.

#include "tests/integration/jobs_support.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

namespace metronome::test {
namespace {

// A softmax job of 2 workers x 16 samples (global batch 32), one epoch
// unless told.
std::string tiny_job(const temp_dir& dir, std::size_t epochs = 1) {
  job_settings s;
  s.epochs = epochs;
  s.workers = 2;
  s.servers = 1;
  s.train_limit = 1000;
  s.test_limit = 500;
  write_file(dir / "job.yaml", topology(s, dir));
  return (dir / "job.yaml").string();
}

class BenchScaling : public needs_fashion_mnist {};

TEST_F(BenchScaling, RowsForSequentialAndEachCountDoingTheSameWork) {
  temp_dir dir;
  auto config = tiny_job(dir);
  auto r =
      run(binary() + " bench scaling " + config +
          " --workers 1,2 --mode run --json --out " + (dir / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = json_line(r.output);
  ASSERT_TRUE(out.is_object()) << r.output;
  EXPECT_EQ(out.at("mode"), "run");
  const auto& rows = out.at("rows");
  ASSERT_EQ(rows.size(), 3u) << out.dump();
  const auto& seq = rows[0];
  EXPECT_EQ(seq.at("speedup").get<double>(), 1.0);
  EXPECT_TRUE(seq.at("time_to_target_s").is_number()) << out.dump();
  const std::size_t expected[] = {0, 1, 2};
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    SCOPED_TRACE(row.dump());
    auto workers = row.at("workers").get<std::size_t>();
    EXPECT_EQ(workers, expected[i]);
    EXPECT_GT(row.at("wall_s").get<double>(), 0);
    EXPECT_EQ(row.at("iterations"), seq.at("iterations"));
    EXPECT_EQ(row.at("batch_size").get<std::size_t>() * std::max(workers, 1ul),
              32u);
    EXPECT_GT(row.at("cpu_s").get<double>(), 0);
    if (workers == 0) {
      EXPECT_TRUE(row.at("cpu_bound_speedup").is_null());
      continue;
    }
    EXPECT_DOUBLE_EQ(row.at("cpu_bound_speedup").get<double>(),
                     seq.at("wall_s").get<double>() *
                         out.at("cores").get<double>() /
                         row.at("cpu_s").get<double>());
  }
  // BSP with the config's own 2 workers is the sequential arithmetic.
  EXPECT_EQ(rows[2].at("final_test_accuracy").get<double>(),
            seq.at("final_test_accuracy").get<double>());
  EXPECT_TRUE(rows[2].at("time_to_target_s").is_number());
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "w2" / "summary.json"));
}

// Under launch a trial's CPU time includes its node processes: at least
// what launch itself reports they used (enough epochs for a second of it).
TEST_F(BenchScaling, TrialCpuCoversEveryNodeUnderLaunch) {
  temp_dir dir;
  auto config = tiny_job(dir, 60);
  auto r =
      run(binary() + " bench scaling " + config +
          " --workers 2 --mode launch --json --out " + (dir / "out").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto out = json_line(r.output);
  ASSERT_TRUE(out.is_object()) << r.output;
  auto trial_cpu = out.at("rows").at(1).at("cpu_s").get<double>();
  std::ifstream log(dir / "out" / "w2" / "log.txt");
  std::stringstream text;
  text << log.rdbuf();
  std::smatch m;
  auto s = text.str();
  ASSERT_TRUE(std::regex_search(s, m, std::regex(R"(used ([0-9.]+) s of CPU)")))
      << s;
  auto nodes_cpu = std::stod(m[1]);
  EXPECT_GT(nodes_cpu, 0);
  EXPECT_GE(trial_cpu + 0.05, nodes_cpu) << s;
}

TEST(BenchScalingRefuses, ALassoJobNamingTheFile) {
  auto config = std::string(METRONOME_SOURCE_DIR) + "/configs/lasso.yaml";
  temp_dir dir;
  auto r = run(binary() + " bench scaling " + config + " --out " +
               (dir / "out").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(config), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("algorithm 'lasso'"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

TEST_F(BenchScaling, RefusesACountThatDoesNotDivideTheGlobalBatch) {
  temp_dir dir;
  auto config = tiny_job(dir);
  auto out = " --out " + (dir / "out").string();
  auto r = run(binary() + " bench scaling " + config + " --workers 1,3" + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find(config + ": 3 workers do not divide the global "
                                   "batch of 32"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
  for (const char* bad : {"0", "65", "1,x", "-1"}) {
    SCOPED_TRACE(bad);
    auto refused =
        run(binary() + " bench scaling " + config + " --workers " + bad + out);
    EXPECT_EQ(refused.exit_code, 2) << refused.output;
  }
  auto mode = run(binary() + " bench scaling " + config + " --mode fast" + out);
  EXPECT_EQ(mode.exit_code, 2) << mode.output;
}

} // namespace
} // namespace metronome::test

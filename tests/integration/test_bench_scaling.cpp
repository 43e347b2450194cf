// `metronome bench scaling` through the real binary: one row per run, the
// trials doing the sequential run's work, bad jobs and counts refused.

#include "tests/integration/jobs_support.hpp"

#include <gtest/gtest.h>

#include <string>

namespace metronome::test {
namespace {

// A one-epoch softmax job of 2 workers x 16 samples (global batch 32).
std::string tiny_job(const temp_dir& dir) {
  job_settings s;
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
  }
  // BSP with the config's own 2 workers is the sequential arithmetic.
  EXPECT_EQ(rows[2].at("final_test_accuracy").get<double>(),
            seq.at("final_test_accuracy").get<double>());
  EXPECT_TRUE(rows[2].at("time_to_target_s").is_number());
  EXPECT_TRUE(std::filesystem::exists(dir / "out" / "w2" / "summary.json"));
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

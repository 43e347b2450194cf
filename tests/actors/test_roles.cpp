#include "actors/roles.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace metronome::actors {
namespace {

// A LIBSVM file of 10 samples whose labels are 0, 1, 0, 1, ... and whose
// feature 1 is the sample's index.
std::string ten_samples() {
  auto path = std::filesystem::temp_directory_path() /
              ("metronome-roles-" + std::to_string(::getpid()) + ".libsvm");
  std::ofstream out(path);
  for (int i = 0; i < 10; ++i)
    out << i % 2 << " 1:" << i << " 4:1\n";
  return path.string();
}

TEST(JobData, AWorkersPartOfALimitedLibsvmSetKnowsTheWholeSet) {
  data_spec spec;
  spec.format = "libsvm";
  spec.train = ten_samples();
  spec.train_limit = 7;
  auto whole = job_data(spec, false);
  EXPECT_EQ(whole->num_samples(), 7u);
  EXPECT_EQ(whole->total_samples(), 7u);

  auto mine = job_data(spec, false, data_part::of_worker(1, 2));
  auto range = algorithms::data_shard(7, 2, 1);
  ASSERT_EQ(mine->num_samples(), range.size());
  EXPECT_EQ(mine->first_sample, range.begin);
  EXPECT_EQ(mine->total_samples(), 7u);
  EXPECT_EQ(mine->num_features, whole->num_features);
  EXPECT_EQ(mine->num_classes, whole->num_classes);
  for (std::size_t i = 0; i < mine->num_samples(); ++i)
    EXPECT_EQ(mine->labels[i], whole->labels[range.begin + i]);

  auto none = job_data(spec, false, data_part::none());
  EXPECT_EQ(none->num_samples(), 0u);
  EXPECT_EQ(none->total_samples(), 7u);
  EXPECT_EQ(none->num_features, whole->num_features);
  std::filesystem::remove(spec.train);
}

} // namespace
} // namespace metronome::actors

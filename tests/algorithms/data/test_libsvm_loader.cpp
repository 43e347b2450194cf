#include "algorithms/data/libsvm_loader.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using test::temp_dir;
using ::testing::HasSubstr;

std::string load_error_message(const std::string& path,
                               std::size_t num_features = 0) {
  try {
    load_libsvm(path, num_features);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_libsvm did not throw load_error for " << path;
  return "";
}

TEST(LibsvmLoader, SyntheticFile) {
  dataset d = load_libsvm(test::data_path("synthetic.libsvm"));
  EXPECT_TRUE(d.is_sparse());
  EXPECT_EQ(d.dense.size(), 0);
  EXPECT_EQ(d.num_samples(), 40u);
  EXPECT_EQ(d.num_features, 12u);
  EXPECT_EQ(d.num_classes, 2);
  EXPECT_EQ(d.sparse.rows(), 12);
  EXPECT_EQ(d.sparse.cols(), 40);
  EXPECT_EQ(d.sparse.nonZeros(), 170);
  std::vector<float> first(d.labels.begin(), d.labels.begin() + 3);
  EXPECT_EQ(first, (std::vector<float>{0, 1, 1}));
  int positives = 0;
  for (float y : d.labels) {
    EXPECT_TRUE(y == 0.0f || y == 1.0f);
    positives += y == 1.0f;
  }
  EXPECT_EQ(positives, 21);
  // Line 6: "0 1:0.154 2:-0.207 4:0.953 10:-0.907 12:0.717".
  Eigen::VectorXf x0 = d.sparse.col(0);
  Eigen::VectorXf expected = Eigen::VectorXf::Zero(12);
  expected << 0.154f, -0.207f, 0, 0.953f, 0, 0, 0, 0, 0, -0.907f, 0, 0.717f;
  EXPECT_TRUE(x0 == expected) << x0.transpose();
}

TEST(LibsvmLoader, ExplicitNumFeatures) {
  std::string path = test::data_path("synthetic.libsvm");
  dataset d = load_libsvm(path, 20);
  EXPECT_EQ(d.num_features, 20u);
  EXPECT_EQ(d.sparse.rows(), 20);
  EXPECT_EQ(d.sparse.nonZeros(), 170);
  std::string msg = load_error_message(path, 10);
  EXPECT_THAT(msg, HasSubstr(path + ":6:38: feature index 12 exceeds the "
                                    "number of features 10"));
}

TEST(LibsvmLoader, LenientFormatting) {
  temp_dir dir;
  std::string path = dir.write("ok.svm", "# header\n"
                                         "\n"
                                         "+1\t3:1.5   1:-2 # unordered\r\n"
                                         "   -1\n"
                                         "1.0 2:+0.25 4:1e-2\r\n"
                                         "0 4:0\n");
  dataset d = load_libsvm(path);
  ASSERT_EQ(d.num_samples(), 4u);
  EXPECT_EQ(d.labels, (std::vector<float>{1, 0, 1, 0}));
  EXPECT_EQ(d.num_features, 4u);
  Eigen::MatrixXf x = d.sparse.toDense();
  Eigen::MatrixXf expected(4, 4);
  expected << -2, 0, 0, 0, //
      0, 0, 0.25f, 0,      //
      1.5f, 0, 0, 0,       //
      0, 0, 0.01f, 0;
  EXPECT_TRUE(x == expected) << x;
}

struct bad_case {
  const char* text;
  const char* where;
  const char* what;
};

TEST(LibsvmLoader, MalformedInputsNameLineAndColumn) {
  const std::vector<bad_case> cases = {
      {"2 1:0.5\n", ":1:1: ", "bad label '2'"},
      {"abc 1:0.5\n", ":1:1: ", "bad label 'abc'"},
      {"+-1 1:0.5\n", ":1:1: ", "bad label"},
      {"1 1:0.5\n+1 3 \n", ":2:4: ", "missing ':'"},
      {"# c\n\n1  0:1\n", ":3:4: ", "feature index must be positive, got 0"},
      {"1 -3:1\n", ":1:3: ", "feature index must be positive, got -3"},
      {"1 x:1\n", ":1:3: ", "bad feature index 'x'"},
      {"1 :1\n", ":1:3: ", "bad feature index ''"},
      {"1 1:0.5 2:abc\n", ":1:11: ", "bad feature value 'abc'"},
      {"1 1:\n", ":1:5: ", "bad feature value ''"},
      {"1 1:nan\n", ":1:5: ", "bad feature value 'nan'"},
      {"1 1:1e400\n", ":1:5: ", "bad feature value '1e400'"},
      {"1 1:1e39\n", ":1:5: ", "bad feature value '1e39'"},
      {"1 1:0.5x\n", ":1:5: ", "bad feature value '0.5x'"},
      {"1 2:1 3:1 2:5\n", ":1:11: ", "duplicate feature index 2"},
      {"# only a comment\n\n", ":3:1: ", "no samples"},
  };
  temp_dir dir;
  int n = 0;
  for (const bad_case& c : cases) {
    std::string path = dir.write("bad" + std::to_string(n++) + ".svm", c.text);
    std::string msg = load_error_message(path);
    EXPECT_THAT(msg, HasSubstr(path + c.where)) << c.text;
    EXPECT_THAT(msg, HasSubstr(c.what)) << c.text;
  }
}

TEST(LibsvmLoader, MissingFile) {
  temp_dir dir;
  std::string path = dir.file("missing.svm");
  std::string msg = load_error_message(path);
  EXPECT_THAT(msg, HasSubstr(path + ": cannot open"));
}

TEST(Dataset, SliceDense) {
  dataset d = test::random_dense(5, 30, 3, 11);
  dataset s = slice(d, 10, 17);
  EXPECT_EQ(s.num_samples(), 7u);
  EXPECT_EQ(s.num_features, 5u);
  EXPECT_EQ(s.num_classes, 3);
  EXPECT_FALSE(s.is_sparse());
  EXPECT_TRUE(s.dense == d.dense.middleCols(10, 7));
  EXPECT_EQ(s.labels,
            std::vector<float>(d.labels.begin() + 10, d.labels.begin() + 17));
  EXPECT_EQ(slice(d, 30, 30).num_samples(), 0u);
  EXPECT_THROW(slice(d, 20, 31), std::out_of_range);
  EXPECT_THROW(slice(d, 5, 4), std::out_of_range);
}

TEST(Dataset, SliceSparse) {
  dataset d = load_libsvm(test::data_path("synthetic.libsvm"));
  dataset s = slice(d, 1, 4);
  EXPECT_TRUE(s.is_sparse());
  EXPECT_EQ(s.num_samples(), 3u);
  EXPECT_EQ(s.sparse.rows(), 12);
  Eigen::MatrixXf expected = d.sparse.toDense().middleCols(1, 3);
  EXPECT_TRUE(Eigen::MatrixXf(s.sparse.toDense()) == expected);
  EXPECT_EQ(s.labels, (std::vector<float>{1, 1, 0}));
}

} // namespace
} // namespace metronome::algorithms

#include "algorithms/data/libsvm_loader.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
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
  EXPECT_THAT(msg, HasSubstr(path + ": cannot read: it is missing"));
}

std::string regression_error(const std::string& path,
                             std::size_t num_features = 0) {
  try {
    load_libsvm_regression(path, num_features);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_libsvm_regression did not throw for " << path;
  return "";
}

TEST(LibsvmRegression, RealTargetsAndDoubleValues) {
  temp_dir dir;
  std::string path = dir.write("r.svm", "# targets are real\n"
                                        "0.1 3:0.1 1:-2.5e-3\n"
                                        "\n"
                                        "-7 2:1e39 # beyond float\n"
                                        "+3.25\r\n"
                                        "1e-300 4:4\n");
  regression_data d = load_libsvm_regression(path);
  ASSERT_EQ(d.samples(), 4u);
  EXPECT_EQ(d.features(), 4u);
  EXPECT_EQ(d.x.rows(), 4);
  EXPECT_EQ(d.y, (std::vector<double>{0.1, -7, 3.25, 1e-300}));
  Eigen::MatrixXd expected = Eigen::MatrixXd::Zero(4, 4);
  expected(0, 0) = -2.5e-3;
  expected(0, 2) = 0.1;
  expected(1, 1) = 1e39;
  expected(3, 3) = 4;
  EXPECT_TRUE(Eigen::MatrixXd(d.x) == expected) << Eigen::MatrixXd(d.x);
  EXPECT_EQ(d.x.nonZeros(), 4);
  EXPECT_TRUE(d.x.isCompressed());
  // Row indices sorted within each column, as row_block expects.
  for (Eigen::Index j = 0; j < d.x.outerSize(); ++j)
    EXPECT_TRUE(
        std::is_sorted(d.x.innerIndexPtr() + d.x.outerIndexPtr()[j],
                       d.x.innerIndexPtr() + d.x.outerIndexPtr()[j + 1]));
  EXPECT_EQ(load_libsvm_regression(path, 9).features(), 9u);
}

TEST(LibsvmRegression, ReadsTheClassificationFileWithItsLabels) {
  std::string path = test::data_path("synthetic.libsvm");
  regression_data r = load_libsvm_regression(path);
  dataset c = load_libsvm(path);
  ASSERT_EQ(r.samples(), c.num_samples());
  EXPECT_EQ(r.features(), c.num_features);
  Eigen::MatrixXf as_float = Eigen::MatrixXd(r.x).cast<float>().transpose();
  EXPECT_TRUE(as_float == Eigen::MatrixXf(c.sparse));
  for (std::size_t i = 0; i < r.samples(); ++i)
    EXPECT_EQ(r.y[i] > 0, c.labels[i] == 1.0f) << i;
}

TEST(LibsvmRegression, MalformedInputsNameLineAndColumn) {
  const std::vector<bad_case> cases = {
      {"nan 1:0.5\n", ":1:1: ", "bad target 'nan' (expected a finite"},
      {"1 1:0.5\ninf 1:0.5\n", ":2:1: ", "bad target 'inf'"},
      {"1e400 1:0.5\n", ":1:1: ", "bad target '1e400'"},
      {"abc 1:0.5\n", ":1:1: ", "bad target 'abc'"},
      {"  1:0.5 2:1\n", ":1:3: ",
       "missing target (the line starts with "
       "'1:0.5')"},
      {"1.5 0:1\n", ":1:5: ", "feature index must be positive, got 0"},
      {"1.5 x:1\n", ":1:5: ", "bad feature index 'x'"},
      {"2 1:1 1:2\n", ":1:7: ", "duplicate feature index 1"},
      {"2 3:1 1:2 3:4\n", ":1:11: ", "duplicate feature index 3"},
      {"2 1:inf\n", ":1:5: ", "bad feature value 'inf'"},
      {"2 1:-nan\n", ":1:5: ", "bad feature value '-nan'"},
      {"2 1:1e400\n", ":1:5: ", "bad feature value '1e400'"},
      {"2 1\n", ":1:3: ", "missing ':'"},
      {"# nothing\n", ":2:1: ", "no samples"},
  };
  temp_dir dir;
  int n = 0;
  for (const bad_case& c : cases) {
    std::string path = dir.write("bad" + std::to_string(n++) + ".svm", c.text);
    std::string msg = regression_error(path);
    EXPECT_THAT(msg, HasSubstr(path + c.where)) << c.text;
    EXPECT_THAT(msg, HasSubstr(c.what)) << c.text;
  }
  std::string path = dir.write("wide.svm", "1 1:1\n2 5:1\n");
  EXPECT_THAT(regression_error(path, 4),
              HasSubstr(path + ":2:3: feature index 5 exceeds the number "
                               "of features 4"));
  EXPECT_THAT(regression_error(dir.file("missing.svm")),
              HasSubstr("missing.svm: cannot read: it is missing"));
}

TEST(LibsvmRegression, DescendingIndicesAreSorted) {
  temp_dir dir;
  std::string path = dir.write("desc.svm", "1 5:5 3:3 1:1\n2 2:2\n");
  regression_data d = load_libsvm_regression(path);
  Eigen::MatrixXd expected = Eigen::MatrixXd::Zero(2, 5);
  expected << 1, 0, 3, 0, 5, //
      0, 2, 0, 0, 0;
  EXPECT_TRUE(Eigen::MatrixXd(d.x) == expected) << Eigen::MatrixXd(d.x);
}

TEST(LibsvmLine, ProblemsByMode) {
  using L = libsvm_labels;
  EXPECT_EQ(libsvm_line_problem("+1 1:0.5 3:2 # c", L::binary), "");
  EXPECT_EQ(libsvm_line_problem("0.25 1:0.5", L::real), "");
  EXPECT_EQ(libsvm_line_problem("-3e5 2:1e39", L::real), "");
  EXPECT_EQ(libsvm_line_problem("0.25 1:0.5", L::binary),
            "col 1: bad label '0.25' (expected +1, 1, -1 or 0)");
  EXPECT_EQ(libsvm_line_problem("1 2:1e39", L::binary),
            "col 5: bad feature value '1e39' (expected a finite number)");
  EXPECT_EQ(libsvm_line_problem("1 2:1 x", L::real),
            "col 7: missing ':' in feature 'x' (expected index:value)");
  EXPECT_EQ(libsvm_line_problem("nan 2:1", L::real),
            "col 1: bad target 'nan' (expected a finite number)");
  EXPECT_EQ(libsvm_line_problem("1 4:1 4:2", L::real),
            "col 7: duplicate feature index 4");
  EXPECT_EQ(libsvm_line_problem("1 0:1", L::binary),
            "col 3: feature index must be positive, got 0");
  EXPECT_EQ(libsvm_line_problem("  # only a comment", L::real),
            "col 3: missing target (the line holds no sample)");
  EXPECT_EQ(libsvm_line_problem("", L::binary),
            "col 1: missing label (the line holds no sample)");
}

TEST(LibsvmLine, ParserReportsTheParsedLine) {
  libsvm_line out;
  ASSERT_TRUE(
      parse_libsvm_line("-2.5 7:1 2:-0.5", libsvm_labels::real, 0, out));
  EXPECT_EQ(out.label, -2.5);
  ASSERT_EQ(out.features.size(), 2u);
  EXPECT_EQ(out.features[0].index, 7);
  EXPECT_EQ(out.features[0].value, 1.0);
  EXPECT_EQ(out.features[1].index, 2);
  EXPECT_EQ(out.features[1].value, -0.5);
  EXPECT_TRUE(out.error.empty());
  // The same storage, reused: a failure leaves the reason and column.
  EXPECT_FALSE(parse_libsvm_line("1 7:1", libsvm_labels::real, 6, out));
  EXPECT_EQ(out.column, 3u);
  EXPECT_EQ(out.error, "feature index 7 exceeds the number of features 6");
  EXPECT_EQ(libsvm_content("  1 1:2 # x"), "  1 1:2 ");
  EXPECT_EQ(libsvm_content(" \t# x"), "");
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

// The `# expect: TEXT` lines of a corpus file: each TEXT must follow the
// file's path in the message.
std::vector<std::string> expectations(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  const std::string marker = "# expect: ";
  for (std::string line; std::getline(in, line);)
    if (line.rfind(marker, 0) == 0)
      out.push_back(line.substr(marker.size()));
  return out;
}

TEST(LibsvmLoader, EveryBadCorpusFileIsRefusedByBothLoaders) {
  std::string dir = test::bad_dir("data");
  auto names = test::corpus_files(dir, "libsvm-");
  EXPECT_GE(names.size(), 8u);
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    std::string path = dir + "/" + name;
    auto expected = expectations(path);
    ASSERT_FALSE(expected.empty()) << "no '# expect:' line in " << path;
    for (const auto& text : expected) {
      EXPECT_THAT(load_error_message(path), HasSubstr(path + text));
      EXPECT_THAT(regression_error(path), HasSubstr(path + text));
    }
  }
}

TEST(LibsvmLoader, LargestFeatureIndexLoads) {
  temp_dir dir;
  std::string path = dir.write("wide.svm", "1 1:1 16777216:2\n");
  dataset d = load_libsvm(path);
  EXPECT_EQ(d.num_features, libsvm_max_features);
  EXPECT_EQ(d.sparse.coeff(16777215, 0), 2.0f);
}

TEST(LibsvmLoader, FifoDeviceAndDirectoryAreRefusedAtOnce) {
  test::expect_non_regular_refused(
      [](const std::string& p) { return load_error_message(p); });
  test::expect_non_regular_refused(
      [](const std::string& p) { return regression_error(p); });
}

TEST(LibsvmLoader, LineLongerThanTheBoundIsRefused) {
  temp_dir dir;
  std::string line = "1";
  for (std::size_t i = 1; line.size() <= libsvm_max_line; ++i)
    line += " " + std::to_string(i) + ":1";
  std::string path = dir.write("long.svm", "1 1:1\n" + line + "\n");
  EXPECT_THAT(load_error_message(path),
              HasSubstr(path + ":2: line longer than 67108864 bytes"));
}

} // namespace
} // namespace metronome::algorithms

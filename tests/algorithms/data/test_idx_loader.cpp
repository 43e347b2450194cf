#include "algorithms/data/idx_loader.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using test::temp_dir;
using ::testing::HasSubstr;

std::string be32(std::uint32_t v) {
  std::string s(4, '\0');
  s[0] = static_cast<char>(v >> 24);
  s[1] = static_cast<char>(v >> 16);
  s[2] = static_cast<char>(v >> 8);
  s[3] = static_cast<char>(v);
  return s;
}

std::string images_file(std::uint32_t count, std::uint32_t rows,
                        std::uint32_t cols, const std::string& pixels,
                        std::uint32_t magic = 0x803) {
  return be32(magic) + be32(count) + be32(rows) + be32(cols) + pixels;
}

std::string labels_file(std::uint32_t count, const std::string& labels,
                        std::uint32_t magic = 0x801) {
  return be32(magic) + be32(count) + labels;
}

// Three 2x3 images with distinct pixel values and labels 4, 0, 7.
std::string three_images() {
  std::string px;
  for (int i = 0; i < 18; ++i)
    px.push_back(static_cast<char>(i * 15));
  return images_file(3, 2, 3, px);
}

std::string three_labels() {
  return labels_file(3, std::string("\4\0\7", 3));
}

// `bytes` compressed by zlib into `name` of `dir`.
std::string write_gzip(const temp_dir& dir, const std::string& name,
                       const std::string& bytes) {
  std::string path = dir.file(name);
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
  return path;
}

std::string load_error_message(const std::string& images,
                               const std::string& labels) {
  try {
    load_idx(images, labels);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_idx did not throw load_error";
  return "";
}

TEST(IdxLoader, FashionMnistTrainingSet) {
  if (!test::have_fashion())
    GTEST_SKIP() << "Fashion-MNIST not installed in " << test::fashion_dir;
  dataset d = load_idx(test::fashion_path("train-images-idx3-ubyte.gz"),
                       test::fashion_path("train-labels-idx1-ubyte.gz"));
  EXPECT_EQ(d.num_samples(), 60000u);
  EXPECT_EQ(d.num_features, 784u);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_FALSE(d.is_sparse());
  ASSERT_EQ(d.dense.rows(), 784);
  ASSERT_EQ(d.dense.cols(), 60000);
  std::vector<float> first(d.labels.begin(), d.labels.begin() + 10);
  EXPECT_EQ(first, (std::vector<float>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  EXPECT_GE(d.dense.minCoeff(), 0.0f);
  EXPECT_LE(d.dense.maxCoeff(), 1.0f);
  EXPECT_EQ(d.dense.col(0).maxCoeff(), 1.0f);
  // Sum of the raw bytes of the first image, checked with Python's gzip.
  EXPECT_NEAR(d.dense.col(0).cast<double>().sum(), 76247.0 / 255.0, 1e-3);
  std::vector<int> per_class(10);
  for (float y : d.labels)
    ++per_class[static_cast<int>(y)];
  for (int c : per_class)
    EXPECT_EQ(c, 6000);
}

TEST(IdxLoader, FashionMnistTestSetAndLimit) {
  if (!test::have_fashion())
    GTEST_SKIP() << "Fashion-MNIST not installed in " << test::fashion_dir;
  std::string images = test::fashion_path("t10k-images-idx3-ubyte.gz");
  std::string labels = test::fashion_path("t10k-labels-idx1-ubyte.gz");
  dataset d = load_idx(images, labels);
  EXPECT_EQ(d.num_samples(), 10000u);
  EXPECT_EQ(d.dense.cols(), 10000);
  EXPECT_EQ(d.num_classes, 10);
  std::vector<float> first(d.labels.begin(), d.labels.begin() + 10);
  EXPECT_EQ(first, (std::vector<float>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  EXPECT_NEAR(d.dense.col(0).cast<double>().sum(), 33456.0 / 255.0, 1e-3);

  dataset head = load_idx(images, labels, 25);
  EXPECT_EQ(head.num_samples(), 25u);
  ASSERT_EQ(head.dense.cols(), 25);
  EXPECT_TRUE(head.dense == d.dense.leftCols(25));
  EXPECT_EQ(head.labels,
            std::vector<float>(d.labels.begin(), d.labels.begin() + 25));
}

TEST(IdxLoader, PlainFileLayoutAndScaling) {
  temp_dir dir;
  std::string images = dir.write("img", three_images());
  std::string labels = dir.write("lbl", three_labels());
  dataset d = load_idx(images, labels);
  EXPECT_EQ(d.num_samples(), 3u);
  EXPECT_EQ(d.num_features, 6u);
  EXPECT_EQ(d.num_classes, 8);
  EXPECT_EQ(d.labels, (std::vector<float>{4, 0, 7}));
  ASSERT_EQ(d.dense.rows(), 6);
  ASSERT_EQ(d.dense.cols(), 3);
  // Image j, row r, column c is row r * cols + c of sample column j.
  for (int j = 0; j < 3; ++j)
    for (int r = 0; r < 2; ++r)
      for (int c = 0; c < 3; ++c)
        EXPECT_EQ(d.dense(r * 3 + c, j),
                  static_cast<float>((j * 6 + r * 3 + c) * 15) / 255.0f);
  EXPECT_EQ(d.dense(5, 2), 1.0f);

  dataset two = load_idx(images, labels, 2);
  EXPECT_EQ(two.num_samples(), 2u);
  EXPECT_EQ(two.num_classes, 5);
  dataset all = load_idx(images, labels, 100);
  EXPECT_EQ(all.num_samples(), 3u);
}

TEST(IdxLoader, AShardIsItsPartOfTheWholeFileWithTheFilesClasses) {
  temp_dir dir;
  std::string images = dir.write("img", three_images());
  std::string labels = dir.write("lbl", three_labels());
  dataset whole = load_idx(images, labels);
  dataset middle = load_idx(images, labels, 0, {1, 2});
  EXPECT_EQ(middle.num_samples(), 1u);
  EXPECT_EQ(middle.labels, (std::vector<float>{0}));
  EXPECT_TRUE(middle.dense == whole.dense.middleCols(1, 1));
  EXPECT_EQ(middle.num_classes, 8); // label 7 lies outside the shard
  EXPECT_EQ(middle.first_sample, 1u);
  EXPECT_EQ(middle.total_samples(), 3u);

  dataset none = load_idx(images, labels, 2, {0, 0});
  EXPECT_EQ(none.num_samples(), 0u);
  EXPECT_EQ(none.num_features, 6u);
  EXPECT_EQ(none.num_classes, 5); // the limit's two labels
  EXPECT_EQ(none.total_samples(), 2u);

  dataset clipped = load_idx(images, labels, 0, {2, 50});
  EXPECT_EQ(clipped.labels, (std::vector<float>{7}));
  EXPECT_EQ(clipped.first_sample, 2u);
}

TEST(IdxLoader, AShardEndingBeforeTruncatedPixelsReadsNoFurther) {
  temp_dir dir;
  // A gzip file, whose length the size check cannot know from its header.
  std::string bytes = images_file(4, 2, 3, std::string(18, '\1'));
  std::string images = write_gzip(dir, "img.gz", bytes);
  std::string labels = dir.write("lbl", labels_file(4, std::string(4, '\1')));
  EXPECT_EQ(load_idx(images, labels, 0, {0, 3}).num_samples(), 3u);
  try {
    load_idx(images, labels, 0, {3, 4});
    ADD_FAILURE() << "the shard past the pixels loaded";
  } catch (const load_error& e) {
    EXPECT_THAT(e.what(), HasSubstr("image 3 of 4 got end of file"));
  }
}

TEST(IdxLoader, FashionMnistShardsMatchTheWholeSet) {
  if (!test::have_fashion())
    GTEST_SKIP() << "Fashion-MNIST not installed in " << test::fashion_dir;
  std::string images = test::fashion_path("t10k-images-idx3-ubyte.gz");
  std::string labels = test::fashion_path("t10k-labels-idx1-ubyte.gz");
  dataset whole = load_idx(images, labels);
  std::size_t covered = 0;
  for (std::size_t rank = 0; rank < 3; ++rank) {
    auto range = data_shard(whole.num_samples(), 3, rank);
    dataset part = load_idx(images, labels, 0, range);
    ASSERT_EQ(part.num_samples(), range.size());
    EXPECT_TRUE(part.dense == whole.dense.middleCols(
                                  static_cast<Eigen::Index>(range.begin),
                                  static_cast<Eigen::Index>(range.size())));
    EXPECT_EQ(part.first_sample, range.begin);
    EXPECT_EQ(part.num_classes, 10);
    covered += part.num_samples();
  }
  EXPECT_EQ(covered, whole.num_samples());
}

TEST(IdxLoader, GzipFileWrittenByZlib) {
  temp_dir dir;
  std::string bytes = three_images();
  std::string images = write_gzip(dir, "img.gz", bytes);
  dataset d = load_idx(images, dir.write("lbl", three_labels()));
  EXPECT_EQ(d.num_samples(), 3u);
  EXPECT_EQ(d.dense(1, 0), 15.0f / 255.0f);
}

TEST(IdxLoader, BadImageMagic) {
  temp_dir dir;
  std::string bad = three_images();
  bad[3] = 0x01;
  std::string images = dir.write("images.idx", bad);
  std::string msg = load_error_message(images, dir.write("l", three_labels()));
  EXPECT_THAT(msg, HasSubstr(images + ": byte offset 0: expected"));
  EXPECT_THAT(msg, HasSubstr("0x00000803"));
  EXPECT_THAT(msg, HasSubstr("got 0x00000801"));
}

TEST(IdxLoader, BadLabelMagic) {
  temp_dir dir;
  std::string labels =
      dir.write("labels.idx", labels_file(3, std::string("\4\0\7", 3), 0x803));
  std::string msg = load_error_message(dir.write("i", three_images()), labels);
  EXPECT_THAT(msg, HasSubstr(labels + ": byte offset 0:"));
  EXPECT_THAT(msg, HasSubstr("0x00000801 got 0x00000803"));
}

TEST(IdxLoader, CountMismatch) {
  temp_dir dir;
  std::string images = dir.write("images.idx", three_images());
  std::string labels =
      dir.write("labels.idx", labels_file(2, std::string("\4\0", 2)));
  std::string msg = load_error_message(images, labels);
  EXPECT_THAT(msg, HasSubstr(labels + ": byte offset 4: expected 3 labels"));
  EXPECT_THAT(msg, HasSubstr(images));
  EXPECT_THAT(msg, HasSubstr("got 2"));
}

TEST(IdxLoader, TruncatedPixelData) {
  temp_dir dir;
  // 3 images of 6 pixels need 18 bytes after the 16-byte header; give 10.
  std::string cut = three_images().substr(0, 16 + 10);
  std::string images = dir.write("images.idx", cut);
  std::string msg = load_error_message(images, dir.write("l", three_labels()));
  EXPECT_THAT(msg, HasSubstr(images + ": byte offset 4: 3 images of 2 x 3 "
                                      "pixels need 34 bytes with the header, "
                                      "but the file has 26"));
  // A limit that stays inside the available data loads fine.
  EXPECT_EQ(load_idx(images, dir.file("l"), 1).num_samples(), 1u);
  // Compressed, the shortfall shows only when the data ends.
  std::string gz = write_gzip(dir, "images.gz", cut);
  msg = load_error_message(gz, dir.file("l"));
  EXPECT_THAT(msg, HasSubstr(gz + ": byte offset 26: expected"));
  EXPECT_THAT(msg, HasSubstr("image 1 of 3"));
  EXPECT_THAT(msg, HasSubstr("end of file"));
  EXPECT_EQ(load_idx(gz, dir.file("l"), 1).num_samples(), 1u);
}

TEST(IdxLoader, TruncatedHeaderAndLabels) {
  temp_dir dir;
  std::string images = dir.write("short.idx", three_images().substr(0, 6));
  std::string msg = load_error_message(images, dir.write("l", three_labels()));
  EXPECT_THAT(msg, HasSubstr(images + ": byte offset 6: expected"));

  std::string labels =
      dir.write("labels.idx", labels_file(3, std::string("\4", 1)));
  msg = load_error_message(dir.write("i", three_images()), labels);
  EXPECT_THAT(msg, HasSubstr(labels + ": byte offset 9: expected label 1"));
}

TEST(IdxLoader, TruncatedGzipStream) {
  temp_dir dir;
  std::string bytes = three_images();
  std::string full = write_gzip(dir, "full.gz", bytes);
  std::ifstream in(full, std::ios::binary);
  std::string gz((std::istreambuf_iterator<char>(in)),
                 std::istreambuf_iterator<char>());
  std::string images = dir.write("cut.gz", gz.substr(0, gz.size() / 2));
  std::string msg = load_error_message(images, dir.write("l", three_labels()));
  EXPECT_THAT(msg, HasSubstr(images + ": byte offset "));
}

TEST(IdxLoader, LabelOutOfRange) {
  temp_dir dir;
  std::string labels =
      dir.write("labels.idx", labels_file(3, std::string("\4\0\14", 3)));
  std::string msg = load_error_message(dir.write("i", three_images()), labels);
  EXPECT_THAT(msg, HasSubstr(labels + ": byte offset 10: expected a class "
                                      "label 0..9 got 12"));
}

TEST(IdxLoader, ZeroDimension) {
  temp_dir dir;
  std::string images = dir.write("images.idx", images_file(3, 0, 3, ""));
  std::string msg = load_error_message(images, dir.write("l", three_labels()));
  EXPECT_THAT(msg, HasSubstr(images + ": byte offset 8: expected a positive "
                                      "row count got 0"));
}

TEST(IdxLoader, MissingFile) {
  temp_dir dir;
  std::string images = dir.file("does-not-exist.gz");
  std::string msg = load_error_message(images, dir.write("l", three_labels()));
  EXPECT_THAT(msg, HasSubstr(images + ": cannot read: it is missing"));

  std::string labels = dir.file("no-labels");
  msg = load_error_message(dir.write("i", three_images()), labels);
  EXPECT_THAT(msg, HasSubstr(labels + ": cannot read: it is missing"));
}

TEST(IdxLoader, EveryBadCorpusFileIsRefusedAtItsOffset) {
  std::string dir = test::bad_dir("data");
  auto cases = test::expected_messages(dir);
  test::expect_all_listed(dir, "idx-", cases);
  std::string good_images = dir + "/good-images.idx";
  std::string good_labels = dir + "/good-labels.idx";
  EXPECT_EQ(load_idx(good_images, good_labels).num_samples(), 3u);
  std::size_t labels_cases = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    bool images = c.name.rfind("idx-images-", 0) == 0;
    labels_cases += !images;
    std::string msg = images ? load_error_message(c.path, good_labels)
                             : load_error_message(good_images, c.path);
    EXPECT_THAT(msg, HasSubstr(c.path + c.expected));
  }
  EXPECT_GE(labels_cases, 2u);
  EXPECT_GE(cases.size(), 7u);
}

TEST(IdxLoader, SizeProblemOfAHeader) {
  idx_header h;
  h.rows = 28;
  h.cols = 28;
  h.compressed = true;
  h.file_bytes = 1000;
  // 1000 bytes of gzip hold at most 1032000 bytes: 1316 images of 784.
  EXPECT_EQ(idx_images_size_problem(h, 1316), "");
  EXPECT_THAT(idx_images_size_problem(h, 1317),
              HasSubstr("1317 images of 28 x 28 pixels need 1032544 bytes "
                        "with the header, more than a 1000-byte gzip file"));
  h.compressed = false;
  h.file_bytes = 16 + 784 * 2;
  EXPECT_EQ(idx_images_size_problem(h, 2), "");
  EXPECT_THAT(idx_images_size_problem(h, 3), HasSubstr("but the file has"));
  h.file_bytes = std::uint64_t{1} << 40;
  EXPECT_EQ(idx_images_size_problem(h, idx_max_values / 784), "");
  EXPECT_THAT(idx_images_size_problem(h, idx_max_values / 784 + 1),
              HasSubstr("more than the limit of 268435456 pixel values"));
  // The largest header fields do not overflow the product.
  h.rows = h.cols = 0xffffffff;
  EXPECT_THAT(idx_images_size_problem(h, 0xffffffff),
              HasSubstr("4294967295 images of 4294967295 x 4294967295 "
                        "pixels are more than the limit"));
}

TEST(IdxLoader, FifoDeviceAndDirectoryAreRefusedAtOnce) {
  temp_dir dir;
  std::string images = dir.write("i", three_images());
  std::string labels = dir.write("l", three_labels());
  test::expect_non_regular_refused(
      [&](const std::string& p) { return load_error_message(p, labels); });
  test::expect_non_regular_refused(
      [&](const std::string& p) { return load_error_message(images, p); });
  test::expect_non_regular_refused([](const std::string& p) {
    try {
      read_idx_header(p, true);
    } catch (const load_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  });
}

} // namespace
} // namespace metronome::algorithms

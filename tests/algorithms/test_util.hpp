#pragma once

#include "algorithms/data/dataset.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace metronome::algorithms::test {

/// Directory of the Debian dataset-fashion-mnist package.
inline const std::string fashion_dir = "/usr/share/datasets/fashion-mnist";

inline std::string fashion_path(const std::string& name) {
  return fashion_dir + "/" + name;
}

inline bool have_fashion() {
  return std::filesystem::exists(fashion_path("train-images-idx3-ubyte.gz")) &&
         std::filesystem::exists(fashion_path("t10k-images-idx3-ubyte.gz"));
}

inline std::string data_path(const std::string& name) {
  return std::string(METRONOME_SOURCE_DIR) + "/tests/data/" + name;
}

/// A fresh temporary directory, removed with its contents on destruction.
class temp_dir {
public:
  temp_dir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "metronome-alg-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }

  std::string file(const std::string& name) const {
    return (path_ / name).string();
  }

  std::string write(const std::string& name, const std::string& bytes) const {
    std::string p = file(name);
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return p;
  }

private:
  std::filesystem::path path_;
};

/// Uniform float in [lo, hi) from the top bits of one draw (portable).
inline float uniform(std::mt19937_64& gen, float lo, float hi) {
  double u = static_cast<double>(gen() >> 11) * 0x1.0p-53;
  return static_cast<float>(lo + (hi - lo) * u);
}

/// A dense data set of `n` samples with `f` features in [-1, 1] and labels
/// drawn uniformly from `classes` classes.
inline dataset random_dense(std::size_t f, std::size_t n, int classes,
                            std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  dataset d;
  d.dense.resize(static_cast<Eigen::Index>(f), static_cast<Eigen::Index>(n));
  for (Eigen::Index i = 0; i < d.dense.size(); ++i)
    d.dense.data()[i] = uniform(gen, -1.0f, 1.0f);
  for (std::size_t j = 0; j < n; ++j)
    d.labels.push_back(static_cast<float>(gen() % classes));
  d.num_features = f;
  d.num_classes = classes;
  return d;
}

/// Like random_dense, but sparse with about `density` of the entries set.
inline dataset random_sparse(std::size_t f, std::size_t n, int classes,
                             double density, std::uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::vector<Eigen::Triplet<float, std::int64_t>> entries;
  for (std::size_t j = 0; j < n; ++j)
    for (std::size_t i = 0; i < f; ++i)
      if (uniform(gen, 0.0f, 1.0f) < density)
        entries.emplace_back(i, j, uniform(gen, -1.0f, 1.0f));
  dataset d;
  d.sparse.resize(static_cast<std::int64_t>(f), static_cast<std::int64_t>(n));
  d.sparse.setFromTriplets(entries.begin(), entries.end());
  for (std::size_t j = 0; j < n; ++j)
    d.labels.push_back(static_cast<float>(gen() % classes));
  d.num_features = f;
  d.num_classes = classes;
  return d;
}

/// One file of a bad-input corpus and what its loader's message must hold
/// right after the file's path.
struct bad_input {
  std::string name;
  std::string path;
  std::string expected;
};

/// The directory of a bad-input corpus, `tests/algorithms/DIR/bad`.
inline std::string bad_dir(const std::string& dir) {
  return std::string(METRONOME_SOURCE_DIR) + "/tests/algorithms/" + dir +
         "/bad";
}

/// The entries of `dir`/expected.txt: each line "FILE:rest" or "FILE rest"
/// expects the message path + ":rest" or path + " rest"; lines starting with
/// '#' are comments.
inline std::vector<bad_input> expected_messages(const std::string& dir) {
  std::vector<bad_input> out;
  std::ifstream in(dir + "/expected.txt");
  std::string line;
  while (std::getline(in, line)) {
    auto end = line.find_first_of(": ");
    if (line.empty() || line[0] == '#' || end == std::string::npos)
      continue;
    std::string name = line.substr(0, end);
    out.push_back({name, dir + "/" + name, line.substr(end)});
  }
  return out;
}

/// The names of the files in `dir` that start with `prefix`, sorted.
inline std::vector<std::string> corpus_files(const std::string& dir,
                                             const std::string& prefix) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    auto name = entry.path().filename().string();
    if (name.rfind(prefix, 0) == 0)
      names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

/// Checks that every file of `dir` starting with `prefix` is listed in
/// `listed` and the other way round.
inline void expect_all_listed(const std::string& dir, const std::string& prefix,
                              const std::vector<bad_input>& listed) {
  std::set<std::string> names;
  for (const auto& b : listed)
    names.insert(b.name);
  for (const auto& name : corpus_files(dir, prefix))
    EXPECT_EQ(names.erase(name), 1u) << name << " has no expected message";
  for (const auto& name : names)
    ADD_FAILURE() << name << " is listed but missing from " << dir;
}

/// Checks that `message_of(path)`, the message a loader throws for `path`,
/// refuses a FIFO, /dev/zero and a directory at once (a FIFO would block
/// the reader if it were opened), naming the path and what it is.
template <class MessageOf>
void expect_non_regular_refused(MessageOf message_of) {
  using ::testing::HasSubstr;
  temp_dir dir;
  std::string fifo = dir.file("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << fifo;
  EXPECT_THAT(message_of(fifo), HasSubstr(fifo + ": cannot read: it is a "
                                                 "FIFO (named pipe), not a "
                                                 "regular file"));
  EXPECT_THAT(message_of("/dev/zero"),
              HasSubstr("/dev/zero: cannot read: it is a character device, "
                        "not a regular file"));
  std::string sub = dir.file("sub");
  std::filesystem::create_directory(sub);
  EXPECT_THAT(message_of(sub), HasSubstr(sub + ": cannot read: it is a "
                                               "directory"));
}

inline std::vector<std::size_t> iota_batch(std::size_t n) {
  std::vector<std::size_t> b(n);
  for (std::size_t i = 0; i < n; ++i)
    b[i] = i;
  return b;
}

} // namespace metronome::algorithms::test

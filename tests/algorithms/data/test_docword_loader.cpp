#include "algorithms/data/docword_loader.hpp"
#include "algorithms/data/input_file.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

namespace metronome::algorithms {
namespace {

using test::temp_dir;
using ::testing::HasSubstr;

std::string bad_path(const std::string& name) {
  return std::string(METRONOME_SOURCE_DIR) + "/tests/algorithms/data/bad/" +
         name;
}

std::string mini_path(const std::string& name) {
  return test::data_path("uci-mini/" + name);
}

std::string docword_error(const std::string& docword,
                          const std::string& vocab) {
  try {
    load_docword(docword, vocab);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "load_docword did not throw load_error for " << docword;
  return "";
}

std::vector<std::uint32_t> tokens_of(const lda::corpus& c, std::size_t d) {
  return {c.words.begin() + c.offsets[d], c.words.begin() + c.offsets[d + 1]};
}

std::vector<std::uint32_t> sorted(std::vector<std::uint32_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST(DocwordLoader, MiniCorpusExactly) {
  auto c =
      load_docword(mini_path("docword.mini.txt"), mini_path("vocab.mini.txt"));
  EXPECT_EQ(c.vocabulary, (std::vector<std::string>{"apple", "banana", "cherry",
                                                    "date", "elder", "fig"}));
  ASSERT_EQ(c.documents(), 4u);
  EXPECT_EQ(c.tokens(), 11u);
  EXPECT_EQ(c.offsets, (std::vector<std::size_t>{0, 3, 7, 7, 11}));
  // File order within a document: line "1 3 1" comes before "1 1 2".
  EXPECT_EQ(tokens_of(c, 0), (std::vector<std::uint32_t>{2, 0, 0}));
  EXPECT_EQ(tokens_of(c, 1), (std::vector<std::uint32_t>{1, 1, 1, 5}));
  EXPECT_EQ(c.length(2), 0u);
  EXPECT_EQ(tokens_of(c, 3), (std::vector<std::uint32_t>{0, 3, 3, 4}));
}

TEST(DocwordLoader, TrailingEmptyDocumentsAndCrlf) {
  temp_dir dir;
  auto docword = dir.write("d.txt", "5\r\n2\r\n2\r\n\r\n2 2 1\r\n2 1 3\r\n");
  auto vocab = dir.write("v.txt", "x\r\n y \r\n");
  auto c = load_docword(docword, vocab);
  EXPECT_EQ(c.vocabulary, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(c.offsets, (std::vector<std::size_t>{0, 0, 4, 4, 4, 4}));
  EXPECT_EQ(c.words, (std::vector<std::uint32_t>{1, 0, 0, 0}));
}

TEST(DocwordLoader, RoundTripKeepsEveryBagOfWords) {
  lda::corpus c;
  c.vocabulary = {"alpha", "beta", "gamma", "delta"};
  c.words = {3, 1, 3, 0, 3, 2, 2, 1, 0, 1};
  c.offsets = {0, 4, 4, 9, 10};
  temp_dir dir;
  write_docword(c, dir.file("docword.t.txt"), dir.file("vocab.t.txt"));
  auto back = load_docword(dir.file("docword.t.txt"), dir.file("vocab.t.txt"));
  EXPECT_EQ(back.vocabulary, c.vocabulary);
  EXPECT_EQ(back.offsets, c.offsets);
  for (std::size_t d = 0; d < c.documents(); ++d)
    EXPECT_EQ(tokens_of(back, d), sorted(tokens_of(c, d))) << "document " << d;
  std::ifstream in(dir.file("docword.t.txt"));
  std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(text, "4\n4\n8\n1 1 1\n1 2 1\n1 4 2\n"
                  "3 1 1\n3 2 1\n3 3 2\n3 4 1\n4 2 1\n");
}

TEST(DocwordLoader, RoundTripOfTheMiniCorpus) {
  auto c =
      load_docword(mini_path("docword.mini.txt"), mini_path("vocab.mini.txt"));
  temp_dir dir;
  write_docword(c, dir.file("d.txt"), dir.file("v.txt"));
  auto back = load_docword(dir.file("d.txt"), dir.file("v.txt"));
  EXPECT_EQ(back.vocabulary, c.vocabulary);
  EXPECT_EQ(back.offsets, c.offsets);
  for (std::size_t d = 0; d < c.documents(); ++d)
    EXPECT_EQ(tokens_of(back, d), sorted(tokens_of(c, d)));
}

TEST(DocwordLoader, WriteRefusesCorporaItCouldNotReadBack) {
  temp_dir dir;
  auto write = [&](const lda::corpus& c) {
    write_docword(c, dir.file("d.txt"), dir.file("v.txt"));
  };
  lda::corpus empty;
  empty.vocabulary = {"a"};
  EXPECT_THROW(write(empty), std::invalid_argument);
  lda::corpus c;
  c.vocabulary = {"a", "b"};
  c.words = {0, 2};
  c.offsets = {0, 2};
  EXPECT_THROW(write(c), std::invalid_argument);
  c.words = {0, 1};
  c.vocabulary = {"a", "a"};
  EXPECT_THROW(write(c), std::invalid_argument);
  c.vocabulary = {"a", "b c"};
  EXPECT_THROW(write(c), std::invalid_argument);
  c.vocabulary = {"a", "b"};
  c.offsets = {0, 3};
  EXPECT_THROW(write(c), std::invalid_argument);
  c.offsets = {0, 2};
  EXPECT_THROW(
      write_docword(c, dir.file("no/such/dir/d.txt"), dir.file("v.txt")),
      load_error);
}

// Each bad file, the file the message must name, its line and a fragment.
struct bad_case {
  const char* docword;
  const char* vocab;
  bool vocab_named; ///< the message is about the vocabulary file
  int line;
  const char* fragment;
};

const bad_case bad_cases[] = {
    {"docword-empty.txt", "vocab-5.txt", false, 1,
     "truncated header: missing D"},
    {"docword-header-truncated.txt", "vocab-5.txt", false, 3,
     "truncated header: missing NNZ"},
    {"docword-header-blank.txt", "vocab-5.txt", false, 1,
     "blank header line: expected D"},
    {"docword-header-garbage.txt", "vocab-5.txt", false, 1,
     "trailing garbage 'docs' after D"},
    {"docword-header-nonnumeric.txt", "vocab-5.txt", false, 1,
     "D 'three' is not an integer"},
    {"docword-header-zero-documents.txt", "vocab-5.txt", false, 1,
     "D must be positive, got 0"},
    {"docword-header-huge-documents.txt", "vocab-5.txt", false, 1,
     "D 99999999999 exceeds 2^31 - 1"},
    {"docword-header-overflow.txt", "vocab-5.txt", false, 3,
     "NNZ 99999999999999999999999 is out of range"},
    {"docword-header-negative-nnz.txt", "vocab-5.txt", false, 3,
     "NNZ must not be negative, got -1"},
    {"docword-nnz-exceeds-dw.txt", "vocab-5.txt", false, 3,
     "NNZ 11 exceeds D x W = 2 x 5"},
    {"docword-w-larger-than-vocab.txt", "vocab-5.txt", true, 6,
     "the file ends after 5 words, but W = 6"},
    {"docword-w-smaller-than-vocab.txt", "vocab-5.txt", true, 5,
     "more than W = 4 words"},
    {"docword-too-few-entries.txt", "vocab-5.txt", false, 7,
     "the file ends after 3 of NNZ = 4 entries"},
    {"docword-too-many-entries.txt", "vocab-5.txt", false, 6,
     "more entries than NNZ = 2"},
    {"docword-docid-exceeds-d.txt", "vocab-5.txt", false, 5,
     "docID 4 exceeds D = 3"},
    {"docword-docid-zero.txt", "vocab-5.txt", false, 4,
     "docID must be positive, got 0"},
    {"docword-wordid-exceeds-w.txt", "vocab-5.txt", false, 5,
     "wordID 6 exceeds W = 5"},
    {"docword-wordid-zero.txt", "vocab-5.txt", false, 4,
     "wordID must be positive, got 0"},
    {"docword-count-zero.txt", "vocab-5.txt", false, 4,
     "count must be positive, got 0"},
    {"docword-count-negative.txt", "vocab-5.txt", false, 4,
     "count must be positive, got -2"},
    {"docword-count-fraction.txt", "vocab-5.txt", false, 4,
     "count '1.5' is not an integer"},
    {"docword-count-huge.txt", "vocab-5.txt", false, 4,
     "count 1000000000000 exceeds 2^31 - 1"},
    {"docword-tokens-overflow.txt", "vocab-5.txt", false, 5,
     "more than 2^28 = 268435456 tokens in all (count 200000000 after "
     "200000000 tokens"},
    {"docword-nonnumeric-field.txt", "vocab-5.txt", false, 4,
     "wordID 'x' is not an integer"},
    {"docword-plus-sign.txt", "vocab-5.txt", false, 4,
     "docID '+1' is not an integer"},
    {"docword-trailing-garbage.txt", "vocab-5.txt", false, 4,
     "trailing garbage '4' after the count"},
    {"docword-truncated-line.txt", "vocab-5.txt", false, 5, "missing count"},
    {"docword-missing-fields.txt", "vocab-5.txt", false, 5,
     "missing wordID and count"},
    {"docword-docid-decreasing.txt", "vocab-5.txt", false, 6,
     "docID 1 after docID 2: entries must be sorted by document"},
    {"docword-repeated-word.txt", "vocab-5.txt", false, 5,
     "wordID 2 repeated in document 1"},
    {"docword-too-many-empty-documents.txt", "vocab-5.txt", false, 1,
     "documents without entries (at most 16777216 allowed)"},
    {"docword-far-docid.txt", "vocab-5.txt", false, 4,
     "docID 1999999999 leaves 1999999998 documents without entries"},
    {"docword-long-line.txt", "vocab-5.txt", false, 4,
     "line longer than 4096 bytes"},
    {"docword-binary.txt", "vocab-5.txt", false, 4,
     "docID '1\\x00' is not an integer"},
    {"good-docword.txt", "vocab-4.txt", true, 5,
     "the file ends after 4 words, but W = 5"},
    {"good-docword.txt", "vocab-6.txt", true, 6, "more than W = 5 words"},
    {"good-docword.txt", "vocab-duplicate.txt", true, 4,
     "duplicate word 'dog' (first on line 2)"},
    {"good-docword.txt", "vocab-empty-word.txt", true, 3, "empty word"},
    {"good-docword.txt", "vocab-blank-in-word.txt", true, 2,
     "word 'big dog' holds a blank"},
};

TEST(DocwordLoader, GoodFileOfTheBadCorpusLoads) {
  auto c = load_docword(bad_path("good-docword.txt"), bad_path("vocab-5.txt"));
  EXPECT_EQ(c.documents(), 3u);
  EXPECT_EQ(c.tokens(), 6u);
}

TEST(DocwordLoader, EveryBadFileNamesItsFileAndLine) {
  for (const auto& b : bad_cases) {
    SCOPED_TRACE(std::string(b.docword) + " + " + b.vocab);
    std::string msg = docword_error(bad_path(b.docword), bad_path(b.vocab));
    auto named = bad_path(b.vocab_named ? b.vocab : b.docword);
    EXPECT_THAT(msg, HasSubstr(named + ":" + std::to_string(b.line) + ": "));
    EXPECT_THAT(msg, HasSubstr(b.fragment));
  }
}

TEST(DocwordLoader, EveryBadFileIsInTheTable) {
  std::set<std::string> listed;
  for (const auto& b : bad_cases)
    listed.insert(b.docword);
  for (const auto& entry : std::filesystem::directory_iterator(bad_path(""))) {
    auto name = entry.path().filename().string();
    if (name.rfind("docword-", 0) == 0) {
      EXPECT_EQ(listed.count(name), 1u) << name << " is not tested";
    }
  }
}

TEST(DocwordLoader, LongVocabularyLineIsRefused) {
  temp_dir dir;
  auto vocab = dir.write("v.txt", "a\n" + std::string(10000, 'b') + "\n");
  auto docword = dir.write("d.txt", "1\n2\n1\n1 1 1\n");
  EXPECT_THAT(docword_error(docword, vocab),
              HasSubstr(vocab + ":2: line longer than 4096 bytes"));
}

TEST(DocwordLoader, FifoDeviceDirectoryAndMissingFileRefusedAtOnce) {
  temp_dir dir;
  auto fifo = dir.file("fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  auto vocab = bad_path("vocab-5.txt");
  auto good = bad_path("good-docword.txt");
  EXPECT_THAT(docword_error(fifo, vocab), HasSubstr(fifo + ": cannot read: "
                                                           "it is a FIFO"));
  EXPECT_THAT(docword_error(good, fifo), HasSubstr(fifo + ": cannot read"));
  EXPECT_THAT(docword_error("/dev/zero", vocab),
              HasSubstr("/dev/zero: cannot read: it is a character device"));
  EXPECT_THAT(docword_error(dir.file(""), vocab),
              HasSubstr("it is a directory"));
  EXPECT_THAT(docword_error(dir.file("missing"), vocab),
              HasSubstr(dir.file("missing") + ": cannot read: it is missing"));
}

TEST(DocwordLoader, QuotedExcerptsAreShortAndPrintable) {
  EXPECT_EQ(quoted_excerpt("ab\tc"), "ab\\x09c");
  EXPECT_EQ(quoted_excerpt(std::string(50, 'x')), std::string(40, 'x') + "...");
}

} // namespace
} // namespace metronome::algorithms

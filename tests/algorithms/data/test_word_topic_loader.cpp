#include "algorithms/data/word_topic_loader.hpp"

#include "tests/algorithms/test_util.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace metronome::algorithms {
namespace {

using test::temp_dir;
using ::testing::HasSubstr;

std::string counts_error(const std::string& path) {
  try {
    load_word_topic_counts(path, 4, 3);
  } catch (const load_error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no load_error for " << path;
  return "";
}

TEST(WordTopicLoader, ReadsLightLdaDumpLines) {
  temp_dir dir;
  auto path = dir.write("m.model", "0 1:5\n\n3 0:2 2:7\n2\n");
  auto rows = load_word_topic_counts(path, 4, 3);
  ASSERT_EQ(rows.words().size(), 4u);
  EXPECT_EQ(rows.row(0)[1], 5);
  EXPECT_EQ(rows.row(1)[0] + rows.row(1)[1] + rows.row(1)[2], 0);
  EXPECT_EQ(rows.row(3)[0], 2);
  EXPECT_EQ(rows.row(3)[2], 7);
}

TEST(WordTopicLoader, BadLinesNameFileAndLine) {
  temp_dir dir;
  const std::pair<const char*, const char*> cases[] = {
      {"0 1:5\n4 0:1\n", ":2: word 4 is not a whole number below 4"},
      {"1 3:1\n", ":1: topic 3 is not a whole number below 3"},
      {"1 0:-2\n", ":1: count -2 is not a whole number"},
      {"1 0:2147483648\n", ":1: count 2147483648 is not a whole number"},
      {"1 0\n", ":1: 0 is not TOPIC:COUNT"},
      {"1 0:1 0:2\n", ":1: topic 0 of word 1 appears twice"},
      {"2 0:1\n2 1:1\n", ":2: word 2 has a second line"},
      {"x 0:1\n", ":1: word x is not a whole number"},
  };
  for (const auto& [text, message] : cases) {
    auto path = dir.write("bad.model", text);
    EXPECT_THAT(counts_error(path), HasSubstr(path + message)) << text;
  }
}

TEST(WordTopicLoader, NonRegularFilesAreRefusedAtOnce) {
  test::expect_non_regular_refused(counts_error);
}

} // namespace
} // namespace metronome::algorithms

#include "actors/core/job_records.hpp"

#include "tests/support.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace metronome::actors {
namespace {

using ::testing::HasSubstr;

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(JobRecords, WritesEveryFileAsParseableRecords) {
  test::temp_dir dir;
  auto metrics = (dir / "m").string();
  {
    job_records records(metrics, "iteration,worker");
    records.iteration({{"iteration", 0}, {"loss", 0.5}});
    records.iteration({{"iteration", 1}, {"loss", nullptr}});
    records.evaluation({{"iteration", 1}, {"test_accuracy", 0.25}});
    records.trace("0,1");
    records.summary({{"final_test_accuracy", 0.25}});
    EXPECT_EQ(records.error(), "");
  }
  auto lines = read_all(dir / "m" / "iterations.jsonl");
  auto first = parse_record(lines.substr(0, lines.find('\n')));
  ASSERT_TRUE(first);
  EXPECT_EQ((*first)["loss"].get<double>(), 0.5);
  auto last = final_record(lines);
  ASSERT_TRUE(last);
  EXPECT_EQ((*last)["iteration"].get<int>(), 1);
  EXPECT_TRUE((*last)["loss"].is_null());
  EXPECT_EQ(read_all(dir / "m" / "trace.csv"), "iteration,worker\n0,1\n");
  auto summary = parse_record(read_all(dir / "m" / "summary.json"));
  ASSERT_TRUE(summary);
  EXPECT_EQ((*summary)["final_test_accuracy"].get<double>(), 0.25);
}

TEST(JobRecords, FinalRecordSkipsTextAndBrokenLines) {
  auto r = final_record("epoch 1/1\n{\"a\":1}\nlog line\n{\"a\":2,\n\n");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["a"].get<int>(), 1);
  EXPECT_FALSE(final_record("no json here\n"));
  EXPECT_FALSE(parse_record("{not json}"));
  EXPECT_FALSE(parse_record("[1,2]"));
}

TEST(JobRecords, ADirectoryThatCannotBeMadeIsNamed) {
  test::temp_dir dir;
  test::write_file(dir / "file", "x");
  try {
    job_records records((dir / "file" / "sub").string(), "h");
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("file/sub"), std::string::npos)
        << e.what();
  }
}

TEST(JobRecords, AFullDiskIsAnErrorNotASilentLoss) {
  if (!std::filesystem::exists("/dev/full"))
    GTEST_SKIP() << "no /dev/full on this machine";
  test::temp_dir dir;
  job_records records((dir / "m").string(), "h");
  records.summary({{"ok", true}});
  EXPECT_EQ(records.error(), "");
  std::filesystem::remove(dir / "m" / "summary.json");
  std::filesystem::create_symlink("/dev/full", dir / "m" / "summary.json");
  records.summary({{"ok", true}});
  EXPECT_NE(records.error().find("summary.json"), std::string::npos)
      << records.error();
}

TEST(WriteFileAtomically, ReplacesTheFileWhole) {
  test::temp_dir dir;
  auto path = (dir / "out.txt").string();
  test::write_file(path, "old contents, longer than the new ones");
  EXPECT_EQ(write_file_atomically(path, "new\n"), "");
  EXPECT_EQ(read_all(path), "new\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".partial"));
}

TEST(WriteFileAtomically, NamesThePathAndWhyItCannot) {
  test::temp_dir dir;
  auto in_dir = write_file_atomically(dir.path().string(), "x");
  EXPECT_THAT(in_dir, HasSubstr(dir.path().string() + ": it is a directory"));
  auto missing = (dir / "no" / "such" / "file").string();
  EXPECT_THAT(write_file_atomically(missing, "x"),
              HasSubstr(missing + ": No such file or directory"));
  if (std::filesystem::exists("/dev/full")) {
    EXPECT_THAT(write_file_atomically("/dev/full", "x"),
                HasSubstr("/dev/full: it is not a regular file"));
  }
}

} // namespace
} // namespace metronome::actors

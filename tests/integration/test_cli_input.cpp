// Command-line input. Every file in tests/integration/bad-cli/ is one
// command line that the real binary must refuse with exit status 2 and a
// message, promptly (a FIFO must never block it) and before it writes
// anything; see bad-cli/README.md for the format.

#include "tests/support.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace metronome;
namespace fs = std::filesystem;

namespace {

const fs::path source_dir = METRONOME_SOURCE_DIR;

struct bad_command {
  std::string name;
  fs::path path;
  std::string arguments;
  std::vector<std::string> expected;
  std::vector<std::string> absent;
};

void PrintTo(const bad_command& c, std::ostream* out) {
  *out << c.path;
}

bad_command read_command(const fs::path& path) {
  bad_command c;
  c.path = path;
  c.name = path.stem().string();
  std::replace_if(
      c.name.begin(), c.name.end(),
      [](unsigned char ch) { return !std::isalnum(ch); }, '_');
  std::ifstream in(path);
  const std::string expect = "# expect: ";
  const std::string absent = "# absent: ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(expect, 0) == 0)
      c.expected.push_back(line.substr(expect.size()));
    else if (line.rfind(absent, 0) == 0)
      c.absent.push_back(line.substr(absent.size()));
    else if (!line.empty() && line[0] != '#')
      c.arguments = line;
  }
  return c;
}

std::vector<bad_command> bad_commands() {
  std::vector<bad_command> out;
  auto dir = source_dir / "tests" / "integration" / "bad-cli";
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().extension() == ".cli")
      out.push_back(read_command(entry.path()));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

// `text` with {tmp}, {data} and {source} replaced.
std::string expand(std::string text, const test::temp_dir& tmp) {
  const std::pair<std::string, std::string> names[] = {
      {"{tmp}", tmp.path().string()},
      {"{data}", (source_dir / "tests" / "data").string()},
      {"{source}", source_dir.string()}};
  for (const auto& [name, value] : names)
    for (auto at = text.find(name); at != std::string::npos;
         at = text.find(name, at + value.size()))
      text.replace(at, name.size(), value);
  return text;
}

// The shell command running the binary on `arguments`, each quoted, under
// bounds of time and memory so that a blocked read or an allocation sized
// by the input fails the test instead of hanging it.
std::string command_line(const std::string& arguments) {
  std::string out = test::binary();
  std::istringstream words(arguments);
  for (std::string w; words >> w;)
    out += " '" + w + "'";
  return test::bounded(out);
}

} // namespace

class BadCommand : public ::testing::TestWithParam<bad_command> {};

TEST_P(BadCommand, IsRefusedWithExitStatus2AndAMessage) {
  const auto& c = GetParam();
  ASSERT_FALSE(c.arguments.empty()) << "no command line in " << c.path;
  ASSERT_FALSE(c.expected.empty()) << "no '# expect:' line in " << c.path;
  test::temp_dir tmp;
  ASSERT_EQ(::mkfifo((tmp / "fifo").c_str(), 0600), 0);
  auto r = test::run(command_line(expand(c.arguments, tmp)));
  SCOPED_TRACE("metronome " + expand(c.arguments, tmp) + ":\n" + r.output);
  ASSERT_NE(r.exit_code, 124) << "the command did not return";
  EXPECT_EQ(r.exit_code, 2);
  for (const auto& text : c.expected)
    EXPECT_NE(r.output.find(expand(text, tmp)), std::string::npos)
        << "expected '" << expand(text, tmp) << "'";
  for (const auto& path : c.absent)
    EXPECT_FALSE(fs::exists(expand(path, tmp))) << expand(path, tmp);
  EXPECT_EQ(r.output.find("training on"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Cli, BadCommand, ::testing::ValuesIn(bad_commands()),
                         [](const auto& info) { return info.param.name; });

TEST(Cli, ThereAreEnoughBadCommands) {
  EXPECT_GE(bad_commands().size(), 30u);
}

TEST(Cli, GoodValuesAtTheLimitsAreAccepted) {
  test::temp_dir tmp;
  auto out = (tmp / "p.libsvm").string();
  auto r = test::run(command_line("data lasso --out " + out +
                                  " --samples 2 --features 3 --seed 0"
                                  " --correlation 0.999999 --noise 0"
                                  " --true-nonzeros 3 --nonzeros-per-row 0"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(out));
  r = test::run(command_line("data lasso --out " + out +
                             " --samples 1 --features 3 --true-nonzeros 1"
                             " --seed 18446744073709551615"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

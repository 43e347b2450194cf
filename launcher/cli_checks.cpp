#include "launcher/cli_checks.hpp"

#include "algorithms/data/input_file.hpp"

#include <fmt/format.h>

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>
#include <system_error>

namespace metronome::launcher {

namespace fs = std::filesystem;

CLI::Validator count_in(std::uint64_t lo, std::uint64_t hi) {
  auto check = [lo, hi](std::string& text) {
    std::uint64_t v = 0;
    const char* end = text.data() + text.size();
    auto [stop, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || stop != end || v < lo || v > hi)
      return fmt::format("'{}' is not a whole number in [{}, {}]",
                         algorithms::quoted_excerpt(text), lo, hi);
    if (text.size() > 1 && text[0] == '0')
      return fmt::format("'{}' has a leading zero, which CLI11 would read as "
                         "octal; write {}",
                         text, v);
    return std::string();
  };
  return CLI::Validator(check, fmt::format("[{} - {}]", lo, hi));
}

CLI::Validator any_count() {
  return count_in(0, std::numeric_limits<std::uint64_t>::max());
}

CLI::Validator number_in(double lo, double hi) {
  auto check = [lo, hi](std::string& text) {
    double v = 0;
    if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v) || v < lo ||
        v > hi)
      return fmt::format("'{}' is not a finite number in [{}, {}]",
                         algorithms::quoted_excerpt(text), lo, hi);
    return std::string();
  };
  return CLI::Validator(check, fmt::format("[{} - {}]", lo, hi));
}

std::string output_file_problem(const std::string& path) {
  if (path.empty())
    return "the output path is empty";
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (fs::exists(st) && !fs::is_regular_file(st))
    return fmt::format("{}: cannot write: it is {}, not a regular file", path,
                       algorithms::describe_path(path));
  auto dir = fs::path(path).parent_path();
  if (dir.empty())
    dir = ".";
  if (!fs::is_directory(dir, ec))
    return fmt::format("{}: cannot write: directory {} does not exist", path,
                       dir.string());
  if (::access(dir.c_str(), W_OK) != 0)
    return fmt::format("{}: cannot write: directory {} is not writable", path,
                       dir.string());
  return {};
}

CLI::Validator output_file() {
  return CLI::Validator(
      [](std::string& path) { return output_file_problem(path); }, "WRITABLE");
}

} // namespace metronome::launcher

#include "algorithms/data/input_file.hpp"

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace metronome::algorithms {

namespace {

constexpr std::size_t chunk_bytes = 1 << 16;

std::string describe_mode(mode_t mode) {
  if (S_ISREG(mode))
    return "a regular file";
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO (named pipe)";
  if (S_ISCHR(mode))
    return "a character device";
  if (S_ISBLK(mode))
    return "a block device";
  if (S_ISSOCK(mode))
    return "a socket";
  return "not a regular file";
}

} // namespace

std::string describe_path(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return errno == ENOENT ? "missing (no such file or directory)"
                           : fmt::format("unusable ({})", std::strerror(errno));
  return describe_mode(st.st_mode);
}

std::string quoted_excerpt(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 40)) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f)
      out.push_back(c);
    else
      out += fmt::format("\\x{:02x}", b);
  }
  if (text.size() > 40)
    out += "...";
  return out;
}

std::uint64_t regular_file_size(const std::string& path) {
  struct stat st {};
  if (path.empty())
    throw load_error("cannot read a file with an empty path");
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw load_error(fmt::format("{}: cannot read: it is {}, not a regular "
                                 "file",
                                 path, describe_path(path)));
  return static_cast<std::uint64_t>(st.st_size);
}

std::ifstream open_input_file(const std::string& path) {
  regular_file_size(path);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw load_error(
        fmt::format("{}: cannot open file: {}", path, std::strerror(errno)));
  return in;
}

line_reader::line_reader(const std::string& path, std::size_t max_line)
    : path_(path)
    , in_(open_input_file(path))
    , max_line_(max_line)
    , chunk_(chunk_bytes) {}

bool line_reader::refill() {
  in_.read(chunk_.data(), static_cast<std::streamsize>(chunk_.size()));
  if (in_.bad())
    throw error_at(line_ + 1,
                   fmt::format("read error: {}", std::strerror(errno)));
  begin_ = 0;
  end_ = static_cast<std::size_t>(in_.gcount());
  return end_ > 0;
}

bool line_reader::next(std::string_view& line) {
  current_.clear();
  bool any = false;
  for (;;) {
    if (begin_ == end_ && !refill())
      break;
    any = true;
    const char* start = chunk_.data() + begin_;
    const auto* nl =
        static_cast<const char*>(std::memchr(start, '\n', end_ - begin_));
    std::size_t n = nl ? static_cast<std::size_t>(nl - start) : end_ - begin_;
    if (current_.size() + n > max_line_ + 1)
      throw error_at(line_ + 1,
                     fmt::format("line longer than {} bytes", max_line_));
    current_.append(start, n);
    begin_ += n + (nl ? 1 : 0);
    if (nl)
      break;
  }
  if (!any)
    return false;
  if (!current_.empty() && current_.back() == '\r')
    current_.pop_back();
  if (current_.size() > max_line_)
    throw error_at(line_ + 1,
                   fmt::format("line longer than {} bytes", max_line_));
  ++line_;
  line = current_;
  return true;
}

load_error line_reader::error(const std::string& what) const {
  return error_at(line_, what);
}

load_error line_reader::error_at(std::size_t line,
                                 const std::string& what) const {
  return load_error(fmt::format("{}:{}: {}", path_, line, what));
}

} // namespace metronome::algorithms

#pragma once

#include "algorithms/data/dataset.hpp"

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace metronome::algorithms {

/// What `path` is, as a phrase for messages ("a regular file", "a
/// directory", "a FIFO", "a character device", "missing", ...); follows
/// symbolic links and never opens the path.
std::string describe_path(const std::string& path);

/// `text` as quoted in a message: at most 40 bytes (then "..."), bytes
/// outside printable ASCII as \xNN, since hostile input may hold anything.
std::string quoted_excerpt(std::string_view text);

/// Opens `path` for binary reading if it is a regular file (a symbolic link
/// to one is fine); otherwise throws load_error "PATH: cannot read: it is
/// WHAT" at once, before opening, so a FIFO or a device such as /dev/zero
/// cannot block or feed endless bytes. (A path swapped between the check and
/// the open is not guarded against.)
std::ifstream open_input_file(const std::string& path);

/// The size in bytes of `path` once it is checked to be a regular file as
/// open_input_file checks it (the same load_error otherwise), for readers
/// that open the file their own way, such as zlib's gzopen.
std::uint64_t regular_file_size(const std::string& path);

/// Reads a text file of an opened input line by line, with the line number
/// for messages, refusing lines longer than a bound so that a file without
/// line breaks cannot exhaust memory.
class line_reader {
public:
  /// Opens `path` with open_input_file; lines may hold up to `max_line`
  /// bytes (without the line break).
  explicit line_reader(const std::string& path, std::size_t max_line = 4096);

  /// Moves to the next line, without its "\n" or "\r\n"; false at the end of
  /// the file. The view is valid until the next call. Throws load_error for
  /// a read error or a line longer than the bound.
  bool next(std::string_view& line);

  /// The 1-based number of the line last returned (0 before the first; the
  /// number of lines once next returned false).
  std::size_t line_number() const { return line_; }
  const std::string& path() const { return path_; }

  /// A load_error "PATH:LINE: what" for the line last returned.
  load_error error(const std::string& what) const;
  /// A load_error "PATH:LINE: what" for line `line`.
  load_error error_at(std::size_t line, const std::string& what) const;

private:
  bool refill();

  std::string path_;
  std::ifstream in_;
  std::size_t max_line_;
  std::size_t line_ = 0;
  std::string current_;
  std::vector<char> chunk_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

} // namespace metronome::algorithms

#pragma once

// Shared by the libFuzzer targets of tests/fuzz: a scratch directory for
// loaders that read a path, and the checks every target makes on what a
// loader throws.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace metronome::fuzz {

/// A directory of this process under $TMPDIR, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "metronome-fuzz-XXXXXX")
            .string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

/// Writes `size` bytes at `data` to `name` in the scratch directory and
/// returns its path.
inline std::string write_file(const std::string& name, const void* data,
                              std::size_t size) {
  std::string path = (scratch_dir() / name).string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) ||
      std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

inline std::string write_file(const std::string& name, std::string_view text) {
  return write_file(name, text.data(), text.size());
}

/// Aborts (a finding) when a loader's message does not name the file it
/// read: every load_error must say where the problem is.
inline void expect_names(std::string_view message, const std::string& path) {
  if (message.find(path) == std::string_view::npos) {
    std::fprintf(stderr, "message does not name %s: %.*s\n", path.c_str(),
                 static_cast<int>(message.size()), message.data());
    std::abort();
  }
}

/// Splits the input at the first occurrence of `separator`: the bytes before
/// it go to `first`, the bytes after to `second` (all to `first` when it does
/// not occur).
inline void split(const std::uint8_t* data, std::size_t size,
                  std::string_view separator, std::string_view& first,
                  std::string_view& second) {
  std::string_view all(reinterpret_cast<const char*>(data), size);
  auto at = all.find(separator);
  first = all.substr(0, at);
  second = at == std::string_view::npos ? std::string_view{}
                                        : all.substr(at + separator.size());
}

} // namespace metronome::fuzz

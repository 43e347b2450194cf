#include "algorithms/data/idx_loader.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace metronome::algorithms {

namespace {

constexpr std::uint32_t images_magic = 0x00000803;
constexpr std::uint32_t labels_magic = 0x00000801;
constexpr std::uint32_t max_pixels = 1u << 24;
constexpr int max_label = 9;

class idx_file {
public:
  explicit idx_file(const std::string& path)
      : path_(path) {
    errno = 0;
    file_ = gzopen(path.c_str(), "rb");
    if (file_ == nullptr)
      throw load_error(
          fmt::format("{}: cannot open file: {}", path,
                      errno != 0 ? std::strerror(errno) : "out of memory"));
  }

  idx_file(const idx_file&) = delete;
  idx_file& operator=(const idx_file&) = delete;

  ~idx_file() { gzclose(file_); }

  const std::string& path() const { return path_; }
  std::uint64_t offset() const { return offset_; }

  /// Reads up to `n` bytes; returns how many were read before end of file.
  std::size_t read_some(unsigned char* buf, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
      auto want =
          static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
      int r = gzread(file_, buf + got, want);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(file_, &code);
        if (code == Z_ERRNO)
          msg = std::strerror(errno);
        throw load_error(fmt::format("{}: byte offset {}: read error: {}",
                                     path_, offset_ + got, msg));
      }
      if (r == 0)
        break;
      got += static_cast<std::size_t>(r);
    }
    offset_ += got;
    return got;
  }

  void read_exact(unsigned char* buf, std::size_t n, const std::string& what) {
    std::size_t got = read_some(buf, n);
    if (got < n)
      throw error(fmt::format("expected {} got end of file", what));
  }

  std::uint32_t read_u32(const char* what) {
    unsigned char b[4];
    read_exact(b, 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) |
           (std::uint32_t{b[2]} << 8) | std::uint32_t{b[3]};
  }

  load_error error(const std::string& what) const {
    return error_at(offset_, what);
  }

  load_error error_at(std::uint64_t offset, const std::string& what) const {
    return load_error(
        fmt::format("{}: byte offset {}: {}", path_, offset, what));
  }

private:
  std::string path_;
  gzFile file_ = nullptr;
  std::uint64_t offset_ = 0;
};

void check_magic(idx_file& f, std::uint32_t expected, const char* kind) {
  std::uint32_t magic = f.read_u32("a 4-byte IDX magic number");
  if (magic != expected)
    throw f.error_at(0,
                     fmt::format("expected IDX {} magic 0x{:08x} got 0x{:08x}",
                                 kind, expected, magic));
}

std::uint32_t read_dim(idx_file& f, const char* what) {
  std::uint64_t at = f.offset();
  std::uint32_t v = f.read_u32(what);
  if (v == 0)
    throw f.error_at(at, fmt::format("expected a positive {} got 0", what));
  return v;
}

std::vector<unsigned char> read_labels(idx_file& f, std::size_t n) {
  std::vector<unsigned char> labels;
  constexpr std::size_t chunk = 1 << 16;
  while (labels.size() < n) {
    std::size_t have = labels.size();
    std::size_t want = std::min(chunk, n - have);
    labels.resize(have + want);
    std::size_t got = f.read_some(labels.data() + have, want);
    if (got < want)
      throw f.error(fmt::format("expected label {} of {} got end of file",
                                have + got, n));
  }
  for (std::size_t i = 0; i < n; ++i)
    if (labels[i] > max_label)
      throw f.error_at(f.offset() - n + i,
                       fmt::format("expected a class label 0..{} got {}",
                                   max_label, labels[i]));
  return labels;
}

} // namespace

dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::size_t limit) {
  idx_file images(images_path);
  check_magic(images, images_magic, "image (unsigned byte, 3 dimensions)");
  std::uint32_t count = read_dim(images, "image count");
  std::uint32_t rows = read_dim(images, "row count");
  std::uint32_t cols = read_dim(images, "column count");
  std::uint64_t pixels = std::uint64_t{rows} * cols;
  if (pixels > max_pixels)
    throw images.error_at(
        8, fmt::format("expected at most {} pixels per image got {} x {}",
                       max_pixels, rows, cols));

  idx_file labels_file(labels_path);
  check_magic(labels_file, labels_magic, "label (unsigned byte, 1 dimension)");
  std::uint32_t label_count = labels_file.read_u32("a 4-byte label count");
  if (label_count != count)
    throw labels_file.error_at(
        4, fmt::format("expected {} labels (the image count of {}) got {}",
                       count, images_path, label_count));

  std::size_t n = count;
  if (limit > 0 && limit < n)
    n = limit;
  std::vector<unsigned char> raw_labels = read_labels(labels_file, n);

  dataset d;
  d.num_features = static_cast<std::size_t>(pixels);
  d.dense.resize(static_cast<Eigen::Index>(pixels),
                 static_cast<Eigen::Index>(n));
  std::size_t per_chunk = std::max<std::size_t>(1, (1u << 20) / pixels);
  std::vector<unsigned char> buf(per_chunk * pixels);
  for (std::size_t first = 0; first < n; first += per_chunk) {
    std::size_t m = std::min(per_chunk, n - first);
    std::size_t want = m * pixels;
    std::size_t got = images.read_some(buf.data(), want);
    if (got < want)
      throw images.error(fmt::format(
          "expected {} bytes of pixel data for image {} of {} got end of file",
          pixels, first + got / pixels, n));
    float* out = d.dense.data() + first * pixels;
    for (std::size_t i = 0; i < want; ++i)
      out[i] = static_cast<float>(buf[i]) / 255.0f;
  }

  d.labels.resize(n);
  int largest = 0;
  for (std::size_t i = 0; i < n; ++i) {
    d.labels[i] = static_cast<float>(raw_labels[i]);
    largest = std::max(largest, int{raw_labels[i]});
  }
  d.num_classes = largest + 1;
  return d;
}

} // namespace metronome::algorithms

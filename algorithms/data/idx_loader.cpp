#include "algorithms/data/idx_loader.hpp"

#include "algorithms/data/input_file.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

namespace metronome::algorithms {

namespace {

constexpr std::uint32_t max_pixels = 1u << 24;
constexpr int max_label = 9;

class idx_file {
public:
  explicit idx_file(const std::string& path)
      : path_(path)
      , size_(regular_file_size(path)) {
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
  std::uint64_t size() const { return size_; }
  bool compressed() const { return gzdirect(file_) == 0; }

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

  load_error error(const std::string& what) const {
    return error_at(offset_, what);
  }

  load_error error_at(std::uint64_t offset, const std::string& what) const {
    return load_error(
        fmt::format("{}: byte offset {}: {}", path_, offset, what));
  }

private:
  std::string path_;
  std::uint64_t size_ = 0;
  gzFile file_ = nullptr;
  std::uint64_t offset_ = 0;
};

idx_header read_header(idx_file& f, bool images) {
  unsigned char b[16] = {};
  idx_header h;
  h.bytes = f.read_some(b, images ? 16 : 8);
  auto be32 = [&](int at) {
    return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) |
           (std::uint32_t{b[at + 2]} << 8) | std::uint32_t{b[at + 3]};
  };
  h.magic = be32(0);
  h.count = be32(4);
  h.rows = be32(8);
  h.cols = be32(12);
  h.file_bytes = f.size();
  h.compressed = f.compressed();
  return h;
}

// Field `index` (0: magic, 1: count, 2: rows, 3: cols) of `h`, checked to
// be in the file (and, but for the magic, positive).
std::uint32_t field(const idx_file& f, const idx_header& h, int index,
                    const char* what) {
  std::size_t end = 4 * static_cast<std::size_t>(index + 1);
  if (h.bytes < end)
    throw f.error_at(h.bytes, fmt::format("expected {} got end of file", what));
  std::uint32_t v = index == 0   ? h.magic
                    : index == 1 ? h.count
                    : index == 2 ? h.rows
                                 : h.cols;
  if (index > 0 && v == 0)
    throw f.error_at(end - 4,
                     fmt::format("expected a positive {} got 0", what));
  return v;
}

void check_magic(const idx_file& f, const idx_header& h, std::uint32_t expected,
                 const char* kind) {
  std::uint32_t magic = field(f, h, 0, "a 4-byte IDX magic number");
  if (magic != expected)
    throw f.error_at(0,
                     fmt::format("expected IDX {} magic 0x{:08x} got 0x{:08x}",
                                 kind, expected, magic));
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

// Every label of the first `n` of an IDX labels file whose image file
// `images_path` has `count` images.
std::vector<unsigned char> read_label_file(const std::string& labels_path,
                                           std::uint32_t count,
                                           const std::string& images_path,
                                           std::size_t n) {
  idx_file labels_file(labels_path);
  auto label_header = read_header(labels_file, false);
  check_magic(labels_file, label_header, idx_labels_magic,
              "label (unsigned byte, 1 dimension)");
  if (label_header.bytes < 8)
    throw labels_file.error_at(label_header.bytes,
                               "expected a 4-byte label count got end of file");
  if (label_header.count != count)
    throw labels_file.error_at(
        4, fmt::format("expected {} labels (the image count of {}) got {}",
                       count, images_path, label_header.count));
  return read_labels(labels_file, n);
}

// Reads the images of `keep` (of the first `n`, `pixels` bytes each) from
// `images`, whose next byte is the first pixel, into `out` scaled to [0, 1];
// the images before `keep` are read and skipped.
void read_pixels(idx_file& images, std::uint64_t pixels, shard_range keep,
                 std::size_t n, float* out) {
  std::size_t per_chunk = std::max<std::size_t>(1, (1u << 20) / pixels);
  std::vector<unsigned char> buf(per_chunk * pixels);
  for (std::size_t first = 0; first < keep.end; first += per_chunk) {
    std::size_t m = std::min(per_chunk, keep.end - first);
    std::size_t want = m * pixels;
    std::size_t got = images.read_some(buf.data(), want);
    if (got < want)
      throw images.error(fmt::format(
          "expected {} bytes of pixel data for image {} of {} got end of file",
          pixels, first + got / pixels, n));
    for (std::size_t j = std::max(first, keep.begin); j < first + m; ++j) {
      const unsigned char* in = buf.data() + (j - first) * pixels;
      float* to = out + (j - keep.begin) * pixels;
      for (std::size_t i = 0; i < pixels; ++i)
        to[i] = static_cast<float>(in[i]) / 255.0f;
    }
  }
}

} // namespace

std::string idx_images_size_problem(const idx_header& h, std::uint64_t n) {
  std::uint64_t pixels = std::uint64_t{h.rows} * h.cols;
  auto images = fmt::format("{} images of {} x {} pixels", n, h.rows, h.cols);
  if (pixels > 0 && n > idx_max_values / pixels)
    return fmt::format("{} are more than the limit of {} pixel values (see "
                       "docs/input-limits.md)",
                       images, idx_max_values);
  std::uint64_t bytes = 16 + n * pixels;
  if (h.compressed && bytes > gzip_max_ratio * h.file_bytes)
    return fmt::format("{} need {} bytes with the header, more than a "
                       "{}-byte gzip file can hold ({} times its size at "
                       "most)",
                       images, bytes, h.file_bytes, gzip_max_ratio);
  if (!h.compressed && bytes > h.file_bytes)
    return fmt::format("{} need {} bytes with the header, but the file has "
                       "{}",
                       images, bytes, h.file_bytes);
  return {};
}

idx_header read_idx_header(const std::string& path, bool images) {
  idx_file f(path);
  return read_header(f, images);
}

dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::size_t limit, shard_range keep) {
  idx_file images(images_path);
  auto header = read_header(images, true);
  check_magic(images, header, idx_images_magic,
              "image (unsigned byte, 3 dimensions)");
  std::uint32_t count = field(images, header, 1, "image count");
  std::uint32_t rows = field(images, header, 2, "row count");
  std::uint32_t cols = field(images, header, 3, "column count");
  std::uint64_t pixels = std::uint64_t{rows} * cols;
  if (pixels > max_pixels)
    throw images.error_at(
        8, fmt::format("expected at most {} pixels per image got {} x {}",
                       max_pixels, rows, cols));

  std::size_t n = count;
  if (limit > 0 && limit < n)
    n = limit;
  if (auto why = idx_images_size_problem(header, n); !why.empty())
    throw images.error_at(4, why);
  keep.end = std::min(keep.end, n);
  keep.begin = std::min(keep.begin, keep.end);

  std::vector<unsigned char> raw_labels =
      read_label_file(labels_path, count, images_path, n);
  dataset d;
  d.num_features = static_cast<std::size_t>(pixels);
  d.dense.resize(static_cast<Eigen::Index>(pixels),
                 static_cast<Eigen::Index>(keep.size()));
  read_pixels(images, pixels, keep, n, d.dense.data());

  d.labels.resize(keep.size());
  for (std::size_t i = 0; i < keep.size(); ++i)
    d.labels[i] = static_cast<float>(raw_labels[keep.begin + i]);
  d.num_classes = 1 + *std::max_element(raw_labels.begin(), raw_labels.end());
  if (keep.size() < n) {
    d.first_sample = keep.begin;
    d.file_samples = n;
  }
  return d;
}

} // namespace metronome::algorithms

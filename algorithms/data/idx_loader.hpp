#pragma once

#include "algorithms/data/dataset.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

namespace metronome::algorithms {

/// Magic numbers of IDX files of unsigned bytes: images (3 dimensions) and
/// labels (1 dimension).
constexpr std::uint32_t idx_images_magic = 0x00000803;
constexpr std::uint32_t idx_labels_magic = 0x00000801;

/// The header of an IDX file as far as the file holds it.
struct idx_header {
  std::uint32_t magic = 0;
  std::uint32_t count = 0;
  std::uint32_t rows = 0; ///< images only
  std::uint32_t cols = 0; ///< images only
  /// Header bytes the file has: 16 for a whole images header, 8 for labels.
  std::size_t bytes = 0;
  /// The size of the file on disk, and whether zlib reads it compressed.
  std::uint64_t file_bytes = 0;
  bool compressed = false;
};

/// The most pixel values (images x rows x columns) load_idx stores: 2^28,
/// 1 GiB as floats (Fashion-MNIST's training set has 47 million).
constexpr std::uint64_t idx_max_values = std::uint64_t{1} << 28;

/// How many times its size a gzip file can hold at most: deflate's largest
/// compression ratio is 1032:1.
constexpr std::uint64_t gzip_max_ratio = 1032;

/// Why the first `n` images an images header `h` declares cannot be loaded,
/// or "" when they can: more pixel values than idx_max_values, or more bytes
/// (with the header) than the file holds, or for a gzip file than
/// gzip_max_ratio times its size. load_idx refuses such a file at byte
/// offset 4 before it allocates anything for the images.
std::string idx_images_size_problem(const idx_header& h, std::uint64_t n);

/// Reads the header of an IDX images (`images`) or labels file, gzip'd or
/// plain, as far as the file goes (load_idx reads it the same way). Throws
/// load_error naming the file when it is not a regular file (checked before
/// zlib opens it, so a FIFO cannot block) or cannot be opened or read.
idx_header read_idx_header(const std::string& path, bool images);

/// Reads an IDX image file and its IDX label file (gzip'd or plain, as in the
/// Debian package dataset-fashion-mnist) into a dense data set with pixel
/// values scaled to [0, 1]; reads at most `limit` samples when `limit` > 0.
/// Keeps only the samples in `keep` (clipped to those), reading no pixel
/// past it; every label is still read and checked, so num_classes is the
/// file's. Throws load_error naming the file and byte offset on malformed
/// input.
dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::size_t limit = 0, shard_range keep = shard_range::all());

} // namespace metronome::algorithms

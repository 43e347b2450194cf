#pragma once

#include "algorithms/data/dataset.hpp"

#include <cstddef>
#include <string>

namespace metronome::algorithms {

/// Reads an IDX image file and its IDX label file (gzip'd or plain, as in the
/// Debian package dataset-fashion-mnist) into a dense data set with pixel
/// values scaled to [0, 1]; reads at most `limit` samples when `limit` > 0.
/// Throws load_error naming the file and byte offset on malformed input.
dataset load_idx(const std::string& images_path, const std::string& labels_path,
                 std::size_t limit = 0);

} // namespace metronome::algorithms

#pragma once

#include "algorithms/data/dataset.hpp"

#include <cstddef>
#include <string>

namespace metronome::algorithms {

/// Reads a LIBSVM / svmlight file (`label index:value ...`, 1-based indices,
/// `#` comments) into a sparse binary-classification data set: labels +1 and
/// 1 map to class 1, -1 and 0 to class 0. `num_features` of 0 means "the
/// largest index seen". Throws load_error naming file, line and column.
dataset load_libsvm(const std::string& path, std::size_t num_features = 0);

} // namespace metronome::algorithms

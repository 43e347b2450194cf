#pragma once

#include <Eigen/Dense>
#include <Eigen/SparseCore>

#include <cstddef>
#include <stdexcept>
#include <string>
#include <vector>

namespace metronome::algorithms {

/// Raised by every loader for malformed or unreadable input; the message
/// names the file and the line or byte offset of the problem.
class load_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A labelled data set, stored one sample per column, dense or sparse.
struct dataset {
  /// Features x samples; empty when the set is sparse.
  Eigen::MatrixXf dense;
  /// Features x samples (column-major); empty when the set is dense.
  Eigen::SparseMatrix<float, Eigen::ColMajor, std::int64_t> sparse;
  /// One label per sample: a class index (0..num_classes-1) stored as float.
  std::vector<float> labels;
  std::size_t num_features = 0;
  int num_classes = 0;
  /// When the set holds only part of a file (a worker's shard): the index
  /// in the file of its first sample, and the samples the file has (0: the
  /// set is the whole file). num_features and num_classes are the file's.
  std::size_t first_sample = 0;
  std::size_t file_samples = 0;

  bool is_sparse() const { return sparse.cols() > 0; }
  std::size_t num_samples() const { return labels.size(); }
  /// The samples of the whole file this set was loaded from.
  std::size_t total_samples() const {
    return file_samples > 0 ? file_samples : num_samples();
  }
};

/// Returns the samples `begin`..`end` (exclusive) of `d` as a new data set,
/// which remembers where they sit in d's file.
dataset slice(const dataset& d, std::size_t begin, std::size_t end);

/// A contiguous range of sample indices [begin, end).
struct shard_range {
  std::size_t begin = 0;
  std::size_t end = 0;

  std::size_t size() const { return end - begin; }
  /// Every sample of a file, whatever its size.
  static shard_range all() { return {0, static_cast<std::size_t>(-1)}; }
};

/// The contiguous range of sample indices that worker `rank` of `workers`
/// owns in a data set of `samples` samples (the remainder goes to the first
/// workers, so sizes differ by at most one).
shard_range data_shard(std::size_t samples, std::size_t workers,
                       std::size_t rank);

} // namespace metronome::algorithms

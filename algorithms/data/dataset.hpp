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

  bool is_sparse() const { return sparse.cols() > 0; }
  std::size_t num_samples() const { return labels.size(); }
};

/// Returns the samples `begin`..`end` (exclusive) of `d` as a new data set.
dataset slice(const dataset& d, std::size_t begin, std::size_t end);

} // namespace metronome::algorithms

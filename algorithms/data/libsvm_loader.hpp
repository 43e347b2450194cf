#pragma once

#include "algorithms/data/dataset.hpp"

#include <Eigen/SparseCore>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace metronome::algorithms {

/// The largest feature index a LIBSVM file may hold (2^24): the loaders size
/// their matrices by the largest index, so a larger one is refused, naming
/// file, line and column, before anything is allocated for it.
constexpr std::size_t libsvm_max_features = std::size_t{1} << 24;

/// The longest LIBSVM line the loaders read, in bytes (2^26, 64 MiB).
constexpr std::size_t libsvm_max_line = std::size_t{1} << 26;

/// Reads a LIBSVM / svmlight file (`label index:value ...`, 1-based indices,
/// `#` comments) into a sparse binary-classification data set: labels +1 and
/// 1 map to class 1, -1 and 0 to class 0. `num_features` of 0 means "the
/// largest index seen". `path` must be a regular file (see
/// open_input_file). Throws load_error naming file, line and column.
dataset load_libsvm(const std::string& path, std::size_t num_features = 0);

/// A regression problem: a sparse design matrix and one real target per
/// sample.
struct regression_data {
  /// Samples x features, stored by column (CSC) with sorted row indices.
  Eigen::SparseMatrix<double, Eigen::ColMajor, std::int64_t> x;
  /// One target per sample.
  std::vector<double> y;

  /// The number of samples (rows of `x`).
  std::size_t samples() const { return y.size(); }
  /// The number of features (columns of `x`).
  std::size_t features() const { return static_cast<std::size_t>(x.cols()); }
};

/// Reads a LIBSVM / svmlight file whose first token is a real-valued target
/// (any finite number) into a regression problem, in double precision.
/// `num_features` of 0 means "the largest index seen". `path` must be a
/// regular file. Throws load_error naming file, line and column.
regression_data load_libsvm_regression(const std::string& path,
                                       std::size_t num_features = 0);

/// What the first token of a LIBSVM line may be: a class (+1, 1, -1, 0) or
/// any finite real target.
enum class libsvm_labels { binary, real };

/// One `index:value` pair of a LIBSVM line.
struct libsvm_feature {
  std::int64_t index = 0; ///< 1-based, as written
  double value = 0;
};

/// One LIBSVM line as parsed, or why it is not one.
struct libsvm_line {
  double label = 0;
  /// The features in file order (descending indices are allowed).
  std::vector<libsvm_feature> features;
  /// Empty when the line parsed; otherwise the problem, and its 1-based
  /// column in `column`.
  std::string error;
  std::size_t column = 0;
};

/// The part of a LIBSVM file line that holds a sample: the text before `#`,
/// or an empty view when that text is blank (the line holds no sample).
std::string_view libsvm_content(std::string_view line);

/// Parses one sample line (already passed through libsvm_content, so not
/// blank) into `out`, reusing its storage; returns false with `out.error` and
/// `out.column` set when the line is malformed: a bad label or target, a
/// missing ':', an index that is not a positive integer or exceeds
/// `num_features` (when that is not 0) or libsvm_max_features, a duplicate
/// index, or a value that
/// is not finite (for `binary`, also one beyond float range, since
/// classification data is stored as float). The one parser behind
/// load_libsvm, load_libsvm_regression and the topology check.
bool parse_libsvm_line(std::string_view line, libsvm_labels mode,
                       std::size_t num_features, libsvm_line& out);

/// Why `line` (a file line, `#` comment allowed) is not a LIBSVM sample, as
/// "col N: what", or "" when it is one; a blank line is reported as missing
/// its label.
std::string libsvm_line_problem(std::string_view line, libsvm_labels mode);

} // namespace metronome::algorithms

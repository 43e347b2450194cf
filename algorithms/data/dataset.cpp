#include "algorithms/data/dataset.hpp"

#include <fmt/format.h>

namespace metronome::algorithms {

dataset slice(const dataset& d, std::size_t begin, std::size_t end) {
  if (begin > end || end > d.num_samples())
    throw std::out_of_range(
        fmt::format("slice [{}, {}) out of range for a data set of {} samples",
                    begin, end, d.num_samples()));
  dataset out;
  auto first = static_cast<Eigen::Index>(begin);
  auto count = static_cast<Eigen::Index>(end - begin);
  if (d.is_sparse()) {
    out.sparse = d.sparse.middleCols(first, count);
    out.sparse.makeCompressed();
  } else {
    out.dense = d.dense.middleCols(first, count);
  }
  out.labels.assign(d.labels.begin() + first, d.labels.begin() + first + count);
  out.num_features = d.num_features;
  out.num_classes = d.num_classes;
  return out;
}

} // namespace metronome::algorithms

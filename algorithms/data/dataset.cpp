#include "algorithms/data/dataset.hpp"

#include <fmt/format.h>

#include <algorithm>

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
  out.first_sample = d.first_sample + begin;
  out.file_samples = d.total_samples();
  return out;
}

shard_range data_shard(std::size_t samples, std::size_t workers,
                       std::size_t rank) {
  if (workers == 0 || rank >= workers)
    throw std::invalid_argument(
        fmt::format("data_shard: rank {} of {} workers", rank, workers));
  std::size_t base = samples / workers;
  std::size_t extra = samples % workers;
  shard_range r;
  r.begin = rank * base + std::min(rank, extra);
  r.end = r.begin + base + (rank < extra ? 1 : 0);
  return r;
}

} // namespace metronome::algorithms

#include "algorithms/lasso/generator.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace metronome::algorithms::lasso {

namespace {

void validate(const generator_spec& s) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("lasso generator: " + what);
  };
  if (s.samples == 0 || s.features == 0)
    fail("samples and features must be at least 1");
  if (s.block_size == 0)
    fail("block_size must be at least 1");
  if (s.features > libsvm_max_features)
    fail(fmt::format("{} features exceed the limit of {}", s.features,
                     libsvm_max_features));
  if (s.nonzeros_per_row > s.features)
    fail(fmt::format("nonzeros_per_row {} exceeds the {} features",
                     s.nonzeros_per_row, s.features));
  std::size_t per_row =
      s.nonzeros_per_row == 0 ? s.features : s.nonzeros_per_row;
  if (per_row > generator_max_row_entries)
    fail(fmt::format("{} entries per row exceed the limit of {} (give "
                     "nonzeros_per_row)",
                     per_row, generator_max_row_entries));
  if (s.samples > generator_max_entries / per_row)
    fail(fmt::format("{} samples x {} entries per row exceed the limit of {} "
                     "stored entries",
                     s.samples, per_row, generator_max_entries));
  if (!(s.correlation >= 0 && s.correlation < 1))
    fail(fmt::format("correlation must be in [0, 1), got {}", s.correlation));
  if (s.true_nonzeros > s.features)
    fail(fmt::format("true_nonzeros {} exceeds the {} features",
                     s.true_nonzeros, s.features));
  if (!(s.noise >= 0) || !std::isfinite(s.noise))
    fail(fmt::format("noise must be 0 or more, got {}", s.noise));
}

std::vector<double> draw_truth(const generator_spec& s, normal_source& rng) {
  auto& gen = rng.engine();
  std::vector<std::size_t> order(s.features);
  for (std::size_t j = 0; j < s.features; ++j)
    order[j] = j;
  std::vector<double> truth(s.features, 0.0);
  for (std::size_t i = 0; i < s.true_nonzeros; ++i) {
    std::swap(order[i], order[i + uniform_below(gen, s.features - i)]);
    double sign = (gen() >> 63) != 0 ? -1.0 : 1.0;
    truth[order[i]] = sign * (1.0 + uniform_open(gen));
  }
  return truth;
}

// The blocks a sparse row covers, in draw order, enough for
// nonzeros_per_row entries; `taken` (one flag per block, all 0) is left so.
std::vector<std::size_t> draw_blocks(const generator_spec& s,
                                     std::mt19937_64& gen,
                                     std::vector<char>& taken) {
  auto size_of = [&](std::size_t b) {
    return std::min(s.block_size, s.features - b * s.block_size);
  };
  std::vector<std::size_t> chosen;
  if (2 * s.nonzeros_per_row > s.features) {
    // Most blocks: a partial Fisher-Yates shuffle beats rejection.
    std::vector<std::size_t> order(taken.size());
    for (std::size_t b = 0; b < order.size(); ++b)
      order[b] = b;
    for (std::size_t i = 0, entries = 0; entries < s.nonzeros_per_row; ++i) {
      std::swap(order[i], order[i + uniform_below(gen, order.size() - i)]);
      chosen.push_back(order[i]);
      entries += size_of(order[i]);
    }
    return chosen;
  }
  for (std::size_t entries = 0; entries < s.nonzeros_per_row;) {
    std::size_t b = uniform_below(gen, taken.size());
    if (taken[b])
      continue;
    taken[b] = 1;
    chosen.push_back(b);
    entries += size_of(b);
  }
  for (std::size_t b : chosen)
    taken[b] = 0;
  return chosen;
}

} // namespace

regression_data generate(const generator_spec& spec,
                         std::vector<double>& truth) {
  validate(spec);
  normal_source rng(spec.seed);
  truth = draw_truth(spec, rng);
  double shared = std::sqrt(spec.correlation);
  double own = std::sqrt(1.0 - spec.correlation);
  std::size_t blocks = (spec.features + spec.block_size - 1) / spec.block_size;
  std::vector<std::size_t> all_blocks(blocks);
  for (std::size_t b = 0; b < blocks; ++b)
    all_blocks[b] = b;
  std::vector<char> taken(blocks, 0);
  std::vector<Eigen::Triplet<double, std::int64_t>> entries;
  std::size_t per_row =
      spec.nonzeros_per_row == 0 ? spec.features : spec.nonzeros_per_row;
  entries.reserve(spec.samples * per_row);
  regression_data d;
  d.y.resize(spec.samples);
  for (std::size_t i = 0; i < spec.samples; ++i) {
    auto row_blocks = spec.nonzeros_per_row == 0
                          ? all_blocks
                          : draw_blocks(spec, rng.engine(), taken);
    double xb = 0;
    std::size_t left = per_row;
    for (std::size_t b : row_blocks) {
      double z = rng();
      std::size_t end = std::min(spec.features, (b + 1) * spec.block_size);
      for (std::size_t j = b * spec.block_size; j < end && left > 0; ++j) {
        double v = shared * z + own * rng();
        entries.emplace_back(i, j, v);
        xb += v * truth[j];
        --left;
      }
    }
    d.y[i] = xb + spec.noise * rng();
  }
  d.x.resize(static_cast<std::int64_t>(spec.samples),
             static_cast<std::int64_t>(spec.features));
  d.x.setFromTriplets(entries.begin(), entries.end());
  d.x.makeCompressed();
  return d;
}

void write_libsvm(const regression_data& d, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    throw load_error(fmt::format("{}: cannot open file for writing: {}", path,
                                 std::strerror(errno)));
  Eigen::SparseMatrix<double, Eigen::RowMajor, std::int64_t> rows = d.x;
  fmt::memory_buffer buf;
  for (std::size_t i = 0; i < d.samples(); ++i) {
    fmt::format_to(std::back_inserter(buf), "{:.17g}", d.y[i]);
    for (auto k = rows.outerIndexPtr()[i]; k < rows.outerIndexPtr()[i + 1]; ++k)
      fmt::format_to(std::back_inserter(buf), " {}:{:.17g}",
                     rows.innerIndexPtr()[k] + 1, rows.valuePtr()[k]);
    buf.push_back('\n');
    if (buf.size() >= (1u << 20) || i + 1 == d.samples()) {
      out.write(buf.data(), static_cast<std::streamsize>(buf.size()));
      buf.clear();
    }
  }
  out.close();
  if (!out)
    throw load_error(
        fmt::format("{}: cannot write file: {}", path, std::strerror(errno)));
}

} // namespace metronome::algorithms::lasso

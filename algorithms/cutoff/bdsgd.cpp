#include "algorithms/cutoff/bdsgd.hpp"

#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms {

namespace {

void check_model(const std::shared_ptr<const dmm>& model) {
  if (!model)
    throw std::invalid_argument("bdsgd: the model is null");
}

/// Rows of `samples` (samples x n, seconds) restricted or widened to
/// `workers` columns as the class comment describes; `known` is the number
/// of entries of the latest observation.
std::vector<std::vector<double>> fit_width(const Eigen::MatrixXd& samples,
                                           std::size_t workers,
                                           std::size_t known) {
  auto n = static_cast<std::size_t>(samples.cols());
  std::vector<std::size_t> columns;
  if (workers >= n) {
    for (std::size_t j = 0; j < workers; ++j)
      columns.push_back(j % n);
  } else {
    Eigen::VectorXd mean_log =
        samples.array().log().colwise().mean().transpose();
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    // Unknown workers first, then the slowest; keep the rest.
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) {
                       bool ua = a >= known, ub = b >= known;
                       if (ua != ub)
                         return ua;
                       return mean_log(static_cast<Eigen::Index>(a)) >
                              mean_log(static_cast<Eigen::Index>(b));
                     });
    columns.assign(order.begin() + static_cast<std::ptrdiff_t>(n - workers),
                   order.end());
    std::sort(columns.begin(), columns.end());
  }
  std::vector<std::vector<double>> rows(
      static_cast<std::size_t>(samples.rows()), std::vector<double>(workers));
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t j = 0; j < workers; ++j)
      rows[r][j] = samples(static_cast<Eigen::Index>(r),
                           static_cast<Eigen::Index>(columns[j]));
  return rows;
}

} // namespace

bdsgd::bdsgd(std::shared_ptr<const dmm> model, bdsgd_options options)
    : model_(std::move(model))
    , options_(std::move(options))
    , gen_(splitmix64(options_.seed ^ 0x62647367640000ull)) {
  check_model(model_);
  if (options_.samples == 0)
    throw std::invalid_argument("bdsgd: samples must be at least 1");
  if (options_.imputation.copies == 0)
    throw std::invalid_argument("bdsgd: imputation copies must be at least 1");
}

void bdsgd::observe(const runtime_observation& iteration) {
  if (!iteration.censored.empty() &&
      iteration.censored.size() != iteration.seconds.size())
    throw std::invalid_argument(
        fmt::format("bdsgd: observation has {} run-times but {} censored "
                    "flags",
                    iteration.seconds.size(), iteration.censored.size()));
  history_.push_back(iteration);
  std::shared_ptr<const dmm> m = model();
  std::size_t lag = options_.lag ? options_.lag : m->spec().lag;
  std::size_t keep = std::max({options_.history, lag, std::size_t{1}});
  while (history_.size() > keep)
    history_.pop_front();
}

cutoff_decision bdsgd::decide(std::size_t workers) {
  if (workers == 0)
    throw std::invalid_argument("bdsgd: decide() needs at least one worker");
  if (history_.empty())
    return {workers, {}};
  std::shared_ptr<const dmm> m = model();
  std::size_t lag = options_.lag ? options_.lag : m->spec().lag;
  std::size_t count = std::min(lag, history_.size());
  std::vector<runtime_observation> window(
      history_.end() - static_cast<std::ptrdiff_t>(count), history_.end());
  Eigen::MatrixXd samples =
      m->sample_next(window, options_.samples, gen_, options_.imputation);
  std::size_t known = std::min(window.back().seconds.size(), m->workers());
  cutoff_decision d;
  d.expected_throughput =
      throughput_from_samples(fit_width(samples, workers, known));
  d.cutoff =
      std::clamp<std::size_t>(best_cutoff(d.expected_throughput), 1, workers);
  return d;
}

void bdsgd::swap_model(std::shared_ptr<const dmm> model) {
  check_model(model);
  std::atomic_store(&model_, std::shared_ptr<const dmm>(std::move(model)));
}

std::shared_ptr<const dmm> bdsgd::model() const {
  return std::atomic_load(&model_);
}

std::vector<runtime_observation> bdsgd::recent(std::size_t count) const {
  count = std::min(count, history_.size());
  return {history_.end() - static_cast<std::ptrdiff_t>(count), history_.end()};
}

std::shared_ptr<const dmm>
refit_dmm(std::vector<runtime_observation> observations, const dmm_spec& spec,
          const dmm_train_options& options) {
  return std::make_shared<const dmm>(fit_dmm(observations, spec, options));
}

} // namespace metronome::algorithms

#include "algorithms/schedule/schedule.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms {

column_correlation::column_correlation(const regression_data& d)
    : d_(d) {
  const auto& x = d.x;
  auto n = static_cast<double>(d.x.rows());
  mean_.assign(d.features(), 0.0);
  norm_.assign(d.features(), 0.0);
  for (Eigen::Index j = 0; j < x.outerSize(); ++j) {
    const double* v = x.valuePtr() + x.outerIndexPtr()[j];
    auto nnz = x.outerIndexPtr()[j + 1] - x.outerIndexPtr()[j];
    if (nnz == 0)
      continue;
    double sum = 0;
    for (std::int64_t k = 0; k < nnz; ++k)
      sum += v[k];
    double m = sum / n;
    mean_[j] = m;
    if (nnz == x.rows() &&
        std::all_of(v, v + nnz, [&](double a) { return a == v[0]; }))
      continue;
    double ss = static_cast<double>(x.rows() - nnz) * m * m;
    for (std::int64_t k = 0; k < nnz; ++k)
      ss += (v[k] - m) * (v[k] - m);
    norm_[j] = std::sqrt(ss);
  }
}

double column_correlation::operator()(std::uint64_t j, std::uint64_t k) const {
  if (j >= features() || k >= features())
    throw std::out_of_range(
        fmt::format("column pair ({}, {}) of {} columns", j, k, features()));
  if (norm_[j] == 0 || norm_[k] == 0)
    return 0;
  if (j == k)
    return 1;
  auto key = std::min(j, k) * features() + std::max(j, k);
  if (auto hit = cache_.find(key); hit != cache_.end())
    return hit->second;
  // Sum of centred products over the union of the two patterns; rows where
  // both are zero add mean_j * mean_k each.
  const auto& x = d_.x;
  const auto* rows = x.innerIndexPtr();
  const double* vals = x.valuePtr();
  std::int64_t a = x.outerIndexPtr()[j], a_end = x.outerIndexPtr()[j + 1];
  std::int64_t b = x.outerIndexPtr()[k], b_end = x.outerIndexPtr()[k + 1];
  double mj = mean_[j], mk = mean_[k];
  double sum = 0;
  std::int64_t both_zero = x.rows();
  while (a < a_end || b < b_end) {
    std::int64_t ra = a < a_end ? rows[a] : x.rows();
    std::int64_t rb = b < b_end ? rows[b] : x.rows();
    double xa = ra <= rb ? vals[a++] : 0.0;
    double xb = rb <= ra ? vals[b++] : 0.0;
    sum += (xa - mj) * (xb - mk);
    --both_zero;
  }
  sum += static_cast<double>(both_zero) * mj * mk;
  double corr = std::clamp(sum / (norm_[j] * norm_[k]), -1.0, 1.0);
  if (cache_.size() >= max_cached)
    cache_.clear();
  cache_.emplace(key, corr);
  return corr;
}

namespace {

// Weights and eligibility of n coordinates in two segment trees, so a draw
// proportional to weight + eta among the eligible ones costs O(log n). Inner
// nodes are recomputed from their children, never incremented, so they hold
// exactly the sums of the current leaves.
class weighted_pool {
public:
  explicit weighted_pool(std::size_t n)
      : weight_(n, 0.0) {
    while (size_ < n)
      size_ *= 2;
    sum_.assign(2 * size_, 0.0);
    count_.assign(2 * size_, 0);
    for (std::size_t i = 0; i < n; ++i)
      count_[size_ + i] = 1;
    for (std::size_t i = size_ - 1; i > 0; --i)
      count_[i] = count_[2 * i] + count_[2 * i + 1];
  }

  double weight(std::size_t j) const { return weight_[j]; }
  double eligible_weight() const { return sum_[1]; }
  std::size_t eligible() const { return count_[1]; }
  bool is_eligible(std::size_t j) const { return count_[size_ + j] != 0; }

  void set_weight(std::size_t j, double w) {
    weight_[j] = w;
    if (is_eligible(j))
      update(j, w, 1);
  }

  void set_eligible(std::size_t j, bool on) {
    update(j, on ? weight_[j] : 0.0, on ? 1 : 0);
  }

  // An eligible coordinate, with probability proportional to weight + eta.
  std::size_t draw(std::mt19937_64& gen, double eta) {
    double w = sum_[1];
    auto c = static_cast<double>(count_[1]);
    if (w > 0 && uniform_open(gen) * (w + eta * c) < w)
      return weighted(uniform_open(gen) * w);
    return kth(uniform_below(gen, count_[1]));
  }

private:
  void update(std::size_t j, double w, std::size_t c) {
    std::size_t i = size_ + j;
    sum_[i] = w;
    count_[i] = c;
    for (i /= 2; i > 0; i /= 2) {
      sum_[i] = sum_[2 * i] + sum_[2 * i + 1];
      count_[i] = count_[2 * i] + count_[2 * i + 1];
    }
  }

  std::size_t weighted(double u) const {
    std::size_t i = 1;
    while (i < size_) {
      double left = sum_[2 * i], right = sum_[2 * i + 1];
      if (left > 0 && (u < left || !(right > 0))) {
        i = 2 * i;
      } else {
        u -= left;
        i = 2 * i + 1;
      }
    }
    return i - size_;
  }

  std::size_t kth(std::uint64_t k) const {
    std::size_t i = 1;
    while (i < size_) {
      if (k < count_[2 * i]) {
        i = 2 * i;
      } else {
        k -= count_[2 * i];
        i = 2 * i + 1;
      }
    }
    return i - size_;
  }

  std::size_t size_ = 1;
  std::vector<double> weight_;
  std::vector<double> sum_;
  std::vector<std::size_t> count_;
};

class cyclic_scheduler : public coordinate_scheduler {
public:
  cyclic_scheduler(std::size_t size, std::size_t features)
      : size_(size)
      , busy_(features, 0) {}

  std::vector<std::uint64_t>
  next(const std::vector<std::uint64_t>& busy) override {
    for (auto j : busy)
      busy_.at(j) = 1;
    std::vector<std::uint64_t> out;
    for (std::size_t seen = 0; seen < busy_.size() && out.size() < size_;
         ++seen) {
      if (!busy_[cursor_])
        out.push_back(cursor_);
      cursor_ = (cursor_ + 1) % busy_.size();
    }
    for (auto j : busy)
      busy_[j] = 0;
    return out;
  }

  void observe(const std::uint64_t*, const double*, std::size_t) override {}

private:
  std::size_t size_;
  std::vector<char> busy_;
  std::size_t cursor_ = 0;
};

class random_scheduler : public coordinate_scheduler {
public:
  random_scheduler(std::size_t size, std::size_t features, std::uint64_t seed)
      : size_(size)
      , pool_(features)
      , gen_(seed) {}

  std::vector<std::uint64_t>
  next(const std::vector<std::uint64_t>& busy) override {
    for (auto j : busy)
      pool_.set_eligible(j, false);
    std::vector<std::uint64_t> out;
    while (out.size() < size_ && pool_.eligible() > 0) {
      out.push_back(pool_.draw(gen_, 1.0));
      pool_.set_eligible(out.back(), false);
    }
    for (auto j : out)
      pool_.set_eligible(j, true);
    for (auto j : busy)
      pool_.set_eligible(j, true);
    return out;
  }

  void observe(const std::uint64_t*, const double*, std::size_t) override {}

private:
  std::size_t size_;
  weighted_pool pool_;
  std::mt19937_64 gen_;
};

// Fisher-Yates with the portable uniform_below.
std::vector<std::uint64_t> shuffled(std::size_t n, std::mt19937_64& gen) {
  std::vector<std::uint64_t> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = i;
  for (std::size_t i = n; i > 1; --i)
    std::swap(v[i - 1], v[uniform_below(gen, i)]);
  return v;
}

class priority_scheduler : public coordinate_scheduler {
public:
  priority_scheduler(const schedule_settings& s, std::size_t features,
                     const column_correlation* correlation)
      : s_(s)
      , correlation_(correlation)
      , pool_(features)
      , busy_(features, 0)
      , gen_(s.seed) {
    if (s_.warmup_sweeps > 0)
      sweep_ = shuffled(features, gen_);
  }

  std::vector<std::uint64_t>
  next(const std::vector<std::uint64_t>& busy) override {
    rejected_ = 0;
    for (auto j : busy)
      busy_.at(j) = 1;
    // Rounds in flight update their coordinates concurrently with this
    // one: the dependency check holds against them too.
    in_flight_ = busy;
    std::vector<std::uint64_t> out;
    if (sweeps_ < s_.warmup_sweeps)
      out = next_in_sweep();
    if (out.empty())
      out = next_by_priority(busy);
    for (auto j : busy)
      busy_[j] = 0;
    return out;
  }

  void observe(const std::uint64_t* keys, const double* deltas,
               std::size_t n) override {
    for (std::size_t i = 0; i < n; ++i) {
      double w = weight_of(deltas[i]);
      nonzero_ += (w != 0) - (pool_.weight(keys[i]) != 0);
      pool_.set_weight(keys[i], w);
    }
  }

  std::uint64_t rejected() const override { return rejected_; }

private:
  // pow is not correctly rounded everywhere; the usual exponents are exact.
  double weight_of(double delta) const {
    double a = std::abs(delta);
    if (s_.exponent == 1.0)
      return a;
    if (s_.exponent == 2.0)
      return a * a;
    return std::pow(a, s_.exponent);
  }

  bool independent(std::uint64_t j, const std::vector<std::uint64_t>& kept) {
    if (correlation_ == nullptr)
      return true;
    auto correlated = [&](std::uint64_t k) {
      return !(std::abs((*correlation_)(j, k)) < s_.rho);
    };
    return std::none_of(kept.begin(), kept.end(), correlated) &&
           std::none_of(in_flight_.begin(), in_flight_.end(), correlated);
  }

  // Keeps candidates in order while they pass the dependency check.
  std::vector<std::uint64_t>
  check(const std::vector<std::uint64_t>& candidates) {
    std::vector<std::uint64_t> kept;
    for (auto j : candidates) {
      if (kept.size() == s_.schedule_size)
        break;
      if (independent(j, kept))
        kept.push_back(j);
      else
        ++rejected_;
    }
    return kept;
  }

  std::vector<std::uint64_t> next_in_sweep();
  std::vector<std::uint64_t>
  next_by_priority(const std::vector<std::uint64_t>& busy);

  schedule_settings s_;
  const column_correlation* correlation_;
  weighted_pool pool_;
  std::vector<char> busy_;
  std::vector<std::uint64_t> in_flight_; // the busy coordinates of next()
  std::mt19937_64 gen_;
  std::vector<std::uint64_t> sweep_; ///< the current sweep, from head_ on
  std::size_t head_ = 0;
  std::size_t sweeps_ = 0;
  std::size_t nonzero_ = 0; ///< coordinates of non-zero weight
  std::uint64_t rejected_ = 0;
};

std::vector<std::uint64_t> priority_scheduler::next_in_sweep() {
  std::size_t want = s_.pool_factor * s_.schedule_size;
  std::vector<std::uint64_t> candidates;
  std::size_t end = head_;
  for (; end < sweep_.size() && candidates.size() < want; ++end)
    if (!busy_[sweep_[end]])
      candidates.push_back(sweep_[end]);
  auto kept = check(candidates);
  // What was taken and not kept goes back, in order, just before `end`.
  std::size_t to = end;
  for (std::size_t i = end; i-- > head_;)
    if (std::find(kept.begin(), kept.end(), sweep_[i]) == kept.end())
      sweep_[--to] = sweep_[i];
  head_ = to;
  if (head_ == sweep_.size() && ++sweeps_ < s_.warmup_sweeps) {
    sweep_ = shuffled(sweep_.size(), gen_);
    head_ = 0;
  }
  return kept;
}

std::vector<std::uint64_t>
priority_scheduler::next_by_priority(const std::vector<std::uint64_t>& busy) {
  double eta = 1.0;
  if (nonzero_ > 0)
    eta = s_.eta * pool_.eligible_weight() / static_cast<double>(nonzero_);
  for (auto j : busy)
    pool_.set_eligible(j, false);
  std::vector<std::uint64_t> drawn;
  std::size_t want = s_.pool_factor * s_.schedule_size;
  while (drawn.size() < want && pool_.eligible() > 0) {
    drawn.push_back(pool_.draw(gen_, eta));
    pool_.set_eligible(drawn.back(), false);
  }
  for (auto j : drawn)
    pool_.set_eligible(j, true);
  for (auto j : busy)
    pool_.set_eligible(j, true);
  std::stable_sort(drawn.begin(), drawn.end(), [&](auto a, auto b) {
    return pool_.weight(a) > pool_.weight(b);
  });
  return check(drawn);
}

void validate(const schedule_settings& s, std::size_t features,
              const column_correlation* correlation) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("schedule: " + what);
  };
  if (features == 0)
    fail("there are no coordinates to schedule");
  if (s.schedule_size == 0)
    fail("schedule_size must be at least 1");
  if (s.kind != "priority")
    return;
  if (correlation != nullptr && correlation->features() != features)
    fail(fmt::format("the correlation covers {} features, not {}",
                     correlation->features(), features));
  if (!(s.rho > 0))
    fail(fmt::format("rho must be above 0, got {}", s.rho));
  if (!(s.eta >= 0) || !std::isfinite(s.eta))
    fail(fmt::format("eta must be 0 or more, got {}", s.eta));
  if (!(s.exponent > 0) || !std::isfinite(s.exponent))
    fail(fmt::format("exponent must be above 0, got {}", s.exponent));
  if (s.pool_factor == 0)
    fail("pool_factor must be at least 1");
}

} // namespace

const std::vector<std::string>& schedule_kinds() {
  static const std::vector<std::string> kinds = {"cyclic", "random",
                                                 "priority"};
  return kinds;
}

std::unique_ptr<coordinate_scheduler>
make_scheduler(const schedule_settings& s, std::size_t features,
               const column_correlation* correlation) {
  const auto& kinds = schedule_kinds();
  if (std::find(kinds.begin(), kinds.end(), s.kind) == kinds.end())
    throw std::invalid_argument(
        fmt::format("unknown schedule '{}' (expected one of: {})", s.kind,
                    fmt::join(kinds, ", ")));
  validate(s, features, correlation);
  if (s.kind == "cyclic")
    return std::make_unique<cyclic_scheduler>(s.schedule_size, features);
  if (s.kind == "random")
    return std::make_unique<random_scheduler>(s.schedule_size, features,
                                              s.seed);
  return std::make_unique<priority_scheduler>(s, features, correlation);
}

} // namespace metronome::algorithms

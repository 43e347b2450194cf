#include "algorithms/lasso/lasso.hpp"
#include "algorithms/sgd/minibatch.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace metronome::algorithms::lasso {

centering center_of(const regression_data& d, bool fit_intercept) {
  centering c;
  c.x_mean.assign(d.features(), 0.0);
  if (!fit_intercept || d.samples() == 0)
    return c;
  auto n = static_cast<double>(d.samples());
  const auto& x = d.x;
  for (Eigen::Index j = 0; j < x.outerSize(); ++j) {
    double sum = 0;
    for (auto k = x.outerIndexPtr()[j]; k < x.outerIndexPtr()[j + 1]; ++k)
      sum += x.valuePtr()[k];
    c.x_mean[j] = sum / n;
  }
  double sum = 0;
  for (double y : d.y)
    sum += y;
  c.y_mean = sum / n;
  return c;
}

void gap_terms::add(const gap_terms& other) {
  if (xtr.empty()) {
    xtr = other.xtr;
  } else {
    if (xtr.size() != other.xtr.size())
      throw std::invalid_argument(fmt::format(
          "gap_terms::add: {} features and {}", xtr.size(), other.xtr.size()));
    for (std::size_t j = 0; j < xtr.size(); ++j)
      xtr[j] += other.xtr[j];
  }
  rr += other.rr;
  ry += other.ry;
  yy += other.yy;
}

row_block::row_block(const regression_data& d, std::size_t begin,
                     std::size_t end, const centering& c) {
  if (begin > end || end > d.samples() ||
      static_cast<std::size_t>(d.x.rows()) != d.samples())
    throw std::out_of_range(
        fmt::format("row_block: rows [{}, {}) of {}", begin, end, d.samples()));
  if (end - begin > std::numeric_limits<std::uint32_t>::max())
    throw std::out_of_range("row_block: more than 2^32 - 1 rows");
  if (c.x_mean.size() != d.features())
    throw std::invalid_argument(
        fmt::format("row_block: centring of {} features for {}",
                    c.x_mean.size(), d.features()));
  bool centred = std::any_of(c.x_mean.begin(), c.x_mean.end(),
                             [](double m) { return m != 0; });
  const auto& x = d.x;
  const auto lo = static_cast<std::int64_t>(begin);
  const auto hi = static_cast<std::int64_t>(end);
  const auto rows = static_cast<double>(end - begin);
  std::size_t p = d.features();
  start_.assign(p + 1, 0);
  sq_.assign(p, 0.0);
  if (centred) {
    mean_ = c.x_mean;
    colsum_.assign(p, 0.0);
  }
  for (std::size_t j = 0; j < p; ++j) {
    const auto* first = x.innerIndexPtr() + x.outerIndexPtr()[j];
    const auto* last = x.innerIndexPtr() + x.outerIndexPtr()[j + 1];
    const auto* from = std::lower_bound(first, last, lo);
    const auto* to = std::lower_bound(from, last, hi);
    double m = c.x_mean[j], sum = 0, sq = 0;
    for (const auto* it = from; it != to; ++it) {
      double v = x.valuePtr()[it - x.innerIndexPtr()];
      row_.push_back(static_cast<std::uint32_t>(*it - lo));
      value_.push_back(v);
      sum += v;
      sq += (v - m) * (v - m);
    }
    sq += (rows - static_cast<double>(to - from)) * m * m;
    sq_[j] = sq;
    if (centred)
      colsum_[j] = sum;
    start_[j + 1] = row_.size();
  }
  y_.reserve(end - begin);
  for (std::size_t i = begin; i < end; ++i)
    y_.push_back(d.y[i] - c.y_mean);
  u_ = y_;
  for (double u : u_)
    u_sum_ += u;
}

void row_block::apply(const std::uint64_t* keys, const double* deltas,
                      std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = keys[i];
    double d = deltas[i];
    if (d == 0)
      continue;
    for (std::size_t k = start_[j]; k < start_[j + 1]; ++k)
      u_[row_[k]] -= value_[k] * d;
    if (!mean_.empty()) {
      shift_ += mean_[j] * d;
      u_sum_ -= colsum_[j] * d;
    }
  }
}

double row_block::centred_dot(std::size_t j) const {
  double t = 0;
  for (std::size_t k = start_[j]; k < start_[j + 1]; ++k)
    t += value_[k] * u_[row_[k]];
  if (mean_.empty())
    return t;
  auto rows = static_cast<double>(u_.size());
  return t + (shift_ * colsum_[j] - mean_[j] * (u_sum_ + rows * shift_));
}

void row_block::partial_sums(const std::uint64_t* keys, const double* beta,
                             std::size_t n, double* out) const {
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t j = keys[i];
    if (j >= sq_.size())
      throw std::out_of_range(fmt::format(
          "row_block: coordinate {} of {} features", j, sq_.size()));
    out[2 * i] = centred_dot(j) + beta[i] * sq_[j];
    out[2 * i + 1] = sq_[j];
  }
}

gap_terms row_block::gap_partial() const {
  gap_terms g;
  g.xtr.resize(sq_.size());
  for (std::size_t j = 0; j < sq_.size(); ++j)
    g.xtr[j] = centred_dot(j);
  for (std::size_t i = 0; i < u_.size(); ++i) {
    double r = u_[i] + shift_;
    g.rr += r * r;
    g.ry += r * y_[i];
    g.yy += y_[i] * y_[i];
  }
  return g;
}

double row_block::residual_norm2() const {
  double rr = 0;
  for (double u : u_) {
    double r = u + shift_;
    rr += r * r;
  }
  return rr;
}

double soft_threshold(double z, double gamma) {
  if (z > gamma)
    return z - gamma;
  if (z < -gamma)
    return z + gamma;
  return 0;
}

double coordinate_update(double a, double b, std::size_t n, double alpha) {
  if (b == 0)
    return 0;
  auto nn = static_cast<double>(n);
  return soft_threshold(a / nn, alpha) / (b / nn);
}

namespace {

double l1_norm(const std::vector<double>& beta) {
  double sum = 0;
  for (double b : beta)
    sum += std::abs(b);
  return sum;
}

} // namespace

double objective(double rr, std::size_t n, double alpha,
                 const std::vector<double>& beta) {
  return rr / (2 * static_cast<double>(n)) + alpha * l1_norm(beta);
}

double duality_gap(const gap_terms& total, std::size_t n, double alpha,
                   const std::vector<double>& beta) {
  auto nn = static_cast<double>(n);
  double scaled_alpha = nn * alpha;
  double dual_norm = 0;
  for (double v : total.xtr)
    dual_norm = std::max(dual_norm, std::abs(v));
  double scale = 1;
  double gap = total.rr;
  if (dual_norm > scaled_alpha) {
    scale = scaled_alpha / dual_norm;
    gap = 0.5 * (total.rr + total.rr * scale * scale);
  }
  gap += scaled_alpha * l1_norm(beta) - scale * total.ry;
  return gap / nn;
}

double gap_threshold(double tol, const gap_terms& total, std::size_t n) {
  return tol * total.yy / static_cast<double>(n);
}

double intercept(const centering& c, const std::vector<double>& beta) {
  double dot = 0;
  for (std::size_t j = 0; j < beta.size() && j < c.x_mean.size(); ++j)
    dot += c.x_mean[j] * beta[j];
  return c.y_mean - dot;
}

double alpha_max(const regression_data& d, const centering& c) {
  row_block all(d, 0, d.samples(), c);
  double m = 0;
  for (double v : all.gap_partial().xtr)
    m = std::max(m, std::abs(v));
  return m / static_cast<double>(d.samples());
}

namespace {

void validate(const regression_data& d, const settings& s, std::size_t blocks) {
  auto fail = [](const std::string& what) {
    throw std::invalid_argument("scheduled_descent: " + what);
  };
  if (d.samples() == 0 || d.features() == 0)
    fail(fmt::format("a problem of {} samples and {} features", d.samples(),
                     d.features()));
  if (blocks == 0 || blocks > d.samples())
    fail(fmt::format("{} blocks for {} samples", blocks, d.samples()));
  if (!(s.alpha > 0) || !std::isfinite(s.alpha))
    fail(fmt::format("alpha must be above 0, got {}", s.alpha));
  if (!(s.tol >= 0))
    fail(fmt::format("tol must be 0 or more, got {}", s.tol));
}

struct changes {
  std::vector<std::uint64_t> keys;
  std::vector<double> deltas;
};

void flush(std::vector<row_block>& blocks, changes& pending) {
  for (auto& b : blocks)
    b.apply(pending.keys.data(), pending.deltas.data(), pending.keys.size());
  pending.keys.clear();
  pending.deltas.clear();
}

gap_terms total_gap_terms(const std::vector<row_block>& blocks) {
  gap_terms total;
  for (const auto& b : blocks)
    total.add(b.gap_partial());
  return total;
}

// One round on `keys`: partial sums combined in block order, then every
// coordinate updated from them; returns the changes.
changes run_round(std::vector<row_block>& blocks, changes& pending,
                  const std::vector<std::uint64_t>& keys,
                  std::vector<double>& beta, std::size_t n, double alpha) {
  flush(blocks, pending);
  std::size_t k = keys.size();
  std::vector<double> current(k), sums(2 * k), part(2 * k);
  for (std::size_t i = 0; i < k; ++i)
    current[i] = beta.at(keys[i]);
  for (std::size_t b = 0; b < blocks.size(); ++b) {
    double* out = b == 0 ? sums.data() : part.data();
    blocks[b].partial_sums(keys.data(), current.data(), k, out);
    if (b > 0)
      for (std::size_t i = 0; i < 2 * k; ++i)
        sums[i] += part[i];
  }
  changes done{keys, std::vector<double>(k)};
  for (std::size_t i = 0; i < k; ++i) {
    double next = coordinate_update(sums[2 * i], sums[2 * i + 1], n, alpha);
    done.deltas[i] = next - current[i];
    beta[keys[i]] = next;
  }
  return done;
}

} // namespace

result scheduled_descent(const regression_data& d, const settings& s,
                         coordinate_scheduler& schedule, std::size_t blocks) {
  validate(d, s, blocks);
  centering c = center_of(d, s.fit_intercept);
  std::vector<row_block> parts;
  parts.reserve(blocks);
  for (std::size_t b = 0; b < blocks; ++b) {
    auto range = data_shard(d.samples(), blocks, b);
    parts.emplace_back(d, range.begin, range.end, c);
  }
  std::size_t n = d.samples();
  result r;
  r.beta.assign(d.features(), 0.0);
  changes pending;
  gap_terms total;
  bool fresh = false; // `total` matches the current residual
  while (r.rounds < s.max_rounds) {
    auto keys = schedule.next({});
    if (keys.empty())
      break;
    pending = run_round(parts, pending, keys, r.beta, n, s.alpha);
    schedule.observe(pending.keys.data(), pending.deltas.data(),
                     pending.keys.size());
    ++r.rounds;
    r.updates += keys.size();
    fresh = false;
    if (s.gap_every == 0 || r.rounds % s.gap_every != 0)
      continue;
    flush(parts, pending);
    total = total_gap_terms(parts);
    fresh = true;
    r.gap = duality_gap(total, n, s.alpha, r.beta);
    if (r.gap <= gap_threshold(s.tol, total, n)) {
      r.converged = true;
      break;
    }
  }
  if (!fresh) {
    flush(parts, pending);
    total = total_gap_terms(parts);
    r.gap = duality_gap(total, n, s.alpha, r.beta);
    r.converged = r.gap <= gap_threshold(s.tol, total, n);
  }
  r.objective = objective(total.rr, n, s.alpha, r.beta);
  r.intercept = intercept(c, r.beta);
  return r;
}

} // namespace metronome::algorithms::lasso

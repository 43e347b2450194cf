#include "algorithms/cutoff/cutoff.hpp"

#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms {

namespace {

constexpr double pi = 3.141592653589793238462643383279502884;
constexpr double sqrt2 = 1.414213562373095048801688724209698079;
constexpr double sqrt_two_pi = 2.506628274631000502415765284811045253;
constexpr double log_sqrt_two_pi = 0.918938533204672741780329736405617639;

/// Standard normal density.
double phi(double z) {
  return std::exp(-0.5 * z * z) / sqrt_two_pi;
}

/// Above this, erfc underflows; the continued fraction takes over.
constexpr double tail_threshold = 30;

/// 1 / (Mills ratio) at v >= tail_threshold by Laplace's continued fraction
/// Q(v) / phi(v) = 1 / (v + 1 / (v + 2 / (v + 3 / ...))).
double inverse_mills_tail(double v) {
  double t = v;
  for (int k = 24; k >= 1; --k)
    t = v + k / t;
  return t;
}

/// log P(Z > v) for a standard normal Z, without underflow.
double log_upper_tail(double v) {
  if (v < tail_threshold)
    return std::log(0.5 * std::erfc(v / sqrt2));
  return -0.5 * v * v - log_sqrt_two_pi - std::log(inverse_mills_tail(v));
}

/// phi(v) / P(Z > v), the hazard of the standard normal.
double inverse_mills(double v) {
  if (v < tail_threshold)
    return phi(v) / (0.5 * std::erfc(v / sqrt2));
  return inverse_mills_tail(v);
}

/// Acklam's rational approximation of the lower half (p <= 0.5), relative
/// error about 1e-9 before refinement.
double acklam_lower(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  if (p < 0.02425) {
    double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
            c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  double q = p - 0.5;
  double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) *
         q / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/// One worker's run-time in one iteration.
struct entry {
  double seconds = 0;
  bool censored = false;
};

/// Ascending by value, uncensored first on ties (Kaplan-Meier's order).
bool entry_less(const entry& a, const entry& b) {
  if (a.seconds != b.seconds)
    return a.seconds < b.seconds;
  return !a.censored && b.censored;
}

std::string rule_error(const std::string& rule, const std::string& what) {
  return fmt::format("cutoff ({}): {}", rule, what);
}

/// The entries of an observation; none if any run-time is not positive and
/// finite: a server never measures such, and a broken iteration must not
/// skew later decisions.
std::vector<entry> entries_of(const std::string& rule,
                              const runtime_observation& o) {
  if (!o.censored.empty() && o.censored.size() != o.seconds.size())
    throw std::invalid_argument(rule_error(
        rule, fmt::format("observation has {} run-times but {} censored flags",
                          o.seconds.size(), o.censored.size())));
  std::vector<entry> out;
  out.reserve(o.seconds.size());
  for (std::size_t i = 0; i < o.seconds.size(); ++i) {
    double s = o.seconds[i];
    if (!(std::isfinite(s) && s > 0))
      return {};
    out.push_back({s, !o.censored.empty() && o.censored[i] != 0});
  }
  return out;
}

void check_workers(const std::string& rule, std::size_t workers) {
  if (workers == 0)
    throw std::invalid_argument(
        rule_error(rule, "decide() needs at least one worker"));
}

class full_rule : public cutoff_rule {
public:
  std::string name() const override { return "full"; }
  void observe(const runtime_observation& o) override { entries_of(name(), o); }
  cutoff_decision decide(std::size_t workers) override {
    check_workers(name(), workers);
    return {workers, {}};
  }
};

class static_rule : public cutoff_rule {
public:
  explicit static_rule(std::size_t backups)
      : backups_(backups) {}

  std::string name() const override { return "static"; }
  void observe(const runtime_observation& o) override { entries_of(name(), o); }
  cutoff_decision decide(std::size_t workers) override {
    check_workers(name(), workers);
    return {backups_ < workers ? workers - backups_ : 1, {}};
  }

private:
  std::size_t backups_;
};

/// A rule that remembers the last `window` non-empty iterations.
class windowed_rule : public cutoff_rule {
public:
  explicit windowed_rule(std::size_t window)
      : window_(window) {}

  void observe(const runtime_observation& o) override {
    std::vector<entry> row = entries_of(name(), o);
    if (row.empty())
      return;
    rows_.push_back(std::move(row));
    if (rows_.size() > window_)
      rows_.pop_front();
    ++observed_;
  }

protected:
  bool any_uncensored() const {
    for (const auto& row : rows_)
      for (const entry& e : row)
        if (!e.censored)
          return true;
    return false;
  }

  /// The decision when the window holds nothing to estimate from: waiting
  /// for everyone also gives the next iteration uncensored data.
  static cutoff_decision everyone(std::size_t workers) { return {workers, {}}; }

  /// argmax of the curve, or everyone when no entry is valid.
  static cutoff_decision choose(std::vector<double> curve) {
    std::size_t workers = curve.size();
    bool valid = std::any_of(curve.begin(), curve.end(), [](double v) {
      return std::isfinite(v) && v > 0;
    });
    std::size_t c = valid ? best_cutoff(curve) : workers;
    return {c, std::move(curve)};
  }

  std::size_t window_;
  std::deque<std::vector<entry>> rows_;
  std::uint64_t observed_ = 0;
};

class elfving_rule : public windowed_rule {
public:
  using windowed_rule::windowed_rule;

  std::string name() const override { return "elfving"; }

  cutoff_decision decide(std::size_t workers) override {
    check_workers(name(), workers);
    if (!any_uncensored())
      return everyone(workers);
    std::vector<double> seconds;
    std::vector<std::uint8_t> censored;
    for (const auto& row : rows_)
      for (const entry& e : row) {
        seconds.push_back(e.seconds);
        censored.push_back(e.censored ? 1 : 0);
      }
    normal_fit fit = fit_censored_normal(seconds, censored);
    std::vector<double> curve(workers);
    for (std::size_t k = 1; k <= workers; ++k) {
      double x = elfving_order_statistic(fit.mu, fit.sigma, k, workers);
      // A non-positive expected run-time has no meaningful throughput.
      curve[k - 1] = x > 0 && std::isfinite(x) ? k / x : 0;
    }
    return choose(std::move(curve));
  }
};

/// Kaplan-Meier estimate of the run-time distribution of a window: the
/// probability mass at each uncensored value, plus the mass beyond the last
/// one that censoring leaves unassigned.
class kaplan_meier {
public:
  explicit kaplan_meier(std::vector<entry> pooled) {
    std::sort(pooled.begin(), pooled.end(), entry_less);
    double at_risk = static_cast<double>(pooled.size());
    double survival = 1;
    for (std::size_t i = 0; i < pooled.size();) {
      double value = pooled[i].seconds;
      double deaths = 0;
      double lost = 0;
      for (; i < pooled.size() && pooled[i].seconds == value; ++i)
        (pooled[i].censored ? lost : deaths) += 1;
      if (deaths > 0) {
        double jump = survival * deaths / at_risk;
        values_.push_back(value);
        cumulative_.push_back((cumulative_.empty() ? 0 : cumulative_.back()) +
                              jump);
        survival -= jump;
      }
      at_risk -= deaths + lost;
    }
    tail_ = std::max(0.0, survival);
  }

  /// A draw of X given X > bound, or NaN where it falls on mass the
  /// estimate cannot place (beyond the last uncensored value).
  double draw_above(double bound, std::mt19937_64& gen) const {
    std::size_t first =
        std::upper_bound(values_.begin(), values_.end(), bound) -
        values_.begin();
    double before = first == 0 ? 0 : cumulative_[first - 1];
    double known = values_.empty() ? 0 : cumulative_.back() - before;
    double total = known + tail_;
    if (!(total > 0))
      return std::numeric_limits<double>::quiet_NaN();
    double u = uniform_open(gen) * total;
    if (u >= known)
      return std::numeric_limits<double>::quiet_NaN();
    std::size_t j = std::upper_bound(cumulative_.begin() + first,
                                     cumulative_.end(), before + u) -
                    cumulative_.begin();
    return values_[std::min(j, values_.size() - 1)];
  }

private:
  std::vector<double> values_;
  std::vector<double> cumulative_;
  double tail_ = 0;
};

class ecdf_rule : public windowed_rule {
public:
  using windowed_rule::windowed_rule;

  std::string name() const override { return "ecdf"; }

  cutoff_decision decide(std::size_t workers) override {
    check_workers(name(), workers);
    if (!any_uncensored())
      return everyone(workers);
    std::vector<const std::vector<entry>*> same;
    for (const auto& row : rows_)
      if (row.size() == workers)
        same.push_back(&row);
    // Right after the membership changed no iteration of this size exists.
    if (same.empty())
      return everyone(workers);
    std::vector<entry> pooled;
    for (const auto& row : rows_)
      pooled.insert(pooled.end(), row.begin(), row.end());
    kaplan_meier all(std::move(pooled));
    std::vector<kaplan_meier> own;
    for (std::size_t w = 0; w < workers; ++w) {
      std::vector<entry> mine;
      for (const auto* row : same)
        mine.push_back((*row)[w]);
      own.emplace_back(std::move(mine));
    }
    // Seeded by the history only, so equal histories decide equally.
    std::mt19937_64 gen(splitmix64(observed_ ^ 0x6563646675ull));
    std::vector<double> sum(workers, 0);
    std::vector<double> x(workers);
    for (const auto* row : same) {
      bool censored = std::any_of(row->begin(), row->end(),
                                  [](const entry& e) { return e.censored; });
      int draws = censored ? imputations : 1;
      for (int d = 0; d < draws; ++d) {
        for (std::size_t w = 0; w < workers; ++w) {
          const entry& e = (*row)[w];
          x[w] = e.censored ? impute(own[w], all, e.seconds, gen) : e.seconds;
        }
        std::sort(x.begin(), x.end());
        for (std::size_t k = 1; k <= workers; ++k)
          sum[k - 1] += k / x[k - 1] / draws;
      }
    }
    for (double& s : sum)
      s /= static_cast<double>(same.size());
    return choose(std::move(sum));
  }

private:
  /// A censored run-time: from the worker's own estimate where it reaches
  /// beyond the bound (persistent stragglers stay slow), else from all
  /// workers', else the bound itself. The last is optimistic on purpose:
  /// once the window holds no run-time above the bounds, larger cutoffs
  /// look good and get tried, so a too-small cutoff cannot outlive it.
  static double impute(const kaplan_meier& own, const kaplan_meier& all,
                       double bound, std::mt19937_64& gen) {
    double x = own.draw_above(bound, gen);
    if (std::isnan(x))
      x = all.draw_above(bound, gen);
    return std::isnan(x) ? bound : x;
  }

  static constexpr int imputations = 16;
};

constexpr const char* valid_rules = "full, static, elfving, ecdf";

/// Sufficient statistics of right-censored data: the uncensored values'
/// count, sum and sum of squares, and each distinct bound with its count.
struct censored_sample {
  double count = 0;
  double sum = 0;
  double sum_squares = 0;
  std::vector<std::pair<double, double>> bounds;
};

/// Value, gradient and Hessian of the log-likelihood in Olsen's
/// parametrisation theta = 1 / sigma, gamma = mu / sigma.
struct tobit_point {
  double value = 0;
  double g_theta = 0;
  double g_gamma = 0;
  double h_tt = 0;
  double h_tg = 0;
  double h_gg = 0;
};

double tobit_value(const censored_sample& s, double theta, double gamma) {
  double v = s.count * std::log(theta) -
             0.5 * (theta * theta * s.sum_squares - 2 * theta * gamma * s.sum +
                    s.count * gamma * gamma);
  for (const auto& [bound, count] : s.bounds)
    v += count * log_upper_tail(theta * bound - gamma);
  return v;
}

tobit_point tobit(const censored_sample& s, double theta, double gamma) {
  tobit_point p;
  p.value = tobit_value(s, theta, gamma);
  p.g_theta = s.count / theta - (theta * s.sum_squares - gamma * s.sum);
  p.g_gamma = theta * s.sum - s.count * gamma;
  p.h_tt = -s.count / (theta * theta) - s.sum_squares;
  p.h_tg = s.sum;
  p.h_gg = -s.count;
  for (const auto& [bound, count] : s.bounds) {
    double v = theta * bound - gamma;
    double lambda = inverse_mills(v);
    double h = lambda * (v - lambda);
    p.g_theta -= count * lambda * bound;
    p.g_gamma += count * lambda;
    p.h_tt += count * h * bound * bound;
    p.h_tg -= count * h * bound;
    p.h_gg += count * h;
  }
  return p;
}

} // namespace

double normal_quantile(double p) {
  if (std::isnan(p))
    return p;
  if (p <= 0)
    return -std::numeric_limits<double>::infinity();
  if (p >= 1)
    return std::numeric_limits<double>::infinity();
  // 1 - p is exact for p >= 0.5, and the lower tail keeps relative accuracy.
  if (p > 0.5)
    return -normal_quantile(1 - p);
  double x = acklam_lower(p);
  // One Halley step on Phi(x) - p brings the error to rounding level.
  double e = 0.5 * std::erfc(-x / sqrt2) - p;
  double u = e * sqrt_two_pi * std::exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

double elfving_order_statistic(double mu, double sigma, std::size_t k,
                               std::size_t n) {
  if (k < 1 || k > n)
    throw std::invalid_argument(fmt::format(
        "elfving_order_statistic: k = {} outside [1, n = {}]", k, n));
  double p =
      (static_cast<double>(k) - pi / 8) / (static_cast<double>(n) - pi / 4 + 1);
  return mu + sigma * normal_quantile(p);
}

std::size_t best_cutoff(const std::vector<double>& curve) {
  std::size_t best = 1;
  double best_value = 0;
  for (std::size_t k = 1; k <= curve.size(); ++k) {
    double v = curve[k - 1];
    if (std::isfinite(v) && v > best_value) {
      best = k;
      best_value = v;
    }
  }
  return best;
}

std::vector<double>
throughput_from_samples(const std::vector<std::vector<double>>& samples) {
  if (samples.empty())
    return {};
  std::size_t n = samples.front().size();
  std::vector<double> sum(n, 0);
  std::vector<double> sorted;
  for (std::size_t r = 0; r < samples.size(); ++r) {
    if (samples[r].size() != n)
      throw std::invalid_argument(fmt::format(
          "throughput_from_samples: sample {} has {} run-times, sample 0 "
          "has {}",
          r, samples[r].size(), n));
    sorted = samples[r];
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t k = 1; k <= n; ++k)
      sum[k - 1] += k / sorted[k - 1];
  }
  for (double& s : sum)
    s /= static_cast<double>(samples.size());
  return sum;
}

normal_fit fit_censored_normal(const std::vector<double>& seconds,
                               const std::vector<std::uint8_t>& censored) {
  if (!censored.empty() && censored.size() != seconds.size())
    throw std::invalid_argument(
        fmt::format("fit_censored_normal: {} values but {} censored flags",
                    seconds.size(), censored.size()));
  auto is_censored = [&](std::size_t i) {
    return !censored.empty() && censored[i] != 0;
  };
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  double max_bound = -lo;
  double mean = 0;
  std::size_t uncensored = 0;
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    double x = seconds[i];
    if (!std::isfinite(x))
      throw std::invalid_argument(
          fmt::format("fit_censored_normal: value {} is {}", i, x));
    mean += x;
    if (is_censored(i)) {
      max_bound = std::max(max_bound, x);
    } else {
      ++uncensored;
      lo = std::min(lo, x);
      hi = std::max(hi, x);
    }
  }
  if (uncensored == 0)
    throw std::invalid_argument(
        "fit_censored_normal: needs at least one uncensored value");
  // All uncensored values equal and no bound above them: the likelihood
  // grows without limit as sigma -> 0.
  if (lo == hi && max_bound <= hi)
    return {hi, 0};

  // Standardise by the naive fit (bounds taken as values) for conditioning.
  mean /= static_cast<double>(seconds.size());
  double var = 0;
  for (double x : seconds)
    var += (x - mean) * (x - mean);
  double scale = std::sqrt(var / static_cast<double>(seconds.size()));
  censored_sample s;
  std::vector<double> bounds;
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    double y = (seconds[i] - mean) / scale;
    if (is_censored(i)) {
      bounds.push_back(y);
    } else {
      s.count += 1;
      s.sum += y;
      s.sum_squares += y * y;
    }
  }
  std::sort(bounds.begin(), bounds.end());
  for (double b : bounds) {
    if (s.bounds.empty() || s.bounds.back().first != b)
      s.bounds.emplace_back(b, 0);
    s.bounds.back().second += 1;
  }

  // The Tobit log-likelihood is concave in (theta, gamma) (Olsen 1978), so
  // damped Newton from the naive fit converges to the unique maximum, in a
  // handful of steps where EM would crawl under heavy censoring.
  double theta = 1;
  double gamma = 0;
  for (int iteration = 0; iteration < 100; ++iteration) {
    tobit_point p = tobit(s, theta, gamma);
    double det = p.h_tt * p.h_gg - p.h_tg * p.h_tg;
    double d_theta = 0;
    double d_gamma = 0;
    if (p.h_tt < 0 && det > 0 && std::isfinite(det)) {
      d_theta = (-p.h_gg * p.g_theta + p.h_tg * p.g_gamma) / det;
      d_gamma = (p.h_tg * p.g_theta - p.h_tt * p.g_gamma) / det;
    } else {
      d_theta = p.g_theta;
      d_gamma = p.g_gamma;
    }
    double slope = p.g_theta * d_theta + p.g_gamma * d_gamma;
    if (!(slope > 1e-14 * (1 + std::abs(p.value))))
      break;
    double t = 1;
    bool moved = false;
    for (int halving = 0; halving < 60; ++halving, t *= 0.5) {
      double next_theta = theta + t * d_theta;
      double next_gamma = gamma + t * d_gamma;
      if (!(next_theta > 0))
        continue;
      double value = tobit_value(s, next_theta, next_gamma);
      if (value >= p.value + 1e-4 * t * slope) {
        theta = next_theta;
        gamma = next_gamma;
        moved = true;
        break;
      }
    }
    if (!moved)
      break;
  }
  return {mean + scale * gamma / theta, scale / theta};
}

const std::vector<std::string>& cutoff_rule_names() {
  static const std::vector<std::string> names = {"full", "static", "elfving",
                                                 "ecdf", "bdsgd"};
  return names;
}

std::unique_ptr<cutoff_rule> make_cutoff_rule(const cutoff_spec& spec) {
  const std::string& r = spec.rule;
  if (r == "full")
    return std::make_unique<full_rule>();
  if (r == "static")
    return std::make_unique<static_rule>(spec.backups);
  if (r != "elfving" && r != "ecdf")
    throw std::invalid_argument(
        fmt::format("cutoff: unknown rule '{}' (valid: {})", r, valid_rules));
  if (spec.window == 0)
    throw std::invalid_argument(rule_error(r, "window must be >= 1"));
  if (r == "elfving")
    return std::make_unique<elfving_rule>(spec.window);
  return std::make_unique<ecdf_rule>(spec.window);
}

replay_result replay_cutoff(cutoff_rule& rule,
                            const std::vector<std::vector<double>>& truth) {
  replay_result result;
  std::vector<std::size_t> order;
  std::vector<double> sorted;
  for (std::size_t r = 0; r < truth.size(); ++r) {
    const std::vector<double>& row = truth[r];
    std::size_t n = row.size();
    if (n == 0)
      throw std::invalid_argument(
          fmt::format("replay_cutoff: iteration {} has no run-times", r));
    for (std::size_t w = 0; w < n; ++w)
      if (!(std::isfinite(row[w]) && row[w] > 0))
        throw std::invalid_argument(fmt::format(
            "replay_cutoff: iteration {}, worker {}: run-time {} is not "
            "positive and finite",
            r, w, row[w]));
    std::size_t c = rule.decide(n).cutoff;
    if (c < 1 || c > n)
      throw std::logic_error(
          fmt::format("replay_cutoff: rule '{}' chose cutoff {} of {} workers",
                      rule.name(), c, n));
    order.resize(n);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(
        order.begin(), order.end(),
        [&row](std::size_t a, std::size_t b) { return row[a] < row[b]; });
    sorted.resize(n);
    double oracle = 0;
    for (std::size_t k = 1; k <= n; ++k) {
      sorted[k - 1] = row[order[k - 1]];
      oracle = std::max(oracle, k / sorted[k - 1]);
    }
    double bound = sorted[c - 1];
    result.achieved += c / bound;
    result.oracle += oracle;
    result.cutoffs.push_back(c);
    runtime_observation seen;
    seen.seconds = row;
    seen.censored.assign(n, 0);
    for (std::size_t k = c; k < n; ++k) {
      seen.seconds[order[k]] = bound;
      seen.censored[order[k]] = 1;
    }
    rule.observe(seen);
  }
  if (!truth.empty()) {
    result.achieved /= static_cast<double>(truth.size());
    result.oracle /= static_cast<double>(truth.size());
  }
  return result;
}

} // namespace metronome::algorithms

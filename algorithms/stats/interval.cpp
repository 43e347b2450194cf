#include "algorithms/stats/interval.hpp"

#include <cmath>
#include <limits>

namespace metronome::algorithms {

namespace {

// The continued fraction of the regularized incomplete beta function,
// evaluated by the modified Lentz method.
double beta_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1;
  double d = 1 - (a + b) * x / (a + 1);
  d = 1 / (std::fabs(d) < tiny ? tiny : d);
  double f = d;
  for (int m = 1; m <= 500; ++m) {
    for (int odd = 0; odd < 2; ++odd) {
      double num = odd == 0 ? m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
                            : -(a + m) * (a + b + m) * x /
                                  ((a + 2 * m) * (a + 2 * m + 1));
      d = 1 + num * d;
      d = 1 / (std::fabs(d) < tiny ? tiny : d);
      c = 1 + num / c;
      c = std::fabs(c) < tiny ? tiny : c;
      f *= c * d;
    }
    if (std::fabs(c * d - 1) < 1e-15)
      break;
  }
  return f;
}

// I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0)
    return 0;
  if (x >= 1)
    return 1;
  double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                          a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2))
    return front * beta_fraction(a, b, x) / a;
  return 1 - front * beta_fraction(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double df) {
  double tail = 0.5 * incomplete_beta(df / 2, 0.5, df / (df + t * t));
  return t >= 0 ? 1 - tail : tail;
}

} // namespace

double student_t_quantile(double q, double df) {
  if (!(q > 0 && q < 1) || !(df >= 1))
    return std::numeric_limits<double>::quiet_NaN();
  if (q == 0.5)
    return 0;
  if (q < 0.5)
    return -student_t_quantile(1 - q, df);
  double low = 0;
  double high = 1;
  while (student_t_cdf(high, df) < q)
    high *= 2;
  for (int i = 0; i < 200 && high - low > 1e-12 * high; ++i) {
    double mid = (low + high) / 2;
    (student_t_cdf(mid, df) < q ? low : high) = mid;
  }
  return (low + high) / 2;
}

mean_interval t_interval(const std::vector<double>& values, double confidence) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  mean_interval r;
  r.n = values.size();
  r.mean = r.low = r.high = nan;
  if (r.n == 0)
    return r;
  double sum = 0;
  for (double v : values)
    sum += v;
  r.mean = sum / static_cast<double>(r.n);
  if (r.n < 2)
    return r;
  double squares = 0;
  for (double v : values)
    squares += (v - r.mean) * (v - r.mean);
  double sd = std::sqrt(squares / static_cast<double>(r.n - 1));
  double t =
      student_t_quantile(0.5 + confidence / 2, static_cast<double>(r.n - 1));
  double half = t * sd / std::sqrt(static_cast<double>(r.n));
  r.low = r.mean - half;
  r.high = r.mean + half;
  return r;
}

} // namespace metronome::algorithms

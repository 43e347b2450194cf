#include "algorithms/cutoff/dmm.hpp"

#include "algorithms/cutoff/dmm_net.hpp"
#include "algorithms/data/dataset.hpp"
#include "algorithms/random.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace metronome::algorithms {

namespace {

using dmm_net::matrix;

constexpr double log_two_pi = 1.8378770664093454835606594728112;
constexpr double negative_infinity = -std::numeric_limits<double>::infinity();
constexpr double min_log_std = 1e-2;

Eigen::Index idx(std::size_t i) {
  return static_cast<Eigen::Index>(i);
}

/// Log run-times of a stretch of iterations: workers x iterations, censored
/// entries hold the log of their bound (-inf when nothing is known).
struct log_window {
  matrix value;
  /// The seconds as given (the bound for censored entries, 0 if unknown).
  matrix seconds;
  Eigen::Array<bool, Eigen::Dynamic, Eigen::Dynamic> censored;

  bool any_censored() const { return censored.any(); }
};

log_window to_log(const std::vector<runtime_observation>& obs,
                  std::size_t first, std::size_t count, std::size_t workers) {
  log_window w;
  w.value.resize(idx(workers), idx(count));
  w.seconds.resize(idx(workers), idx(count));
  w.censored.resize(idx(workers), idx(count));
  for (std::size_t t = 0; t < count; ++t) {
    const runtime_observation& o = obs[first + t];
    for (std::size_t i = 0; i < workers; ++i) {
      double v = negative_infinity;
      double raw = 0;
      bool censored = true;
      if (i < o.seconds.size()) {
        double s = o.seconds[i];
        bool flagged = i < o.censored.size() && o.censored[i] != 0;
        if (flagged) {
          if (std::isfinite(s) && s >= 0) {
            v = std::log(s);
            raw = s;
          }
        } else if (std::isfinite(s) && s > 0) {
          v = std::log(s);
          raw = s;
          censored = false;
        }
      }
      w.value(idx(i), idx(t)) = v;
      w.seconds(idx(i), idx(t)) = raw;
      w.censored(idx(i), idx(t)) = censored;
    }
  }
  return w;
}

std::size_t longest(const std::vector<runtime_observation>& obs) {
  std::size_t n = 0;
  for (const runtime_observation& o : obs)
    n = std::max(n, o.seconds.size());
  return n;
}

/// Standardised values (workers x 1 per iteration) and bounds: NaN for
/// observed entries, the standardised log bound (or -inf) for censored ones.
void standardise(const log_window& w, const Eigen::VectorXd& mean,
                 const Eigen::VectorXd& std, std::vector<matrix>& value,
                 std::vector<matrix>& bound) {
  auto steps = static_cast<std::size_t>(w.value.cols());
  value.resize(steps);
  bound.resize(steps);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (std::size_t t = 0; t < steps; ++t) {
    value[t] = ((w.value.col(idx(t)) - mean).array() / std.array()).matrix();
    bound[t] = value[t];
    for (Eigen::Index i = 0; i < w.value.rows(); ++i)
      if (!w.censored(i, idx(t)))
        bound[t](i, 0) = nan;
  }
}

/// The paper's rule on log values: each censored entry becomes a uniform
/// draw among the uncensored values above its bound, else the bound; with
/// no bound and nothing observed, `fallback` of its worker.
matrix empirical_fill(const log_window& w, const Eigen::VectorXd& fallback,
                      std::mt19937_64& gen, matrix* seconds = nullptr) {
  std::vector<std::pair<double, double>> pool;
  for (Eigen::Index t = 0; t < w.value.cols(); ++t)
    for (Eigen::Index i = 0; i < w.value.rows(); ++i)
      if (!w.censored(i, t))
        pool.emplace_back(w.value(i, t), w.seconds(i, t));
  std::sort(pool.begin(), pool.end());
  matrix out = w.value;
  if (seconds)
    *seconds = w.seconds;
  for (Eigen::Index t = 0; t < w.value.cols(); ++t)
    for (Eigen::Index i = 0; i < w.value.rows(); ++i) {
      if (!w.censored(i, t))
        continue;
      double b = w.value(i, t);
      auto above =
          std::upper_bound(pool.begin(), pool.end(), b,
                           [](double v, const std::pair<double, double>& e) {
                             return v < e.first;
                           });
      auto count = static_cast<std::uint64_t>(pool.end() - above);
      std::pair<double, double> pick{b, w.seconds(i, t)};
      if (count > 0)
        pick =
            *(above + static_cast<std::ptrdiff_t>(uniform_below(gen, count)));
      else if (!std::isfinite(b))
        pick = {fallback(i), std::exp(fallback(i))};
      out(i, t) = pick.first;
      if (seconds)
        (*seconds)(i, t) = pick.second;
    }
  return out;
}

/// Completed windows: standardised workers x copies values per iteration.
std::vector<matrix> complete(const dmm& m, const log_window& w,
                             Eigen::Index copies,
                             const imputation_options& options,
                             std::mt19937_64& gen) {
  std::vector<matrix> value, bound;
  if (options.method == imputation_method::empirical) {
    log_window filled = w;
    filled.censored.setConstant(false);
    value.resize(static_cast<std::size_t>(w.value.cols()));
    for (Eigen::Index k = 0; k < copies; ++k) {
      filled.value = empirical_fill(w, m.log_mean(), gen);
      std::vector<matrix> one, unused;
      standardise(filled, m.log_mean(), m.log_std(), one, unused);
      for (std::size_t t = 0; t < one.size(); ++t) {
        if (k == 0)
          value[t].resize(one[t].rows(), copies);
        value[t].col(k) = one[t];
      }
    }
    return value;
  }
  standardise(w, m.log_mean(), m.log_std(), value, bound);
  if (!w.any_censored()) {
    for (matrix& v : value)
      v = v.replicate(1, copies).eval();
    return value;
  }
  dmm_net::const_params p(m.spec(), m.parameters().data());
  std::vector<matrix> path = dmm_net::smc_paths(p, value, bound, copies, gen);
  return dmm_net::draw_censored(p, path, value, bound, gen);
}

/// Widens every state to `cols` columns, column j copying column j modulo
/// its former width.
void widen(std::vector<matrix>& states, Eigen::Index cols) {
  for (matrix& s : states) {
    if (s.cols() == cols)
      continue;
    matrix wide(s.rows(), cols);
    for (Eigen::Index j = 0; j < cols; ++j)
      wide.col(j) = s.col(j % s.cols());
    s = std::move(wide);
  }
}

/// Latents z_{T+1} (latent x samples) of the iteration after `window`.
matrix next_latents(const dmm& m,
                    const std::vector<runtime_observation>& window,
                    std::size_t samples, std::mt19937_64& gen,
                    const imputation_options& options) {
  dmm_net::const_params p(m.spec(), m.parameters().data());
  auto cols = idx(samples);
  matrix eps(idx(m.spec().latent), cols);
  std::size_t steps = std::min(window.size(), m.spec().lag);
  matrix z;
  if (steps == 0) {
    matrix mean, var;
    dmm_net::initial_prior(p, cols, mean, var);
    dmm_net::fill_normal(eps, gen);
    return mean + (var.array().sqrt() * eps.array()).matrix();
  }
  log_window w = to_log(window, window.size() - steps, steps, m.workers());
  if (w.any_censored() && options.method == imputation_method::model) {
    std::vector<matrix> value, bound;
    standardise(w, m.log_mean(), m.log_std(), value, bound);
    auto particles = idx(options.copies);
    matrix paths = dmm_net::smc_paths(p, value, bound, particles, gen).back();
    // Equally weighted particles: each sample starts from a random one.
    z.resize(paths.rows(), cols);
    for (Eigen::Index j = 0; j < cols; ++j)
      z.col(j) = paths.col(static_cast<Eigen::Index>(
          uniform_below(gen, static_cast<std::uint64_t>(particles))));
  } else {
    // Complete (or completed by the paper's rule) windows: sample paths
    // from the inference network as in training.
    Eigen::Index copies =
        w.any_censored()
            ? std::clamp<Eigen::Index>(idx(options.copies), 1, cols)
            : 1;
    std::vector<matrix> value = complete(m, w, copies, options, gen);
    std::vector<matrix> u(value.size());
    for (std::size_t t = 0; t < value.size(); ++t)
      u[t] = dmm_net::rnn_input(value[t], nullptr);
    std::vector<matrix> h;
    dmm_net::rnn_forward(p, u, h);
    widen(h, cols);
    z = dmm_net::sample_latent_path(p, h, gen);
  }
  dmm_net::transition_state s;
  dmm_net::transition_forward(p, z, s);
  dmm_net::fill_normal(eps, gen);
  return s.mean + (s.var.array().sqrt() * eps.array()).matrix();
}

void check_options(const imputation_options& options) {
  if (options.copies == 0)
    throw std::invalid_argument("imputation: copies must be at least 1");
}

/// (logs - mean) / std per worker (row).
matrix standardised(const matrix& logs, const dmm& m) {
  return ((logs.colwise() - m.log_mean()).array().colwise() /
          m.log_std().array())
      .matrix();
}

/// Censors one complete standardised iteration as a server waiting for c
/// of its workers would: c uniform in [1, workers], every run-time above
/// the c-th smallest (in seconds) becomes censored there. Iterations that
/// already have censored entries are left alone.
template <class Column>
void censor_randomly(Column x, Column bound, const dmm& m,
                     std::mt19937_64& gen) {
  if (!bound.array().isNaN().all())
    return;
  std::vector<double> seconds_log;
  for (Eigen::Index i = 0; i < x.size(); ++i)
    seconds_log.push_back(m.log_mean()(i) + m.log_std()(i) * x(i));
  std::sort(seconds_log.begin(), seconds_log.end());
  double tau = seconds_log[uniform_below(gen, seconds_log.size())];
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    if (!std::isnan(bound(i)))
      continue;
    if (m.log_mean()(i) + m.log_std()(i) * x(i) > tau) {
      bound(i) = (tau - m.log_mean()(i)) / m.log_std()(i);
      x(i) = bound(i);
    }
  }
}

/// Adam with bias correction.
class adam {
public:
  adam(Eigen::Index size, double rate)
      : rate_(rate)
      , m_(Eigen::VectorXd::Zero(size))
      , v_(Eigen::VectorXd::Zero(size)) {}

  void step(Eigen::VectorXd& params, const Eigen::VectorXd& grad) {
    constexpr double beta1 = 0.9;
    constexpr double beta2 = 0.999;
    constexpr double epsilon = 1e-8;
    ++t_;
    m_ = beta1 * m_ + (1 - beta1) * grad;
    v_ = beta2 * v_ + (1 - beta2) * grad.cwiseAbs2();
    double c1 = 1 - std::pow(beta1, t_);
    double c2 = 1 - std::pow(beta2, t_);
    params.array() -=
        rate_ * (m_.array() / c1) / ((v_.array() / c2).sqrt() + epsilon);
  }

private:
  double rate_;
  Eigen::VectorXd m_;
  Eigen::VectorXd v_;
  double t_ = 0;
};

void check_train_options(const dmm_train_options& o) {
  if (o.batch == 0)
    throw std::invalid_argument("dmm training: batch must be at least 1");
  if (!(o.learning_rate > 0))
    throw std::invalid_argument("dmm training: learning_rate must be positive");
  if (!(o.clip_norm > 0))
    throw std::invalid_argument("dmm training: clip_norm must be positive");
  if (!(o.kl_start >= 0 && o.kl_start <= 1))
    throw std::invalid_argument("dmm training: kl_start must be in [0, 1]");
  if (o.imputations == 0)
    throw std::invalid_argument("dmm training: imputations must be at least 1");
  if (!(o.censor_augmentation >= 0 && o.censor_augmentation <= 1))
    throw std::invalid_argument(
        "dmm training: censor_augmentation must be in [0, 1]");
}

double log_mean_exp(const Eigen::VectorXd& v) {
  double top = v.maxCoeff();
  if (!std::isfinite(top))
    return top;
  return top + std::log((v.array() - top).exp().mean());
}

} // namespace

void dmm_spec::validate() const {
  auto positive = [](std::size_t v, const char* field) {
    if (v == 0)
      throw std::invalid_argument(
          fmt::format("dmm spec: {} must be at least 1", field));
  };
  positive(workers, "workers");
  positive(latent, "latent");
  positive(transition_hidden, "transition_hidden");
  positive(emission_hidden, "emission_hidden");
  positive(rnn_hidden, "rnn_hidden");
  positive(lag, "lag");
}

dmm::dmm(const dmm_spec& spec, std::uint64_t seed)
    : spec_(spec) {
  spec_.validate();
  params_.setZero(dmm_net::parameter_count(spec_));
  log_mean_.setZero(idx(spec_.workers));
  log_std_.setOnes(idx(spec_.workers));
  std::mt19937_64 gen(splitmix64(seed ^ 0x646d6d696e6974ull));
  dmm_net::gradients w(spec_, params_.data());
  for (int b = 0; b < dmm_net::block_count; ++b) {
    auto& block = w[b];
    if (dmm_net::is_vector_block(b))
      continue;
    dmm_net::matrix draws(block.rows(), block.cols());
    dmm_net::fill_normal(draws, gen);
    block = draws / std::sqrt(static_cast<double>(block.cols()));
  }
  using namespace dmm_net;
  w[linear_w].setIdentity();
  w[transition_var_w] *= 0.1;
  // Start close to the linear path: the gate opens as training finds use
  // for the non-linear proposal.
  w[gate_b2].setConstant(-2);
  w[transition_var_b].setConstant(inverse_softplus(0.1));
  w[prior_var].setConstant(inverse_softplus(1.0));
  w[emission_var_b].setConstant(inverse_softplus(1.0));
  w[q_var_b].setConstant(inverse_softplus(0.1));
}

std::size_t dmm::num_parameters() const {
  return static_cast<std::size_t>(params_.size());
}

void dmm::set_parameters(const Eigen::VectorXd& params) {
  if (params.size() != params_.size())
    throw std::invalid_argument(
        fmt::format("dmm: {} parameters given, the spec needs {}",
                    params.size(), params_.size()));
  if (!params.allFinite())
    throw std::invalid_argument("dmm: parameters must be finite");
  params_ = params;
}

void dmm::set_normalisation(const Eigen::VectorXd& mean,
                            const Eigen::VectorXd& std) {
  auto n = idx(spec_.workers);
  if (mean.size() != n || std.size() != n)
    throw std::invalid_argument(
        fmt::format("dmm: normalisation needs {} entries", n));
  if (!mean.allFinite() || !std.allFinite() || !(std.array() > 0).all())
    throw std::invalid_argument(
        "dmm: normalisation must be finite with positive stds");
  log_mean_ = mean;
  log_std_ = std;
}

Eigen::MatrixXd dmm::sample_next(const std::vector<runtime_observation>& window,
                                 std::size_t samples, std::mt19937_64& gen,
                                 const imputation_options& options) const {
  check_options(options);
  if (samples == 0)
    return Eigen::MatrixXd(0, idx(spec_.workers));
  matrix z = next_latents(*this, window, samples, gen, options);
  dmm_net::const_params p(spec_, params_.data());
  dmm_net::emission_state e;
  dmm_net::emission_forward(p, z, e);
  matrix eps(e.mean.rows(), e.mean.cols());
  dmm_net::fill_normal(eps, gen);
  matrix x = e.mean + (e.var.array().sqrt() * eps.array()).matrix();
  x = ((x.array().colwise() * log_std_.array()).colwise() + log_mean_.array())
          .exp()
          .matrix();
  return x.transpose();
}

double
dmm::log_predictive_density(const std::vector<runtime_observation>& window,
                            const std::vector<double>& next,
                            std::size_t samples, std::mt19937_64& gen,
                            const imputation_options& options) const {
  check_options(options);
  if (next.size() != spec_.workers)
    throw std::invalid_argument(
        fmt::format("dmm: next has {} entries, the model has {} workers",
                    next.size(), spec_.workers));
  Eigen::VectorXd y(idx(spec_.workers));
  for (std::size_t i = 0; i < next.size(); ++i) {
    if (!(std::isfinite(next[i]) && next[i] > 0))
      throw std::invalid_argument(fmt::format(
          "dmm: next[{}] = {} is not a positive run-time", i, next[i]));
    y(idx(i)) = (std::log(next[i]) - log_mean_(idx(i))) / log_std_(idx(i));
  }
  matrix z = next_latents(*this, window, std::max<std::size_t>(samples, 1), gen,
                          options);
  dmm_net::const_params p(spec_, params_.data());
  dmm_net::emission_state e;
  dmm_net::emission_forward(p, z, e);
  auto v = e.var.array();
  Eigen::VectorXd per_sample =
      (-0.5 * log_two_pi - 0.5 * v.log() -
       0.5 * (e.mean.colwise() - y).array().square() / v)
          .colwise()
          .sum()
          .transpose();
  return log_mean_exp(per_sample) - log_std_.array().log().sum();
}

std::vector<Eigen::MatrixXd>
dmm::impute(const std::vector<runtime_observation>& window,
            std::mt19937_64& gen, const imputation_options& options) const {
  check_options(options);
  std::vector<Eigen::MatrixXd> out;
  if (window.empty()) {
    out.assign(options.copies, Eigen::MatrixXd(0, idx(spec_.workers)));
    return out;
  }
  log_window w = to_log(window, 0, window.size(), spec_.workers);
  if (options.method == imputation_method::empirical) {
    for (std::size_t k = 0; k < options.copies; ++k) {
      matrix seconds;
      empirical_fill(w, log_mean_, gen, &seconds);
      out.push_back(seconds.transpose());
    }
    return out;
  }
  auto copies = idx(options.copies);
  std::vector<matrix> value = complete(*this, w, copies, options, gen);
  for (Eigen::Index k = 0; k < copies; ++k) {
    Eigen::MatrixXd s = w.seconds.transpose();
    for (Eigen::Index t = 0; t < s.rows(); ++t)
      for (Eigen::Index i = 0; i < s.cols(); ++i)
        if (w.censored(i, t)) {
          double v = value[static_cast<std::size_t>(t)](i, k);
          s(t, i) = std::max(std::exp(log_mean_(i) + log_std_(i) * v),
                             w.seconds(i, t));
        }
    out.push_back(std::move(s));
  }
  return out;
}

double train_dmm(dmm& m, const std::vector<runtime_observation>& trace,
                 const dmm_train_options& options) {
  check_train_options(options);
  const dmm_spec& spec = m.spec();
  std::size_t steps = trace.size();
  if (steps < 2)
    throw std::invalid_argument(fmt::format(
        "dmm training: needs at least 2 iterations, got {}", steps));
  std::size_t length =
      options.sequence_length ? options.sequence_length : spec.lag;
  length = std::min(length, steps);
  log_window w = to_log(trace, 0, steps, spec.workers);
  std::mt19937_64 gen(splitmix64(options.seed ^ 0x646d6d747261696eull));
  bool empirical = options.imputation == imputation_method::empirical;

  // Standardised values (censored entries hold their bound) and bounds
  // (NaN where observed), workers x iterations; with the paper's rule, the
  // filled copies with no bounds.
  std::vector<matrix> copies;
  matrix bound_all = standardised(w.value, m);
  for (Eigen::Index t = 0; t < bound_all.cols(); ++t)
    for (Eigen::Index i = 0; i < bound_all.rows(); ++i)
      if (!w.censored(i, t))
        bound_all(i, t) = std::numeric_limits<double>::quiet_NaN();
  if (empirical && w.any_censored()) {
    for (std::size_t k = 0; k < options.imputations; ++k)
      copies.push_back(standardised(empirical_fill(w, m.log_mean(), gen), m));
    bound_all.setConstant(std::numeric_limits<double>::quiet_NaN());
  } else {
    copies.push_back(standardised(w.value, m));
  }
  double augmentation = empirical ? 0 : options.censor_augmentation;

  std::size_t start_count = steps - length + 1;
  std::size_t per_epoch = (start_count + options.batch - 1) / options.batch;
  std::size_t anneal_steps = options.kl_anneal_epochs * per_epoch;
  std::vector<std::size_t> order(start_count);
  std::iota(order.begin(), order.end(), std::size_t{0});
  adam optimiser(m.parameters().size(), options.learning_rate);
  Eigen::VectorXd params = m.parameters();
  Eigen::VectorXd grad(params.size());
  auto d = idx(spec.latent);
  auto n = idx(spec.workers);
  double best = -std::numeric_limits<double>::infinity();
  std::size_t step = 0;
  bool cancelled = false;
  for (std::size_t epoch = 1; epoch <= options.epochs && !cancelled; ++epoch) {
    for (std::size_t i = order.size(); i > 1; --i)
      std::swap(order[i - 1], order[uniform_below(gen, i)]);
    double elbo_sum = 0;
    double kl_weight = 1;
    std::size_t batches = 0;
    for (std::size_t b = 0; b < per_epoch; ++b) {
      std::size_t begin = b * options.batch;
      std::size_t end = std::min(begin + options.batch, start_count);
      auto cols = idx(end - begin);
      std::vector<matrix> x(length, matrix(n, cols));
      std::vector<matrix> bounds(length, matrix(n, cols));
      std::vector<matrix> noise(length, matrix(d, cols));
      for (Eigen::Index j = 0; j < cols; ++j) {
        std::size_t start = order[begin + static_cast<std::size_t>(j)];
        const matrix& source = copies[uniform_below(gen, copies.size())];
        bool augment = augmentation > 0 && uniform_open(gen) < augmentation;
        for (std::size_t t = 0; t < length; ++t) {
          auto col = idx(start + t);
          x[t].col(j) = source.col(col);
          bounds[t].col(j) = bound_all.col(col);
          if (augment)
            censor_randomly(x[t].col(j), bounds[t].col(j), m, gen);
        }
      }
      for (matrix& e : noise)
        dmm_net::fill_normal(e, gen);
      kl_weight = 1;
      if (step < anneal_steps)
        kl_weight = options.kl_start + (1 - options.kl_start) *
                                           static_cast<double>(step) /
                                           static_cast<double>(anneal_steps);
      grad.setZero();
      dmm_net::elbo_terms terms = dmm_net::negative_elbo(
          spec, params.data(), x, noise, kl_weight, &bounds, grad.data());
      double norm = grad.norm();
      ++step;
      if (!std::isfinite(norm) || !std::isfinite(terms.loss))
        continue;
      if (norm > options.clip_norm)
        grad *= options.clip_norm / norm;
      optimiser.step(params, grad);
      elbo_sum += terms.log_likelihood - terms.kl;
      ++batches;
      if (options.cancel && options.cancel->load()) {
        cancelled = true;
        break;
      }
    }
    double elbo = batches ? elbo_sum / static_cast<double>(batches)
                          : -std::numeric_limits<double>::infinity();
    best = std::max(best, elbo);
    if (options.progress)
      options.progress({epoch, options.epochs, elbo, kl_weight});
  }
  m.set_parameters(params);
  return best;
}

dmm fit_dmm(const std::vector<runtime_observation>& trace, dmm_spec spec,
            const dmm_train_options& options) {
  if (spec.workers == 0)
    spec.workers = longest(trace);
  spec.validate();
  check_train_options(options);
  if (trace.size() < 2)
    throw std::invalid_argument(fmt::format(
        "dmm training: needs at least 2 iterations, got {}", trace.size()));
  log_window w = to_log(trace, 0, trace.size(), spec.workers);
  auto n = idx(spec.workers);
  Eigen::VectorXd mean(n), std(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    std::vector<double> logs;
    std::vector<std::uint8_t> censored;
    bool any_seen = false;
    for (Eigen::Index t = 0; t < w.value.cols(); ++t)
      if (std::isfinite(w.value(i, t))) {
        logs.push_back(w.value(i, t));
        censored.push_back(w.censored(i, t) ? 1 : 0);
        any_seen |= !w.censored(i, t);
      }
    // Censoring hides the slow values: a censored normal fit keeps the
    // location and scale of often-censored workers from sliding low.
    double mu = 0, sd = 1;
    if (any_seen) {
      normal_fit fit = fit_censored_normal(logs, censored);
      mu = fit.mu;
      sd = fit.sigma;
    } else if (!logs.empty()) {
      mu = *std::max_element(logs.begin(), logs.end());
    }
    mean(i) = mu;
    std(i) = std::max(sd, min_log_std);
  }
  dmm m(spec, options.seed);
  m.set_normalisation(mean, std);
  train_dmm(m, trace, options);
  return m;
}

double
dmm_predictive_log_likelihood(const dmm& m,
                              const std::vector<runtime_observation>& trace,
                              std::size_t samples, std::uint64_t seed,
                              const imputation_options& options) {
  std::size_t lag = m.spec().lag;
  if (trace.size() <= lag)
    throw std::invalid_argument(
        fmt::format("dmm log-likelihood: the trace has {} iterations, more "
                    "than the lag {} are needed",
                    trace.size(), lag));
  std::mt19937_64 gen(splitmix64(seed ^ 0x646d6d6c6cull));
  double total = 0;
  std::vector<runtime_observation> window(lag);
  for (std::size_t t = lag; t < trace.size(); ++t) {
    const runtime_observation& target = trace[t];
    for (std::uint8_t c : target.censored)
      if (c)
        throw std::invalid_argument(
            fmt::format("dmm log-likelihood: iteration {} is censored", t));
    std::copy(trace.begin() + static_cast<std::ptrdiff_t>(t - lag),
              trace.begin() + static_cast<std::ptrdiff_t>(t), window.begin());
    total +=
        m.log_predictive_density(window, target.seconds, samples, gen, options);
  }
  return total / static_cast<double>(trace.size() - lag);
}

double
iid_gaussian_log_likelihood(const std::vector<runtime_observation>& train,
                            const std::vector<runtime_observation>& test,
                            std::size_t skip) {
  std::size_t n = longest(train);
  log_window w = to_log(train, 0, train.size(), n);
  Eigen::VectorXd mean(idx(n)), var(idx(n));
  for (Eigen::Index i = 0; i < idx(n); ++i) {
    double sum = 0, sq = 0, count = 0;
    for (Eigen::Index t = 0; t < w.value.cols(); ++t)
      if (!w.censored(i, t)) {
        sum += w.value(i, t);
        sq += w.value(i, t) * w.value(i, t);
        ++count;
      }
    if (count == 0)
      throw std::invalid_argument(fmt::format(
          "iid baseline: worker {} has no uncensored training value", i));
    mean(i) = sum / count;
    var(i) = std::max(sq / count - mean(i) * mean(i), 1e-6);
  }
  if (skip >= test.size())
    throw std::invalid_argument("iid baseline: nothing to evaluate");
  double total = 0;
  for (std::size_t t = skip; t < test.size(); ++t) {
    log_window o = to_log(test, t, 1, n);
    if (o.any_censored())
      throw std::invalid_argument(fmt::format(
          "iid baseline: test iteration {} is censored or incomplete", t));
    total += (-0.5 * log_two_pi - 0.5 * var.array().log() -
              0.5 * (o.value.col(0) - mean).array().square() / var.array())
                 .sum();
  }
  return total / static_cast<double>(test.size() - skip);
}

std::vector<Eigen::MatrixXd>
empirical_impute(const std::vector<runtime_observation>& window,
                 std::size_t copies, std::mt19937_64& gen,
                 std::size_t workers) {
  if (workers == 0)
    workers = longest(window);
  log_window w = to_log(window, 0, window.size(), workers);
  double sum = 0, count = 0;
  for (Eigen::Index t = 0; t < w.value.cols(); ++t)
    for (Eigen::Index i = 0; i < w.value.rows(); ++i)
      if (std::isfinite(w.value(i, t))) {
        sum += w.value(i, t);
        ++count;
      }
  Eigen::VectorXd fallback =
      Eigen::VectorXd::Constant(idx(workers), count ? sum / count : 0.0);
  std::vector<Eigen::MatrixXd> out;
  for (std::size_t k = 0; k < copies; ++k) {
    matrix seconds;
    empirical_fill(w, fallback, gen, &seconds);
    out.push_back(seconds.transpose());
  }
  return out;
}

std::vector<runtime_observation>
observations_from_trace(const std::vector<trace_row>& rows,
                        std::size_t workers) {
  if (workers == 0)
    for (const trace_row& r : rows)
      workers = std::max(workers, r.worker + 1);
  std::map<std::uint64_t, std::vector<const trace_row*>> by_it;
  for (const trace_row& r : rows)
    if (r.worker < workers)
      by_it[r.iteration].push_back(&r);
  std::vector<runtime_observation> out;
  out.reserve(by_it.size());
  for (const auto& [iteration, entries] : by_it) {
    runtime_observation o;
    o.seconds.assign(workers, 0.0);
    o.censored.assign(workers, 1);
    double longest_seen = 0;
    for (const trace_row* r : entries) {
      o.seconds[r->worker] = r->seconds;
      o.censored[r->worker] = r->censored ? 1 : 0;
      longest_seen = std::max(longest_seen, r->seconds);
    }
    for (std::size_t i = 0; i < workers; ++i)
      if (o.censored[i])
        o.seconds[i] = longest_seen;
    out.push_back(std::move(o));
  }
  return out;
}

std::vector<dmm_block> dmm_blocks(const dmm_spec& spec) {
  auto shapes = dmm_net::layout(spec);
  std::vector<dmm_block> out;
  for (int b = 0; b < dmm_net::block_count; ++b) {
    const dmm_net::shape& s = shapes[static_cast<std::size_t>(b)];
    out.push_back({dmm_net::block_name(b), static_cast<std::size_t>(s.offset),
                   static_cast<std::size_t>(s.rows * s.cols)});
  }
  return out;
}

double dmm_negative_elbo(const dmm_spec& spec, const Eigen::VectorXd& params,
                         const std::vector<Eigen::MatrixXd>& x,
                         const std::vector<Eigen::MatrixXd>& noise,
                         double kl_weight, Eigen::VectorXd* gradient,
                         const std::vector<Eigen::MatrixXd>* bounds) {
  spec.validate();
  if (params.size() != dmm_net::parameter_count(spec))
    throw std::invalid_argument("dmm_negative_elbo: wrong parameter count");
  if (x.empty() || noise.size() != x.size())
    throw std::invalid_argument(
        "dmm_negative_elbo: x and noise need the same, non-zero length");
  Eigen::Index cols = x.front().cols();
  for (std::size_t t = 0; t < x.size(); ++t)
    if (x[t].rows() != idx(spec.workers) || x[t].cols() != cols ||
        noise[t].rows() != idx(spec.latent) || noise[t].cols() != cols)
      throw std::invalid_argument(
          fmt::format("dmm_negative_elbo: step {} has the wrong shape", t));
  if (bounds) {
    if (bounds->size() != x.size())
      throw std::invalid_argument(
          "dmm_negative_elbo: bounds need one matrix per step");
    for (std::size_t t = 0; t < x.size(); ++t)
      if ((*bounds)[t].rows() != x[t].rows() ||
          (*bounds)[t].cols() != x[t].cols())
        throw std::invalid_argument(fmt::format(
            "dmm_negative_elbo: bounds of step {} have the wrong shape", t));
  }
  if (gradient)
    gradient->setZero(params.size());
  return dmm_net::negative_elbo(spec, params.data(), x, noise, kl_weight,
                                bounds, gradient ? gradient->data() : nullptr)
      .loss;
}

} // namespace metronome::algorithms

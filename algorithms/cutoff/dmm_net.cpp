#include "algorithms/cutoff/dmm_net.hpp"

#include "algorithms/random.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

namespace metronome::algorithms::dmm_net {

namespace {

constexpr double log_two_pi = 1.8378770664093454835606594728112;
constexpr int max_rejections = 64;

matrix relu(const matrix& a) {
  return a.cwiseMax(0.0);
}

/// 1 where a > 0, else 0: the derivative of ReLU.
matrix relu_mask(const matrix& a) {
  return (a.array() > 0.0).cast<double>().matrix();
}

// The element-wise functions below are written with exp and log, which
// Eigen vectorises for double; std::tanh and std::log1p are scalar calls and
// dominated the cost of a prediction.

matrix tanh_of(const matrix& a) {
  Eigen::ArrayXXd e = (-2.0 * a.array().abs()).exp();
  return (((1.0 - e) / (1.0 + e)) * a.array().sign()).matrix();
}

matrix sigmoid_of(const matrix& a) {
  return (1.0 / (1.0 + (-a.array()).exp())).matrix();
}

matrix softplus_floor(const matrix& a, double floor) {
  return (a.array().max(0.0) + (1.0 + (-a.array().abs()).exp()).log() + floor)
      .matrix();
}

/// d objective / d pre-activation of a floored softplus variance.
matrix through_softplus(const matrix& d_var, const matrix& pre) {
  return (d_var.array() * sigmoid_of(pre).array()).matrix();
}

template <class Map>
matrix affine(const Map& w, const matrix& in, const Map& b) {
  matrix out = w * in;
  out.colwise() += b.col(0);
  return out;
}

/// Accumulates the gradients of out = w in + b given d out.
void affine_backward(const matrix& d_out, const matrix& in, gradients& g, int w,
                     int b) {
  g[w].noalias() += d_out * in.transpose();
  g[b] += d_out.rowwise().sum();
}

} // namespace

double emission_log_likelihood(const matrix& x, const matrix* bound,
                               const emission_state& e, matrix* d_mean,
                               matrix* d_var) {
  if (d_mean) {
    d_mean->resize(x.rows(), x.cols());
    d_var->resize(x.rows(), x.cols());
  }
  double total = 0;
  for (Eigen::Index k = 0; k < x.cols(); ++k)
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      double m = e.mean(i, k);
      double v = e.var(i, k);
      double b = bound ? (*bound)(i, k) : std::nan("");
      double dm = 0, dv = 0;
      if (std::isnan(b)) {
        // log N(x; m, v): d/dm = (x - m) / v, d/dv = ((x - m)^2 / v - 1) / 2v.
        double r = x(i, k) - m;
        total += -0.5 * log_two_pi - 0.5 * std::log(v) - 0.5 * r * r / v;
        dm = r / v;
        dv = 0.5 * (r * r / v - 1.0) / v;
      } else if (b != -std::numeric_limits<double>::infinity()) {
        // log Q(a), a = (b - m) / sqrt(v): d/da = -lambda(a), the hazard;
        // da/dm = -1 / sqrt(v), da/dv = -a / 2v.
        double a = (b - m) / std::sqrt(v);
        total += log_upper_tail(a);
        double hazard = normal_tail_mean(a);
        dm = hazard / std::sqrt(v);
        dv = 0.5 * hazard * a / v;
      }
      if (d_mean) {
        (*d_mean)(i, k) = dm;
        (*d_var)(i, k) = dv;
      }
    }
  return total;
}

const char* block_name(int b) {
  static constexpr const char* names[block_count] = {
      "gate_w1",         "gate_b1",          "gate_w2",
      "gate_b2",         "proposal_w1",      "proposal_b1",
      "proposal_w2",     "proposal_b2",      "linear_w",
      "linear_b",        "transition_var_w", "transition_var_b",
      "prior_mean",      "prior_var",        "emission_w1",
      "emission_b1",     "emission_skip",    "emission_mean_w",
      "emission_mean_b", "emission_var_w",   "emission_var_b",
      "rnn_wx",          "rnn_wh",           "rnn_b",
      "combiner_w",      "combiner_b",       "q_mean_w",
      "q_mean_b",        "q_var_w",          "q_var_b"};
  return names[b];
}

bool is_vector_block(int b) {
  switch (b) {
  case gate_b1:
  case gate_b2:
  case proposal_b1:
  case proposal_b2:
  case linear_b:
  case transition_var_b:
  case prior_mean:
  case prior_var:
  case emission_b1:
  case emission_mean_b:
  case emission_var_b:
  case rnn_b:
  case combiner_b:
  case q_mean_b:
  case q_var_b:
    return true;
  default:
    return false;
  }
}

std::array<shape, block_count> layout(const dmm_spec& spec) {
  auto n = static_cast<Eigen::Index>(spec.workers);
  auto d = static_cast<Eigen::Index>(spec.latent);
  auto th = static_cast<Eigen::Index>(spec.transition_hidden);
  auto eh = static_cast<Eigen::Index>(spec.emission_hidden);
  auto r = static_cast<Eigen::Index>(spec.rnn_hidden);
  std::array<shape, block_count> s;
  s[gate_w1] = {th, d};
  s[gate_b1] = {th, 1};
  s[gate_w2] = {d, th};
  s[gate_b2] = {d, 1};
  s[proposal_w1] = {th, d};
  s[proposal_b1] = {th, 1};
  s[proposal_w2] = {d, th};
  s[proposal_b2] = {d, 1};
  s[linear_w] = {d, d};
  s[linear_b] = {d, 1};
  s[transition_var_w] = {d, d};
  s[transition_var_b] = {d, 1};
  s[prior_mean] = {d, 1};
  s[prior_var] = {d, 1};
  s[emission_w1] = {eh, d};
  s[emission_b1] = {eh, 1};
  s[emission_skip] = {n, d};
  s[emission_mean_w] = {n, eh};
  s[emission_mean_b] = {n, 1};
  s[emission_var_w] = {n, eh};
  s[emission_var_b] = {n, 1};
  s[rnn_wx] = {r, 2 * n};
  s[rnn_wh] = {r, r};
  s[rnn_b] = {r, 1};
  s[combiner_w] = {r, d};
  s[combiner_b] = {r, 1};
  s[q_mean_w] = {d, r};
  s[q_mean_b] = {d, 1};
  s[q_var_w] = {d, r};
  s[q_var_b] = {d, 1};
  Eigen::Index offset = 0;
  for (shape& b : s) {
    b.offset = offset;
    offset += b.rows * b.cols;
  }
  return s;
}

Eigen::Index parameter_count(const dmm_spec& spec) {
  shape last = layout(spec)[block_count - 1];
  return last.offset + last.rows * last.cols;
}

void transition_forward(const const_params& p, const matrix& z,
                        transition_state& s) {
  s.gate_hidden_pre = affine(p[gate_w1], z, p[gate_b1]);
  s.gate_pre = affine(p[gate_w2], relu(s.gate_hidden_pre), p[gate_b2]);
  s.gate = sigmoid_of(s.gate_pre);
  s.proposal_hidden_pre = affine(p[proposal_w1], z, p[proposal_b1]);
  s.proposal =
      affine(p[proposal_w2], relu(s.proposal_hidden_pre), p[proposal_b2]);
  s.linear = affine(p[linear_w], z, p[linear_b]);
  s.mean = ((1.0 - s.gate.array()) * s.linear.array() +
            s.gate.array() * s.proposal.array())
               .matrix();
  s.var_pre =
      affine(p[transition_var_w], relu(s.proposal), p[transition_var_b]);
  s.var = softplus_floor(s.var_pre, latent_var_floor);
}

void transition_backward(const const_params& p, const matrix& z,
                         const transition_state& s, const matrix& d_mean,
                         const matrix& d_var, gradients& g, matrix& d_z) {
  matrix d_var_pre = through_softplus(d_var, s.var_pre);
  affine_backward(d_var_pre, relu(s.proposal), g, transition_var_w,
                  transition_var_b);
  // mean = (1 - g) lin + g h: d g = d mean (h - lin), d lin = d mean (1 - g).
  matrix d_proposal = ((p[transition_var_w].transpose() * d_var_pre).array() *
                           relu_mask(s.proposal).array() +
                       d_mean.array() * s.gate.array())
                          .matrix();
  matrix d_linear = (d_mean.array() * (1.0 - s.gate.array())).matrix();
  matrix d_gate_pre =
      (d_mean.array() * (s.proposal.array() - s.linear.array()) *
       s.gate.array() * (1.0 - s.gate.array()))
          .matrix();
  affine_backward(d_linear, z, g, linear_w, linear_b);
  d_z.noalias() += p[linear_w].transpose() * d_linear;

  affine_backward(d_gate_pre, relu(s.gate_hidden_pre), g, gate_w2, gate_b2);
  matrix d_gate_hidden = ((p[gate_w2].transpose() * d_gate_pre).array() *
                          relu_mask(s.gate_hidden_pre).array())
                             .matrix();
  affine_backward(d_gate_hidden, z, g, gate_w1, gate_b1);
  d_z.noalias() += p[gate_w1].transpose() * d_gate_hidden;

  affine_backward(d_proposal, relu(s.proposal_hidden_pre), g, proposal_w2,
                  proposal_b2);
  matrix d_proposal_hidden =
      ((p[proposal_w2].transpose() * d_proposal).array() *
       relu_mask(s.proposal_hidden_pre).array())
          .matrix();
  affine_backward(d_proposal_hidden, z, g, proposal_w1, proposal_b1);
  d_z.noalias() += p[proposal_w1].transpose() * d_proposal_hidden;
}

void emission_forward(const const_params& p, const matrix& z,
                      emission_state& s) {
  s.hidden_pre = affine(p[emission_w1], z, p[emission_b1]);
  matrix hidden = relu(s.hidden_pre);
  s.mean = affine(p[emission_mean_w], hidden, p[emission_mean_b]);
  s.mean.noalias() += p[emission_skip] * z;
  s.var_pre = affine(p[emission_var_w], hidden, p[emission_var_b]);
  s.var = softplus_floor(s.var_pre, emission_var_floor);
}

void emission_backward(const const_params& p, const matrix& z,
                       const emission_state& s, const matrix& d_mean,
                       const matrix& d_var, gradients& g, matrix& d_z) {
  matrix hidden = relu(s.hidden_pre);
  matrix d_var_pre = through_softplus(d_var, s.var_pre);
  affine_backward(d_var_pre, hidden, g, emission_var_w, emission_var_b);
  affine_backward(d_mean, hidden, g, emission_mean_w, emission_mean_b);
  g[emission_skip].noalias() += d_mean * z.transpose();
  matrix d_hidden = ((p[emission_mean_w].transpose() * d_mean +
                      p[emission_var_w].transpose() * d_var_pre)
                         .array() *
                     relu_mask(s.hidden_pre).array())
                        .matrix();
  affine_backward(d_hidden, z, g, emission_w1, emission_b1);
  d_z.noalias() += p[emission_w1].transpose() * d_hidden;
  d_z.noalias() += p[emission_skip].transpose() * d_mean;
}

void inference_forward(const const_params& p, const matrix* z_prev,
                       const matrix& rnn, inference_state& s) {
  if (z_prev) {
    s.combiner_tanh = affine(p[combiner_w], *z_prev, p[combiner_b]);
  } else {
    s.combiner_tanh = p[combiner_b].col(0).replicate(1, rnn.cols());
  }
  s.combiner_tanh = tanh_of(s.combiner_tanh);
  s.combined = 0.5 * (s.combiner_tanh + rnn);
  s.mean = affine(p[q_mean_w], s.combined, p[q_mean_b]);
  s.var_pre = affine(p[q_var_w], s.combined, p[q_var_b]);
  s.var = softplus_floor(s.var_pre, latent_var_floor);
}

void inference_backward(const const_params& p, const matrix* z_prev,
                        const inference_state& s, const matrix& d_mean,
                        const matrix& d_var, gradients& g, matrix& d_rnn,
                        matrix* d_z_prev) {
  matrix d_var_pre = through_softplus(d_var, s.var_pre);
  affine_backward(d_var_pre, s.combined, g, q_var_w, q_var_b);
  affine_backward(d_mean, s.combined, g, q_mean_w, q_mean_b);
  matrix d_combined = p[q_mean_w].transpose() * d_mean;
  d_combined.noalias() += p[q_var_w].transpose() * d_var_pre;
  // combined = (tanh(a) + rnn) / 2.
  d_rnn += 0.5 * d_combined;
  matrix d_pre =
      (0.5 * d_combined.array() * (1.0 - s.combiner_tanh.array().square()))
          .matrix();
  if (z_prev) {
    affine_backward(d_pre, *z_prev, g, combiner_w, combiner_b);
    d_z_prev->noalias() += p[combiner_w].transpose() * d_pre;
  } else {
    g[combiner_b] += d_pre.rowwise().sum();
  }
}

matrix rnn_input(const matrix& x, const matrix* bound) {
  Eigen::Index n = x.rows();
  matrix u = matrix::Zero(2 * n, x.cols());
  u.topRows(n) = x;
  if (bound)
    for (Eigen::Index k = 0; k < x.cols(); ++k)
      for (Eigen::Index i = 0; i < n; ++i)
        if (!std::isnan((*bound)(i, k))) {
          u(i, k) = std::max((*bound)(i, k), min_input_bound);
          u(n + i, k) = 1;
        }
  return u;
}

void rnn_forward(const const_params& p, const std::vector<matrix>& u,
                 std::vector<matrix>& h) {
  std::size_t steps = u.size();
  h.resize(steps);
  for (std::size_t k = steps; k-- > 0;) {
    matrix a = affine(p[rnn_wx], u[k], p[rnn_b]);
    if (k + 1 < steps)
      a.noalias() += p[rnn_wh] * h[k + 1];
    h[k] = tanh_of(a);
  }
}

void rnn_backward(const const_params& p, const std::vector<matrix>& u,
                  const std::vector<matrix>& h, std::vector<matrix>& d_h,
                  gradients& g) {
  std::size_t steps = u.size();
  // h[t] feeds h[t-1], so the total derivative flows from t = 0 upwards.
  for (std::size_t k = 0; k < steps; ++k) {
    matrix d_a = (d_h[k].array() * (1.0 - h[k].array().square())).matrix();
    affine_backward(d_a, u[k], g, rnn_wx, rnn_b);
    if (k + 1 < steps) {
      g[rnn_wh].noalias() += d_a * h[k + 1].transpose();
      d_h[k + 1].noalias() += p[rnn_wh].transpose() * d_a;
    }
  }
}

void initial_prior(const const_params& p, Eigen::Index cols, matrix& mean,
                   matrix& var) {
  mean = p[prior_mean].col(0).replicate(1, cols);
  var = softplus_floor(p[prior_var], latent_var_floor).replicate(1, cols);
}

elbo_terms negative_elbo(const dmm_spec& spec, const double* params,
                         const std::vector<matrix>& x,
                         const std::vector<matrix>& noise, double kl_weight,
                         const std::vector<matrix>* bound, double* gradient) {
  const_params p(spec, params);
  std::size_t steps = x.size();
  Eigen::Index cols = x.front().cols();
  std::vector<matrix> u(steps);
  for (std::size_t t = 0; t < steps; ++t)
    u[t] = rnn_input(x[t], bound ? &(*bound)[t] : nullptr);
  std::vector<matrix> h;
  rnn_forward(p, u, h);
  std::vector<inference_state> q(steps);
  std::vector<transition_state> prior(steps);
  std::vector<emission_state> emit(steps);
  std::vector<matrix> z(steps);
  matrix mean0, var0;
  initial_prior(p, cols, mean0, var0);
  double log_likelihood = 0;
  double kl = 0;
  for (std::size_t t = 0; t < steps; ++t) {
    inference_forward(p, t ? &z[t - 1] : nullptr, h[t], q[t]);
    z[t] = q[t].mean + (q[t].var.array().sqrt() * noise[t].array()).matrix();
    if (t)
      transition_forward(p, z[t - 1], prior[t]);
    const matrix& pm = t ? prior[t].mean : mean0;
    const matrix& pv = t ? prior[t].var : var0;
    emission_forward(p, z[t], emit[t]);
    log_likelihood += emission_log_likelihood(
        x[t], bound ? &(*bound)[t] : nullptr, emit[t], nullptr, nullptr);
    auto qv = q[t].var.array();
    auto diff = (q[t].mean - pm).array();
    kl += 0.5 *
          ((pv.array() / qv).log() + (qv + diff.square()) / pv.array() - 1.0)
              .sum();
  }
  double scale =
      1.0 / static_cast<double>(cols * static_cast<Eigen::Index>(steps));
  elbo_terms terms;
  terms.loss = (-log_likelihood + kl_weight * kl) * scale;
  terms.log_likelihood = log_likelihood * scale;
  terms.kl = kl * scale;
  if (!gradient)
    return terms;

  gradients g(spec, gradient);
  auto r = static_cast<Eigen::Index>(spec.rnn_hidden);
  auto d = static_cast<Eigen::Index>(spec.latent);
  std::vector<matrix> d_h(steps, matrix::Zero(r, cols));
  matrix d_z_next = matrix::Zero(d, cols);
  double ks = kl_weight * scale;
  for (std::size_t t = steps; t-- > 0;) {
    matrix d_z = d_z_next;
    matrix d_emit_mean, d_emit_var;
    emission_log_likelihood(x[t], bound ? &(*bound)[t] : nullptr, emit[t],
                            &d_emit_mean, &d_emit_var);
    d_emit_mean *= -scale;
    d_emit_var *= -scale;
    emission_backward(p, z[t], emit[t], d_emit_mean, d_emit_var, g, d_z);

    const matrix& pm = t ? prior[t].mean : mean0;
    const matrix& pv = t ? prior[t].var : var0;
    auto qv = q[t].var.array();
    auto pva = pv.array();
    auto diff = (q[t].mean - pm).array();
    // KL(N(mq, vq) || N(mp, vp)) = (log(vp/vq) + (vq + (mq-mp)^2)/vp - 1)/2.
    matrix d_q_mean = (ks * diff / pva).matrix();
    matrix d_q_var = (0.5 * ks * (1.0 / pva - 1.0 / qv)).matrix();
    matrix d_p_mean = -d_q_mean;
    matrix d_p_var =
        (0.5 * ks * (1.0 / pva - (qv + diff.square()) / pva.square())).matrix();
    // z = mq + sqrt(vq) eps.
    d_q_mean += d_z;
    d_q_var.array() += d_z.array() * noise[t].array() * 0.5 / qv.sqrt();

    matrix d_z_prev = matrix::Zero(d, cols);
    inference_backward(p, t ? &z[t - 1] : nullptr, q[t], d_q_mean, d_q_var, g,
                       d_h[t], t ? &d_z_prev : nullptr);
    if (t) {
      transition_backward(p, z[t - 1], prior[t], d_p_mean, d_p_var, g,
                          d_z_prev);
    } else {
      g[prior_mean] += d_p_mean.rowwise().sum();
      g[prior_var].array() +=
          d_p_var.rowwise().sum().array() * sigmoid_of(p[prior_var]).array();
    }
    d_z_next = std::move(d_z_prev);
  }
  rnn_backward(p, u, h, d_h, g);
  return terms;
}

namespace {

/// Two independent standard normals by Marsaglia's polar method (no
/// trigonometric calls, unlike Box-Muller).
std::pair<double, double> normal_pair(std::mt19937_64& gen) {
  for (;;) {
    double u = 2.0 * uniform_open(gen) - 1.0;
    double v = 2.0 * uniform_open(gen) - 1.0;
    double s = u * u + v * v;
    if (s < 1.0 && s > 0.0) {
      double f = std::sqrt(-2.0 * std::log(s) / s);
      return {u * f, v * f};
    }
  }
}

} // namespace

void fill_normal(matrix& m, std::mt19937_64& gen) {
  double* v = m.data();
  Eigen::Index n = m.size();
  for (Eigen::Index i = 0; i < n; i += 2) {
    auto [a, b] = normal_pair(gen);
    v[i] = a;
    if (i + 1 < n)
      v[i + 1] = b;
  }
}

double normal(std::mt19937_64& gen) {
  return normal_pair(gen).first;
}

double log_upper_tail(double a) {
  if (a == -std::numeric_limits<double>::infinity())
    return 0;
  if (a < 30)
    return std::log(0.5 * std::erfc(a / std::sqrt(2.0)));
  return -0.5 * a * a - std::log(a) - 0.5 * log_two_pi +
         std::log1p(-1.0 / (a * a));
}

double normal_tail_mean(double a) {
  if (a == -std::numeric_limits<double>::infinity())
    return 0;
  return std::exp(-0.5 * a * a - 0.5 * log_two_pi - log_upper_tail(a));
}

double standard_normal_tail(double a, std::mt19937_64& gen) {
  if (!(a > 0)) {
    for (int i = 0; i < max_rejections; ++i) {
      double z = normal(gen);
      if (z > a)
        return z;
    }
  } else {
    // Robert (1995): a + Exp(lambda) proposals, optimal lambda.
    double lambda = 0.5 * (a + std::sqrt(a * a + 4.0));
    for (int i = 0; i < max_rejections; ++i) {
      double z = a - std::log(uniform_open(gen)) / lambda;
      if (uniform_open(gen) <= std::exp(-0.5 * (z - lambda) * (z - lambda)))
        return z;
    }
  }
  return normal_tail_mean(a);
}

matrix sample_latent_path(const const_params& p, const std::vector<matrix>& h,
                          std::mt19937_64& gen, std::vector<matrix>* z_path) {
  Eigen::Index cols = h.front().cols();
  Eigen::Index d = p[q_mean_b].rows();
  inference_state s;
  matrix z;
  matrix eps(d, cols);
  if (z_path)
    z_path->resize(h.size());
  for (std::size_t t = 0; t < h.size(); ++t) {
    inference_forward(p, t ? &z : nullptr, h[t], s);
    fill_normal(eps, gen);
    z = s.mean + (s.var.array().sqrt() * eps.array()).matrix();
    if (z_path)
      (*z_path)[t] = z;
  }
  return z;
}

namespace {

/// Systematic resampling by `log_w`: writes the chosen ancestors.
void resample(const Eigen::VectorXd& log_w, std::vector<Eigen::Index>& ancestor,
              std::mt19937_64& gen) {
  Eigen::Index count = log_w.size();
  Eigen::VectorXd w = (log_w.array() - log_w.maxCoeff()).exp().matrix();
  w /= w.sum();
  double step = 1.0 / static_cast<double>(count);
  double u = uniform_open(gen) * step;
  double cumulative = w(0);
  Eigen::Index j = 0;
  for (Eigen::Index k = 0; k < count; ++k) {
    while (u > cumulative && j + 1 < count)
      cumulative += w(++j);
    ancestor[static_cast<std::size_t>(k)] = j;
    u += step;
  }
}

double effective_sample_size(const Eigen::VectorXd& log_w) {
  Eigen::ArrayXd w = (log_w.array() - log_w.maxCoeff()).exp();
  return w.sum() * w.sum() / w.square().sum();
}

} // namespace

std::vector<matrix> smc_paths(const const_params& p,
                              const std::vector<matrix>& value,
                              const std::vector<matrix>& bound,
                              Eigen::Index particles, std::mt19937_64& gen) {
  std::size_t steps = value.size();
  Eigen::Index n = value.front().rows();
  std::vector<matrix> u(steps);
  for (std::size_t t = 0; t < steps; ++t)
    u[t] = rnn_input(value[t], &bound[t]);
  std::vector<matrix> h;
  rnn_forward(p, u, h);
  std::vector<matrix> z(steps);
  Eigen::VectorXd log_w = Eigen::VectorXd::Zero(particles);
  std::vector<Eigen::Index> ancestor(static_cast<std::size_t>(particles));
  inference_state q;
  transition_state prior;
  emission_state e;
  matrix mean0, var0;
  initial_prior(p, particles, mean0, var0);
  matrix eps(p[q_mean_b].rows(), particles);
  for (std::size_t t = 0; t < steps; ++t) {
    matrix rnn = h[t].replicate(1, particles);
    inference_forward(p, t ? &z[t - 1] : nullptr, rnn, q);
    fill_normal(eps, gen);
    z[t] = q.mean + (q.var.array().sqrt() * eps.array()).matrix();
    if (t)
      transition_forward(p, z[t - 1], prior);
    auto pm = (t ? prior.mean : mean0).array();
    auto pv = (t ? prior.var : var0).array();
    // log p(z_t | z_{t-1}) - log q(z_t | ...); the 2 pi terms cancel.
    log_w += (-0.5 * pv.log() - 0.5 * (z[t].array() - pm).square() / pv +
              0.5 * q.var.array().log() + 0.5 * eps.array().square())
                 .matrix()
                 .colwise()
                 .sum()
                 .transpose();
    emission_forward(p, z[t], e);
    Eigen::ArrayXd observed = bound[t].col(0).array().isNaN().cast<double>();
    Eigen::ArrayXd x = (observed > 0).select(value[t].col(0).array(), 0.0);
    log_w += ((-0.5 * e.var.array().log() -
               0.5 * (e.mean.array().colwise() - x).square() / e.var.array())
                  .colwise() *
              observed)
                 .matrix()
                 .colwise()
                 .sum()
                 .transpose();
    for (Eigen::Index i = 0; i < n; ++i) {
      double b = bound[t](i, 0);
      if (std::isnan(b))
        continue;
      for (Eigen::Index k = 0; k < particles; ++k)
        log_w(k) += log_upper_tail((b - e.mean(i, k)) / std::sqrt(e.var(i, k)));
    }
    bool degenerate =
        effective_sample_size(log_w) < 0.5 * static_cast<double>(particles);
    if (t + 1 < steps && !degenerate)
      continue;
    resample(log_w, ancestor, gen);
    log_w.setZero();
    for (std::size_t s = 0; s <= t; ++s) {
      matrix old = z[s];
      for (Eigen::Index k = 0; k < particles; ++k)
        z[s].col(k) = old.col(ancestor[static_cast<std::size_t>(k)]);
    }
  }
  return z;
}

std::vector<matrix> draw_censored(const const_params& p,
                                  const std::vector<matrix>& path,
                                  const std::vector<matrix>& value,
                                  const std::vector<matrix>& bound,
                                  std::mt19937_64& gen) {
  std::vector<matrix> out(value.size());
  emission_state e;
  for (std::size_t t = 0; t < value.size(); ++t) {
    Eigen::Index cols = path[t].cols();
    out[t] = value[t].replicate(1, cols);
    const matrix& b = bound[t];
    if (b.array().isNaN().all())
      continue;
    emission_forward(p, path[t], e);
    for (Eigen::Index k = 0; k < cols; ++k)
      for (Eigen::Index i = 0; i < b.rows(); ++i) {
        if (std::isnan(b(i, 0)))
          continue;
        double sd = std::sqrt(e.var(i, k));
        double a = (b(i, 0) - e.mean(i, k)) / sd;
        out[t](i, k) = e.mean(i, k) + sd * standard_normal_tail(a, gen);
      }
  }
  return out;
}

} // namespace metronome::algorithms::dmm_net

#pragma once

// Building blocks of the deep Markov model (algorithms/dmm.hpp): parameter
// layout, forward and backward passes of each network, sampling helpers.
// Internal to the algorithms library.

#include "algorithms/cutoff/dmm.hpp"

#include <Eigen/Dense>

#include <array>
#include <cmath>
#include <random>
#include <vector>

namespace metronome::algorithms::dmm_net {

using matrix = Eigen::MatrixXd;

/// Variances never go below these (standardised units), which keeps the
/// densities bounded when a worker's run-time is nearly constant.
constexpr double latent_var_floor = 1e-4;
constexpr double emission_var_floor = 1e-3;

/// The parameter blocks in storage order. Vectors are n x 1 blocks.
enum block : int {
  gate_w1,
  gate_b1,
  gate_w2,
  gate_b2,
  proposal_w1,
  proposal_b1,
  proposal_w2,
  proposal_b2,
  linear_w,
  linear_b,
  transition_var_w,
  transition_var_b,
  prior_mean,
  prior_var,
  emission_w1,
  emission_b1,
  emission_skip,
  emission_mean_w,
  emission_mean_b,
  emission_var_w,
  emission_var_b,
  rnn_wx,
  rnn_wh,
  rnn_b,
  combiner_w,
  combiner_b,
  q_mean_w,
  q_mean_b,
  q_var_w,
  q_var_b,
  block_count
};

/// Name of a block as dmm_blocks() reports it.
const char* block_name(int b);

/// True for the bias and prior blocks (n x 1 by construction), false for
/// weight matrices.
bool is_vector_block(int b);

struct shape {
  Eigen::Index rows = 0;
  Eigen::Index cols = 0;
  Eigen::Index offset = 0;
};

/// Shapes and offsets of the blocks for `spec`.
std::array<shape, block_count> layout(const dmm_spec& spec);

/// Length of the parameter vector for `spec`.
Eigen::Index parameter_count(const dmm_spec& spec);

/// Matrix views of every block of a flat parameter or gradient vector.
template <class Map, class Pointer>
class views {
public:
  views(const dmm_spec& spec, Pointer data) {
    auto shapes = layout(spec);
    maps_.reserve(block_count);
    for (const shape& s : shapes)
      maps_.emplace_back(data + s.offset, s.rows, s.cols);
  }
  const Map& operator[](int b) const { return maps_[b]; }
  Map& operator[](int b) { return maps_[b]; }

private:
  std::vector<Map> maps_;
};

using const_params = views<Eigen::Map<const matrix>, const double*>;
using gradients = views<Eigen::Map<matrix>, double*>;

/// softplus^-1(v) for v > 0.
inline double inverse_softplus(double v) {
  return v > 30 ? v : std::log(std::expm1(v));
}

/// Caches of one transition step for a batch of columns.
struct transition_state {
  matrix gate_pre, gate_hidden_pre, gate;
  matrix proposal_hidden_pre, proposal;
  matrix linear;
  matrix var_pre;
  matrix mean, var;
};

/// Prior mean and variance of z_t given z_{t-1} (latent x B).
void transition_forward(const const_params& p, const matrix& z,
                        transition_state& s);

/// Adds d objective / d params to `g` and d objective / d z to `d_z`, given
/// the objective's derivatives by the prior mean and variance.
void transition_backward(const const_params& p, const matrix& z,
                         const transition_state& s, const matrix& d_mean,
                         const matrix& d_var, gradients& g, matrix& d_z);

/// Caches of one emission step.
struct emission_state {
  matrix hidden_pre;
  matrix var_pre;
  matrix mean, var;
};

/// Emission mean and variance (workers x B) of z (latent x B).
void emission_forward(const const_params& p, const matrix& z,
                      emission_state& s);

void emission_backward(const const_params& p, const matrix& z,
                       const emission_state& s, const matrix& d_mean,
                       const matrix& d_var, gradients& g, matrix& d_z);

/// Caches of the combiner and the heads of q at one step.
struct inference_state {
  matrix combiner_tanh;
  matrix combined;
  matrix var_pre;
  matrix mean, var;
};

/// Mean and variance of q(z_t | z_{t-1}, x_{t..T}) from the previous latent
/// (null for t = 1, which uses z_0 = 0) and the RNN state (rnn_hidden x B).
void inference_forward(const const_params& p, const matrix* z_prev,
                       const matrix& rnn, inference_state& s);

/// Adds to `g`, to `d_rnn` and (when z_prev is not null) to `d_z_prev`.
void inference_backward(const const_params& p, const matrix* z_prev,
                        const inference_state& s, const matrix& d_mean,
                        const matrix& d_var, gradients& g, matrix& d_rnn,
                        matrix* d_z_prev);

/// Lower bounds further below a worker's mean carry almost no information;
/// the inference network sees them clamped here (standardised units).
constexpr double min_input_bound = -4;

/// Input of the inference RNN for one step (2 workers x B): rows 0..n-1
/// hold the observed value, or for a censored entry (bound not NaN) its
/// bound clamped below at min_input_bound; rows n..2n-1 hold 1 for
/// censored entries and 0 for observed ones. `bound` may be null.
matrix rnn_input(const matrix& x, const matrix* bound);

/// Backward RNN over inputs u: h[t] = tanh(Wx u[t] + Wh h[t+1] + b),
/// h[T] = 0.
void rnn_forward(const const_params& p, const std::vector<matrix>& u,
                 std::vector<matrix>& h);

/// Backpropagation through time; `d_h` holds the objective's direct
/// derivatives by each h[t] and is consumed.
void rnn_backward(const const_params& p, const std::vector<matrix>& u,
                  const std::vector<matrix>& h, std::vector<matrix>& d_h,
                  gradients& g);

/// Broadcast prior of z_1: mean and variance (latent x cols).
void initial_prior(const const_params& p, Eigen::Index cols, matrix& mean,
                   matrix& var);

/// Parts of the negative ELBO of a batch.
struct elbo_terms {
  /// The objective: (-log_likelihood + kl_weight * kl) per sequence-step.
  double loss = 0;
  /// Sum of log p(x_t | z_t) per sequence-step.
  double log_likelihood = 0;
  /// Sum of the KL terms per sequence-step.
  double kl = 0;
};

/// log p(x | z) summed over a batch: the normal density for observed
/// entries and log P(x > bound) for censored ones (bound not NaN; -inf
/// contributes 0). With `d_mean` and `d_var` not null, also their
/// derivatives by the emission means and variances.
double emission_log_likelihood(const matrix& x, const matrix* bound,
                               const emission_state& e, matrix* d_mean,
                               matrix* d_var);

/// dmm_negative_elbo() with its parts; `bound` (may be null) marks censored
/// entries as in dmm_negative_elbo(); `gradient` (zeroed by the caller)
/// receives the gradient when not null.
elbo_terms negative_elbo(const dmm_spec& spec, const double* params,
                         const std::vector<matrix>& x,
                         const std::vector<matrix>& noise, double kl_weight,
                         const std::vector<matrix>* bound, double* gradient);

/// Fills `m` with standard normal draws (polar method on open uniforms).
void fill_normal(matrix& m, std::mt19937_64& gen);

double normal(std::mt19937_64& gen);

/// A standard normal draw conditioned on exceeding `a` (a may be -inf):
/// plain rejection for a <= 0, Robert's exponential proposal for a > 0,
/// and the conditional mean as a fallback after many rejections.
double standard_normal_tail(double a, std::mt19937_64& gen);

/// E[Z | Z > a] for a standard normal Z (a may be -inf); also the hazard
/// phi(a) / P(Z > a), the derivative of -log P(Z > a).
double normal_tail_mean(double a);

/// log P(Z > a) for a standard normal Z, without underflow (a may be
/// -inf).
double log_upper_tail(double a);

/// Samples the latent path z[0..T-1] from q given the RNN states (one
/// column per path); returns the last latent. `z_path`, when not null,
/// receives every step.
matrix sample_latent_path(const const_params& p, const std::vector<matrix>& h,
                          std::mt19937_64& gen,
                          std::vector<matrix>* z_path = nullptr);

/// Latent paths of one censored window by sequential Monte Carlo.
///
/// value[t] and bound[t] are workers x 1 (standardised); bound holds NaN
/// for observed entries and the (possibly -inf) lower bound of censored
/// ones. `particles` paths propose z_t from the inference network, are
/// weighted by p(z_t | z_{t-1}) p(observed | z_t) P(censored above bound |
/// z_t) / q(z_t | ...), and are resampled (systematically) when the
/// effective sample size falls below half and after the last step. Returns
/// path[t] (latent x particles), equally weighted draws from the
/// approximate smoothing distribution of the generative model.
std::vector<matrix> smc_paths(const const_params& p,
                              const std::vector<matrix>& value,
                              const std::vector<matrix>& bound,
                              Eigen::Index particles, std::mt19937_64& gen);

/// One completed window per path: workers x paths per step, observed
/// entries copied from `value` (workers x 1), censored ones drawn from the
/// emission of the path's latent truncated at their bounds.
std::vector<matrix> draw_censored(const const_params& p,
                                  const std::vector<matrix>& path,
                                  const std::vector<matrix>& value,
                                  const std::vector<matrix>& bound,
                                  std::mt19937_64& gen);

} // namespace metronome::algorithms::dmm_net

#pragma once

#include "algorithms/cutoff/cutoff.hpp"
#include "algorithms/stragglers/stragglers.hpp"

#include <Eigen/Dense>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace metronome::algorithms {

/// Sizes of a deep Markov model of the joint log run-times of n workers.
///
/// Generative model (x_t: the n standardised log run-times of iteration t,
/// z_t: a latent vector): z_1 ~ N(mu_0, sigma_0^2); gate g = MLP_g(z_{t-1})
/// and proposal h = MLP_h(z_{t-1}) give z_t ~ N((1 - g) (W z_{t-1} + b) +
/// g h, softplus(W' ReLU(h) + b')); x_t ~ N(m(z_t), s^2(z_t)) with m and s^2
/// from one ReLU MLP of z_t (plus a linear skip for m). Inference: a
/// backward tanh RNN over x_{t..T} (a censored entry enters as its bound
/// and a censoring flag) combined with z_{t-1} gives q(z_t | z_{t-1},
/// x_{t..T}).
struct dmm_spec {
  /// n, the number of workers (columns of every run-time vector).
  std::size_t workers = 0;
  /// Dimension d of the latent state.
  std::size_t latent = 4;
  /// Hidden units of the gate and proposal MLPs of the transition.
  std::size_t transition_hidden = 16;
  /// Hidden units of the emission MLP.
  std::size_t emission_hidden = 16;
  /// Hidden units of the inference RNN (and of the combiner).
  std::size_t rnn_hidden = 16;
  /// L: iterations of history a prediction conditions on; training uses
  /// subsequences of this length by default.
  std::size_t lag = 10;

  /// Throws std::invalid_argument naming the first field that is zero.
  void validate() const;
};

/// How censored run-times (lower bounds) are filled in.
enum class imputation_method {
  /// The model's conditional: latent paths of the window are drawn by
  /// sequential Monte Carlo (the inference network proposes; the generative
  /// model weighs each path by the density of the observed values and the
  /// probability of the censored ones exceeding their bounds), then every
  /// censored value is drawn from its path's emission truncated to values
  /// above its bound.
  model,
  /// The BDSGD paper's rule: a censored value becomes a uniform draw from
  /// the uncensored values of the window that exceed its bound (any worker,
  /// any iteration), or the bound itself when there is none.
  empirical,
};

/// Settings of imputation for prediction and for imputation on its own.
struct imputation_options {
  imputation_method method = imputation_method::model;
  /// Completed copies of the window (>= 1). model: the number of particles
  /// (latent paths); each prediction sample starts from a random one.
  /// empirical: predictions spread their samples evenly over the copies.
  std::size_t copies = 16;
};

/// Reported once per training epoch.
struct dmm_progress {
  /// 1-based epoch number and the total.
  std::size_t epoch = 0;
  std::size_t epochs = 0;
  /// Mean ELBO per iteration vector (nats, standardised units, KL weight 1)
  /// over the epoch's minibatches; higher is better.
  double elbo = 0;
  /// KL weight used by the epoch's last minibatch.
  double kl_weight = 1;
};

/// Settings of stochastic-variational training.
struct dmm_train_options {
  std::size_t epochs = 30;
  /// Subsequences per minibatch.
  std::size_t batch = 16;
  /// Length of the training subsequences; 0 means the spec's lag.
  std::size_t sequence_length = 0;
  /// Adam step size (beta1 0.9, beta2 0.999).
  double learning_rate = 0.005;
  /// Gradients with a larger Euclidean norm are scaled down to it.
  double clip_norm = 5;
  /// KL annealing: the weight rises linearly from `kl_start` to 1 over the
  /// first `kl_anneal_epochs` epochs (0: always 1).
  double kl_start = 0.1;
  std::size_t kl_anneal_epochs = 5;
  /// How censored entries enter training. model: the emission term of a
  /// censored entry is log P(x > bound | z) and the inference network reads
  /// its bound and a censoring flag. By Fisher's identity the gradient of
  /// that term is the complete-data gradient averaged over imputations from
  /// the current model's truncated emission given the latent sample: the
  /// limit of imputing before every minibatch with unboundedly many copies.
  /// empirical: `imputations` copies of the trace are filled once by the
  /// paper's rule and then treated as observed.
  imputation_method imputation = imputation_method::model;
  std::size_t imputations = 4;
  /// model only: the probability that a training subsequence is censored
  /// as a server with random cutoffs would see it (each of its complete
  /// iterations keeps its c smallest run-times, c uniform in [1, workers]),
  /// so that the inference network learns censored inputs even from
  /// complete traces.
  double censor_augmentation = 0.5;
  /// Seeds initialisation, minibatches, noise and imputation: training is a
  /// deterministic function of the data, spec and options.
  std::uint64_t seed = 1;
  /// Called after every epoch (may be empty).
  std::function<void(const dmm_progress&)> progress;
  /// When set and true, training stops after the current minibatch.
  const std::atomic<bool>* cancel = nullptr;
};

/// A trained (or freshly initialised) deep Markov model with the per-worker
/// normalisation of log run-times it was trained with.
///
/// Const member functions are thread-safe: they only read the model.
/// Run-time vectors shorter than `workers` are padded with unknown entries
/// (treated as censored at 0 seconds, that is, unconstrained); longer ones
/// are cut. An uncensored entry that is not finite and positive, or a
/// censored one that is not finite and non-negative, counts as unknown.
class dmm {
public:
  /// A model with a deterministic random initialisation for `seed` and the
  /// identity normalisation; throws std::invalid_argument for a bad spec.
  dmm(const dmm_spec& spec, std::uint64_t seed);

  const dmm_spec& spec() const { return spec_; }
  std::size_t workers() const { return spec_.workers; }
  std::size_t num_parameters() const;

  /// All parameters as one vector (layout: dmm_blocks()).
  const Eigen::VectorXd& parameters() const { return params_; }
  /// Replaces the parameters; throws std::invalid_argument on a size
  /// mismatch or a non-finite value.
  void set_parameters(const Eigen::VectorXd& params);

  /// Per-worker mean and standard deviation of the log run-times: the model
  /// sees (log seconds - mean) / std.
  const Eigen::VectorXd& log_mean() const { return log_mean_; }
  const Eigen::VectorXd& log_std() const { return log_std_; }
  /// Throws std::invalid_argument unless both have `workers` entries, all
  /// finite, and every std is positive.
  void set_normalisation(const Eigen::VectorXd& mean,
                         const Eigen::VectorXd& std);

  /// Samples the run-times (seconds) of the iteration that follows
  /// `window` (oldest first; only the last `lag` entries are used): sample
  /// the latest latent given the window, step the transition, sample the
  /// emission. Returns samples x workers. A complete window goes through
  /// the inference network; a censored one through the imputation method:
  /// model: the latents of the sequential Monte Carlo paths, which condition
  /// on the censored values exceeding their bounds; empirical: the
  /// inference network on the windows the paper's rule completed. With an
  /// empty window the latent comes from the prior of z_1.
  Eigen::MatrixXd sample_next(const std::vector<runtime_observation>& window,
                              std::size_t samples, std::mt19937_64& gen,
                              const imputation_options& options = {}) const;

  /// Estimate of log p(log next | window), the joint density of the next
  /// iteration's log run-times (natural log of seconds) given the window:
  /// log-mean-exp over `samples` latent draws of the emission density.
  /// `next` must have `workers` finite positive entries.
  double log_predictive_density(const std::vector<runtime_observation>& window,
                                const std::vector<double>& next,
                                std::size_t samples, std::mt19937_64& gen,
                                const imputation_options& options = {}) const;

  /// Completed copies of `window` (all of it, not only the last `lag`):
  /// element k is iterations x workers seconds where uncensored entries are
  /// kept and censored ones are imputed (always >= their bound).
  std::vector<Eigen::MatrixXd>
  impute(const std::vector<runtime_observation>& window, std::mt19937_64& gen,
         const imputation_options& options = {}) const;

private:
  dmm_spec spec_;
  Eigen::VectorXd params_;
  Eigen::VectorXd log_mean_;
  Eigen::VectorXd log_std_;
};

/// Fits a new model to `trace` (one observation per iteration, oldest
/// first): sets the normalisation from the uncensored log run-times, then
/// trains. `spec.workers` 0 means the longest observation's size. Throws
/// std::invalid_argument for fewer than 2 iterations or bad settings.
dmm fit_dmm(const std::vector<runtime_observation>& trace, dmm_spec spec,
            const dmm_train_options& options = {});

/// Continues training `m` on `trace` (its normalisation is kept); the
/// maximum ELBO per iteration reached in an epoch is returned.
double train_dmm(dmm& m, const std::vector<runtime_observation>& trace,
                 const dmm_train_options& options = {});

/// Mean over t = lag .. T-1 of log p(log x_t | x_{t-lag} .. x_{t-1}) (see
/// dmm::log_predictive_density) on a held-out trace, in nats per iteration
/// (log seconds units). The targets x_t must be uncensored; the windows may
/// be censored. Throws std::invalid_argument if the trace has at most `lag`
/// iterations.
double
dmm_predictive_log_likelihood(const dmm& m,
                              const std::vector<runtime_observation>& trace,
                              std::size_t samples, std::uint64_t seed,
                              const imputation_options& options = {});

/// Baseline: fits an independent normal per worker to the uncensored log
/// run-times of `train` (maximum likelihood, std at least 1e-3) and returns
/// the mean joint log density of the log run-times of the iterations
/// `skip` .. end of `test` (nats per iteration). Throws
/// std::invalid_argument if a worker has no uncensored training value or a
/// test iteration is censored.
double
iid_gaussian_log_likelihood(const std::vector<runtime_observation>& train,
                            const std::vector<runtime_observation>& test,
                            std::size_t skip = 0);

/// The paper's imputation on its own (see imputation_method::empirical):
/// `copies` completed iterations x workers seconds matrices of `window`,
/// with `workers` columns (0: the longest observation's size).
std::vector<Eigen::MatrixXd>
empirical_impute(const std::vector<runtime_observation>& window,
                 std::size_t copies, std::mt19937_64& gen,
                 std::size_t workers = 0);

/// Groups trace rows by iteration (ascending) into observations with
/// `workers` entries (0: the largest worker index + 1); censored rows stay
/// censored. A worker without a
/// row in an iteration was cut off: it is censored at that iteration's
/// largest recorded seconds.
std::vector<runtime_observation>
observations_from_trace(const std::vector<trace_row>& rows,
                        std::size_t workers = 0);

/// Writes `m` to `path` as versioned text (magic line, format version,
/// spec, normalisation, parameters, end marker) via a temporary file that
/// is renamed into place; throws std::runtime_error naming the file.
void save_dmm(const dmm& m, const std::string& path);

/// The most parameters a model file may declare (2^24, 128 MiB as doubles);
/// a trained model of 16 workers has a few thousand.
constexpr std::size_t dmm_max_parameters = std::size_t{1} << 24;

/// Reads a model written by save_dmm(); throws load_error naming the file,
/// the line and what is wrong (not a regular file, not a model file,
/// unsupported version, bad or missing field, a spec of more than
/// dmm_max_parameters parameters, wrong parameter count, more parameters
/// than the file's size allows, truncated file) before allocating for it.
dmm load_dmm(const std::string& path);

/// One named block of the parameter vector.
struct dmm_block {
  std::string name;
  std::size_t offset = 0;
  std::size_t size = 0;
};

/// The parameter blocks of a model with `spec`, in storage order.
std::vector<dmm_block> dmm_blocks(const dmm_spec& spec);

/// The training objective, exposed for gradient checks: the negative ELBO
/// (KL terms weighted by `kl_weight`) per sequence and step of the batch
/// `x` (x[t] is workers x B, standardised, complete) with the latent noise
/// fixed to `noise` (noise[t] is latent x B), so the value is a
/// deterministic function of `params`. When `gradient` is not null it
/// receives d objective / d params. `bounds` (optional, shaped like x)
/// marks censored entries: where bounds[t](i, b) is not NaN, the emission
/// term is log P(x > bound | z) instead of the density at x[t](i, b), which
/// then only feeds the inference network.
double dmm_negative_elbo(const dmm_spec& spec, const Eigen::VectorXd& params,
                         const std::vector<Eigen::MatrixXd>& x,
                         const std::vector<Eigen::MatrixXd>& noise,
                         double kl_weight, Eigen::VectorXd* gradient,
                         const std::vector<Eigen::MatrixXd>* bounds = nullptr);

} // namespace metronome::algorithms

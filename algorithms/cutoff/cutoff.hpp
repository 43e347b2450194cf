#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace metronome::algorithms {

/// One iteration's run-times as a synchronous-SGD server saw them.
///
/// Entry i belongs to worker i. A censored entry is a lower bound: the worker
/// was cut off when `seconds[i]` had passed, so its true run-time is larger.
/// Workers that are dead or absent are not part of the vector.
struct runtime_observation {
  std::vector<double> seconds;
  /// 1 where seconds[i] is only a lower bound (the worker was cut off).
  std::vector<std::uint8_t> censored;
};

/// What a rule decided for the next iteration.
struct cutoff_decision {
  /// Number of gradients to wait for, in [1, workers].
  std::size_t cutoff = 1;
  /// Element k-1 is the rule's estimate of E[k / x_(k)] (gradients per
  /// second when waiting for the k fastest); empty if the rule has none.
  std::vector<double> expected_throughput;
};

/// A cutoff rule: from the run-times of past iterations, chooses how many
/// gradients the next synchronous iteration waits for.
///
/// Rules are not thread-safe; one owner calls observe() and decide().
class cutoff_rule {
public:
  virtual ~cutoff_rule() = default;

  /// Name as written in configs ("full", "static", "elfving", "ecdf", ...).
  virtual std::string name() const = 0;

  /// Records the run-times of one finished iteration.
  virtual void observe(const runtime_observation& iteration) = 0;

  /// Chooses the cutoff for the next iteration among `workers` live workers
  /// (>= 1); the result's cutoff is always in [1, workers].
  virtual cutoff_decision decide(std::size_t workers) = 0;
};

/// Settings of the rules built into make_cutoff_rule().
struct cutoff_spec {
  /// full | static | elfving | ecdf
  std::string rule = "full";
  /// static: the number b of backup workers; waits for n - b (at least 1).
  std::size_t backups = 0;
  /// elfving, ecdf: how many recent iterations the fit uses.
  std::size_t window = 20;
};

/// The names of every cutoff rule a job may use, in the order error
/// messages list them: full, static, elfving, ecdf, bdsgd (bdsgd is built
/// from a model file by the roles, the others by make_cutoff_rule).
const std::vector<std::string>& cutoff_rule_names();

/// Builds the rule `spec` names; throws std::invalid_argument naming the
/// rule or field that is wrong.
///
/// elfving fits a normal distribution to the window's run-times by maximum
/// likelihood with right-censoring (fit_censored_normal). ecdf imputes each
/// censored run-time by a draw from the Kaplan-Meier estimate above its
/// bound: the worker's own, else all workers', else the bound itself
/// (optimistic, so a too-small cutoff is tried again once the window no
/// longer holds the run-times that made it look good). Both wait for every
/// worker while the window holds no uncensored run-time, ecdf also when it
/// holds no iteration with `workers` entries; both ignore iterations with a
/// run-time that is not positive and finite.
std::unique_ptr<cutoff_rule> make_cutoff_rule(const cutoff_spec& spec);

/// Index k (1-based) maximising curve[k-1], the smallest such k on ties;
/// 1 when the curve is empty or has no finite positive entry.
std::size_t best_cutoff(const std::vector<double>& curve);

/// E[k / x_(k)] for k = 1..n estimated from joint samples of n run-times
/// (each row one sample of all n workers). Throws std::invalid_argument if
/// rows differ in length.
std::vector<double>
throughput_from_samples(const std::vector<std::vector<double>>& samples);

/// Elfving's approximation of the expected k-th smallest of n independent
/// normal(mu, sigma^2) values: mu + sigma * Phi^-1((k - pi/8) / (n - pi/4 +
/// 1)), k in [1, n] (else std::invalid_argument).
double elfving_order_statistic(double mu, double sigma, std::size_t k,
                               std::size_t n);

/// Inverse of the standard normal distribution function, p in (0, 1).
double normal_quantile(double p);

/// Mean and standard deviation of a normal distribution.
struct normal_fit {
  double mu = 0;
  double sigma = 0;
};

/// Maximum-likelihood fit of a normal distribution to right-censored values:
/// where censored[i] is 1, seconds[i] is only a lower bound.
///
/// `censored` is empty (nothing censored) or as long as `seconds`. Needs at
/// least one uncensored value; sigma is 0 when the data cannot tell it from
/// 0 (all uncensored values equal, no bound above them). Throws
/// std::invalid_argument for non-finite values, mismatched sizes or no
/// uncensored value.
normal_fit fit_censored_normal(const std::vector<double>& seconds,
                               const std::vector<std::uint8_t>& censored);

/// Result of replaying a rule on a matrix of true run-times.
struct replay_result {
  /// Mean over iterations of c / x_(c) for the rule's cutoffs c.
  double achieved = 0;
  /// Mean over iterations of max_k k / x_(k).
  double oracle = 0;
  /// The rule's cutoff in each iteration.
  std::vector<std::size_t> cutoffs;
};

/// Replays `rule` on `truth`, one row per iteration holding the true
/// run-times of all its workers.
///
/// For each row the rule decides c, scores c / x_(c) of the true values
/// against the oracle's max_k k / x_(k), then observes the iteration as a
/// server would: the c fastest uncensored, the others censored at x_(c).
/// Throws std::invalid_argument for an empty row or a run-time that is not
/// positive and finite, std::logic_error if the rule's cutoff is outside
/// [1, n].
replay_result replay_cutoff(cutoff_rule& rule,
                            const std::vector<std::vector<double>>& truth);

} // namespace metronome::algorithms

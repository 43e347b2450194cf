#pragma once

#include "algorithms/cutoff/cutoff.hpp"
#include "algorithms/cutoff/dmm.hpp"

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace metronome::algorithms {

/// Settings of the bdsgd rule.
struct bdsgd_options {
  /// M: joint samples of the next iteration's run-times per decision.
  std::size_t samples = 64;
  /// Iterations a prediction conditions on; 0 means the model's lag.
  std::size_t lag = 0;
  /// How censored entries of the window are imputed.
  imputation_options imputation;
  /// Observations kept for refits (see recent()); at least the lag is
  /// always kept.
  std::size_t history = 1000;
  /// Seeds the rule's sampling; decisions are a deterministic function of
  /// the seed, the models and the observations.
  std::uint64_t seed = 1;
};

/// BDSGD's cutoff rule (Teng & Wood 2018): samples the next iteration's
/// run-times of all workers jointly from a deep Markov model conditioned on
/// the last `lag` observations (censored entries imputed by the model) and
/// waits for the c maximising the estimated E[c / x_(c)].
///
/// Decisions for a `workers` count other than the model's n: with no
/// observation yet every worker is waited for. With fewer live workers the
/// model still predicts all n; the columns dropped are first those missing
/// from the latest observation (it was shorter than n, so the model saw
/// them as unknown), then those with the largest mean predicted log
/// run-time. With more live workers, worker j >= n is given the sampled
/// run-time of worker j mod n in the same sample.
///
/// observe() and decide() belong to one owner thread; swap_model() and
/// model() may be called from any thread at any time.
class bdsgd final : public cutoff_rule {
public:
  /// Throws std::invalid_argument for a null model or zero samples.
  explicit bdsgd(std::shared_ptr<const dmm> model, bdsgd_options options = {});

  std::string name() const override { return "bdsgd"; }

  /// Records an iteration; throws std::invalid_argument when `censored` is
  /// neither empty nor as long as `seconds`.
  void observe(const runtime_observation& iteration) override;

  /// Throws std::invalid_argument for zero workers.
  cutoff_decision decide(std::size_t workers) override;

  /// Replaces the model; the next decide() uses it (a decide() already
  /// running finishes with the model it started with). Thread-safe.
  /// Throws std::invalid_argument for a null model.
  void swap_model(std::shared_ptr<const dmm> model);

  /// The current model. Thread-safe.
  std::shared_ptr<const dmm> model() const;

  /// Copy of the last `count` observations (fewer if fewer are kept),
  /// oldest first: the data for a refit.
  std::vector<runtime_observation> recent(std::size_t count) const;

private:
  std::shared_ptr<const dmm> model_;
  bdsgd_options options_;
  std::deque<runtime_observation> history_;
  std::mt19937_64 gen_;
};

/// Fits a fresh model to `observations` (taken by value, so the caller can
/// hand a copy of a sliding window to a background task, e.g. a oneTBB
/// task_group, and swap_model() the result in). `spec.workers` 0 means the
/// longest observation's size. Throws like fit_dmm().
std::shared_ptr<const dmm>
refit_dmm(std::vector<runtime_observation> observations, const dmm_spec& spec,
          const dmm_train_options& options = {});

} // namespace metronome::algorithms

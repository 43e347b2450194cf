#pragma once

#include "algorithms/cutoff/cutoff.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <memory>

namespace metronome::actors {

/// What the leading server asks the predictor after each version: the
/// run-times of the version just cut off, and the version to decide.
struct predictor_query {
  /// The version whose cutoff is to be chosen.
  std::int64_t version = 0;
  /// Live workers the next version can wait for.
  std::size_t workers = 1;
  /// Run-times of the previous version (empty for the first one).
  algorithms::runtime_observation observation;
};

/// The predictor's answer to a predictor_query.
struct predictor_answer {
  std::int64_t version = 0;
  algorithms::cutoff_decision decision;
  /// Seconds the rule took to observe and decide.
  double seconds = 0;
  /// The rule that decided, as labelled ("static backups=2").
  std::string rule;
};

using predictor_query_ptr = std::shared_ptr<const predictor_query>;
using predictor_answer_ptr = std::shared_ptr<const predictor_answer>;

/// A rule the predictor uses from its next decision on (inspect's `set
/// cutoff`), with its label; a null rule means the job's own again.
struct predictor_rule {
  std::shared_ptr<algorithms::cutoff_rule> rule;
  std::string label;
};
using predictor_rule_ptr = std::shared_ptr<const predictor_rule>;

} // namespace metronome::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(metronome::actors::predictor_query_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(metronome::actors::predictor_answer_ptr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(metronome::actors::predictor_rule_ptr)

namespace metronome::actors {

/// When a learned rule is refitted while the job runs.
struct refit_spec {
  /// Refit every this many observations (0: never).
  std::size_t every = 0;
  /// On the last this many observations.
  std::size_t history = 500;
};

/// Chooses the cutoff of every version with `rule` (labelled `label` in
/// the decisions): answers each predictor_query_ptr with a
/// predictor_answer_ptr sent back to the asker, and takes a
/// predictor_rule_ptr as the rule of its next decisions. Runs beside the
/// leading server so that a slow rule delays only its own answers, never a
/// broadcast. A bdsgd rule is refitted per `refit` in a background oneTBB
/// task and the new model swapped in when it is ready; decisions go on with
/// the old one meanwhile.
caf::behavior predictor(caf::event_based_actor* self,
                        std::shared_ptr<algorithms::cutoff_rule> rule,
                        std::string label, refit_spec refit);

} // namespace metronome::actors

#pragma once

#include "algorithms/cutoff/cutoff.hpp"
#include "messages/codec.hpp"

#include <caf/all.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

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

namespace metronome::actors {

struct actor_env;

/// The role predictor/0: the predictor in a node of its own. It answers
/// every Predict from the leading server (server/0) with a Prediction and
/// takes a PredictorRule as the rule of its next decisions, deciding as
/// predictor() does with the job's rule.
caf::behavior predictor_role(caf::event_based_actor* self, actor_env env);

/// Predict for `q`; `h` addresses predictor/0 at clock q.version.
messages::outbound predict_message(const messages::header& h,
                                   const predictor_query& q);

/// The query a verified Predict carries, or nullopt with `error` set when
/// it asks for more than `workers` workers or its run-times are not one
/// per worker.
std::optional<predictor_query>
query_of(const messages::inbound& msg, std::size_t workers, std::string& error);

/// Prediction for `a`; `h` addresses the server at clock a.version.
messages::outbound prediction_message(const messages::header& h,
                                      const predictor_answer& a);

/// The answer a verified Prediction carries, or nullopt with `error` set
/// when its cutoff is not in [1, workers].
std::optional<predictor_answer> answer_of(const messages::inbound& msg,
                                          std::size_t workers,
                                          std::string& error);

/// PredictorRule for `spec` labelled `label`; an empty spec.rule is the
/// job's own rule again.
messages::outbound rule_message(const messages::header& h,
                                const algorithms::cutoff_spec& spec,
                                const std::string& label);

/// The rule change a verified PredictorRule carries (a null rule: the
/// job's own), or nullptr with `error` set when the rule cannot be made.
predictor_rule_ptr rule_of(const messages::inbound& msg, std::string& error);

} // namespace metronome::actors

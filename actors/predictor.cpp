#include "actors/predictor.hpp"

#include "algorithms/cutoff/bdsgd.hpp"

#include <spdlog/spdlog.h>
#include <tbb/task_group.h>

#include <algorithm>
#include <atomic>
#include <chrono>

namespace metronome::actors {

namespace {

// A background refit of a bdsgd model; waits for it on destruction.
struct refitter {
  tbb::task_group tasks;
  std::atomic<bool> running{false};
  std::atomic<bool> cancel{false};
  std::uint64_t observations = 0;

  ~refitter() {
    cancel = true;
    tasks.wait();
  }

  void maybe_start(const std::shared_ptr<algorithms::bdsgd>& rule,
                   const refit_spec& spec) {
    if (spec.every == 0 || ++observations % spec.every != 0 || running)
      return;
    running = true;
    auto data =
        std::make_shared<const std::vector<algorithms::runtime_observation>>(
            rule->recent(spec.history));
    auto seed = observations;
    tasks.run([this, rule, seed, data] {
      try {
        algorithms::dmm_train_options options;
        options.cancel = &cancel;
        options.seed = seed;
        auto model =
            algorithms::refit_dmm(*data, rule->model()->spec(), options);
        if (!cancel)
          rule->swap_model(std::move(model));
      } catch (const std::exception& e) {
        spdlog::warn("predictor: refit failed, keeping the model: {}",
                     e.what());
      }
      running = false;
    });
  }
};

// The rule a predictor decides with, and the job's own to go back to.
struct predictor_rules {
  std::shared_ptr<algorithms::cutoff_rule> rule;
  std::string label;
  std::shared_ptr<algorithms::cutoff_rule> own;
  std::string own_label;
  std::shared_ptr<algorithms::bdsgd> learned; // the own rule, if bdsgd
};

} // namespace

caf::behavior predictor(caf::event_based_actor* self,
                        std::shared_ptr<algorithms::cutoff_rule> rule,
                        std::string label, refit_spec refit) {
  auto rules = std::make_shared<predictor_rules>();
  rules->rule = rule;
  rules->label = label;
  rules->own = rule;
  rules->own_label = label;
  rules->learned = std::dynamic_pointer_cast<algorithms::bdsgd>(rule);
  auto background = std::make_shared<refitter>();
  return {
      [self, rules, refit, background](const predictor_query_ptr& q) {
        auto start = std::chrono::steady_clock::now();
        auto answer = std::make_shared<predictor_answer>();
        answer->version = q->version;
        auto& rule = *rules->rule;
        try {
          if (!q->observation.seconds.empty()) {
            rule.observe(q->observation);
            if (rules->learned && rules->rule == rules->own)
              background->maybe_start(rules->learned, refit);
          }
          answer->decision = rule.decide(q->workers);
        } catch (const std::exception& e) {
          // A rule that cannot decide must not stop the job: wait for all.
          spdlog::warn("predictor: {} failed on version {}: {}; waiting for "
                       "every worker",
                       rule.name(), q->version, e.what());
          answer->decision = {std::max<std::size_t>(1, q->workers), {}};
        }
        answer->rule = rules->label;
        answer->seconds = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count();
        self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                   predictor_answer_ptr{std::move(answer)});
      },
      [rules](const predictor_rule_ptr& next) {
        rules->rule = next->rule ? next->rule : rules->own;
        rules->label = next->rule ? next->label : rules->own_label;
      },
  };
}

} // namespace metronome::actors

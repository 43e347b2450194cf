#include "actors/predictor.hpp"

#include <chrono>

namespace metronome::actors {

caf::behavior predictor(caf::event_based_actor* self,
                        std::shared_ptr<algorithms::cutoff_rule> rule) {
  return {
      [self, rule](const predictor_query_ptr& query) {
        auto start = std::chrono::steady_clock::now();
        if (!query->observation.seconds.empty())
          rule->observe(query->observation);
        auto answer = std::make_shared<predictor_answer>();
        answer->version = query->version;
        answer->decision = rule->decide(query->workers);
        answer->seconds = std::chrono::duration<double>(
                              std::chrono::steady_clock::now() - start)
                              .count();
        self->send(caf::actor_cast<caf::actor>(self->current_sender()),
                   predictor_answer_ptr{std::move(answer)});
      },
  };
}

} // namespace metronome::actors

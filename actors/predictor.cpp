#include "actors/predictor.hpp"

#include "actors/roles.hpp"

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

namespace wire = messages::wire;

messages::outbound predict_message(const messages::header& h,
                                   const predictor_query& q) {
  messages::envelope_builder builder(512);
  auto body = wire::CreatePredictDirect(
      builder.fbb(), static_cast<std::uint32_t>(q.workers),
      &q.observation.seconds, &q.observation.censored);
  return builder.finish(h, wire::Body::Predict, body.Union());
}

std::optional<predictor_query> query_of(const messages::inbound& msg,
                                        std::size_t workers,
                                        std::string& error) {
  const auto* p = msg.envelope().body_as_Predict();
  auto n = p->runtimes() ? p->runtimes()->size() : 0;
  auto c = p->censored() ? p->censored()->size() : 0;
  if (p->workers() < 1 || p->workers() > workers) {
    error = "Predict for " + std::to_string(p->workers()) +
            " workers; the job has " + std::to_string(workers);
    return std::nullopt;
  }
  if (n != c || (n != 0 && n != workers)) {
    error = "Predict with " + std::to_string(n) + " run-times and " +
            std::to_string(c) + " censored flags; the job has " +
            std::to_string(workers) + " workers";
    return std::nullopt;
  }
  predictor_query q;
  q.version = msg.header().clock();
  q.workers = p->workers();
  if (n > 0) {
    q.observation.seconds.assign(p->runtimes()->begin(), p->runtimes()->end());
    q.observation.censored.assign(p->censored()->begin(), p->censored()->end());
  }
  return q;
}

messages::outbound prediction_message(const messages::header& h,
                                      const predictor_answer& a) {
  messages::envelope_builder builder(512);
  auto body = wire::CreatePredictionDirect(
      builder.fbb(), static_cast<std::uint32_t>(a.decision.cutoff),
      &a.decision.expected_throughput, a.seconds, a.rule.c_str());
  return builder.finish(h, wire::Body::Prediction, body.Union());
}

std::optional<predictor_answer> answer_of(const messages::inbound& msg,
                                          std::size_t workers,
                                          std::string& error) {
  const auto* p = msg.envelope().body_as_Prediction();
  if (p->cutoff() < 1 || p->cutoff() > workers) {
    error = "Prediction of cutoff " + std::to_string(p->cutoff()) +
            "; the job has " + std::to_string(workers) + " workers";
    return std::nullopt;
  }
  predictor_answer a;
  a.version = msg.header().clock();
  a.decision.cutoff = p->cutoff();
  if (p->expected_throughput())
    a.decision.expected_throughput.assign(p->expected_throughput()->begin(),
                                          p->expected_throughput()->end());
  a.seconds = p->decision_seconds();
  a.rule = p->rule() ? p->rule()->str() : "";
  return a;
}

messages::outbound rule_message(const messages::header& h,
                                const algorithms::cutoff_spec& spec,
                                const std::string& label) {
  messages::envelope_builder builder(256);
  auto body =
      wire::CreatePredictorRuleDirect(builder.fbb(), spec.rule.c_str(),
                                      spec.backups, spec.window, label.c_str());
  return builder.finish(h, wire::Body::PredictorRule, body.Union());
}

predictor_rule_ptr rule_of(const messages::inbound& msg, std::string& error) {
  const auto* r = msg.envelope().body_as_PredictorRule();
  auto next = std::make_shared<predictor_rule>();
  next->label = r->label() ? r->label()->str() : "";
  if (r->rule() == nullptr || r->rule()->size() == 0)
    return next;
  algorithms::cutoff_spec spec;
  spec.rule = r->rule()->str();
  spec.backups = r->backups();
  spec.window = r->window();
  try {
    next->rule = algorithms::make_cutoff_rule(spec);
  } catch (const std::invalid_argument& e) {
    error = e.what();
    return nullptr;
  }
  return next;
}

namespace {

// Passes a verified message from the leading server on to the predictor.
void take_from_server(caf::event_based_actor* self, const caf::actor& decider,
                      const actor_env& env, const messages::inbound& msg) {
  std::string error;
  auto workers = env.topo->count("worker");
  if (msg.kind() == wire::Body::Predict) {
    if (auto q = query_of(msg, workers, error))
      self->send(decider,
                 predictor_query_ptr{std::make_shared<predictor_query>(*q)});
  } else if (auto next = rule_of(msg, error)) {
    spdlog::info("{}: cutoff rule -> {} (inspect)", env.name, next->label);
    self->send(decider, std::move(next));
  }
  if (!error.empty())
    spdlog::warn("{}: ignored a message from {}: {}", env.name, msg.source(),
                 error);
}

} // namespace

caf::behavior predictor_role(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  const auto& topo = *env.topo;
  auto out = std::make_shared<sender>(env);
  caf::actor decider;
  try {
    if (topo.job.consistency != "cutoff")
      throw std::runtime_error("a predictor serves jobs under consistency "
                               "cutoff; this one runs under " +
                               topo.job.consistency);
    auto rule = make_job_cutoff_rule(topo.job.cutoff, topo.job.seed);
    refit_spec refit{topo.job.cutoff.refit_every, topo.job.cutoff.history};
    decider = self->spawn<caf::linked>(
        predictor, rule, cutoff_rule_label(topo.job.cutoff.rule), refit);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  static const std::string leader = "server/0";
  env.status->publish("choosing cutoffs", 0);
  return {
      [self, decider, env](const messages::inbound_ptr& msg) {
        msg->handled();
        env.status->handled();
        auto kind = msg->kind();
        if (kind == wire::Body::Control) {
          stop_on(self, msg->envelope().body_as_Control()->command());
        } else if ((kind == wire::Body::Predict ||
                    kind == wire::Body::PredictorRule) &&
                   msg->source() == leader) {
          take_from_server(self, decider, env, *msg);
        } else {
          spdlog::warn("{}: unexpected {} from {}", env.name,
                       messages::kind_name(kind), msg->source());
        }
      },
      [out, env](const predictor_answer_ptr& answer) {
        env.status->publish("choosing cutoffs", answer->version + 1);
        out->post(
            prediction_message(out->header(leader, answer->version), *answer));
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
      [](peer_suspect_atom, const std::string&) {},
  };
}

} // namespace metronome::actors

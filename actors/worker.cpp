#include "actors/roles.hpp"
#include "actors/table.hpp"

#include "algorithms/minibatch.hpp"
#include "algorithms/models.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

namespace metronome::actors {

namespace wire = messages::wire;

namespace {

struct worker_state {
  std::unique_ptr<sender> out;
  std::shared_ptr<const algorithms::dataset> data;
  std::unique_ptr<algorithms::model> model;
  algorithms::shard_range shard;
  std::vector<std::string> servers;
  std::vector<key_range> ranges;
  std::vector<float> params;
  std::uint64_t iterations = 0;
  std::int64_t clock = 0;
  std::vector<std::uint64_t> pull_seq;
  std::size_t replies_missing = 0;
  bool started = false;
  bool done = false;
};

void pull(worker_state& st) {
  st.replies_missing = st.servers.size();
  for (std::size_t s = 0; s < st.servers.size(); ++s) {
    messages::envelope_builder builder(256);
    auto body = wire::CreatePullRequest(builder.fbb(), st.ranges[s].begin,
                                        st.ranges[s].size());
    auto h = st.out->header(st.servers[s], st.clock);
    st.pull_seq[s] = h.seq;
    st.out->post(builder.finish(h, wire::Body::PullRequest, body.Union()));
  }
}

void compute_and_push(worker_state& st, const actor_env& env) {
  const auto& job = env.topo->job;
  auto batch = algorithms::minibatch(st.shard, job.batch_size, job.seed,
                                     static_cast<std::uint64_t>(st.clock));
  auto grad = std::make_shared<std::vector<float>>(st.params.size());
  auto start = std::chrono::steady_clock::now();
  double loss = st.model->loss_and_gradient(st.params.data(), *st.data, batch,
                                            grad->data());
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
  for (std::size_t s = 0; s < st.servers.size(); ++s) {
    messages::envelope_builder builder(256);
    auto payload = builder.floats(
        st.ranges[s].begin, messages::float_block::of(grad, st.ranges[s].begin,
                                                      st.ranges[s].size()));
    auto body = wire::CreatePush(builder.fbb(), payload);
    st.out->post(builder.finish(st.out->header(st.servers[s], st.clock),
                                wire::Body::Push, body.Union()));
  }
  messages::envelope_builder builder(256);
  auto body = wire::CreateReport(builder.fbb(), st.clock, loss, took.count(),
                                 batch.size());
  static const std::string coordinator = "coordinator/0";
  st.out->post(builder.finish(st.out->header(coordinator, st.clock),
                              wire::Body::Report, body.Union()));
  ++st.clock;
}

} // namespace

caf::behavior worker(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<worker_state>();
  const auto& topo = *env.topo;
  st->out = std::make_unique<sender>(env);
  try {
    st->data = job_data(topo.job.data, false);
    st->model = job_model(topo.job, *st->data);
    auto workers = topo.count("worker");
    st->shard =
        algorithms::data_shard(st->data->num_samples(), workers, env.index);
    st->iterations = schedule_of(topo, st->data->num_samples()).iterations;
    st->params.resize(st->model->num_parameters());
    auto shards = topo.count("server");
    for (std::size_t s = 0; s < shards; ++s) {
      st->servers.push_back("server/" + std::to_string(s));
      st->ranges.push_back(shard_keys(st->params.size(), shards, s));
    }
    st->pull_seq.resize(shards);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        switch (msg->kind()) {
        case wire::Body::PullReply: {
          auto seq = msg->header().seq();
          std::size_t s = 0;
          while (s < st->pull_seq.size() && st->pull_seq[s] != seq)
            ++s;
          if (s == st->pull_seq.size() || st->replies_missing == 0)
            return; // a reply to a request we no longer wait for
          const auto* f = msg->envelope().body_as_PullReply()->payload();
          auto values = msg->values(*f);
          if (msg->source() != st->servers[s] ||
              f->offset() != st->ranges[s].begin ||
              values.size != st->ranges[s].size()) {
            auto reason = fmt::format(
                "{} answered a pull with keys [{}, +{}) instead of [{}, {})",
                msg->source(), f->offset(), values.size, st->ranges[s].begin,
                st->ranges[s].end);
            spdlog::error("{}: {}", env.name, reason);
            self->quit(caf::make_error(caf::sec::runtime_error, reason));
            return;
          }
          std::memcpy(st->params.data() + f->offset(), values.data,
                      values.size * sizeof(float));
          st->pull_seq[s] = 0;
          if (--st->replies_missing > 0)
            return;
          compute_and_push(*st, env);
          if (static_cast<std::uint64_t>(st->clock) < st->iterations)
            pull(*st);
          else
            st->done = true;
          break;
        }
        case wire::Body::Control: {
          auto cmd = msg->envelope().body_as_Control()->command();
          if (cmd == wire::Command::Start && !st->started) {
            st->started = true;
            if (st->iterations > 0)
              pull(*st);
          } else if (cmd == wire::Command::Stop) {
            self->quit();
          } else if (cmd == wire::Command::Abort) {
            self->quit(aborted_elsewhere);
          }
          break;
        }
        default:
          spdlog::warn("{}: unexpected {} from {}", env.name,
                       messages::kind_name(msg->kind()), msg->source());
        }
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

} // namespace metronome::actors

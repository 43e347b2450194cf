#include "actors/roles.hpp"
#include "actors/table.hpp"

#include "algorithms/models.hpp"

#include <spdlog/spdlog.h>

#include <set>

namespace metronome::actors {

namespace wire = messages::wire;

namespace {

struct server_state {
  std::unique_ptr<sender> out;
  std::unique_ptr<table_shard> table;
  std::vector<messages::inbound_ptr> waiting_reads;
  std::set<std::string> complained;
  // essp: readers that get every commit, and the last commit they got.
  std::set<std::string> subscribers;
  std::int64_t pushed = -1;
};

void complain(server_state& st, const actor_env& env,
              const messages::inbound& msg, const std::string& error) {
  std::string who(msg.source());
  if (st.complained.insert(who).second)
    spdlog::warn(
        "{}: rejected {} from {}: {} (further ones from it are not logged)",
        env.name, messages::kind_name(msg.kind()), who, error);
}

// Worker rank of a message's source, or -1 when it is not a worker (the
// other readers evaluate).
int worker_rank(const messages::inbound& msg) {
  std::string role;
  int index = -1;
  if (!messages::parse_actor_name(msg.source(), role, index) ||
      role != "worker")
    return -1;
  return index;
}

bool from_worker(const messages::inbound& msg) {
  return worker_rank(msg) >= 0;
}

bool can_answer(const table_shard& table, const messages::inbound& req) {
  auto clock = req.header().clock();
  return from_worker(req) ? table.can_read(clock) : table.settled(clock);
}

// Answers a verified pull request from the current table contents.
void reply(server_state& st, const messages::inbound& req) {
  const auto* pull = req.envelope().body_as_PullRequest();
  auto keys = st.table->keys();
  // An evaluation at a marked clock sees the values of exactly that clock.
  auto snapshot =
      from_worker(req) ? nullptr : st.table->snapshot_at(req.header().clock());
  if (!snapshot)
    snapshot = st.table->snapshot();
  messages::envelope_builder builder;
  flatbuffers::Offset<wire::Floats> payload;
  if (pull->keys() != nullptr && pull->keys()->size() > 0) {
    std::vector<std::uint64_t> wanted(pull->keys()->begin(),
                                      pull->keys()->end());
    auto values = std::make_shared<std::vector<float>>(wanted.size());
    for (std::size_t i = 0; i < wanted.size(); ++i)
      (*values)[i] = (*snapshot)[wanted[i] - keys.begin];
    payload = builder.floats(wanted, messages::float_block::of(values));
  } else {
    payload = builder.floats(
        pull->offset(),
        messages::float_block::of(snapshot, pull->offset() - keys.begin,
                                  pull->count()));
  }
  int rank = worker_rank(req);
  auto applied = rank < 0 ? st.table->committed()
                          : st.table->applied(static_cast<std::size_t>(rank));
  auto body = wire::CreatePullReply(builder.fbb(), payload, applied);
  std::string destination(req.source());
  auto h = st.out->header(destination, st.table->committed(),
                          req.header().table_id());
  h.seq = req.header().seq();
  st.out->post(builder.finish(h, wire::Body::PullReply, body.Union()));
}

std::string check_pull(const table_shard& table, const messages::inbound& msg) {
  const auto* pull = msg.envelope().body_as_PullRequest();
  auto keys = table.keys();
  if (pull->keys() != nullptr && pull->keys()->size() > 0) {
    for (auto k : *pull->keys())
      if (k < keys.begin || k >= keys.end)
        return "key " + std::to_string(k) + " outside shard";
    return {};
  }
  if (pull->count() == 0 || !keys.contains(pull->offset(), pull->count()))
    return "range [" + std::to_string(pull->offset()) + ", +" +
           std::to_string(pull->count()) + ") outside shard [" +
           std::to_string(keys.begin) + ", " + std::to_string(keys.end) + ")";
  return {};
}

// essp: sends the whole shard to every subscriber once per new commit.
void push_to_subscribers(server_state& st) {
  auto committed = st.table->committed();
  if (st.subscribers.empty() || committed <= st.pushed)
    return;
  st.pushed = committed;
  auto keys = st.table->keys();
  auto snapshot = st.table->snapshot();
  for (const auto& reader : st.subscribers) {
    messages::envelope_builder builder;
    auto payload = builder.floats(
        keys.begin, messages::float_block::of(snapshot, 0, keys.size()));
    std::string role;
    int rank = -1;
    messages::parse_actor_name(reader, role, rank);
    auto body = wire::CreatePullReply(
        builder.fbb(), payload,
        st.table->applied(static_cast<std::size_t>(rank)));
    auto h = st.out->header(reader, committed);
    h.seq = 0;
    st.out->post(builder.finish(h, wire::Body::PullReply, body.Union()));
  }
}

void serve_waiting(server_state& st) {
  auto& waiting = st.waiting_reads;
  auto ready = std::stable_partition(waiting.begin(), waiting.end(),
                                     [&](const messages::inbound_ptr& m) {
                                       return !can_answer(*st.table, *m);
                                     });
  for (auto i = ready; i != waiting.end(); ++i)
    reply(st, **i);
  waiting.erase(ready, waiting.end());
}

} // namespace

caf::behavior server(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<server_state>();
  const auto& topo = *env.topo;
  auto shards = topo.count("server");
  auto workers = topo.count("worker");
  st->out = std::make_unique<sender>(env);
  try {
    std::vector<float> init;
    auto rule = update_rule::sgd;
    if (topo.job.algorithm == "none") {
      init.resize(topo.job.keys);
      rule = update_rule::add;
    } else {
      auto data = job_data(topo.job.data, false);
      auto model = job_model(topo.job, *data);
      init.resize(model->num_parameters());
      model->initialize(init.data(), topo.job.seed);
    }
    auto keys = shard_keys(init.size(), shards, env.index);
    std::vector<float> mine(init.begin() + keys.begin, init.begin() + keys.end);
    st->table = std::make_unique<table_shard>(
        keys, std::max<std::size_t>(1, workers), rule, topo.job.learning_rate,
        make_policy(topo.job.consistency, topo.job.staleness), std::move(mine));
    if (topo.job.algorithm != "none") {
      // The coordinator evaluates at the end of every epoch and of the job.
      auto sched =
          schedule_of(topo, job_data(topo.job.data, false)->num_samples());
      for (auto c = sched.batches_per_epoch; c < sched.iterations;
           c += sched.batches_per_epoch)
        st->table->mark(static_cast<std::int64_t>(c));
      st->table->mark(static_cast<std::int64_t>(sched.iterations));
    }
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        switch (msg->kind()) {
        case wire::Body::Push: {
          int rank = worker_rank(*msg);
          const auto* f = msg->envelope().body_as_Push()->payload();
          auto values = msg->values(*f);
          messages::float_block block{msg, values.data, values.size};
          std::string error;
          if (rank < 0) {
            error = "pushes are only accepted from workers";
          } else if (f->keys() != nullptr && f->keys()->size() > 0) {
            error = st->table->push_sparse(
                rank, msg->header().clock(),
                {f->keys()->begin(), f->keys()->end()}, block);
          } else {
            error = st->table->push(rank, msg->header().clock(), f->offset(),
                                    block);
          }
          if (!error.empty())
            complain(*st, env, *msg, error);
          serve_waiting(*st);
          push_to_subscribers(*st);
          break;
        }
        case wire::Body::Clock: {
          int rank = worker_rank(*msg);
          auto error = rank < 0 ? std::string("clock from a non-worker")
                                : st->table->clock(rank, msg->header().clock());
          if (!error.empty())
            complain(*st, env, *msg, error);
          serve_waiting(*st);
          push_to_subscribers(*st);
          break;
        }
        case wire::Body::PullRequest: {
          auto error = check_pull(*st->table, *msg);
          if (!error.empty()) {
            complain(*st, env, *msg, error);
            break;
          }
          if (msg->envelope().body_as_PullRequest()->subscribe() &&
              from_worker(*msg))
            st->subscribers.emplace(msg->source());
          if (can_answer(*st->table, *msg)) {
            reply(*st, *msg);
          } else {
            st->waiting_reads.push_back(msg);
          }
          break;
        }
        case wire::Body::Control: {
          auto cmd = msg->envelope().body_as_Control()->command();
          if (cmd == wire::Command::Stop)
            self->quit();
          else if (cmd == wire::Command::Abort)
            self->quit(aborted_elsewhere);
          break;
        }
        default:
          complain(*st, env, *msg, "unexpected message kind");
        }
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

} // namespace metronome::actors

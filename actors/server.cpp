#include "actors/core/cutoff_server.hpp"
#include "actors/core/table.hpp"
#include "actors/predictor.hpp"
#include "actors/roles.hpp"

#include "algorithms/program.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <set>

namespace metronome::actors {

namespace wire = messages::wire;

namespace {

// What this server holds of one table of the job.
struct served_table {
  std::string name;
  std::unique_ptr<table_shard> shard;
  // The last clock marked for an evaluation (marks are taken a few
  // evaluations ahead of the commits).
  std::uint64_t marked = 0;
  // essp: readers that get every commit, and the last commit they got.
  std::set<std::string> subscribers;
  std::int64_t pushed = -1;
};

// Synchronous SGD with a cutoff: the pacing, and the predictor that
// chooses each version's cutoff on server/0.
struct cutoff_state {
  std::unique_ptr<cutoff_server> pacing;
  caf::actor predictor;          // server/0 only, unless predictor/0 is a role
  bool remote_predictor = false; // predictor/0 decides
  std::string rule_label;        // of the rule the predictor decides with
  std::chrono::steady_clock::time_point epoch =
      std::chrono::steady_clock::now();

  double now() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         epoch)
        .count();
  }
};

struct server_state {
  std::unique_ptr<sender> out;
  std::vector<served_table> tables;     // by table id
  std::optional<job_schedule> schedule; // jobs with a model: evaluations
  // Reads the policy does not let us answer yet, and since when.
  struct held_read {
    messages::inbound_ptr msg;
    std::chrono::steady_clock::time_point since;
  };
  std::vector<held_read> waiting_reads;
  std::set<std::string> complained;
  std::unique_ptr<cutoff_state> cutoff; // consistency: cutoff only
  std::shared_ptr<actor_status> status;
  std::vector<std::int64_t> published;  // what status shows, to spot changes
  std::vector<std::int64_t> publishing; // the same, now
  std::chrono::steady_clock::time_point published_at;
  bool publish_due = false; // a publish_atom is on its way
  caf::event_based_actor* self = nullptr;
};

using publish_atom = caf::atom_constant<caf::atom("publish")>;

// The status board changes at most this often: an async table commits on
// every push, and building the view each time took 8% of a pipelined
// small-push run's CPU (docs/benchmarks.md).
constexpr auto publish_interval = std::chrono::milliseconds(10);

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

// The table a message is about; nullptr for an id the job does not have.
served_table* table_of(server_state& st, const messages::inbound& msg) {
  auto id = msg.header().table_id();
  return id < st.tables.size() && st.tables[id].shard ? &st.tables[id]
                                                      : nullptr;
}

bool can_answer(server_state& st, const messages::inbound& req) {
  const auto& table = *table_of(st, req)->shard;
  auto clock = req.header().clock();
  return from_worker(req) ? table.can_read(clock) : table.settled(clock);
}

// Answers a verified pull request from the current table contents; it was
// held `held_seconds` until the policy allowed an answer.
void reply(server_state& st, const messages::inbound& req,
           double held_seconds = 0) {
  const auto* pull = req.envelope().body_as_PullRequest();
  auto& table = *table_of(st, req)->shard;
  auto keys = table.keys();
  // An evaluation at a marked clock sees the values of exactly that clock.
  auto snapshot =
      from_worker(req) ? nullptr : table.snapshot_at(req.header().clock());
  if (!snapshot)
    snapshot = table.snapshot();
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
  auto applied = rank < 0 ? table.committed()
                          : table.applied(static_cast<std::size_t>(rank));
  auto body =
      wire::CreatePullReply(builder.fbb(), payload, applied, held_seconds);
  std::string destination(req.source());
  auto h =
      st.out->header(destination, table.committed(), req.header().table_id());
  h.seq = req.header().seq();
  st.out->post(builder.finish(h, wire::Body::PullReply, body.Union()));
}

std::string check_pull(const table_shard& table, const messages::inbound& msg) {
  const auto* pull = msg.envelope().body_as_PullRequest();
  auto keys = table.keys();
  if (!table.plausible_read(msg.header().clock(), from_worker(msg)))
    return "read at clock " + std::to_string(msg.header().clock()) +
           ", which no reader can be at now (committed " +
           std::to_string(table.committed()) + ")";
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

// essp: sends the whole shard of each table to its subscribers once per
// new commit.
void push_to_subscribers(server_state& st) {
  for (std::uint32_t id = 0; id < st.tables.size(); ++id) {
    auto& t = st.tables[id];
    if (!t.shard)
      continue;
    auto committed = t.shard->committed();
    if (t.subscribers.empty() || committed <= t.pushed)
      continue;
    t.pushed = committed;
    auto keys = t.shard->keys();
    auto snapshot = t.shard->snapshot();
    for (const auto& reader : t.subscribers) {
      messages::envelope_builder builder;
      auto payload = builder.floats(
          keys.begin, messages::float_block::of(snapshot, 0, keys.size()));
      std::string role;
      int rank = -1;
      messages::parse_actor_name(reader, role, rank);
      auto body = wire::CreatePullReply(
          builder.fbb(), payload,
          t.shard->applied(static_cast<std::size_t>(rank)));
      auto h = st.out->header(reader, committed, id);
      h.seq = 0;
      st.out->post(builder.finish(h, wire::Body::PullReply, body.Union()));
    }
  }
}

void serve_waiting(server_state& st) {
  auto& waiting = st.waiting_reads;
  auto ready = std::stable_partition(
      waiting.begin(), waiting.end(),
      [&](const auto& held) { return !can_answer(st, *held.msg); });
  if (ready == waiting.end())
    return;
  auto now = std::chrono::steady_clock::now();
  for (auto i = ready; i != waiting.end(); ++i)
    reply(st, *i->msg, std::chrono::duration<double>(now - i->since).count());
  waiting.erase(ready, waiting.end());
}

// Marks the next few evaluation clocks of every table, so that each
// evaluation sees its clock exactly.
void mark_ahead(server_state& st) {
  if (!st.schedule)
    return;
  for (auto& t : st.tables) {
    if (!t.shard)
      continue;
    auto committed = static_cast<std::uint64_t>(t.shard->committed());
    auto horizon = committed + 4 * std::min(st.schedule->batches_per_epoch,
                                            st.schedule->eval_every);
    for (;;) {
      auto next = st.schedule->next_evaluation(t.marked);
      if (next == 0 || (next > horizon && t.marked > committed))
        break;
      t.shard->mark(static_cast<std::int64_t>(next));
      t.marked = next;
    }
  }
}

// The clock table `id` must commit for its first waiting read (-1: none
// waits).
std::int64_t needed_clock(const server_state& st, std::uint32_t id) {
  std::int64_t needed = -1;
  for (const auto& [m, since] : st.waiting_reads) {
    if (m->header().table_id() != id)
      continue;
    const auto& shard = *st.tables[id].shard;
    auto s = shard.policy().staleness();
    auto clock = m->header().clock();
    auto want = from_worker(*m) ? clock - std::max<std::int64_t>(s, 0) : clock;
    needed = needed < 0 ? want : std::min(needed, want);
  }
  return needed;
}

std::int64_t count_behind(const table_shard& shard, std::int64_t clock) {
  std::int64_t n = 0;
  for (std::size_t w = 0; w < shard.writers(); ++w)
    n += shard.finished(w) < clock;
  return n;
}

// The workers below `clock` in `shard`.
std::vector<std::string> behind(const table_shard& shard, std::int64_t clock) {
  std::vector<std::string> out;
  for (std::size_t w = 0; w < shard.writers(); ++w)
    if (shard.finished(w) < clock)
      out.push_back("worker/" + std::to_string(w));
  return out;
}

// Publishes the tables and the reads they hold back when any of it changed
// (clocks committed, the clock waited for, the writers behind it).
void publish(server_state& st) {
  // Called after every message: compared without allocating, published
  // only when something changed. A publish already due will see this
  // message's changes too.
  if (st.publish_due)
    return;
  auto& now = st.publishing;
  now.clear();
  for (std::uint32_t id = 0; id < st.tables.size(); ++id) {
    if (!st.tables[id].shard)
      continue;
    const auto& shard = *st.tables[id].shard;
    auto needed = needed_clock(st, id);
    now.insert(now.end(), {shard.committed(), needed,
                           needed < 0 ? 0 : count_behind(shard, needed)});
  }
  if (now == st.published)
    return;
  auto t = std::chrono::steady_clock::now();
  if (t - st.published_at < publish_interval) {
    st.publish_due = true;
    st.self->delayed_send(st.self, publish_interval, publish_atom::value);
    return;
  }
  st.published_at = t;
  st.published = now;
  std::vector<table_status> tables;
  std::vector<wait_item> waits;
  std::int64_t clock = -1;
  for (std::uint32_t id = 0; id < st.tables.size(); ++id) {
    const auto& t = st.tables[id];
    if (!t.shard)
      continue;
    const auto& shard = *t.shard;
    table_status ts{t.name,
                    shard.policy().name(),
                    shard.policy().staleness(),
                    shard.committed(),
                    shard.min_clock(),
                    {}};
    for (std::size_t w = 0; w < shard.writers(); ++w)
      if (shard.finished(w) == ts.min_clock && ts.slowest.empty())
        ts.slowest = "worker/" + std::to_string(w);
    ts.begin = shard.keys().begin;
    ts.end = shard.keys().end;
    tables.push_back(ts);
    clock = clock < 0 ? shard.committed() : std::min(clock, shard.committed());
    if (auto needed = needed_clock(st, id); needed >= 0)
      waits.push_back({t.name, needed, behind(shard, needed)});
  }
  st.status->tables(std::move(tables));
  st.status->publish(waits.empty() ? "serving" : "holding reads", clock);
  st.status->wait("updates", std::move(waits));
}

// What the leading server publishes for inspect's `cutoff`: the rule, the
// last version's cutoff with the predicted and realised order statistics
// (the k-th fastest run-time), and the decisions so far.
void publish_cutoff(server_state& st) {
  using json = nlohmann::ordered_json;
  const auto& pacing = *st.cutoff->pacing;
  const auto& last = pacing.last();
  if (!last)
    return;
  const auto& totals = pacing.decided_so_far();
  std::vector<double> realised;
  for (std::size_t w = 0; w < last->observation.seconds.size(); ++w)
    if (!last->observation.censored[w])
      realised.push_back(last->observation.seconds[w]);
  std::sort(realised.begin(), realised.end());
  json order = json::array();
  auto n = last->observation.seconds.size();
  for (std::size_t k = 1; k <= n; ++k) {
    json row = {{"k", k}, {"predicted_s", nullptr}, {"realised_s", nullptr}};
    if (k <= last->expected_throughput.size() &&
        last->expected_throughput[k - 1] > 0)
      row["predicted_s"] =
          static_cast<double>(k) / last->expected_throughput[k - 1];
    if (k <= realised.size())
      row["realised_s"] = realised[k - 1];
    order.push_back(std::move(row));
  }
  st.status->note(
      "cutoff",
      json{{"rule", st.cutoff->rule_label},
           {"version", last->version},
           {"decided_by", last->rule},
           {"cutoff", last->cutoff},
           {"workers", n},
           {"cutoff_s", last->cutoff_seconds},
           {"decision_s", last->decision_seconds},
           {"decision_late", last->decision_late},
           {"order_statistics", std::move(order)},
           {"versions", totals.versions},
           {"censored", totals.censored},
           {"late_decisions", totals.late_decisions},
           {"decision_mean_s", totals.versions > 0
                                   ? totals.decision_seconds / totals.versions
                                   : 0.0},
           {"late_gradients", st.tables[0].shard->late_updates()}});
}

// Brings everything up to date after the table changed: waiting reads,
// broadcasts of new versions and, on the leader, cutoffs reached.
void settle(server_state& st, const actor_env& env) {
  for (;;) {
    mark_ahead(st);
    serve_waiting(st);
    push_to_subscribers(st);
    if (!st.cutoff) {
      publish(st);
      return;
    }
    publish(st);
    auto step = st.cutoff->pacing->advance(st.cutoff->now());
    if (!step.error.empty())
      spdlog::error("{}: {}", env.name, step.error);
    if (!step.decided)
      return;
    publish_cutoff(st);
  }
}

// Cutoff: sends version 0 to every worker and asks for its cutoff.
void start_versions(server_state& st, const actor_env& env) {
  for (const auto& reader : st.cutoff->pacing->readers())
    st.tables[0].subscribers.insert(reader);
  st.cutoff->pacing->start();
  settle(st, env);
}

// Cutoff: the workers of node `peer` are waited for no more (for good when
// it is dead, until it is back when it is only suspect).
void lose_workers(server_state& st, const actor_env& env,
                  const std::string& peer, bool dead) {
  for (auto w : env.topo->workers_on(peer)) {
    if (dead)
      spdlog::warn("{}: worker/{} is lost with node {}; versions go on "
                   "without it",
                   env.name, w, peer);
    st.cutoff->pacing->lost(w, dead);
  }
  settle(st, env);
}

const std::string remote_predictor = "predictor/0";

void take_answer(server_state& st, const actor_env& env,
                 const predictor_answer& answer) {
  st.cutoff->pacing->answered(answer.version, answer.decision, answer.seconds,
                              answer.rule);
  settle(st, env);
}

// A decision of predictor/0, the leading server's only source of them
// when the topology places it.
void take_prediction(server_state& st, const actor_env& env,
                     const messages::inbound& msg) {
  std::string error;
  if (!st.cutoff || !st.cutoff->remote_predictor ||
      !st.cutoff->pacing->leads() || msg.source() != remote_predictor)
    error = "this server asked " + std::string(msg.source()) + " for no cutoff";
  else if (auto answer = answer_of(msg, env.topo->count("worker"), error))
    return take_answer(st, env, *answer);
  complain(st, env, msg, error);
}

// Cutoff: the pacing of this server (st.cutoff must exist), whose queries
// go to st.cutoff->predictor, or to predictor/0 when the topology has it.
std::unique_ptr<cutoff_server> make_pacing(caf::event_based_actor* self,
                                           server_state& st,
                                           const actor_env& env) {
  const auto& topo = *env.topo;
  auto versions = static_cast<std::int64_t>(st.schedule->iterations);
  auto* out = st.out.get();
  auto* cutoff = st.cutoff.get();
  return std::make_unique<cutoff_server>(
      static_cast<std::size_t>(env.index), topo.count("server"),
      topo.count("worker"), versions, *st.tables[0].shard,
      [out](const std::string& to, std::int64_t clock, std::uint32_t table) {
        return out->header(to, clock, table);
      },
      [out](messages::outbound m) { out->post(std::move(m)); },
      [self, out, cutoff](cutoff_query q) {
        auto query = std::make_shared<predictor_query>();
        query->version = q.version;
        query->workers = q.workers;
        query->observation = std::move(q.observation);
        if (cutoff->remote_predictor)
          out->post(predict_message(out->header(remote_predictor, q.version),
                                    *query));
        else
          self->send(cutoff->predictor, predictor_query_ptr{std::move(query)});
      });
}

// A phase of a live change of a table's staleness bound (see live_change):
// phase 1 answers reads under the smaller bound and accepts updates within
// the larger, phase 3 answers reads under the new one.
void change_bound(server_state& st, const actor_env& env,
                  const messages::inbound& msg) {
  auto k = knob_of(msg);
  if (msg.source() != "coordinator/0" || k.name != "staleness" ||
      (k.phase != 1 && k.phase != 3)) {
    complain(st, env, msg, "not a change this server takes");
    return;
  }
  auto bound = static_cast<std::int64_t>(k.value);
  for (auto& t : st.tables) {
    if (!t.shard || t.name != k.table)
      continue;
    auto old = t.shard->policy().staleness();
    auto error = k.phase == 1 ? t.shard->set_staleness(std::min(old, bound),
                                                       std::max(old, bound))
                              : t.shard->set_staleness(bound, bound);
    if (!error.empty())
      complain(st, env, msg, error);
  }
  if (k.phase == 1)
    st.out->knob("coordinator/0", k);
  st.published.clear();
  settle(st, env);
}

// Why the rule `value` names cannot be used by this job (with `workers`
// workers and its own rule `own`), or "".
std::string refuse_rule(const nlohmann::ordered_json& value,
                        const cutoff_job_spec& own, std::size_t workers,
                        algorithms::cutoff_spec& spec) {
  if (!value.is_object() || !value.contains("rule") ||
      !value["rule"].is_string())
    return "set cutoff needs a rule, e.g. {\"rule\": \"static\", "
           "\"backups\": 1}";
  for (const auto& [key, v] : value.items())
    if (key != "rule" && key != "backups" && key != "window")
      return "set cutoff takes rule, backups and window, not '" + key + "'";
  spec.rule = value["rule"].get<std::string>();
  const auto& names = algorithms::cutoff_rule_names();
  if (std::find(names.begin(), names.end(), spec.rule) == names.end())
    return "unknown cutoff rule '" + spec.rule + "'";
  for (const char* key : {"backups", "window"}) {
    if (!value.contains(key))
      continue;
    if (!value[key].is_number_unsigned() || value[key] > 1000000u)
      return std::string(key) + " is a whole number from 0 to 1000000";
    bool applies = std::string(key) == "backups"
                       ? spec.rule == "static"
                       : spec.rule == "elfving" || spec.rule == "ecdf";
    if (!applies)
      return std::string("'") + key + "' does not apply to rule " + spec.rule;
    (key[0] == 'b' ? spec.backups : spec.window) =
        value[key].get<std::size_t>();
  }
  if (spec.rule == "static" && spec.backups >= workers)
    return "static backups=" + std::to_string(spec.backups) +
           " would wait for no gradient: the job has " +
           std::to_string(workers) + " workers";
  if (spec.rule == "bdsgd" && own.rule.rule != "bdsgd")
    return "bdsgd needs a run-time model, and this job was started with " +
           cutoff_rule_label(own.rule) + "; start it with rule bdsgd";
  return {};
}

// inspect's `set cutoff RULE`: the predictor decides with the rule from
// its next decision on; the answer the control endpoint hands out.
nlohmann::ordered_json set_cutoff_rule(server_state& st, const actor_env& env,
                                       const std::string& text) {
  using json = nlohmann::ordered_json;
  auto request = json::parse(text, nullptr, false);
  if (!st.cutoff || !st.cutoff->pacing->leads())
    return {{"error", env.name + " does not choose the cutoffs"}};
  algorithms::cutoff_spec spec;
  auto why =
      refuse_rule(request.is_object() ? request.value("value", json()) : json(),
                  env.topo->job.cutoff, env.topo->count("worker"), spec);
  auto next = std::make_shared<predictor_rule>();
  next->label = cutoff_rule_label(spec);
  if (why.empty() && next->label == st.cutoff->rule_label)
    why = "the rule is " + next->label + " already";
  try {
    if (why.empty() && spec.rule != "bdsgd")
      next->rule = algorithms::make_cutoff_rule(spec);
  } catch (const std::invalid_argument& e) {
    why = e.what();
  }
  if (!why.empty())
    return {{"error", why}};
  const auto& last = st.cutoff->pacing->last();
  json change = {{"knob", "cutoff"},  {"from", st.cutoff->rule_label},
                 {"to", next->label}, {"version", last ? last->version + 1 : 0},
                 {"state", "asked"},  {"by", "inspect"}};
  st.cutoff->rule_label = next->label;
  if (st.cutoff->remote_predictor) {
    if (spec.rule == "bdsgd")
      spec.rule.clear(); // the job's own
    st.out->post(
        rule_message(st.out->header(remote_predictor), spec, next->label));
  } else {
    caf::anon_send(st.cutoff->predictor, predictor_rule_ptr{std::move(next)});
  }
  spdlog::info("{}: cutoff rule {} -> {} (inspect)", env.name,
               change["from"].get<std::string>(),
               change["to"].get<std::string>());
  return {{"change", std::move(change)}};
}

// inspect's `table NAME BEGIN:END`: keys [begin, end) of table `name` as
// they are now, read on this actor's thread.
nlohmann::ordered_json read_slice(const server_state& st,
                                  const std::string& name, std::uint64_t begin,
                                  std::uint64_t end) {
  using json = nlohmann::ordered_json;
  for (const auto& t : st.tables) {
    if (!t.shard || t.name != name)
      continue;
    auto keys = t.shard->keys();
    if (begin >= end || begin < keys.begin || end > keys.end)
      return {{"error", fmt::format("keys [{}, {}) of table {} are not all on "
                                    "this server, which holds [{}, {})",
                                    begin, end, name, keys.begin, keys.end)}};
    auto values = t.shard->snapshot();
    json out = json::array();
    for (auto k = begin; k < end; ++k)
      out.push_back((*values)[k - keys.begin]);
    return {{"table", name},
            {"begin", begin},
            {"end", end},
            {"committed", t.shard->committed()},
            {"values", std::move(out)}};
  }
  return {{"error", "no table '" + name + "' on this server"}};
}

} // namespace

caf::behavior server(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<server_state>();
  st->self = self;
  const auto& topo = *env.topo;
  auto shards = topo.count("server");
  auto workers = topo.count("worker");
  st->out = std::make_unique<sender>(env);
  try {
    std::vector<float> init;
    std::shared_ptr<const algorithms::data_parallel_program> program;
    auto rule = update_rule::sgd;
    if (topo.job.algorithm == "none") {
      init.resize(topo.job.keys);
      rule = update_rule::add;
    } else {
      program = job_program(topo, false, data_part::none());
      if (program->adds_updates())
        rule = update_rule::add;
      init.resize(program->parameters());
      program->initialize(init.data());
      st->schedule = schedule_of(topo, program->samples());
    }
    auto tables = job_tables(topo.job, program.get(), init.size());
    st->tables.resize(tables.size());
    for (const auto& part : partitions(tables, shards)) {
      if (part.server != static_cast<std::size_t>(env.index))
        continue;
      const auto& t = tables[part.table];
      auto shard = std::make_unique<table_shard>(
          part.keys, std::max<std::size_t>(1, workers), rule,
          topo.job.learning_rate, make_policy(t.consistency, t.staleness),
          std::vector<float>(init.begin() + part.keys.begin,
                             init.begin() + part.keys.end));
      if (topo.job.cutoff.scaling == "linear")
        shard->set_step_scaling(step_scaling::linear);
      st->tables[part.table].shard = std::move(shard);
      st->tables[part.table].name = t.name;
    }
    if (topo.job.consistency == "cutoff") {
      if (!st->tables[0].shard)
        throw std::runtime_error("consistency cutoff needs every server to "
                                 "hold keys; use fewer servers");
      st->cutoff = std::make_unique<cutoff_state>();
      st->cutoff->pacing = make_pacing(self, *st, env);
      st->cutoff->remote_predictor = topo.count("predictor") > 0;
      if (st->cutoff->pacing->leads() && !st->cutoff->remote_predictor) {
        auto rule = make_job_cutoff_rule(topo.job.cutoff, topo.job.seed);
        refit_spec refit{topo.job.cutoff.refit_every, topo.job.cutoff.history};
        st->cutoff->rule_label = cutoff_rule_label(topo.job.cutoff.rule);
        st->cutoff->predictor = self->spawn<caf::linked>(
            predictor, rule, st->cutoff->rule_label, refit);
      }
    }
    mark_ahead(*st);
    st->status = env.status;
    publish(*st);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  auto on_message = [self, st, env](const messages::inbound_ptr& msg) {
    msg->handled();
    env.status->handled();
    auto* table = table_of(*st, *msg);
    bool about_table = msg->kind() == wire::Body::Push ||
                       msg->kind() == wire::Body::Clock ||
                       msg->kind() == wire::Body::PullRequest;
    if (about_table && table == nullptr) {
      complain(
          *st, env, *msg,
          fmt::format("no table {} on this server", msg->header().table_id()));
      return;
    }
    switch (msg->kind()) {
    case wire::Body::Push: {
      int rank = worker_rank(*msg);
      const auto* f = msg->envelope().body_as_Push()->payload();
      auto rate = msg->envelope().body_as_Push()->rate();
      if (!(rate >= 0 && rate <= 1e6f))
        rate = 0; // not a rate any worker sends
      auto values = msg->values(*f);
      messages::float_block block{msg, values.data, values.size};
      std::string error;
      if (rank < 0) {
        error = "pushes are only accepted from workers";
      } else if (f->keys() != nullptr && f->keys()->size() > 0) {
        error = table->shard->push_sparse(
            rank, msg->header().clock(), {f->keys()->begin(), f->keys()->end()},
            block, rate);
      } else {
        error = table->shard->push(rank, msg->header().clock(), f->offset(),
                                   block, rate);
      }
      if (!error.empty())
        complain(*st, env, *msg, error);
      else if (st->cutoff)
        st->cutoff->pacing->arrived(static_cast<std::size_t>(rank),
                                    msg->header().clock(), st->cutoff->now());
      settle(*st, env);
      break;
    }
    case wire::Body::Cutoff: {
      auto error = st->cutoff ? st->cutoff->pacing->decided(*msg)
                              : "this server takes no cutoff decisions";
      if (!error.empty())
        complain(*st, env, *msg, error);
      settle(*st, env);
      break;
    }
    case wire::Body::Clock: {
      int rank = worker_rank(*msg);
      auto error = rank < 0 ? std::string("clock from a non-worker")
                            : table->shard->clock(rank, msg->header().clock());
      if (!error.empty())
        complain(*st, env, *msg, error);
      settle(*st, env);
      break;
    }
    case wire::Body::PullRequest: {
      auto error = check_pull(*table->shard, *msg);
      if (!error.empty()) {
        complain(*st, env, *msg, error);
        break;
      }
      if (msg->envelope().body_as_PullRequest()->subscribe() &&
          from_worker(*msg))
        table->subscribers.emplace(msg->source());
      if (can_answer(*st, *msg)) {
        reply(*st, *msg);
      } else {
        st->waiting_reads.push_back({msg, std::chrono::steady_clock::now()});
        publish(*st);
      }
      break;
    }
    case wire::Body::Knob:
      change_bound(*st, env, *msg);
      break;
    case wire::Body::Prediction:
      take_prediction(*st, env, *msg);
      break;
    case wire::Body::Control: {
      auto cmd = msg->envelope().body_as_Control()->command();
      if (cmd == wire::Command::Start && st->cutoff &&
          !st->cutoff->pacing->started())
        start_versions(*st, env);
      else
        stop_on(self, cmd);
      break;
    }
    default:
      complain(*st, env, *msg, "unexpected message kind");
    }
  };
  return {
      on_message,
      batch_handler(self, on_message),
      [st](publish_atom) {
        st->publish_due = false;
        publish(*st);
      },
      [st, env](const predictor_answer_ptr& answer) {
        take_answer(*st, env, *answer);
      },
      [st, env](set_atom, std::uint64_t id, const std::string& request) {
        env.status->keep_answer(id, set_cutoff_rule(*st, env, request));
      },
      [st, env](table_read_atom, std::uint64_t id, const std::string& name,
                std::uint64_t begin, std::uint64_t end) {
        env.status->keep_answer(id, read_slice(*st, name, begin, end));
      },
      [self, st, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
        if (st->cutoff)
          lose_workers(*st, env, peer, true);
      },
      [st, env](peer_suspect_atom, const std::string& peer) {
        if (st->cutoff)
          lose_workers(*st, env, peer, false);
      },
      [st, env](peer_alive_atom, const std::string& peer) {
        if (!st->cutoff)
          return;
        for (auto w : env.topo->workers_on(peer))
          st->cutoff->pacing->found(w);
        settle(*st, env);
      },
  };
}

} // namespace metronome::actors

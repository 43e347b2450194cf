// The scheduled pacing (STRADS' schedule -> push -> pull): the scheduler
// role hands out the rounds its program plans, the workers compute their
// parts, and the scheduler commits each round from all parts in worker
// order. Program-specific work happens in algorithms::round_planner and
// algorithms::round_worker only.
//
// scheduler:  idle --Start--> running --planner done--> finished --Stop-->
// worker:     answers every Round from scheduler/0 until Stop

#include "actors/core/job_records.hpp"
#include "actors/roles.hpp"

#include "algorithms/program.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <deque>

namespace metronome::actors {

namespace wire = messages::wire;
using std::chrono::steady_clock;

namespace {

const std::string scheduler_name = "scheduler/0";
const std::string coordinator_name = "coordinator/0";

double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

struct round_in_flight {
  std::uint64_t round = 0;
  steady_clock::time_point sent;
  std::vector<std::optional<algorithms::round_result>> parts;
  std::vector<double> compute_seconds;
  std::size_t missing = 0;
};

struct scheduler_state {
  std::unique_ptr<sender> out;
  std::unique_ptr<algorithms::round_planner> planner;
  std::vector<std::string> workers;
  std::deque<round_in_flight> flight;
  steady_clock::time_point start;
  steady_clock::time_point last_progress;
  // Round records not sent yet: they go to the coordinator in batches, a
  // message per round would cost a third of a short round.
  json records = json::array();
  steady_clock::time_point last_records;
  bool started = false;
  bool finished = false;
};

// Sends a Record of `kind` with `fields` (and parameters) to the
// coordinator, which writes every output of the job.
void send_record(scheduler_state& st, const std::string& kind,
                 const json& fields, const std::vector<double>& parameters) {
  messages::envelope_builder builder(1024);
  auto& fbb = builder.fbb();
  auto k = fbb.CreateString(kind);
  auto f = fbb.CreateString(fields.dump());
  auto p = builder.doubles({}, parameters);
  auto body = wire::CreateRecord(fbb, k, f, p);
  st.out->post(builder.finish(st.out->header(coordinator_name),
                              wire::Body::Record, body.Union()));
}

void send_round(scheduler_state& st, const algorithms::round_task& t) {
  for (const auto& w : st.workers) {
    messages::envelope_builder builder(1024 + 16 * t.keys.size() +
                                       16 * t.change_keys.size());
    auto work = builder.doubles(t.keys, t.values);
    auto changes = builder.doubles(t.change_keys, t.changes);
    auto body =
        wire::CreateRound(builder.fbb(), t.round, t.task, work, changes);
    st.out->post(
        builder.finish(st.out->header(w, static_cast<std::int64_t>(t.round)),
                       wire::Body::Round, body.Union()));
  }
  round_in_flight f;
  f.round = t.round;
  f.sent = steady_clock::now();
  f.parts.resize(st.workers.size());
  f.compute_seconds.resize(st.workers.size());
  f.missing = st.workers.size();
  st.flight.push_back(std::move(f));
}

// Hands out every round the planner allows now.
void fill(scheduler_state& st) {
  while (auto t = st.planner->plan())
    send_round(st, *t);
}

// Sends the round records held back, when there are many, when they are
// old enough for someone watching, or when `now` says so.
void send_records(scheduler_state& st, bool now) {
  auto t = steady_clock::now();
  if (st.records.empty() ||
      (!now && st.records.size() < 256 &&
       t - st.last_records < std::chrono::milliseconds(100)))
    return;
  st.last_records = t;
  send_record(st, "iterations", {{"records", std::move(st.records)}}, {});
  st.records = json::array();
}

void report_progress(scheduler_state& st, const json& record) {
  auto now = steady_clock::now();
  if (now - st.last_progress < std::chrono::milliseconds(250) &&
      !st.planner->done())
    return;
  st.last_progress = now;
  json progress = {{"iteration", st.planner->rounds()},
                   {"iterations", st.planner->max_rounds()}};
  for (const char* key : {"objective", "gap", "nnz"})
    if (record.contains(key))
      progress[key] = record[key];
  progress["wall_s"] = seconds_since(st.start);
  send_record(st, "progress", progress, {});
}

// Commits the rounds whose parts are all in, in round order.
void commit_ready(scheduler_state& st) {
  while (!st.flight.empty() && st.flight.front().missing == 0) {
    auto f = std::move(st.flight.front());
    st.flight.pop_front();
    std::vector<algorithms::round_result> parts;
    for (auto& p : f.parts)
      parts.push_back(std::move(*p));
    auto record = st.planner->commit(parts);
    auto round_s = seconds_since(f.sent);
    auto slowest =
        *std::max_element(f.compute_seconds.begin(), f.compute_seconds.end());
    record["round_s"] = round_s;
    record["compute_s"] = f.compute_seconds;
    // What the round waited beyond its slowest worker's computation.
    record["blocked_s"] = std::max(0.0, round_s - slowest);
    record["wall_s"] = seconds_since(st.start);
    st.records.push_back(record);
    send_records(st, false);
    report_progress(st, record);
  }
  fill(st);
  if (st.planner->done() && !st.finished) {
    st.finished = true;
    send_records(st, true);
    auto summary = st.planner->summary();
    if (summary.value("diverged", false))
      spdlog::warn("the job diverged: the coordinates of a round are too "
                   "correlated to update together; lower schedule_size or "
                   "use schedule: priority");
    summary["wall_s"] = seconds_since(st.start);
    summary["workers"] = st.workers.size();
    send_record(st, "final", summary, st.planner->parameters());
  }
}

// Stores a worker's part; returns an error for a part nobody asked for.
std::string take_result(scheduler_state& st, const messages::inbound& msg) {
  std::string role;
  int rank = -1;
  if (!messages::parse_actor_name(msg.source(), role, rank) ||
      role != "worker" || rank >= static_cast<int>(st.workers.size()))
    return "round results come from workers only";
  const auto* r = msg.envelope().body_as_RoundResult();
  for (auto& f : st.flight) {
    if (f.round != r->round())
      continue;
    auto& slot = f.parts[static_cast<std::size_t>(rank)];
    if (slot)
      return "a second result for round " + std::to_string(f.round);
    slot.emplace();
    slot->values = messages::read_doubles(r->values()).values;
    f.compute_seconds[static_cast<std::size_t>(rank)] = r->compute_seconds();
    --f.missing;
    return {};
  }
  return "a result for round " + std::to_string(r->round()) +
         ", which is not in flight";
}

} // namespace

caf::behavior scheduler(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  auto st = std::make_shared<scheduler_state>();
  st->out = std::make_unique<sender>(env);
  try {
    for (std::size_t i = 0; i < env.topo->count("worker"); ++i)
      st->workers.push_back("worker/" + std::to_string(i));
    st->planner = make_round_planner(*env.topo);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        switch (msg->kind()) {
        case wire::Body::RoundResult: {
          auto error = take_result(*st, *msg);
          if (!error.empty()) {
            spdlog::warn("{}: rejected a result from {}: {}", env.name,
                         msg->source(), error);
            return;
          }
          commit_ready(*st);
          break;
        }
        case wire::Body::Control: {
          auto cmd = msg->envelope().body_as_Control()->command();
          if (cmd == wire::Command::Start && !st->started) {
            st->started = true;
            st->start = steady_clock::now();
            commit_ready(*st);
          } else {
            stop_on(self, cmd);
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

caf::behavior round_worker(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  std::shared_ptr<algorithms::round_worker> program;
  auto out = std::make_shared<sender>(env);
  try {
    program = make_round_worker(*env.topo, static_cast<std::size_t>(env.index));
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, program, out, env](const messages::inbound_ptr& msg) {
        msg->handled();
        if (msg->kind() == wire::Body::Control) {
          stop_on(self, msg->envelope().body_as_Control()->command());
          return;
        }
        if (msg->kind() != wire::Body::Round ||
            msg->source() != scheduler_name) {
          spdlog::warn("{}: unexpected {} from {}", env.name,
                       messages::kind_name(msg->kind()), msg->source());
          return;
        }
        const auto* r = msg->envelope().body_as_Round();
        algorithms::round_task t;
        t.round = r->round();
        t.task = r->task();
        auto work = messages::read_doubles(r->work());
        auto changes = messages::read_doubles(r->changes());
        t.keys = std::move(work.keys);
        t.values = std::move(work.values);
        t.change_keys = std::move(changes.keys);
        t.changes = std::move(changes.values);
        auto begin = steady_clock::now();
        auto result = program->work(t);
        messages::envelope_builder builder(1024 + 8 * result.values.size());
        auto values = builder.doubles({}, result.values);
        auto body = wire::CreateRoundResult(builder.fbb(), t.round, values, 0,
                                            seconds_since(begin));
        out->post(builder.finish(
            out->header(scheduler_name, static_cast<std::int64_t>(t.round)),
            wire::Body::RoundResult, body.Union()));
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

} // namespace metronome::actors

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

// The scheduler's round note costs a tenth of a short round to build: it
// is published at most this often, and this long after a change at most.
constexpr auto note_every = std::chrono::milliseconds(50);
using note_atom = caf::atom_constant<caf::atom("note")>;
const std::string coordinator_name = "coordinator/0";

double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

struct round_in_flight {
  std::uint64_t round = 0;
  std::size_t worker = algorithms::every_worker;
  steady_clock::time_point sent;
  std::vector<std::optional<algorithms::round_result>> parts;
  std::size_t missing = 0;
};

struct scheduler_state {
  std::unique_ptr<sender> out;
  std::shared_ptr<actor_status> status;
  steady_clock::time_point noted; // when the rounds note was published
  bool note_due = false;          // a change is not in the note yet
  bool note_timer = false;        // a note_atom is on its way
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
                 const json& fields) {
  auto text = fields.dump();
  messages::envelope_builder builder(1024 + text.size());
  auto& fbb = builder.fbb();
  auto k = fbb.CreateString(kind);
  auto f = fbb.CreateString(text);
  auto body = wire::CreateRecord(fbb, k, f);
  st.out->post(builder.finish(st.out->header(coordinator_name),
                              wire::Body::Record, body.Union()));
}

void send_task(scheduler_state& st, const algorithms::round_task& t,
               const std::string& worker) {
  messages::envelope_builder builder(1024 + 16 * t.keys.size() +
                                     16 * t.change_keys.size() +
                                     16 * t.count_keys.size());
  auto work = builder.doubles(t.keys, t.values);
  auto changes = builder.doubles(t.change_keys, t.changes);
  auto counts = builder.integers(t.count_keys, t.counts);
  auto body =
      wire::CreateRound(builder.fbb(), t.round, t.task, work, changes, counts);
  st.out->post(
      builder.finish(st.out->header(worker, static_cast<std::int64_t>(t.round)),
                     wire::Body::Round, body.Union()));
}

void send_round(scheduler_state& st, const algorithms::round_task& t) {
  bool everyone = t.worker == algorithms::every_worker;
  if (everyone) {
    for (const auto& w : st.workers)
      send_task(st, t, w);
  } else {
    send_task(st, t, st.workers.at(t.worker));
  }
  round_in_flight f;
  f.round = t.round;
  f.worker = t.worker;
  f.sent = steady_clock::now();
  std::size_t parts = everyone ? st.workers.size() : 1;
  f.parts.resize(parts);
  f.missing = parts;
  st.flight.push_back(std::move(f));
}

// The workers a round in flight still waits for.
std::vector<std::string> missing_of(const scheduler_state& st,
                                    const round_in_flight& f) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < f.parts.size(); ++i)
    if (!f.parts[i])
      out.push_back(
          st.workers[f.worker == algorithms::every_worker ? i : f.worker]);
  return out;
}

// The note of `actor scheduler/0`: rounds committed and in flight.
void note_rounds(scheduler_state& st) {
  json flight = json::array();
  auto now = steady_clock::now();
  for (const auto& f : st.flight)
    flight.push_back(
        {{"round", f.round},
         {"worker", f.worker == algorithms::every_worker
                        ? json("all")
                        : json(st.workers[f.worker])},
         {"missing", missing_of(st, f)},
         {"since_s", std::chrono::duration<double>(now - f.sent).count()}});
  st.status->note("rounds", json{{"committed", st.planner->rounds()},
                                 {"max", st.planner->max_rounds()},
                                 {"in_flight", std::move(flight)}});
  st.noted = now;
  st.note_due = false;
}

// Publishes the round the scheduler is at and whom each round in flight
// waits for (`why`), and the rounds note when it is due.
void publish_rounds(caf::event_based_actor* self, scheduler_state& st) {
  std::vector<wait_item> waits;
  for (const auto& f : st.flight)
    waits.push_back(
        {"", static_cast<std::int64_t>(f.round), missing_of(st, f)});
  st.status->publish(st.finished  ? "finished"
                     : st.started ? "scheduling"
                                  : "waiting for start",
                     static_cast<std::int64_t>(st.planner->rounds()));
  st.status->wait("round", std::move(waits));
  st.note_due = true;
  if (steady_clock::now() - st.noted >= note_every) {
    note_rounds(st);
  } else if (!st.note_timer) {
    st.note_timer = true;
    self->delayed_send(self, note_every, note_atom::value);
  }
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
  send_record(st, "iterations", {{"records", std::move(st.records)}});
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
  for (const auto& key : st.planner->progress_keys())
    if (record.contains(key))
      progress[key] = record[key];
  progress["wall_s"] = seconds_since(st.start);
  send_record(st, "progress", progress);
}

// The times of a round's record: for a round of every worker, how long it
// took, each worker's computation, and what it waited beyond the slowest.
void add_round_times(json& record, const round_in_flight& f,
                     const std::vector<algorithms::round_result>& parts) {
  auto round_s = seconds_since(f.sent);
  std::vector<double> compute;
  for (const auto& p : parts)
    compute.push_back(p.compute_seconds);
  record["round_s"] = round_s;
  record["compute_s"] = compute;
  record["blocked_s"] = std::max(
      0.0, round_s - *std::max_element(compute.begin(), compute.end()));
}

void finish(scheduler_state& st) {
  st.finished = true;
  send_records(st, true);
  auto summary = st.planner->summary();
  if (summary.value("diverged", false))
    spdlog::warn("the job diverged: the coordinates of a round are too "
                 "correlated to update together; lower schedule_size or "
                 "use schedule: priority");
  summary["wall_s"] = seconds_since(st.start);
  summary["workers"] = st.workers.size();
  send_record(st, "result", {{"text", st.planner->result_text()}});
  send_record(st, "final", summary);
}

// Commits the rounds whose parts are all in. Rounds of every worker
// complete in the order they were sent (each worker answers in order).
void commit_ready(caf::event_based_actor* self, scheduler_state& st) {
  for (auto it = st.flight.begin(); it != st.flight.end();) {
    if (it->missing != 0) {
      ++it;
      continue;
    }
    auto f = std::move(*it);
    it = st.flight.erase(it);
    std::vector<algorithms::round_result> parts;
    for (auto& p : f.parts)
      parts.push_back(std::move(*p));
    auto record = st.planner->commit(f.round, parts);
    if (record.is_null())
      continue;
    if (f.worker == algorithms::every_worker)
      add_round_times(record, f, parts);
    record["wall_s"] = seconds_since(st.start);
    st.records.push_back(record);
    send_records(st, false);
    report_progress(st, record);
  }
  fill(st);
  if (st.planner->done() && !st.finished)
    finish(st);
  publish_rounds(self, st);
}

// Stores a worker's part; returns an error for a part nobody asked for.
std::string take_result(scheduler_state& st, const messages::inbound& msg) {
  std::string role;
  int rank = -1;
  if (!messages::parse_actor_name(msg.source(), role, rank) ||
      role != "worker" || rank >= static_cast<int>(st.workers.size()))
    return "round results come from workers only";
  const auto* r = msg.envelope().body_as_RoundResult();
  auto worker = static_cast<std::size_t>(rank);
  for (auto& f : st.flight) {
    if (f.round != r->round())
      continue;
    bool everyone = f.worker == algorithms::every_worker;
    if (!everyone && f.worker != worker)
      return "a result for round " + std::to_string(f.round) +
             ", which is another worker's";
    auto& slot = f.parts[everyone ? worker : 0];
    if (slot)
      return "a second result for round " + std::to_string(f.round);
    slot.emplace();
    slot->values = messages::read_doubles(r->values()).values;
    auto counts = messages::read_integers(r->counts());
    slot->count_keys = std::move(counts.keys);
    slot->counts = std::move(counts.values);
    slot->compute_seconds = r->compute_seconds();
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
    st->status = env.status;
    note_rounds(*st);
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        env.status->handled();
        switch (msg->kind()) {
        case wire::Body::RoundResult: {
          auto error = take_result(*st, *msg);
          if (!error.empty()) {
            spdlog::warn("{}: rejected a result from {}: {}", env.name,
                         msg->source(), error);
            return;
          }
          commit_ready(self, *st);
          break;
        }
        case wire::Body::Control: {
          auto cmd = msg->envelope().body_as_Control()->command();
          if (cmd == wire::Command::Start && !st->started) {
            st->started = true;
            st->start = steady_clock::now();
            commit_ready(self, *st);
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
      [st](note_atom) {
        st->note_timer = false;
        if (st->note_due)
          note_rounds(*st);
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

// A round worker's time between its result and the next round: blocked by
// the scheduler. Noted at most every note_every (a note per round would
// cost a hundredth of a short round).
struct round_waits {
  steady_clock::time_point answered = steady_clock::now();
  steady_clock::time_point noted;
  double scheduler_seconds = 0;

  void round_came(actor_status& status) {
    auto now = steady_clock::now();
    scheduler_seconds += std::chrono::duration<double>(now - answered).count();
    if (now - noted < note_every)
      return;
    noted = now;
    status.note("blocked_s", json{{"scheduler", scheduler_seconds}});
  }
};

caf::behavior round_worker(caf::event_based_actor* self, actor_env env) {
  keep_exception_messages(self);
  std::shared_ptr<algorithms::round_worker> program;
  auto out = std::make_shared<sender>(env);
  auto waits = std::make_shared<round_waits>();
  try {
    program = make_round_worker(*env.topo, static_cast<std::size_t>(env.index));
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  return {
      [self, program, out, env, waits](const messages::inbound_ptr& msg) {
        msg->handled();
        env.status->handled();
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
        env.status->publish("computing", static_cast<std::int64_t>(r->round()));
        waits->round_came(*env.status);
        env.status->wait("", {});
        algorithms::round_task t;
        t.round = r->round();
        t.task = r->task();
        auto work = messages::read_doubles(r->work());
        auto changes = messages::read_doubles(r->changes());
        auto counts = messages::read_integers(r->counts());
        t.keys = std::move(work.keys);
        t.values = std::move(work.values);
        t.change_keys = std::move(changes.keys);
        t.changes = std::move(changes.values);
        t.count_keys = std::move(counts.keys);
        t.counts = std::move(counts.values);
        auto begin = steady_clock::now();
        auto result = program->work(t);
        messages::envelope_builder builder(1024 + 8 * result.values.size() +
                                           16 * result.counts.size());
        auto values = builder.doubles({}, result.values);
        auto result_counts = builder.integers(result.count_keys, result.counts);
        auto body =
            wire::CreateRoundResult(builder.fbb(), t.round, values,
                                    result_counts, seconds_since(begin));
        out->post(builder.finish(
            out->header(scheduler_name, static_cast<std::int64_t>(t.round)),
            wire::Body::RoundResult, body.Union()));
        waits->answered = steady_clock::now();
        env.status->publish("waiting for a round",
                            static_cast<std::int64_t>(t.round) + 1);
        env.status->wait(
            "round",
            {{"", static_cast<std::int64_t>(t.round) + 1, {scheduler_name}}});
      },
      [self, env](peer_down_atom, const std::string& peer) {
        stop_if_coordinator_lost(self, env, peer);
      },
  };
}

} // namespace metronome::actors

#include "actors/core/cutoff_ledger.hpp"
#include "actors/core/idle_evaluator.hpp"
#include "actors/core/job_records.hpp"
#include "actors/core/ps_client.hpp"
#include "actors/core/table.hpp"
#include "actors/roles.hpp"

#include "algorithms/program.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

namespace metronome::actors {

/// A mid-run evaluation done on the coordinator's idle_evaluator.
struct evaluated {
  std::uint64_t clock = 0;
  double reached = 0; // the job's wall when clock was reached
  algorithms::evaluation eval;
  std::string error;
};
using evaluated_ptr = std::shared_ptr<const evaluated>;
using evaluated_atom = caf::atom_constant<caf::atom("evaluated")>;

} // namespace metronome::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(metronome::actors::evaluated_ptr)

namespace metronome::actors {

namespace wire = messages::wire;
using std::chrono::steady_clock;

namespace {

struct iteration_reports {
  std::size_t count = 0;
  double loss = 0;
  std::uint64_t samples = 0;
  std::vector<double> compute_seconds;
  std::vector<std::int64_t> staleness;
  std::vector<double> blocked_seconds;
  std::vector<bool> seen;
  int last = -1; // the worker whose report came in last
};

// What `launch` shows live, sent as "@progress {json}" lines on stdout when
// METRONOME_PROGRESS is set.
struct progress_feed {
  steady_clock::time_point last_print;
  double window_loss = 0;
  std::uint64_t window_iterations = 0;
  std::vector<std::uint64_t> last_counts; // per worker, this window
  json evaluation = json::object();       // the latest one
};

// Staleness of the reads of one worker (or all): count, mean and variance
// (Welford), maximum, histogram, and time spent blocked.
struct staleness_stats {
  static constexpr std::size_t buckets = 17; // 0..15, and 16 or more
  std::uint64_t reads = 0;
  double mean = 0;
  double m2 = 0;
  std::int64_t max = 0;
  double blocked_seconds = 0;
  std::vector<std::uint64_t> histogram = std::vector<std::uint64_t>(buckets);

  void add(std::int64_t staleness, double blocked) {
    ++reads;
    double delta = staleness - mean;
    mean += delta / reads;
    m2 += delta * (staleness - mean);
    max = std::max(max, staleness);
    ++histogram[std::min<std::size_t>(std::max<std::int64_t>(staleness, 0),
                                      buckets - 1)];
    blocked_seconds += blocked;
  }
  double variance() const { return reads > 1 ? m2 / (reads - 1) : 0; }

  // What inspect's `staleness` shows while the job runs.
  json live() const {
    return {{"reads", reads},
            {"mean", mean},
            {"max", max},
            {"blocked_s", blocked_seconds}};
  }

  json record() const {
    return {{"reads", reads},
            {"mean", mean},
            {"variance", variance()},
            {"max", max},
            {"blocked_s", blocked_seconds},
            {"histogram", histogram}};
  }
};

struct coordinator_state {
  std::unique_ptr<sender> out;
  const messages::transport* transport = nullptr;
  std::unique_ptr<job_members> members;
  std::vector<std::string> workers;
  std::vector<std::string> servers;
  std::vector<table_layout> tables;
  std::unique_ptr<ps_client> reads; // evaluation reads
  bool started = false;
  bool finished = false;
  steady_clock::time_point start_time;
  job_schedule schedule;
  std::map<std::uint64_t, iteration_reports> reports;
  std::uint64_t completed = 0; // iterations with every report in
  std::uint64_t samples = 0;
  double epoch_loss = 0;
  std::uint64_t epoch_iterations = 0;
  // Every output: iterations.jsonl, evaluations.jsonl, the run-time of
  // every worker iteration (trace.csv, replayable by the replay model),
  // summary.json and stdout.
  job_records records;
  std::shared_ptr<const algorithms::data_parallel_program> program;
  std::vector<float> eval_params;
  // Reader clocks to evaluate at, and the wall time each was reached.
  std::deque<std::pair<std::uint64_t, double>> eval_queue;
  // Evaluations before the last run at low priority, one at a time.
  idle_evaluator evaluator;
  bool evaluating = false;
  progress_feed progress;
  std::unique_ptr<cutoff_ledger> ledger;  // consistency: cutoff only
  std::vector<staleness_stats> staleness; // per worker
  staleness_stats all_staleness;
  std::shared_ptr<actor_status> status;
  // Pauses, resumes and live settings from inspect, as recorded; when each
  // worker paused.
  json events = json::array();
  std::unique_ptr<live_settings> settings;
  std::map<std::string, steady_clock::time_point> paused;
  std::string cutoff_rule; // the rule of the last version decided
};

double seconds_since(steady_clock::time_point t) {
  return std::chrono::duration<double>(steady_clock::now() - t).count();
}

void stop_all(coordinator_state& st, wire::Command cmd,
              const std::string& reason) {
  st.members->command(*st.out, cmd, reason);
}

void request_eval(coordinator_state& st) {
  if (st.reads->missing() > 0 || st.evaluating || st.eval_queue.empty())
    return;
  st.reads->request_all(static_cast<std::int64_t>(st.eval_queue.front().first));
}

void write_metrics(coordinator_state& st, std::uint64_t iteration,
                   const iteration_reports& r) {
  if (!st.records.tracing())
    return;
  json nodes = json::object();
  const auto& own = st.transport->counters();
  nodes[st.transport->node()] = json{{"bytes_in", own.bytes_in.load()},
                                     {"bytes_out", own.bytes_out.load()}};
  for (const auto& [name, t] : st.transport->peer_traffic_reports())
    if (name != st.transport->node())
      nodes[name] = json{{"bytes_in", t.bytes_in}, {"bytes_out", t.bytes_out}};
  json record = {{"iteration", iteration},
                 {"wall_s", seconds_since(st.start_time)},
                 {"loss", r.count > 0 ? json(r.loss / r.count) : json()},
                 {"compute_s", r.compute_seconds},
                 {"staleness", r.staleness},
                 {"blocked_s", r.blocked_seconds}};
  if (!st.program->has_loss())
    record.erase("loss");
  if (st.ledger)
    record.update(st.ledger->fields(iteration));
  record["nodes"] = std::move(nodes);
  st.records.iteration(record);
}

void note_progress(coordinator_state& st, const iteration_reports& done) {
  auto& p = st.progress;
  if (!st.records.progress_enabled() || done.count == 0)
    return;
  p.window_loss += done.loss / done.count;
  ++p.window_iterations;
  p.last_counts.resize(st.workers.size());
  ++p.last_counts[done.last];
  auto now = steady_clock::now();
  bool last = st.completed + 1 == st.schedule.iterations;
  if (!last && now - p.last_print < std::chrono::milliseconds(250))
    return;
  auto slowest = std::max_element(p.last_counts.begin(), p.last_counts.end()) -
                 p.last_counts.begin();
  double wall = seconds_since(st.start_time);
  json record = {{"iteration", st.completed + 1},
                 {"iterations", st.schedule.iterations},
                 {"loss", p.window_loss / p.window_iterations}};
  if (!st.program->has_loss())
    record.erase("loss");
  record.update(p.evaluation);
  record[st.program->sample_unit() + "_per_s"] =
      st.samples / std::max(wall, 1e-9);
  record["slowest"] = st.workers[slowest];
  record["wall_s"] = wall;
  st.records.progress(record);
  p.last_print = now;
  p.window_loss = 0;
  p.window_iterations = 0;
  std::fill(p.last_counts.begin(), p.last_counts.end(), 0);
}

// Writes out the iterations that are complete, in order: every worker
// reported, or, under a cutoff, the version's record and the reports of
// its gradients are in.
void complete_iterations(coordinator_state& st) {
  while (!st.reports.empty() && st.reports.begin()->first == st.completed) {
    auto& done = st.reports.begin()->second;
    if (st.ledger) {
      auto version = st.ledger->complete(st.completed);
      if (!version)
        return;
      done.count = version->count;
      done.loss = version->loss;
      done.samples = version->samples;
    } else if (done.count < st.workers.size()) {
      return;
    }
    write_metrics(st, st.completed, done);
    if (done.count > 0) {
      st.epoch_loss += done.loss / done.count;
      ++st.epoch_iterations;
    }
    st.samples += done.samples;
    note_progress(st, done);
    st.reports.erase(st.reports.begin());
    if (st.ledger)
      st.ledger->close(st.completed);
    ++st.completed;
    st.status->publish("running", static_cast<std::int64_t>(st.completed));
    if (st.schedule.evaluated_at(st.completed)) {
      st.eval_queue.emplace_back(st.completed, seconds_since(st.start_time));
      request_eval(st);
    }
  }
}

void on_report(coordinator_state& st, const messages::inbound& msg) {
  const auto* rep = msg.envelope().body_as_Report();
  std::string role;
  int rank = -1;
  if (!messages::parse_actor_name(msg.source(), role, rank) ||
      role != "worker" || rank >= static_cast<int>(st.workers.size()))
    return;
  if (rep->iteration() < st.completed)
    return; // a duplicate of a finished iteration
  auto& r = st.reports[rep->iteration()];
  r.compute_seconds.resize(st.workers.size());
  r.seen.resize(st.workers.size());
  if (r.seen[rank])
    return;
  r.seen[rank] = true;
  if (!st.ledger)
    st.records.trace(fmt::format("{},{},{:.6f},{:.6f},{:.6f}", rep->iteration(),
                                 rank,
                                 rep->compute_seconds() + rep->delay_seconds(),
                                 rep->compute_seconds(), rep->delay_seconds()));
  r.last = rank;
  r.compute_seconds[rank] = rep->compute_seconds();
  r.staleness.resize(st.workers.size());
  r.blocked_seconds.resize(st.workers.size());
  r.staleness[rank] = rep->staleness();
  r.blocked_seconds[rank] = rep->blocked_seconds();
  st.staleness.resize(st.workers.size());
  st.staleness[rank].add(rep->staleness(), rep->blocked_seconds());
  st.all_staleness.add(rep->staleness(), rep->blocked_seconds());
  st.status->note("staleness", st.workers[rank], st.staleness[rank].live());
  if (st.ledger) {
    st.ledger->report(rep->iteration(), rank, rep->loss(), rep->samples());
  } else {
    r.loss += rep->loss();
    r.samples += rep->samples();
    ++r.count;
  }
  complete_iterations(st);
}

json tables_record(const std::vector<table_layout>& tables) {
  json out = json::array();
  for (const auto& t : tables)
    out.push_back({{"name", t.name},
                   {"keys", t.keys.size()},
                   {"consistency", t.consistency},
                   {"staleness", t.staleness}});
  return out;
}

// An event from inspect: one line of events.jsonl, kept for summary.json.
void record_event(coordinator_state& st, json record) {
  record["wall_s"] = st.started ? seconds_since(st.start_time) : 0.0;
  st.records.event(record);
  st.events.push_back(record);
}

// A worker paused or resumed by inspect, before iteration header.clock:
// one line of events.jsonl and one for people.
void on_pause(coordinator_state& st, const messages::inbound& msg, bool pause) {
  std::string worker(msg.source());
  if (std::find(st.workers.begin(), st.workers.end(), worker) ==
      st.workers.end())
    return;
  auto now = steady_clock::now();
  double wall = st.started ? seconds_since(st.start_time) : 0.0;
  json record = {{"event", pause ? "pause" : "resume"},
                 {"actor", worker},
                 {"iteration", msg.header().clock()},
                 {"by", "inspect"}};
  auto since = st.paused.find(worker);
  if (pause) {
    st.paused[worker] = now;
  } else if (since != st.paused.end()) {
    record["paused_s"] =
        std::chrono::duration<double>(now - since->second).count();
    st.paused.erase(since);
  }
  record_event(st, record);
  st.records.say(fmt::format("{} {} by inspect before iteration {}  wall "
                             "{:.1f}s",
                             worker, pause ? "paused" : "resumed",
                             msg.header().clock(), wall));
}

// inspect's `set` (a request the control endpoint checked and passed on):
// the answer the endpoint hands out as request `id`.
void on_set(coordinator_state& st, std::uint64_t id, const std::string& text) {
  json answer;
  auto request = json::parse(text, nullptr, false);
  if (st.finished)
    answer = {{"error", "the job has finished"}};
  else if (!request.is_object())
    answer = {{"error", "the request is not a JSON object"}};
  else
    answer = st.settings->ask(request, st.completed);
  if (!answer.contains("error"))
    answer = {{"change", answer}};
  st.status->keep_answer(id, answer);
  st.status->note("settings", st.settings->history());
}

// A live change came into force: published, and said.
void note_applied(coordinator_state& st) {
  const auto& last = st.settings->history().back();
  st.status->note("settings", st.settings->history());
  st.status->note("bounds", tables_record(st.settings->tables()));
  auto what = last.value("knob", "");
  if (last.contains("table"))
    what += " of table " + last.value("table", "");
  st.records.say(fmt::format("{}: {} -> {} from clock {} (inspect)", what,
                             last["from"].dump(), last["to"].dump(),
                             last.value("clock", 0)));
}

void on_knob(coordinator_state& st, const messages::inbound& msg) {
  if (st.settings->answered(std::string(msg.source()), knob_of(msg),
                            msg.header().clock()))
    note_applied(st);
}

// Cutoff: a version decided by another rule than the one before (inspect's
// `set cutoff`) is recorded as the first of that rule.
void note_rule(coordinator_state& st, std::int64_t version,
               const flatbuffers::String* rule) {
  std::string now = rule ? rule->str() : "";
  if (now.empty() || now == st.cutoff_rule)
    return;
  if (!st.cutoff_rule.empty()) {
    record_event(st, {{"event", "set"},
                      {"knob", "cutoff"},
                      {"from", st.cutoff_rule},
                      {"to", now},
                      {"version", version},
                      {"state", "applied"},
                      {"by", "inspect"}});
    st.records.say(fmt::format("cutoff rule {} -> {} from version {} "
                               "(inspect)",
                               st.cutoff_rule, now, version));
  }
  st.cutoff_rule = now;
}

// Cutoff: the leading server's record of a version completes it.
void on_cutoff(coordinator_state& st, const actor_env& env,
               const messages::inbound& msg) {
  auto version = msg.header().clock();
  std::optional<std::vector<std::string>> rows;
  if (st.ledger && msg.source() == "server/0")
    rows = st.ledger->decide(version, *msg.envelope().body_as_Cutoff());
  if (!rows) {
    spdlog::warn("{}: ignored a malformed or unexpected cutoff record from {}",
                 env.name, msg.source());
    return;
  }
  st.reports.try_emplace(static_cast<std::uint64_t>(version));
  for (const auto& row : *rows)
    st.records.trace(row);
  note_rule(st, version, msg.envelope().body_as_Cutoff()->rule());
  complete_iterations(st);
}

// Writes raw little-endian float32 values; returns an error or "".
std::string save_parameters(const std::vector<float>& params,
                            const std::string& path) {
  return write_file_atomically(
      path, std::string_view(reinterpret_cast<const char*>(params.data()),
                             params.size() * sizeof(float)));
}

// An evaluation's measures: `prefix` + test_loss and test_accuracy when
// the program has them, then its own fields.
json evaluation_fields(const coordinator_state& st,
                       const algorithms::evaluation& eval,
                       const std::string& prefix) {
  json out = json::object();
  if (st.program->has_loss()) {
    out[prefix + "test_loss"] = eval.loss;
    out[prefix + "test_accuracy"] = eval.accuracy;
  }
  for (const auto& [key, value] : eval.fields.items())
    out[key] = value;
  return out;
}

// "name value" pairs of `fields` for a line of text.
std::string fields_text(const json& fields) {
  std::string text;
  for (const auto& [key, value] : fields.items())
    text += fmt::format("  {} {}", key,
                        value.is_number_float()
                            ? fmt::format("{:.4f}", value.get<double>())
                            : value.dump());
  return text;
}

// The job's result: the program's text in options.topics_out, or the raw
// parameters in options.parameters_out. Returns an error or "".
std::string save_result(const coordinator_state& st,
                        const options_spec& options) {
  if (auto text = st.program->result_text(st.eval_params.data()))
    return options.topics_out.empty()
               ? ""
               : write_file_atomically(options.topics_out, *text);
  if (options.parameters_out.empty())
    return "";
  return save_parameters(st.eval_params, options.parameters_out);
}

// metrics_dir/summary.json: the run's result and per-worker staleness.
void write_summary(coordinator_state& st, const actor_env& env,
                   const algorithms::evaluation& eval, double wall) {
  json workers = json::object();
  for (std::size_t i = 0; i < st.staleness.size(); ++i)
    workers[st.workers[i]] = st.staleness[i].record();
  auto summary = evaluation_fields(st, eval, "final_");
  summary.update(json{{"iterations", st.schedule.iterations},
                      {"wall_s", wall},
                      {"consistency", env.topo->job.consistency},
                      {"staleness_bound", env.topo->job.staleness},
                      {"staleness", st.all_staleness.record()},
                      {"workers", workers}});
  if (!st.events.empty())
    summary["events"] = st.events;
  st.records.summary(summary);
}

// The final line, summary.json and the parameters; then every actor stops
// (with an error when a record could not be written).
void finish_job(caf::event_based_actor* self, coordinator_state& st,
                const actor_env& env, const algorithms::evaluation& eval,
                double wall) {
  const auto& job = env.topo->job;
  const auto& all = st.all_staleness;
  auto line = evaluation_fields(st, eval, "final_");
  line.update(json{
      {"iterations", st.schedule.iterations},
      {"wall_s", wall},
      {st.program->sample_unit(), st.samples},
      {st.program->sample_unit() + "_per_s", st.samples / std::max(wall, 1e-9)},
      {"workers", st.workers.size()},
      {"servers", st.servers.size()},
      {"consistency", job.consistency},
      {"staleness", job.staleness},
      {"algorithm", job.algorithm},
      {"staleness_mean", all.mean},
      {"staleness_variance", all.variance()},
      {"staleness_max", all.max},
      {"blocked_s", all.blocked_seconds},
      {"tables", tables_record(st.tables)}});
  if (st.ledger) {
    line["cutoff_rule"] = job.cutoff.rule.rule;
    line["scaling"] = job.cutoff.scaling;
    line.update(st.ledger->totals(wall));
  }
  st.records.final_line(line);
  write_summary(st, env, eval, wall);
  st.finished = true;
  st.status->publish("finished", static_cast<std::int64_t>(st.completed));
  auto error = st.records.error();
  if (error.empty())
    error = save_result(st, env.topo->options);
  if (!error.empty()) {
    spdlog::error("{}: {}", env.name, error);
    stop_all(st, wire::Command::Stop, "job finished");
    self->quit(caf::make_error(caf::sec::runtime_error, error));
    return;
  }
  stop_all(st, wire::Command::Stop, "job finished");
  self->quit();
}

void record_evaluation(caf::event_based_actor* self, coordinator_state& st,
                       const actor_env& env, std::uint64_t clock,
                       double reached, const algorithms::evaluation& eval);

void on_eval_reply(caf::event_based_actor* self, coordinator_state& st,
                   const actor_env& env, const messages::inbound& msg) {
  std::string error;
  auto r = st.reads->match(msg, error);
  if (!error.empty()) {
    spdlog::error("{}: {}", env.name, error);
    stop_all(st, wire::Command::Abort, error);
    self->quit(caf::make_error(caf::sec::runtime_error, error));
    return;
  }
  if (!r)
    return;
  std::memcpy(st.eval_params.data() + st.reads->part(r->part).keys.begin,
              r->values.data, r->values.size * sizeof(float));
  if (st.reads->answered(r->part) > 0)
    return;
  auto [clock, reached] = st.eval_queue.front();
  st.eval_queue.pop_front();
  if (clock == st.schedule.iterations) {
    // Nothing trains any more: the last one takes every core.
    record_evaluation(self, st, env, clock, reached,
                      st.program->evaluate(st.eval_params.data()));
    return;
  }
  st.evaluating = true;
  st.evaluator.start(
      st.program, st.eval_params,
      [coordinator = caf::actor_cast<caf::actor>(self), clock = clock,
       reached = reached](algorithms::evaluation eval, std::string error) {
        caf::anon_send(coordinator, evaluated_atom::value,
                       std::make_shared<const evaluated>(evaluated{
                           clock, reached, std::move(eval), std::move(error)}));
      });
}

void on_evaluated(caf::event_based_actor* self, coordinator_state& st,
                  const actor_env& env, const evaluated& done) {
  st.evaluating = false;
  if (st.finished)
    return;
  if (!done.error.empty()) {
    auto error = "the evaluation at iteration " + std::to_string(done.clock) +
                 " failed: " + done.error;
    spdlog::error("{}: {}", env.name, error);
    stop_all(st, wire::Command::Abort, error);
    self->quit(caf::make_error(caf::sec::runtime_error, error));
    return;
  }
  record_evaluation(self, st, env, done.clock, done.reached, done.eval);
}

void record_evaluation(caf::event_based_actor* self, coordinator_state& st,
                       const actor_env& env, std::uint64_t clock,
                       double reached, const algorithms::evaluation& eval) {
  double wall = seconds_since(st.start_time);
  auto measures = evaluation_fields(st, eval, "");
  json record = {{"iteration", clock}, {"wall_s", reached}};
  record.update(measures);
  st.records.evaluation(record);
  if (clock % st.schedule.batches_per_epoch != 0 &&
      clock != st.schedule.iterations) {
    st.records.say(fmt::format("eval  iteration {}{}  wall {:.1f}s", clock,
                               fields_text(measures), reached));
    request_eval(st);
    return;
  }
  auto epoch = (clock + st.schedule.batches_per_epoch - 1) /
               st.schedule.batches_per_epoch;
  auto epochs = (st.schedule.iterations + st.schedule.batches_per_epoch - 1) /
                st.schedule.batches_per_epoch;
  double train_loss =
      st.epoch_iterations > 0 ? st.epoch_loss / st.epoch_iterations : 0;
  std::string train = st.program->has_loss()
                          ? fmt::format("  train_loss {:.4f}", train_loss)
                          : "";
  st.records.say(fmt::format("epoch {}/{}  iteration {}{}{}  {}/s {:.0f}"
                             "  wall {:.1f}s",
                             epoch, epochs, clock, train, fields_text(measures),
                             st.program->sample_unit(),
                             st.samples / std::max(wall, 1e-9), wall));
  st.epoch_loss = 0;
  st.epoch_iterations = 0;
  st.progress.evaluation = eval.fields;
  if (st.program->has_loss())
    st.progress.evaluation["accuracy"] = eval.accuracy;
  if (clock == st.schedule.iterations) {
    finish_job(self, st, env, eval, wall);
    return;
  }
  request_eval(st);
}

// Cutoff: true when dead node `peer` hosted only workers and some are left,
// so that the job goes on without them.
bool lose_workers(coordinator_state& st, const actor_env& env,
                  const std::string& peer) {
  if (!env.topo->only_workers_on(peer))
    return false;
  for (auto w : env.topo->workers_on(peer)) {
    st.ledger->lose(w);
    if (st.settings->lost(st.workers.at(w)))
      note_applied(st);
  }
  if (st.ledger->live() == 0)
    return false;
  spdlog::warn("{}: node {} is lost; the job goes on with {} of {} workers",
               env.name, peer, st.ledger->live(), st.workers.size());
  complete_iterations(st);
  return true;
}

// Publishes whom the coordinator still waits for before the job starts.
void publish_hellos(coordinator_state& st) {
  st.status->publish("waiting for hellos", 0);
  st.status->wait("hello", {{"", -1, st.members->absent()}});
}

void on_hello(coordinator_state& st, const messages::inbound& msg) {
  if (!st.members->hello(msg)) {
    if (!st.started)
      publish_hellos(st);
    return;
  }
  st.started = true;
  st.status->publish("running", 0);
  st.status->wait("", {});
  st.start_time = steady_clock::now();
  st.records.say(fmt::format("job started: {} workers, {} servers, {} "
                             "iterations ({} per epoch)",
                             st.workers.size(), st.servers.size(),
                             st.schedule.iterations,
                             st.schedule.batches_per_epoch));
  for (const auto& w : st.workers)
    st.out->control(w, wire::Command::Start);
  if (st.ledger)
    for (const auto& s : st.servers)
      st.out->control(s, wire::Command::Start);
}

} // namespace

caf::behavior coordinator(caf::event_based_actor* self, actor_env env,
                          const messages::transport* local_transport) {
  keep_exception_messages(self);
  auto st = std::make_shared<coordinator_state>();
  const auto& topo = *env.topo;
  st->out = std::make_unique<sender>(env);
  st->transport = local_transport;
  st->members = std::make_unique<job_members>(topo, env.name);
  for (std::size_t i = 0; i < topo.count("worker"); ++i)
    st->workers.push_back("worker/" + std::to_string(i));
  for (std::size_t i = 0; i < topo.count("server"); ++i)
    st->servers.push_back("server/" + std::to_string(i));
  try {
    st->program = job_program(topo, true, data_part::none());
    st->schedule = schedule_of(topo, st->program->samples());
    if (topo.job.consistency == "cutoff")
      st->ledger = std::make_unique<cutoff_ledger>(st->workers.size());
    st->eval_params.resize(st->program->parameters());
    st->tables =
        job_tables(topo.job, st->program.get(), st->eval_params.size());
    st->reads =
        reader_of(*st->out, partitions(st->tables, st->servers.size()), {});
    // Under a cutoff the leading server measures run-times: censored ones
    // are only known to be longer than the version's cutoff.
    st->records = job_records(
        topo.options.metrics_dir,
        st->ledger ? "iteration,worker,seconds,censored"
                   : "iteration,worker,seconds,compute_seconds,delay_seconds");
  } catch (const std::exception& e) {
    return refuse_to_start(self, env, e);
  }
  auto* state = st.get();
  std::optional<float> rate;
  if (!st->program->adds_updates())
    rate = st->program->learning_rate();
  st->settings = std::make_unique<live_settings>(
      st->tables, rate,
      live_change(st->servers, st->workers,
                  [state](const std::string& to, knob_setting k) {
                    state->out->knob(to, k);
                  }),
      [state](json record) { record_event(*state, std::move(record)); });
  st->status = env.status;
  for (const auto& w : st->workers)
    st->status->note("staleness", w, staleness_stats().live());
  st->status->note("bounds", tables_record(st->tables));
  publish_hellos(*st);
  self->delayed_send(self, std::chrono::seconds(5), tick_atom::value);
  return {
      [self, st, env](const messages::inbound_ptr& msg) {
        msg->handled();
        env.status->handled();
        switch (msg->kind()) {
        case wire::Body::Hello:
          on_hello(*st, *msg);
          break;
        case wire::Body::Report:
          on_report(*st, *msg);
          break;
        case wire::Body::Cutoff:
          on_cutoff(*st, env, *msg);
          break;
        case wire::Body::PullReply:
          on_eval_reply(self, *st, env, *msg);
          break;
        case wire::Body::Knob:
          on_knob(*st, *msg);
          break;
        case wire::Body::Control: {
          const auto* ctl = msg->envelope().body_as_Control();
          if (ctl->command() == wire::Command::Pause ||
              ctl->command() == wire::Command::Resume) {
            on_pause(*st, *msg, ctl->command() == wire::Command::Pause);
            break;
          }
          if (ctl->command() != wire::Command::Abort || st->finished)
            break;
          // Under a cutoff a worker that failed is a lost worker.
          if (st->ledger && lose_workers(*st, env, std::string(msg->source())))
            break;
          st->members->abort(self, *st->out, abort_reason(*msg));
          break;
        }
        default:
          spdlog::warn("{}: unexpected {} from {}", env.name,
                       messages::kind_name(msg->kind()), msg->source());
        }
      },
      [self, st, env](evaluated_atom, const evaluated_ptr& done) {
        on_evaluated(self, *st, env, *done);
      },
      [self, st](tick_atom) { st->members->remind(self); },
      [st](set_atom, std::uint64_t id, const std::string& request) {
        on_set(*st, id, request);
      },
      [self, st, env](peer_down_atom, const std::string& peer) {
        if (st->finished || (st->ledger && lose_workers(*st, env, peer)))
          return;
        st->members->abort(self, *st->out, "node " + peer + " died");
      },
  };
}

} // namespace metronome::actors

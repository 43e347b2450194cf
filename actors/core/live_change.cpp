#include "actors/core/live_change.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace metronome::actors {

live_change::live_change(std::vector<std::string> servers,
                         std::vector<std::string> workers, send_fn send)
    : servers_(std::move(servers))
    , workers_(std::move(workers))
    , send_(std::move(send)) {}

void live_change::send_phase(int phase, const std::vector<std::string>& to) {
  phase_ = phase;
  current_.phase = phase;
  waiting_ = to;
  for (const auto& actor : to)
    send_(actor, current_);
}

void live_change::begin(knob_setting k) {
  current_ = std::move(k);
  from_clock_ = 0;
  clocks_.clear();
  bool bound = current_.name == "staleness";
  if (bound && !servers_.empty())
    send_phase(1, servers_);
  else
    send_phase(2, workers_);
}

std::optional<std::int64_t> live_change::lost(const std::string& worker) {
  auto at = std::find(workers_.begin(), workers_.end(), worker);
  if (at == workers_.end())
    return std::nullopt;
  workers_.erase(at);
  auto waiting = std::find(waiting_.begin(), waiting_.end(), worker);
  if (phase_ != 2 || waiting == waiting_.end())
    return std::nullopt;
  // As if it had answered: nobody waits for a lost worker's reads.
  waiting_.erase(waiting);
  return complete_phase();
}

std::optional<std::int64_t> live_change::answered(const std::string& who,
                                                  const knob_setting& k,
                                                  std::int64_t clock) {
  if (!busy() || k.id != current_.id || k.phase != phase_)
    return std::nullopt;
  auto at = std::find(waiting_.begin(), waiting_.end(), who);
  if (at == waiting_.end())
    return std::nullopt;
  waiting_.erase(at);
  if (phase_ == 2) {
    from_clock_ = std::max(from_clock_, clock);
    clocks_.emplace_back(who, clock);
  }
  return complete_phase();
}

std::optional<std::int64_t> live_change::complete_phase() {
  if (!waiting_.empty())
    return std::nullopt;
  if (phase_ == 1) {
    send_phase(2, workers_);
    return std::nullopt;
  }
  if (current_.name == "staleness")
    send_phase(3, servers_);
  phase_ = 0;
  return from_clock_;
}

} // namespace metronome::actors

namespace metronome::actors {

using json = nlohmann::ordered_json;

const std::vector<live_knob>& live_knobs() {
  static const std::vector<live_knob> knobs = {
      {"staleness", "coordinator", "set staleness TABLE BOUND"},
      {"learning_rate", "coordinator", "set learning_rate RATE"},
      {"cutoff", "server", "set cutoff RULE [KEY=VALUE ...]"},
  };
  return knobs;
}

live_settings::live_settings(std::vector<table_layout> tables,
                             std::optional<float> learning_rate,
                             live_change change, record_fn record)
    : tables_(std::move(tables))
    , learning_rate_(learning_rate)
    , change_(std::move(change))
    , record_(std::move(record)) {}

std::string live_settings::refuse_bound(const json& request,
                                        knob_setting& k) const {
  auto name = request.value("table", std::string());
  std::string names;
  const table_layout* table = nullptr;
  for (const auto& t : tables_) {
    names += (names.empty() ? "" : ", ") + t.name;
    if (t.name == name)
      table = &t;
  }
  if (table == nullptr)
    return "no table '" + name + "' in this job (tables: " + names + ")";
  auto value = request.find("value");
  if (value == request.end() || !value->is_number_integer() || *value < 1 ||
      *value > 1000000)
    return "a staleness bound is a whole number from 1 to 1000000";
  auto bound = value->get<std::int64_t>();
  if (bound == table->staleness)
    return "table " + name + " already has bound " + std::to_string(bound);
  // The policy the servers run says whether it can change its bound.
  auto why = make_policy(table->consistency, table->staleness)
                 ->set_staleness(bound, bound);
  if (!why.empty())
    return "table " + name + ": " + why;
  k.table = name;
  k.value = static_cast<double>(bound);
  return {};
}

std::string live_settings::refuse_rate(const json& request,
                                       knob_setting& k) const {
  if (!learning_rate_)
    return "this program adds its updates; it has no learning rate";
  auto value = request.find("value");
  if (value == request.end() || !value->is_number() || !(*value > 0.0) ||
      !(*value <= 1000.0))
    return "a learning rate is a number above 0 and at most 1000";
  auto rate = value->get<float>();
  if (!(rate > 0) || !std::isfinite(rate))
    return "a learning rate is a number above 0 and at most 1000 (" +
           value->dump() + " is 0 as a float)";
  if (rate == *learning_rate_)
    return "the learning rate is " + value->dump() + " already";
  k.value = rate;
  return {};
}

namespace {

// A float rate as the decimal people wrote (0.05, not 0.0500000007).
json rate_json(float rate) {
  return std::stod(fmt::format("{}", rate));
}

} // namespace

json live_settings::from_value(const knob_setting& k) const {
  if (k.name == "learning_rate")
    return rate_json(*learning_rate_);
  for (const auto& t : tables_)
    if (t.name == k.table)
      return t.staleness;
  return nullptr;
}

json live_settings::to_value(const knob_setting& k) const {
  if (k.name == "learning_rate")
    return rate_json(static_cast<float>(k.value));
  return static_cast<std::int64_t>(k.value);
}

json live_settings::ask(const json& request, std::uint64_t iteration) {
  knob_setting k{next_id_, request.value("knob", std::string()), {}, 0, 0};
  std::string why;
  if (k.name == "staleness")
    why = refuse_bound(request, k);
  else if (k.name == "learning_rate")
    why = refuse_rate(request, k);
  else
    why = "the coordinator changes staleness and learning_rate, not '" +
          k.name + "'";
  if (why.empty() && change_.busy())
    why = "the change of " + change_.current().name + " to " +
          to_value(change_.current()).dump() + " is still being applied";
  if (!why.empty())
    return {{"error", why}};
  ++next_id_;
  json record = {{"event", "set"}, {"knob", k.name}};
  if (!k.table.empty())
    record["table"] = k.table;
  record.update(json{{"from", from_value(k)},
                     {"to", to_value(k)},
                     {"iteration", iteration},
                     {"state", "asked"},
                     {"by", "inspect"}});
  history_.push_back(record);
  record_(record);
  change_.begin(k);
  return record;
}

bool live_settings::answered(const std::string& who, const knob_setting& k,
                             std::int64_t clock) {
  return applied(change_.answered(who, k, clock));
}

bool live_settings::lost(const std::string& worker) {
  return applied(change_.lost(worker));
}

bool live_settings::applied(std::optional<std::int64_t> from) {
  if (!from)
    return false;
  const auto& k = change_.current();
  auto record = history_.back();
  record["clock"] = *from;
  record["clocks"] = json::object();
  for (const auto& [worker, c] : change_.clocks())
    record["clocks"][worker] = c;
  record["state"] = "applied";
  if (k.name == "learning_rate")
    learning_rate_ = static_cast<float>(k.value);
  for (auto& t : tables_)
    if (k.name == "staleness" && t.name == k.table)
      t.staleness = static_cast<std::int64_t>(k.value);
  history_.back() = record;
  record_(record);
  return true;
}

} // namespace metronome::actors
